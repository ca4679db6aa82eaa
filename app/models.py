"""Imports every domain's models so the metadata is complete (Alembic, tests)."""
from app.accounts.models import Role, Station, User, user_stations  # noqa: F401
from app.alerts.models import Alert, AlertDigest  # noqa: F401
from app.api.models import ApiToken, api_token_stations  # noqa: F401
from app.audit.models import AuditEntry  # noqa: F401
from app.bodies.models import VerificationBody  # noqa: F401
from app.certificates.models import Certificate  # noqa: F401
from app.cases.models import Case, CaseExtension, CaseStage, EnforcementTeam, StageLimit  # noqa: F401
from app.complaints.models import Complaint, ComplaintOutcome  # noqa: F401
from app.catalog.models import FindingCode, InstrumentType, InstrumentTypeAlias  # noqa: F401
from app.credit.models import CreditRule, CreditScore  # noqa: F401
from app.db import Base  # noqa: F401
from app.imports.models import ImportBatch, ImportedRecord, ImportRow, SavedMapping  # noqa: F401
from app.jobs.models import JobRun, JobState, SchedulerLease  # noqa: F401
from app.inspections.models import (Campaign, CampaignTarget, DeadlineExtension, EvidenceFile, Finding,  # noqa: F401
                                    Inspection, InspectionInstrument, RandomDraw, Recheck, Rectification, Signature)
from app.instruments.models import Instrument, Verification  # noqa: F401
from app.mail.models import OutboxMessage  # noqa: F401
from app.integrity.models import IntegrityTarget, Pledge  # noqa: F401
from app.markets.models import DutyCheck, FairScale, Reweigh  # noqa: F401
from app.merchants.models import Merchant  # noqa: F401
from app.monthly.models import MonthlyReport  # noqa: F401
from app.outreach.models import (FreeVerification, MicroStation, OutreachActivity, OutreachPhoto,  # noqa: F401
                                 OutreachTarget, Volunteer)
from app.regions.models import Region, RegionLevel  # noqa: F401
from app.results.models import ResultLead  # noqa: F401
from app.rollups.models import RegionLeadDays  # noqa: F401
from app.tasks.models import BackgroundTask  # noqa: F401
from app.workdays.models import CalendarDay  # noqa: F401
from app.webhooks.models import WebhookEvent, WebhookSubscription  # noqa: F401
from app.counts.models import StationCount, StationCountDay  # noqa: F401
# Its session listeners keep the per-station counts in step with every write of the ledger.
import app.counts.services  # noqa: F401,E402

metadata = Base.metadata
