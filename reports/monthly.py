"""The monthly report (月报) for a month and a scope (one station, all, or a city's or province's stations: its
edition opens with a sheet of each county and its totals), as an .xlsx workbook (no Flask).

Figures come from grouped queries (reports/monthly_queries.py), never from a loop over instruments.
Stock figures (registered, overdue, past service life, due next month) are read from the ledger as it
stands when the report is built, at the month's end date; flow figures (verified, pass rate, on time)
count the month's verification records. The archive keeps the workbook built on the 1st.
"""
from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Station
from app.catalog.models import InstrumentType
from app.clock import LOCAL_TZ
from app.instruments.engine import add_months
from app.instruments.models import VerificationResult
from reports import monthly_queries as q
from reports.printed import TITLE, PrintedSheet, bar_chart, chart_sheet, fitted_width, setup_page
from reports.xlsx import Book, Column


@dataclass(frozen=True)
class Month:
    """A calendar month."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> "Month":
        """"2026-10" (also 2026-1, 2026/10) to a Month; ValueError with a Chinese message otherwise."""
        try:
            year, month = (int(part) for part in text.replace("/", "-").split("-"))
            if not 2000 <= year <= 2100 or not 1 <= month <= 12:
                raise ValueError
        except ValueError:
            raise ValueError(f"月份“{text}”无效，请写成 2026-10 这样的年-月") from None
        return cls(year, month)

    @classmethod
    def of(cls, day: dt.date) -> "Month":
        """The month a date falls in."""
        return cls(day.year, day.month)

    @property
    def first(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last(self) -> dt.date:
        return dt.date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def shift(self, months: int) -> "Month":
        """The month so many months later (negative: earlier)."""
        return Month.of(add_months(self.first, months))

    @property
    def label(self) -> str:
        return f"{self.year}年{self.month}月"

    def __str__(self) -> str:
        return f"{self.year}-{self.month:02d}"


@dataclass
class Counts:
    """The figures of one station and kind (or a total)."""

    registered: int = 0
    verified: int = 0          # instruments verified in the month
    records: int = 0           # valid verification records in the month
    passed: int = 0
    due_next: int = 0
    overdue: int = 0
    past_life: int = 0
    on_time: int = 0           # re-verifications done before the previous certificate expired
    reverified: int = 0        # re-verifications (records with an earlier valid record)

    def add(self, other: "Counts") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.reverified if self.reverified else None

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.records if self.records else None


@dataclass
class Figures:
    """Everything the workbook shows for one month and scope."""

    month: Month
    scope_name: str
    stations: dict[int, str]
    kinds: dict[int, str]
    by_station_kind: dict[tuple[int, int], Counts]
    fuel: dict[int, tuple[int, int, int]]           # station -> (fuel stations, dispensers, nozzles)
    previous: Counts
    built_at: dt.datetime
    # Extra sheets other capabilities add after the summary: section(workbook, figures, session, station_id).
    sections: list[Callable[..., None]] = field(default_factory=list)
    # A city's edition: county name -> its station ids, in the order the county sheet lists them.
    counties: dict[str, list[int]] = field(default_factory=dict)
    # A region's edition (county, city, province): the region, whose targets the sheets measure against.
    region_id: int | None = None

    def total(self) -> Counts:
        """The scope's totals."""
        total = Counts()
        for counts in self.by_station_kind.values():
            total.add(counts)
        return total

    def by_county(self) -> list[tuple[str, Counts]]:
        """Totals per county of a city's edition, in its order (summed from the station figures)."""
        out = []
        for name, station_ids in self.counties.items():
            total, ids = Counts(), set(station_ids)
            for (station, _), counts in self.by_station_kind.items():
                if station in ids:
                    total.add(counts)
            out.append((name, total))
        return out

    def by_kind(self) -> dict[int, Counts]:
        """Totals per kind across stations."""
        result: dict[int, Counts] = defaultdict(Counts)
        for (_, type_id), counts in self.by_station_kind.items():
            result[type_id].add(counts)
        return dict(result)


def previous_due(verified_on: dt.date | None, valid_until: dt.date | None, result, cycle: int | None) -> dt.date | None:
    """When the previous record made the instrument due: its valid-until, else date + cycle; failed: at once."""
    if verified_on is None:
        return None
    if result == VerificationResult.FAIL:
        return verified_on
    if valid_until is not None:
        return valid_until
    return add_months(verified_on, cycle) if cycle else None


# One station's id, a set of station ids (a city's edition) or None (every station).
Stations = int | frozenset[int] | None


def _month_counts(session: Session, month: Month, station_id: Stations) -> dict[tuple[int, int], Counts]:
    counts: dict[tuple[int, int], Counts] = defaultdict(Counts)
    for station, kind, n in session.execute(q.registered(station_id)):
        counts[station, kind].registered = n
    for station, kind, records, instruments, passed in session.execute(
            q.verified_between(month.first, month.last, station_id)):
        c = counts[station, kind]
        c.records, c.verified, c.passed = records, instruments, passed or 0
    following = month.shift(1)
    for station, kind, n in session.execute(q.due_between(following.first, following.last, station_id)):
        counts[station, kind].due_next = n
    for station, kind, n in session.execute(q.overdue_on(following.first, station_id)):
        counts[station, kind].overdue = n
    for station, kind, n in session.execute(q.past_life_on(following.first, station_id)):
        counts[station, kind].past_life = n
    for station, kind, on, prev_on, prev_until, prev_result, cycle in session.execute(
            q.verifications_with_previous(month.first, month.last, station_id)):
        due = previous_due(prev_on, prev_until, prev_result, cycle)
        if due is not None:
            c = counts[station, kind]
            c.reverified += 1
            c.on_time += on <= due
    return dict(counts)


def _in(station: int, station_id: Stations) -> bool:
    return station_id is None or (station in station_id if isinstance(station_id, frozenset) else station == station_id)


def compute_figures(session: Session, month: Month, station_id: Stations = None,
                    built_at: dt.datetime | None = None, scope_name: str | None = None,
                    counties: dict[str, list[int]] | None = None, region_id: int | None = None) -> Figures:
    """Query the month's figures for one station, a set of stations (a city's edition, with its `counties`), or
    all when station_id is None; each figure one grouped query over the scope, whatever its size."""
    stations = {s.id: s.name for s in session.scalars(select(Station).order_by(Station.code))
                if _in(s.id, station_id)}
    kinds = {t.id: t.name_zh for t in session.scalars(select(InstrumentType).order_by(InstrumentType.sort_order,
                                                                                      InstrumentType.id))}
    current = _month_counts(session, month, station_id)
    previous = Counts()
    for counts in _month_counts(session, month.shift(-1), station_id).values():
        previous.add(counts)
    fuel: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for station, n in session.execute(q.fuel_stations(station_id)):
        fuel[station][0] = n
    for station, n, nozzles in session.execute(q.fuel_dispensers(station_id)):
        fuel[station][1], fuel[station][2] = n, int(nozzles)
    if scope_name is None:
        scope_name = stations.get(station_id, "") if isinstance(station_id, int) else "全部监管所"
    return Figures(month, scope_name, stations, kinds, current, {k: tuple(v) for k, v in fuel.items()}, previous,
                   built_at or dt.datetime.now(dt.timezone.utc), counties=dict(counties or {}),
                   region_id=region_id)


# --- the workbook ------------------------------------------------------------------------------

SUMMARY_HEADERS = ["监管所", "器具种类", "在册（在用）", "本月检定（台）", "本月检定记录", "合格记录", "检定合格率",
                   "到期复检", "按期复检", "按期检定率", "下月到期", "月末超期未检", "超过使用年限"]


def report_name(f: Figures) -> str:
    """The report as its printed footer names it."""
    return f"计量器具监管月报 {f.month.label}（{f.scope_name}）"


def _counts_row(station: str, kind: str, c: Counts) -> list:
    return [station, kind, c.registered, c.verified, c.records, c.passed, c.pass_rate, c.reverified, c.on_time,
            c.on_time_rate, c.due_next, c.overdue, c.past_life]


def _summary_sheet(wb: Book, f: Figures) -> None:
    title = report_name(f)
    sheet = PrintedSheet(title, title)
    sheet.note(f"统计口径：在册、超期、使用年限和下月到期按生成报表时的台账计至 {f.month.last.isoformat()}；"
               f"检定数按本月检定记录（不含作废）。生成时间 {f.built_at.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}。")
    rows, subtotals = [], []
    for station_id, station in f.stations.items():
        subtotal = Counts()
        for type_id, kind in f.kinds.items():
            counts = f.by_station_kind.get((station_id, type_id))
            if counts is None:
                continue
            rows.append(_counts_row(station, kind, counts))
            subtotal.add(counts)
        if len(f.stations) > 1:
            subtotals.append(len(rows))
            rows.append(_counts_row(station, "小计", subtotal))
    sheet.table(SUMMARY_HEADERS, rows, total=_counts_row("合计", "", f.total()), bold_rows=subtotals,
                repeat_header=True)
    sheet.write(wb, "汇总", freeze_columns=2)


COUNTY_HEADERS = ["县（区）", "监管所（个）", "在册（在用）", "本月检定（台）", "本月检定记录", "合格记录", "检定合格率",
                  "到期复检", "按期复检", "按期检定率", "下月到期", "月末超期未检", "超过使用年限"]


def _county_sheet(wb: Book, f: Figures) -> None:
    """A city's edition: one row per county with its totals, and the city's total."""
    title = f"各县（区）汇总 {f.month.label}（{f.scope_name}）"
    sheet = PrintedSheet(title, report_name(f))
    sheet.note("各县（区）数字为其所属监管所之和，口径同“汇总”页；县（区）明细见“汇总”页各监管所小计。")
    rows = [[name, len(f.counties[name]), *_counts_row("", "", c)[2:]] for name, c in f.by_county()]
    sheet.table(COUNTY_HEADERS, rows, total=["合计", sum(len(v) for v in f.counties.values()),
                                             *_counts_row("", "", f.total())[2:]])
    sheet.write(wb, "各县汇总", freeze_columns=1)


def _overview_sheet(wb: Book, f: Figures) -> None:
    """The change from last month, fuel stations, and the figures by kind with their chart (on its own sheet)."""
    footer = report_name(f)
    sheet = PrintedSheet(f"概况 {f.month.label}（{f.scope_name}）", footer)
    total, prev = f.total(), f.previous
    sheet.caption(f"与上月（{f.month.shift(-1).label}）比较")
    rows = []
    for label, now, before in (("本月检定（台）", total.verified, prev.verified),
                               ("本月检定记录", total.records, prev.records),
                               ("检定合格率", total.pass_rate, prev.pass_rate),
                               ("按期检定率", total.on_time_rate, prev.on_time_rate),
                               ("月末超期未检", total.overdue, prev.overdue),
                               ("超过使用年限", total.past_life, prev.past_life)):
        change = None if now is None or before is None else now - before
        rows.append([label, now, before, change])
    sheet.table(["指标", f.month.label, f.month.shift(-1).label, "增减"], rows)  # rates print as percentages
    sheet.blank()

    sheet.caption("加油站、加油机和油枪")
    fuel_rows, sums = [], [0, 0, 0]
    for station_id, station in f.stations.items():
        values = f.fuel.get(station_id, (0, 0, 0))
        sums = [a + b for a, b in zip(sums, values)]
        fuel_rows.append([station, *values])
    sheet.table(["监管所", "加油站（家）", "在用加油机（台）", "油枪（条）"], fuel_rows, total=["合计", *sums])
    sheet.blank()

    sheet.caption("按器具种类（图表见“种类图表”）")
    by_kind = f.by_kind()
    kinds = [(name, by_kind[t]) for t, name in f.kinds.items() if t in by_kind]
    header_row, first, last = sheet.table(["器具种类", "本月检定（台）", "下月到期", "月末超期未检"],
                                          [[name, c.verified, c.due_next, c.overdue] for name, c in kinds])
    ws = sheet.write(wb, "概况")
    if kinds:
        chart = bar_chart(wb, ws, header_row, first, last, (1, 2, 3), legend=True,
                          title="按器具种类：本月检定、下月到期、月末超期未检（台）",
                          largest=max(max(c.verified, c.due_next, c.overdue) for _, c in kinds))
        chart_sheet(wb, "种类图表", f"按器具种类 {f.month.label}（{f.scope_name}）", footer, chart)


def _detail_sheet(wb: Book, name: str, title: str, footer: str, columns: list[Column], rows: Iterable) -> None:
    ws = wb.sheet(name)
    for index, column in enumerate(columns):
        ws.set_column(index, index, column.width)
    setup_page(ws, title, footer, sum(c.width for c in columns), title_row=2)
    wb.write(ws, 0, 0, title, **TITLE)
    count = wb.table(ws, 1, columns, rows, bordered=True)
    ws.freeze_panes(2, 0)
    ws.autofilter(1, 0, count + 1, len(columns) - 1)


def verification_columns(f: Figures) -> list[Column]:
    """The detail sheet of the month's records; station and kind as wide as their longest names."""
    return [Column("监管所", fitted_width(f.stations.values())), Column("使用单位", 32, wrap=True),
            Column("器具种类", fitted_width(f.kinds.values())), Column("出厂编号", 18),
            Column("检定日期", 12, "date"), Column("检定结论", 10), Column("证书编号", 20),
            Column("有效期至", 12, "date"), Column("检定机构", 26, wrap=True)]


def overdue_columns(f: Figures) -> list[Column]:
    """The detail sheet of overdue instruments."""
    return [Column("监管所", fitted_width(f.stations.values())), Column("使用单位", 32, wrap=True),
            Column("联系电话", 14), Column("器具种类", fitted_width(f.kinds.values())), Column("出厂编号", 18),
            Column("安装位置", 24, wrap=True), Column("最近检定日期", 14, "date"), Column("应检日期", 12, "date")]


def write_monthly_workbook(session: Session, figures: Figures, out: str | IO[bytes],
                           station_id: Stations = None) -> None:
    """Write the workbook: summary, overview with its chart sheet, the registered sections, the detail sheets."""
    wb = Book(out)
    if figures.counties:
        _county_sheet(wb, figures)
    _summary_sheet(wb, figures)
    _overview_sheet(wb, figures)
    for section in figures.sections:
        section(wb, figures, session, station_id)
    month, footer = figures.month, report_name(figures)
    _detail_sheet(wb, "本月检定明细", f"{month.label}检定记录明细（{figures.scope_name}）", footer,
                  verification_columns(figures),
                  session.execute(q.verification_details(month.first, month.last, station_id)
                                  .execution_options(yield_per=2000)))
    _detail_sheet(wb, "月末超期明细", f"{month.label}末超期未检器具（{figures.scope_name}，计至{month.last.isoformat()}）", footer,
                  overdue_columns(figures),
                  session.execute(q.overdue_details(month.shift(1).first, station_id).execution_options(yield_per=2000)))
    wb.close()


def build_monthly_report(session: Session, month: Month, out: str | IO[bytes], station_id: Stations = None,
                         sections: list | None = None, scope_name: str | None = None,
                         counties: dict[str, list[int]] | None = None, region_id: int | None = None) -> Figures:
    """Compute the figures and write the workbook to `out`; returns the figures."""
    figures = compute_figures(session, month, station_id, scope_name=scope_name, counties=counties,
                              region_id=region_id)
    figures.sections = list(sections or [])
    write_monthly_workbook(session, figures, out, station_id)
    return figures
