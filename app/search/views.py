"""The search page behind the navigation's search box: merchants and instruments, grouped by kind."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, render_template, request, url_for

from app.instruments.models import Instrument
from app.merchants.models import Merchant
from app.search import queries
from app.search.keys import MIN_QUERY_CHARS, search_key
from app.security import staff_required
from app.web import arg_choice, arg_int, db, scope

bp = Blueprint("search", __name__, template_folder="templates")

# Rows of each kind on the overview; "查看全部" pages through one kind.
GROUP_SIZE = 10
# A longer query than this is no search a person types; it is cut rather than refused.
MAX_QUERY_CHARS = 100

KINDS = {"merchants": ("使用单位", Merchant), "instruments": ("计量器具", Instrument)}


@dataclass
class Group:
    """One kind of record found: its rows on this page and how many there are (capped)."""

    kind: str
    label: str
    items: list
    count: int
    page: int
    per_page: int

    @property
    def capped(self) -> bool:
        return self.count > queries.COUNT_CAP

    @property
    def pages(self) -> int:
        return max(1, -(-min(self.count, queries.COUNT_CAP) // self.per_page))


def _group(kind: str, key: str, page: int, per_page: int) -> Group:
    label, model = KINDS[kind]
    session = db()
    # Up to COUNT_CAP + 1 matching ids, newest first here; the page's records are then read by id.
    dialect = session.get_bind().dialect.name
    ids = sorted(session.scalars(queries.matching_ids(model, scope(), key, dialect=dialect)), reverse=True)
    group = Group(kind, label, [], len(ids), page, per_page)
    # A page past the last (a stale link, an edited address) shows the last one.
    group.page = min(page, group.pages)
    shown = ids[:queries.COUNT_CAP][(group.page - 1) * per_page:group.page * per_page]
    if shown:
        group.items = list(session.scalars(queries.records_by_ids(model, shown)))
    return group


@bp.route("/search")
@staff_required
def index():
    """Merchants and instruments of the user's stations whose searched fields contain the query."""
    q = (request.args.get("q") or "").strip()[:MAX_QUERY_CHARS]
    key = search_key(q)
    kind = arg_choice("kind", KINDS)
    groups: list[Group] = []
    message = None
    if q and len(key) < MIN_QUERY_CHARS:
        message = (f"请至少输入 {MIN_QUERY_CHARS} 个字（汉字、字母或数字，标点和空格不计），"
                   "例如出厂编号中的一段、单位名称或地址中的几个字、车牌号、户号。")
    elif key:
        if kind:
            groups = [_group(kind, key, max(1, arg_int("page") or 1), current_app.config["PAGE_SIZE"])]
        else:
            groups = [_group(k, key, 1, GROUP_SIZE) for k in KINDS]
    return render_template("search/index.html", q=q, kind=kind, groups=groups, message=message,
                           cap=queries.COUNT_CAP, more=lambda k, **a: url_for("search.index", q=q, kind=k, **a))
