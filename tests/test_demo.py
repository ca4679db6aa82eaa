"""The demo dataset: loads through the CLI, covers every role, and its dates follow the engine."""
from collections import defaultdict

from sqlalchemy import func, select

from app.accounts.models import Role, User
from app.catalog.models import InstrumentType
from app.instruments.models import Instrument, InstrumentStatus, Verification
from app.instruments.services import date_values, due_dates_for
from app.integrity.models import Pledge
from app.merchants.models import Merchant
from tests.conftest import login


def test_demo_load_fills_a_consistent_ledger(app, session, client):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "load", "--merchants", "40", "--instruments", "400", "--stations", "3"])
    assert result.exit_code == 0, result.output
    assert "admin-demo-1" in result.output
    assert {u.role for u in session.scalars(select(User))} == set(Role)
    assert session.scalar(select(func.count()).select_from(Merchant)) == 40
    instruments = session.scalars(select(Instrument)).all()
    assert len(instruments) == 400
    assert {i.status for i in instruments} >= {InstrumentStatus.IN_USE, InstrumentStatus.STOPPED}
    records = defaultdict(list)
    for ver in session.scalars(select(Verification)):
        records[ver.instrument_id].append(ver)
    kinds = {k.id: k for k in session.scalars(select(InstrumentType))}
    mismatched = [i.id for i in instruments
                  if date_values(due_dates_for(kinds[i.type_id], records[i.id]))
                  != {f: getattr(i, f) for f in date_values(due_dates_for(kinds[i.type_id], []))}]
    assert mismatched == []
    # A running campaign with its draw and some inspections.
    from app.inspections.models import Inspection, RandomDraw
    assert session.scalar(select(func.count()).select_from(RandomDraw)) == 1
    assert session.scalar(select(func.count()).select_from(Inspection)) >= 1
    # Integrity pledges for the 诚信计量 pages, a share of them demonstration units.
    pledges = session.scalars(select(Pledge)).all()
    assert 0 < len(pledges) < 40 and any(p.is_model_unit for p in pledges)
    # Outreach: activities in every station with free verifications and a World Metrology Day photo, the registry.
    from app.outreach.models import FreeVerification, MicroStation, OutreachActivity, OutreachPhoto, Volunteer
    assert session.scalar(select(func.count()).select_from(OutreachActivity)) == 3 * 7
    assert session.scalar(select(func.sum(FreeVerification.count))) > 0
    assert session.scalar(select(func.count()).select_from(OutreachPhoto)) == 3
    assert session.scalar(select(func.count()).select_from(MicroStation)) == 1 + 2 + 3
    assert session.scalar(select(func.count()).select_from(Volunteer)) == 2 + 3 + 4
    # Markets: a fair scale in each market with re-weighs, a stall flagged, one organiser-duty checklist.
    import datetime as dt
    from app.clock import today
    from app.markets.models import DutyCheck, FairScale
    from app.markets.queries import repeated_shortfall_merchants
    assert session.scalar(select(func.count()).select_from(FairScale)) >= 1
    assert session.scalars(repeated_shortfall_merchants(today() - dt.timedelta(days=365))).all()
    assert session.scalar(select(func.count()).select_from(DutyCheck)) == 5
    # A second load refuses rather than doubling the data.
    again = runner.invoke(args=["demo", "load", "--merchants", "5", "--instruments", "5"])
    assert again.exit_code != 0 and "--reset" in again.output
    login(client, "inspector1", "inspector-demo-1")
    assert client.get("/").status_code == 200
