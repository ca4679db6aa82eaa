"""Build monthly reports into the archive (flush only; the caller commits)."""
from __future__ import annotations

import datetime as dt
import io
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Station
from app.audit.services import record
from app.db import utcnow
from app.errors import NotFound
from app.monthly.models import ALL_STATIONS, MonthlyReport
from app.monthly.queries import report_in_scope
from app.scope import Scope
from reports.monthly import Month, build_monthly_report


def report_sections() -> list:
    """The extra sheets other capabilities contribute to the monthly workbook, in order."""
    from reports.monthly_cases import cases_section
    from reports.monthly_complaints import complaints_section
    from reports.monthly_inspections import inspections_section
    from reports.monthly_integrity import integrity_section
    from reports.monthly_outreach import outreach_section
    from reports.monthly_purpose import purpose_section

    return [inspections_section, cases_section, integrity_section, complaints_section, outreach_section,
            purpose_section]


def edition_name(tree, region_id: int) -> str:
    """How an edition is called: a county's is the county's whole report, a city's or province's lists each
    county and its totals."""
    from app.regions.models import RegionLevel

    suffix = "全县" if tree.levels.get(region_id) == RegionLevel.COUNTY else "各县汇总"
    return f"{tree.label(region_id)}（{suffix}）"


def region_edition(session: Session, region_id: int) -> tuple[str, frozenset[int], dict[str, list[int]]]:
    """A region's edition: its name, its stations and, for a city or province, each county's stations (a county's
    edition has no county sheet)."""
    from app.regions.models import RegionLevel
    from app.rollups.tree import load_tree

    tree = load_tree(session)
    if region_id not in tree.names:
        raise NotFound("区划不存在")
    if tree.levels[region_id] == RegionLevel.COUNTY:
        return edition_name(tree, region_id), frozenset(tree.stations_of(region_id)), {}
    by_county = tree.stations_by_county()
    counties = {tree.label(c): by_county.get(c, []) for c in tree.counties(region_id)}
    return edition_name(tree, region_id), frozenset(s for ids in counties.values() for s in ids), counties


def build_report(session: Session, actor, month: Month, station_id: int | None = None,
                 region_id: int | None = None) -> MonthlyReport:
    """Build the month's workbook for one station, a city or province (region_id: its edition lists each
    county and its totals) or all, and keep it in the archive, replacing an older build."""
    start = time.perf_counter()
    out = io.BytesIO()
    if region_id is not None:
        name, stations, counties = region_edition(session, region_id)
        figures = build_monthly_report(session, month, out, stations, sections=report_sections(), scope_name=name,
                                       counties=counties, region_id=region_id)
        scope_key = f"r{region_id}"
    else:
        figures = build_monthly_report(session, month, out, station_id, sections=report_sections())
        scope_key = str(station_id) if station_id else ALL_STATIONS
    total = figures.total()
    report = session.scalars(select(MonthlyReport).where(MonthlyReport.month == str(month),
                                                         MonthlyReport.scope_key == scope_key)).first()
    if report is None:
        report = MonthlyReport(month=str(month), scope_key=scope_key, station_id=station_id if region_id is None
                               else None, region_id=region_id)
        session.add(report)
    report.content = out.getvalue()
    report.size = len(report.content)
    report.totals = {"registered": total.registered, "verified": total.verified, "overdue": total.overdue,
                     "past_life": total.past_life, "due_next": total.due_next}
    report.built_at = utcnow()
    report.built_by = actor if isinstance(actor, str) else (actor.display_name if actor else "系统")
    report.seconds = round(time.perf_counter() - start, 2)
    session.flush()
    record(session, actor, "build", report, entity_type="monthly_reports",
           entity_label=f"{month.label}月报（{report.scope_name}）")
    return report


def mail_report(session: Session, report: MonthlyReport) -> int:
    """Queue the report, attached, for every supervisor and admin who asked for monthly reports and has not
    had this month's yet (a rebuilt or re-run month is not sent twice); how many were queued."""
    from app.accounts.models import Role, User, role_sees_every_station
    from app.mail.models import OutboxMessage
    from app.mail.services import enqueue

    category = f"monthly_report:{report.month}"
    already = select(OutboxMessage.user_id).where(OutboxMessage.category == category)
    recipients = session.scalars(select(User).where(
        User.is_active.is_(True), User.wants_monthly_report.is_(True), User.email != "",
        User.role.in_([role for role in Role if role_sees_every_station(role)]), User.id.not_in(already),
        # The all-station report goes to users of the whole installation, a region's edition to the users
        # assigned to that region: nobody gets another region's figures by mail.
        User.region_id == report.region_id if report.region_id is not None else User.region_id.is_(None)
    ).order_by(User.id)).all()
    month = Month.parse(report.month)
    totals = report.totals
    body = (f"{{name}}：\n\n附件是{month.label}计量监管月报（{report.scope_name}）。\n"
            f"在用器具 {totals.get('registered', 0)} 台，本月检定 {totals.get('verified', 0)} 台，"
            f"月末超期未检 {totals.get('overdue', 0)} 台，超过使用年限 {totals.get('past_life', 0)} 台。\n\n"
            "本邮件由计量监管台账系统自动发送；在系统“计划报表 → 月报”中可查看和重新生成任一月份。")
    for user in recipients:
        enqueue(session, user.email, f"计量监管月报 {month.label}（{report.scope_name}）",
                body.format(name=user.display_name), category=category, user_id=user.id,
                attachment=(report.file_name, report.content))
    return len(recipients)


def last_month(today: dt.date) -> Month:
    """The month before the one `today` falls in."""
    return Month.of(today).shift(-1)


def build_all_for(session: Session, actor, month: Month) -> list[MonthlyReport]:
    """The month's report for all stations, for each station, then each region's edition (counties, cities,
    the province, by code) when the installation has a region tree."""
    from app.regions.models import RegionLevel
    from app.rollups.tree import load_tree

    reports = [build_report(session, actor, month)]
    for station_id in session.scalars(select(Station.id).order_by(Station.code)):
        reports.append(build_report(session, actor, month, station_id))
    tree = load_tree(session)
    editions = [r for r, level in tree.levels.items()
                if level in (RegionLevel.COUNTY, RegionLevel.CITY, RegionLevel.PROVINCE) and tree.stations_of(r)]
    for region_id in sorted(editions, key=lambda r: tree.codes[r]):
        reports.append(build_report(session, actor, month, region_id=region_id))
    return reports


def edition_regions(tree, user) -> frozenset[int]:
    """The counties, cities and provinces whose edition a user may build and open: those at or below the user's
    region, for users who see every station of their region; none for inspectors."""
    from app.regions.models import RegionLevel

    if not getattr(user, "sees_every_station", False):
        return frozenset()
    own = getattr(user, "region_id", None)
    return frozenset(r for r, level in tree.levels.items()
                     if level in (RegionLevel.COUNTY, RegionLevel.CITY, RegionLevel.PROVINCE)
                     and tree.is_under(r, own))


def get_report(session: Session, scope: Scope, report_id: int, regions: frozenset[int] | None = frozenset()
               ) -> MonthlyReport:
    """An archived report the scope (and, for city editions, the user's regions) may open, else NotFound."""
    report = session.scalars(report_in_scope(scope, report_id, regions)).first()
    if report is None:
        raise NotFound("月报不存在")
    return report
