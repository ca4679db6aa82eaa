"""Building test data through the services, the way the app does."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from app.accounts.models import Role, Station, User
from app.accounts.services import create_station, create_user
from app.catalog.models import InstrumentType
from app.instruments.models import Instrument
from app.instruments.services import create_instrument, record_verification
from app.merchants.models import Merchant
from app.merchants.services import create_merchant
from app.regions.models import Region, RegionLevel
from app.regions.services import create_region
from app.scope import Scope

PASSWORD = "password-123"
ALL = Scope.everything()


def kind(session, code: str) -> InstrumentType:
    """A catalogue kind by code."""
    return session.scalars(select(InstrumentType).where(InstrumentType.code == code)).one()


# The test region tree: one city, county A (the default county of every station) and county B.
CITY_CODE, COUNTY_A_CODE, COUNTY_B_CODE = "330100", "330102", "330105"


def region(session, code: str, name: str, level: RegionLevel, parent: Region | None = None) -> Region:
    """The region with this code, created (through the service) when missing."""
    found = session.scalars(select(Region).where(Region.code == code)).first()
    if found is not None:
        return found
    return create_region(session, None, code=code, name=name, level=level,
                         parent_id=parent.id if parent is not None else None)


def city(session) -> Region:
    """The test city."""
    return region(session, CITY_CODE, "某市", RegionLevel.CITY)


def county(session, which: str = "A") -> Region:
    """County A or B of the test city."""
    code, name = (COUNTY_A_CODE, "甲区") if which == "A" else (COUNTY_B_CODE, "乙区")
    return region(session, code, name, RegionLevel.COUNTY, city(session))


def station(session, code: str, name: str | None = None, in_county: Region | None = None) -> Station:
    """Create a station (in county A unless another county is given)."""
    return create_station(session, None, name=name or f"{code}所", code=code, division_code="330100",
                          county_id=(in_county or county(session)).id)


def user(session, username: str, role: Role, stations=(), in_region: Region | None = None) -> User:
    """Create a user with the shared test password (one they chose: no change is forced at login)."""
    return create_user(session, None, username=username, display_name=username, role=role, password=PASSWORD,
                       station_ids=[s.id for s in stations], must_change_password=False,
                       region_id=in_region.id if in_region is not None else None)


def merchant(session, st: Station, name: str, **values) -> Merchant:
    """Create a merchant in a station."""
    return create_merchant(session, None, ALL, {"name": name, "industry": values.pop("industry", "market_vendor"),
                                                "station_id": st.id, **values})


def instrument(session, m: Merchant, type_code: str = "elec_price_scale", serial: str = "S-1", **values) -> Instrument:
    """Register an instrument for a merchant."""
    return create_instrument(session, None, ALL, {"type_id": kind(session, type_code).id, "merchant_id": m.id,
                                                  "serial_no": serial, **values})


def verify(session, inst: Instrument, on: dt.date, result: str = "pass", valid_until: dt.date | None = None,
           cert: str = ""):
    """Record a verification."""
    return record_verification(session, None, inst, {"verified_on": on, "result": result,
                                                     "valid_until": valid_until, "certificate_no": cert})


@dataclass
class World:
    """Two stations and everything a route test needs."""

    station_a: Station
    station_b: Station
    admin: User
    supervisor: User
    inspector_a: User
    inspector_b: User
    merchant_a: Merchant
    merchant_b: Merchant
    instrument_a: Instrument
    instrument_b: Instrument
    # The region tree: station A in county A, station B in county B, both in one city; a supervisor of the city
    # and an admin of county A.
    city: Region
    county_a: Region
    county_b: Region
    city_supervisor: User
    county_admin_a: User


def build_world(session) -> World:
    """Stations A and B, users of every role, a merchant and a verified instrument in each."""
    the_city, county_a, county_b = city(session), county(session, "A"), county(session, "B")
    a, b = station(session, "A", in_county=county_a), station(session, "B", in_county=county_b)
    admin = user(session, "admin1", Role.ADMIN)
    sup = user(session, "super1", Role.SUPERVISOR)
    ia = user(session, "insp_a", Role.INSPECTOR, [a])
    ib = user(session, "insp_b", Role.INSPECTOR, [b])
    city_sup = user(session, "city_super", Role.SUPERVISOR, in_region=the_city)
    county_admin = user(session, "cadmin_a", Role.ADMIN, in_region=county_a)
    ma = merchant(session, a, "甲市场摊位1")
    mb = merchant(session, b, "乙加油站", industry="fuel_station")
    inst_a = instrument(session, ma, serial="A-001")
    inst_b = instrument(session, mb, "fuel_dispenser", serial="B-001", nozzle_count=4)
    verify(session, inst_a, dt.date(2024, 1, 10))
    verify(session, inst_b, dt.date(2024, 1, 10))
    return World(a, b, admin, sup, ia, ib, ma, mb, inst_a, inst_b, the_city, county_a, county_b, city_sup,
                 county_admin)


# --- special inspections ---------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n<<>>\nendobj\n"
# A whole (if empty) PDF: header, one object, cross-reference table, trailer, startxref and %%EOF.
WHOLE_PDF = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\nxref\n0 2\n0000000000 65535 f \n"
             b"0000000009 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R >>\nstartxref\n47\n%%EOF\n")


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (8, 8)) -> bytes:
    """A real, decodable image (a certificate photo must decode, not just start like one)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt)
    return out.getvalue()


def finding_code(session, code: str = "OVERDUE"):
    """A finding code of the catalogue by its code."""
    from app.catalog.models import FindingCode

    return session.scalars(select(FindingCode).where(FindingCode.code == code)).one()


def campaign(session, stations, name: str = "电子计价秤专项检查", starts_on: dt.date | None = None,
             ends_on: dt.date | None = None, **values):
    """Create a campaign over some stations (by default running from 5 days ago for a month)."""
    from app.clock import today
    from app.inspections.services import create_campaign

    starts_on = starts_on or today() - dt.timedelta(days=5)
    ends_on = ends_on or starts_on + dt.timedelta(days=30)
    return create_campaign(session, None, {"name": name, "starts_on": starts_on, "ends_on": ends_on,
                                           "station_ids": [s.id for s in stations], **values})


def inspection(session, m: Merchant, inspectors, on: dt.date | None = None, checks=(), campaign_id=None,
               visit_outcome: str = "conducted", new_instrument=None):
    """Record an inspection of a merchant by some users (checks: [(instrument, 'ok' | 'problem')])."""
    from app.clock import today
    from app.inspections.services import record_inspection

    return record_inspection(session, None, ALL, m, {
        "inspected_on": on or today(), "visit_outcome": visit_outcome, "campaign_id": campaign_id,
        "inspector_ids": [u.id for u in inspectors], "checks": [(i.id, o) for i, o in checks],
        "new_instrument": new_instrument}, today())


def finding(session, insp, code: str = "OVERDUE", measure: str = "rectify", check=None, **values):
    """Record a finding on an inspection (check: one of its InspectionInstrument rows)."""
    from app.inspections.services import add_finding

    return add_finding(session, None, insp, {"code_id": finding_code(session, code).id, "measure": measure,
                                             "check_id": check.id if check else None, **values})
