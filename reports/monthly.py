"""The monthly report (月报) for a month and a scope (one station or all), as an .xlsx workbook (no Flask).

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

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Station
from app.catalog.models import InstrumentType
from app.clock import LOCAL_TZ
from app.instruments.engine import add_months
from app.instruments.models import VerificationResult
from reports import monthly_queries as q
from reports.xlsx import Column, append as append_row, header_footer_text, styled, write_rows

TITLE_FONT = Font(bold=True, size=14)
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
TOTAL_FONT = Font(bold=True)
PERCENT = "0.0%"


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

    def total(self) -> Counts:
        """The scope's totals."""
        total = Counts()
        for counts in self.by_station_kind.values():
            total.add(counts)
        return total

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


def _month_counts(session: Session, month: Month, station_id: int | None) -> dict[tuple[int, int], Counts]:
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


def compute_figures(session: Session, month: Month, station_id: int | None = None,
                    built_at: dt.datetime | None = None) -> Figures:
    """Query the month's figures for one station (or all when station_id is None)."""
    stations = {s.id: s.name for s in session.scalars(select(Station).order_by(Station.code))
                if station_id in (None, s.id)}
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
    scope_name = stations.get(station_id, "") if station_id else "全部监管所"
    return Figures(month, scope_name, stations, kinds, current, {k: tuple(v) for k, v in fuel.items()}, previous,
                   built_at or dt.datetime.now(dt.timezone.utc))


# --- the workbook ------------------------------------------------------------------------------

SUMMARY_HEADERS = ["监管所", "器具种类", "在册（在用）", "本月检定（台）", "本月检定记录", "合格记录", "检定合格率",
                   "到期复检", "按期复检", "按期检定率", "下月到期", "月末超期未检", "超过使用年限"]
SUMMARY_WIDTHS = [14, 22, 11, 12, 12, 10, 10, 10, 10, 10, 10, 12, 12]


cell = styled  # the report's sheets make their cells with the safe writer's styled()


def header(ws, headers: Iterable[str]) -> list:
    return [styled(ws, h, font=HEADER_FONT, fill=HEADER_FILL) for h in headers]


class RowCounter:
    """ws.append that counts the rows a write-only sheet has written (it keeps no count a chart could use)."""

    def __init__(self, ws) -> None:
        self.ws, self.rows = ws, 0

    def __call__(self, row: list) -> int:
        """Append one row (through the safe writer); its row number."""
        append_row(self.ws, row)
        self.rows += 1
        return self.rows


def print_setup(ws: Worksheet, title: str, header_row: int, columns: int) -> None:
    """A4 landscape, fit to one page wide, header row repeated, title in the page header, page numbers below."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.print_options.horizontalCentered = True
    ws.oddHeader.center.text = header_footer_text(title)
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    for index in range(columns):
        ws.column_dimensions[get_column_letter(index + 1)].width = SUMMARY_WIDTHS[index] if index < len(
            SUMMARY_WIDTHS) else 14


def _counts_row(ws, station: str, kind: str, c: Counts, font: Font | None = None) -> list:
    return [cell(ws, station, font=font), cell(ws, kind, font=font), c.registered, c.verified, c.records, c.passed,
            cell(ws, c.pass_rate, fmt=PERCENT), c.reverified, c.on_time, cell(ws, c.on_time_rate, fmt=PERCENT),
            c.due_next, c.overdue, c.past_life]


def _summary_sheet(wb: Workbook, f: Figures) -> None:
    ws = wb.create_sheet("汇总")
    append = RowCounter(ws)
    title = f"计量器具监管月报 {f.month.label}（{f.scope_name}）"
    print_setup(ws, title, 4, len(SUMMARY_HEADERS))
    ws.freeze_panes = "C5"
    append([cell(ws, title, font=TITLE_FONT)])
    append([f"统计口径：在册、超期、使用年限和下月到期按生成报表时的台账计至 {f.month.last.isoformat()}；"
               f"检定数按本月检定记录（不含作废）。生成时间 {f.built_at.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}"])
    append([])
    append(header(ws, SUMMARY_HEADERS))
    for station_id, station in f.stations.items():
        subtotal = Counts()
        for type_id, kind in f.kinds.items():
            counts = f.by_station_kind.get((station_id, type_id))
            if counts is None:
                continue
            append(_counts_row(ws, station, kind, counts))
            subtotal.add(counts)
        if len(f.stations) > 1:
            append(_counts_row(ws, station, "小计", subtotal, TOTAL_FONT))
    total = f.total()
    append(_counts_row(ws, "合计", "", total, TOTAL_FONT))
    append([])

    # Change from the previous month.
    prev = f.previous
    append([cell(ws, f"与上月（{f.month.shift(-1).label}）比较", font=HEADER_FONT)])
    append(header(ws, ["指标", "", f.month.label, f.month.shift(-1).label, "增减"]))
    for label, now, before in (("本月检定（台）", total.verified, prev.verified),
                               ("本月检定记录", total.records, prev.records),
                               ("检定合格率", total.pass_rate, prev.pass_rate),
                               ("按期检定率", total.on_time_rate, prev.on_time_rate),
                               ("月末超期未检", total.overdue, prev.overdue),
                               ("超过使用年限", total.past_life, prev.past_life)):
        fmt = PERCENT if isinstance(now, float) or isinstance(before, float) else None
        change = None if now is None or before is None else now - before
        append([label, "", cell(ws, now, fmt=fmt), cell(ws, before, fmt=fmt), cell(ws, change, fmt=fmt)])
    append([])

    # Fuel stations, dispensers and nozzles, counted separately.
    append([cell(ws, "加油站、加油机和油枪", font=HEADER_FONT)])
    append(header(ws, ["监管所", "", "加油站（家）", "在用加油机（台）", "油枪（条）"]))
    sums = [0, 0, 0]
    for station_id, station in f.stations.items():
        values = f.fuel.get(station_id, (0, 0, 0))
        sums = [a + b for a, b in zip(sums, values)]
        append([station, "", *values])
    append([cell(ws, "合计", font=TOTAL_FONT), "", *sums])
    append([])

    # By kind, for the chart.
    append([cell(ws, "按器具种类", font=HEADER_FONT)])
    append(header(ws, ["器具种类", "", "本月检定（台）", "下月到期", "月末超期未检"]))
    by_kind = f.by_kind()
    kinds = [(t, name) for t, name in f.kinds.items() if t in by_kind]
    start = append.rows + 1
    for type_id, name in kinds:
        c = by_kind[type_id]
        append([name, "", c.verified, c.due_next, c.overdue])
    if kinds:
        chart = BarChart()
        chart.type = "col"
        chart.title = "按器具种类：本月检定、下月到期、月末超期"
        chart.y_axis.title = "台"
        chart.height, chart.width = 9, 24
        data = Reference(ws, min_col=3, max_col=5, min_row=start - 1, max_row=start + len(kinds) - 1)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=start, max_row=start + len(kinds) - 1))
        ws.add_chart(chart, f"G{start}")


def _detail_sheet(wb: Workbook, name: str, title: str, columns: list[Column], rows: Iterable) -> None:
    ws = wb.create_sheet(name)
    print_setup(ws, title, 2, len(columns))
    for index, column in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = column.width
    append_row(ws, [cell(ws, title, font=TITLE_FONT)])
    count = write_rows(ws, columns, rows, header_font=HEADER_FONT)
    ws.freeze_panes = "A3"
    ws.auto_filter.ref = f"A2:{get_column_letter(len(columns))}{count + 2}"


VERIFICATION_COLUMNS = [Column("监管所", 14), Column("使用单位", 30), Column("器具种类", 16), Column("出厂编号", 18),
                        Column("检定日期", 12, "date"), Column("检定结论", 8), Column("证书编号", 18),
                        Column("有效期至", 12, "date"), Column("检定机构", 24)]
OVERDUE_COLUMNS = [Column("监管所", 14), Column("使用单位", 30), Column("联系电话", 14), Column("器具种类", 16),
                   Column("出厂编号", 18), Column("安装位置", 16), Column("最近检定日期", 12, "date"),
                   Column("应检日期", 12, "date")]


def write_monthly_workbook(session: Session, figures: Figures, out: str | IO[bytes],
                           station_id: int | None = None) -> None:
    """Write the workbook: summary with chart, the registered sections, then the detail sheets."""
    wb = Workbook(write_only=True)
    _summary_sheet(wb, figures)
    for section in figures.sections:
        section(wb, figures, session, station_id)
    month = figures.month
    _detail_sheet(wb, "本月检定明细", f"{month.label}检定记录明细（{figures.scope_name}）", VERIFICATION_COLUMNS,
                  session.execute(q.verification_details(month.first, month.last, station_id)
                                  .execution_options(yield_per=2000)))
    _detail_sheet(wb, "月末超期明细", f"截至{month.last.isoformat()}超期未检器具（{figures.scope_name}）", OVERDUE_COLUMNS,
                  session.execute(q.overdue_details(month.shift(1).first, station_id).execution_options(yield_per=2000)))
    wb.save(out)


def build_monthly_report(session: Session, month: Month, out: str | IO[bytes], station_id: int | None = None,
                         sections: list | None = None) -> Figures:
    """Compute the figures and write the workbook to `out`; returns the figures."""
    figures = compute_figures(session, month, station_id)
    figures.sections = list(sections or [])
    write_monthly_workbook(session, figures, out, station_id)
    return figures
