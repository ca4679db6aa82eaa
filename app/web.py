"""Helpers for views: the request's session, the user's scope, pagination, flashing errors, and the one way a
view loads, authorises and commits.

A view that changes something does three things, each one way:

- authorise: a capability guard on the route (app/security.py), e.g. ``@ledger_write_required``;
- load: ``in_scope(getter, id)`` gives the record when it lies in the user's stations, else the request answers
  404 (the getter is the domain service's ``get_...(session, scope, id)``, which raises NotFound);
- change and commit: the service calls go inside ``with unit_of_work(form) as uow:``. The block commits once
  when it ends without error; a DomainError rolls back, is shown on the form (on its field, else flashed) and
  is kept in ``uow.error``; any other exception propagates. Flash and redirect after the block, when
  ``uow.ok``: ``uow.redirect(message, url)``. Views never call ``commit()`` or ``rollback()`` themselves.

Example::

    @bp.route("/instruments/<int:instrument_id>/edit", methods=["GET", "POST"])
    @ledger_write_required
    def edit(instrument_id: int):
        instrument = in_scope(services.get_instrument, instrument_id)
        form = InstrumentForm(obj=instrument)
        error = None
        if form.validate_on_submit():
            with unit_of_work(form) as uow:
                services.update_instrument(uow.session, current_user, scope(), instrument, ...)
            if uow.ok:
                return uow.redirect("已保存。", url_for("instruments.detail", instrument_id=instrument.id))
            error = uow.error
        return render_template("instruments/form.html", form=form, error=error)

Records every staff member may open (campaigns, draws) and the admin's records (users, stations, kinds) are not
station-owned: their getter takes no scope and is called as ``services.get_campaign(db(), id)``.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Any, TypeVar

from flask import current_app, flash, redirect, request
from flask_login import current_user
from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.clock import local
from app.counts.snapshots import Snapshots
from app.db import count_of
from app.errors import DomainError, Invalid
from app.guard import INT32_MAX
from app.scope import Scope


# Largest ?days= a worklist accepts: ten years ahead is already every instrument's next due date.
MAX_DAYS = 3660
ARG_LABELS = {"days": "天数", "page": "页码"}


def db() -> Session:
    """The session of the current request."""
    return current_app.extensions["database"].session()


def scope() -> Scope:
    """The current user's station scope, worked out once a request (a regional user's costs a tree query)."""
    from flask import g

    user = current_user if current_user.is_authenticated else None
    key = (user.id, user.region_id) if user is not None else None
    cached = g.get("scope_cache")
    if cached is None or cached[0] != key:
        cached = g.scope_cache = (key, Scope.for_user(user))
    return cached[1]


def case_access():
    """The current user's case access (app/cases): their scope's stations and the brigades they belong to."""
    from app.cases.queries import CaseAccess, team_ids_of

    if not current_user.is_authenticated:
        return CaseAccess(scope())
    return CaseAccess(scope(), frozenset(db().scalars(team_ids_of(current_user.id))))


# Figures of the pages and the region tree, by key (app/counts/snapshots.py; shared_figures below).
_PAGE_SNAPSHOTS = Snapshots(max_keys=128)


def region_tree():
    """The region tree (app/rollups/tree.py), shared by every request until a write commits."""
    from flask import g

    from app.rollups.tree import load_tree

    if "region_tree" not in g:
        # Read by most pages (the county filter, the scope's counties) and changed by an administrator now and
        # then: one snapshot for every request until a write commits. Nothing changes a Tree once loaded.
        g.region_tree, _ = _PAGE_SNAPSHOTS.get(("region-tree",), lambda: load_tree(db()))
    return g.region_tree


def county_choices() -> list[tuple[int, str]]:
    """(id, name) of the counties the user sees stations of, when there are two or more (a city or province
    user's county filter); empty otherwise."""
    from app.rollups.services import visible_counties

    tree = region_tree()
    counties = visible_counties(tree, scope())
    return [(c, tree.label(c)) for c in counties] if len(counties) > 1 else []


def chosen_county() -> int | None:
    """The ?county_id= a page is narrowed to: None when absent; 404 (Chinese) for a county the user sees no
    station of."""
    from app.errors import NotFound
    from app.rollups.services import visible_counties

    county_id = arg_int("county_id")
    if county_id is None:
        return None
    if county_id not in visible_counties(region_tree(), scope()):
        raise NotFound("县（区）不存在或不在您的管辖范围内")
    return county_id


def view_scope() -> Scope:
    """The user's scope narrowed to the page's ?county_id= (a city user opening one county); the scope itself
    otherwise. Lists and figures only: changes are always checked against `scope()`."""
    county_id = chosen_county()
    base = scope()
    if county_id is None:
        return base
    stations = frozenset(s for s, c in region_tree().station_county.items() if c == county_id)
    return Scope(stations if base.is_all else stations & base.station_ids)


def scoped_stations() -> list:
    """Stations the current user works in, by code."""
    from app.accounts.queries import stations

    return list(db().scalars(stations(scope())))


T = TypeVar("T")


def in_scope(getter: Callable[[Session, Scope, int], T], record_id: int) -> T:
    """The record `getter` finds inside the current user's stations; NotFound (answered 404) otherwise."""
    return getter(db(), scope(), record_id)


def arg_int(name: str, maximum: int = INT32_MAX) -> int | None:
    """A whole-number query parameter, or None when absent or not a plain number; 400 (Chinese) past `maximum`."""
    value = request.args.get(name, "").strip()
    # isdigit() alone lets "²" and full-width digits through, which int() then refuses: ASCII digits only.
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    if number > maximum:
        raise Invalid(f"参数数值过大：{ARG_LABELS.get(name, name)}不能超过 {maximum}。")
    return number


def arg_choice(name: str, choices) -> str | None:
    """A filter's code (industry, status, kind ...) when it is one of `choices` (an Enum or values); else None.

    An unknown code in a link is ignored, as if the filter were not set, rather than reaching the query.
    """
    value = request.args.get(name) or None
    allowed = {c.value for c in choices} if isinstance(choices, type) and issubclass(choices, Enum) else set(choices)
    return value if value in allowed else None


@dataclass
class Page:
    """One page of a list and what the pager needs.

    Keyset lists (app/keyset.py) carry the cursors of their first and last rows: the pager's next and previous
    links seek from them, whatever the depth. `has_prev`/`has_next` are what the walk found when it followed a
    cursor (rows may have come or gone since the page number was worked out)."""

    items: list
    total: int
    page: int
    per_page: int
    prev_cursor: str | None = None
    next_cursor: str | None = None
    found_prev: bool | None = None
    found_next: bool | None = None

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.found_prev if self.found_prev is not None else self.page > 1

    @property
    def has_next(self) -> bool:
        return self.found_next if self.found_next is not None else self.page < self.pages

    @property
    def first_row(self) -> int:
        """Position of the page's first row in the list (1-based; 0 on an empty page)."""
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last_row(self) -> int:
        return (self.page - 1) * self.per_page + len(self.items)


def chosen_merchant(picker_template: str) -> tuple[Any, Any]:
    """(merchant, None) for the ?merchant_id= in the scope (404 outside it), or (None, the page to pick one)."""
    from flask import render_template

    from app.merchants.queries import merchant_list
    from app.merchants.services import get_merchant

    merchant_id = arg_int("merchant_id")
    if merchant_id is None:
        q = request.args.get("q", "")
        found = db().scalars(merchant_list(scope(), q=q).limit(50)).all() if q else []
        return None, render_template(picker_template, merchants=found, q=q)
    return in_scope(get_merchant, merchant_id), None


def paginate(stmt: Select, *, scalars: bool = True, per_page: int | None = None, total: int | None = None,
             stations: tuple[ColumnElement, frozenset[int] | None] | None = None) -> Page:
    """Run a select for the requested page and count its rows (unless the caller knows the `total` already).

    A select of one entity ordered by its columns down to the primary key pages by keyset (app/keyset.py): the
    pager's links carry the boundary row's key (?after= / ?before=) with the page number shown; a page number
    alone (typed, first, last) reads from whichever end is nearer, so the first and last pages cost the same as
    any other and a page in the middle costs an OFFSET over at most half the list. `stations` = (station column,
    the list's station ids or None for all): a list over several stations is read station by station and
    merged. Other selects page by OFFSET.
    """
    from app.keyset import Split, order_of, walk

    per_page = per_page or current_app.config["PAGE_SIZE"]
    page = max(1, arg_int("page") or 1)
    session = db()
    if total is None:
        total = session.execute(count_of(stmt)).scalar_one()
    order = order_of(stmt) if scalars else None
    if order is None:
        query = stmt.limit(per_page).offset((page - 1) * per_page)
        items = list(session.scalars(query) if scalars else session.execute(query))
        return Page(items, total, page, per_page)
    split = None
    if stations is not None:
        station_ids = stations[1]
        if station_ids is None and not order.keys[0].column.primary_key:
            # Every station, sorted by a column: merged station by station too, so that one index per sort,
            # (station, column, id), serves one station, several and all.
            from app.accounts.models import Station

            station_ids = session.scalars(select(Station.id)).all()
        if station_ids is not None:
            split = Split(stations[0], tuple(sorted(station_ids)))
    pages = max(1, math.ceil(total / per_page))
    page = min(page, pages)
    after, before = order.decode(request.args.get("after")), order.decode(request.args.get("before"))
    found_prev = found_next = None
    if after is not None:
        items = walk(session, stmt, order, boundary=after, forward=True, limit=per_page + 1, split=split)
        found_prev, found_next = True, len(items) > per_page
        items = items[:per_page]
    elif before is not None:
        items = walk(session, stmt, order, boundary=before, forward=False, limit=per_page + 1, split=split)
        found_prev, found_next = len(items) > per_page, True
        items = items[-per_page:] if len(items) > per_page else items
        if not found_prev:
            page = 1  # reached the start: whatever was inserted since, this is the first page
    else:
        skipped = (page - 1) * per_page
        after_page = max(0, total - skipped - per_page)
        if skipped <= after_page:
            items = walk(session, stmt, order, boundary=None, forward=True, limit=per_page, offset=skipped,
                         split=split)
        else:
            items = walk(session, stmt, order, boundary=None, forward=False, limit=min(per_page, total - skipped),
                         offset=after_page, split=split)
    return Page(items, total, page, per_page,
                prev_cursor=order.encode(items[0]) if items else None,
                next_cursor=order.encode(items[-1]) if items else None,
                found_prev=found_prev, found_next=found_next)


XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_download(list_stmt: Select, name: str, columns: list, rows: Callable[[Session, Select], Any],
                  back: str) -> Any:
    """A list's rows as a streamed .xlsx download named "<name>_<date>.xlsx" (refused past EXPORT_MAX_ROWS).

    Past EXPORT_INLINE_ROWS the export becomes a background task: the page's endpoint with its filter and sort
    is stored, the user goes to the task's status page, and a worker replays this view for the user
    (app/tasks/background.py), which then writes the workbook to the task's file instead of answering.
    """
    import tempfile

    from flask import send_file

    from app.clock import today
    from app.tasks.background import task_sink
    from reports.xlsx import write_table

    limit = current_app.config["EXPORT_MAX_ROWS"]
    total = db().execute(count_of(list_stmt)).scalar_one()
    sink = task_sink()
    if total > limit:
        message = f"符合条件的记录有 {total} 条，超过单次导出上限 {limit} 条，请先缩小筛选范围。"
        if sink is not None:
            raise Invalid(message)
        flash(message, "warning")
        return redirect(back)
    file_name = f"{name}_{today():%Y%m%d}.xlsx"
    if sink is not None:
        with sink.open() as out:
            write_table(out, columns, sink.progress.counting(rows(db(), list_stmt), total), sheet_title=name)
        return sink.done(file_name, total)
    if total > current_app.config["EXPORT_INLINE_ROWS"]:
        from app.tasks.models import TaskKind
        from app.tasks.views import start

        return start(TaskKind.EXPORT, f"导出{name}（{total} 条）",
                     {"endpoint": request.endpoint, "view_args": dict(request.view_args or {}), "path": request.path,
                      "query": request.query_string.decode("ascii", "replace")},
                     f"符合条件的记录有 {total} 条，已转为后台导出：完成后在本页下载，也可离开本页，稍后在“我的后台任务”中下载。")
    # Written to a temporary file and sent from there, so a large export never sits in memory.
    out = tempfile.TemporaryFile()
    write_table(out, columns, rows(db(), list_stmt), sheet_title=name)
    out.seek(0)
    return send_file(out, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=file_name)


def export_url(name: str = "export.xlsx") -> str:
    """The current list page's export link: the same path plus /export.xlsx, with the same filter and sort."""
    from urllib.parse import urlencode

    args = {k: v for k, v in request.args.items() if k not in ("page", "after", "before")}
    return f"{request.path.rstrip('/')}/{name}" + (f"?{urlencode(args)}" if args else "")


def form_error(form: Any, err: DomainError) -> None:
    """Show a domain error on its form field when it names one, else as a flash message."""
    field = getattr(form, err.field, None) if err.field else None
    if field is not None:
        field.errors = list(field.errors) + [err.message]
    else:
        flash(err.message, "danger")


def shared_figures(key: tuple, compute: Callable[[], T], for_scope: Scope) -> tuple[T, Any]:
    """(figures, when they were counted): one snapshot per key and scope, computed once for everyone asking until
    any write commits, in any process, or a minute passes (app/counts/snapshots.py).

    For the aggregates of a page (counts, statistics, a plan's merchants), never for rows a user edits from."""
    value, at = _PAGE_SNAPSHOTS.get((*key, for_scope.station_ids), compute)
    return value, local(at)


def nav_counts() -> dict:
    """Worklist counts for the navigation, computed once per request."""
    from flask import g
    from flask_login import current_user as user

    from app.alerts.queries import BADGE_CAP, pending_count
    from app.clock import today
    from app.complaints.queries import open_counts as open_complaints
    from app.dashboard.services import worklist_counts
    from app.instruments.queries import WORKLISTS
    from app.results.queries import pending_count as pending_leads

    if not user.is_authenticated:
        return {"lists": [], "urgent": 0, "alerts": 0, "leads": 0, "complaints": 0, "complaints_late": 0}
    if "nav_counts" not in g:
        for_scope, on, days = scope(), today(), current_app.config["DUE_SOON_DAYS"]

        def compute() -> dict:
            counts = worklist_counts(db(), for_scope, on, days)
            complaints, late = db().execute(open_complaints(for_scope, on)).one()
            return {**counts, "urgent": counts["overdue"] + counts["past_service_life"],
                    "alerts": db().execute(pending_count(for_scope, BADGE_CAP)).scalar_one(),
                    "leads": db().execute(pending_leads(for_scope)).scalar_one(),
                    "complaints": complaints, "complaints_late": late}

        # Every page shows them: one snapshot for all the pages of everyone in that scope.
        counts, _ = shared_figures(("nav", on, days), compute, for_scope)
        g.nav_counts = {**counts, "lists": list(WORKLISTS.items()), "alerts_cap": BADGE_CAP}
    return g.nav_counts


class UnitOfWork:
    """One change a view makes: commits once on success, rolls back and shows a DomainError on the form."""

    def __init__(self, form: Any = None, show: bool = True) -> None:
        self.form = form
        self.session = db()
        self.error: DomainError | None = None
        # False for a JSON answer: the view says what went wrong itself (nothing flashed for a later page).
        self.show = show

    @property
    def ok(self) -> bool:
        """True when the change was committed (read after the `with` block)."""
        return self.error is None

    def __enter__(self) -> "UnitOfWork":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        if exc is None:
            self.session.commit()
            return False
        if isinstance(exc, DomainError):
            self.session.rollback()
            self.error = exc
            if self.show:
                form_error(self.form, exc)
            return True  # shown to the user: the view goes on to render its page
        return False

    def redirect(self, message: str | None, url: str, category: str = "success") -> Any:
        """After the block: flash what was done (unless None) and redirect to `url`."""
        if message:
            flash(message, category)
        return redirect(url)


def unit_of_work(form: Any = None, show: bool = True) -> UnitOfWork:
    """`with unit_of_work(form) as uow:` around a view's service calls (see the module docstring).

    Without a form, a refused change is flashed; with show=False (a JSON view) it is only kept in `uow.error`.
    """
    return UnitOfWork(form, show)
