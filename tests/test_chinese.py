"""Every word a user sees is Chinese: every page of the access matrix, rendered on the demo data as each kind of
user, its downloads and the flash messages of its forms, checked for English words outside an allow-list.

The matrix (tests/test_access.py) gives the routes and who may open them; the demo county (`flask demo load`)
gives the records, so lists, charts, the audit log and the scheduler page show what a real county's would.
What is checked is visible text only: text between tags (not scripts or styles) and the attributes a user
reads (title, placeholder, aria-label, alt, a button's value), and every text cell of each exported workbook.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlparse

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.accounts.models import Station, User
from app.alerts.models import Alert
from app.catalog.models import FindingCode, InstrumentType
from app.complaints.services import REFERENCE_ALPHABET
from app.instruments.models import Instrument, Verification
from app.integrity.models import Pledge
from app.merchants.models import Merchant
from tests import factories
from tests.test_access import ANON, CASES, INSP_A, INSP_B, OK, PERSONAS, SUPER, ADMIN, ids_of, path_of

# Demo logins (app/demo/cli.py) standing in for the matrix's personas: insp_a works in the first station only,
# insp_b in the third, so the second inspector sees none of insp_a's records.
DEMO_LOGINS = {INSP_A: ("inspector5", "inspector-demo-1"), INSP_B: ("inspector3", "inspector-demo-1"),
               SUPER: ("supervisor", "supervisor-demo-1"), ADMIN: ("admin", "admin-demo-1")}

# English a user may read: units, standards, file types and encodings, product and protocol names.
ALLOWED = {
    # units of measure (instrument ranges, accuracy, file sizes)
    "kg", "mg", "mm", "cm", "km", "mL", "ml", "min", "kW", "kWh", "kPa", "MPa", "Pa", "mmHg", "DN", "KB", "MB",
    "GB",
    # standards and regulations
    "JJG", "JJF", "GB/T",
    # file types, encodings and the documentation folder named in hints
    "xlsx", "xlsm", "xls", "ods", "csv", "pdf", "png", "jpg", "jpeg", "PDF", "PNG", "JPG", "JPEG", "CSV", "GBK",
    "UTF", "md", "docs", "HEIC", "HEIF",
    # products and protocols
    "Excel", "WPS", "SMTP", "QR", "Message-ID", "CQS", "API",  # SAMR's e-CQS, whose ledger layout the app exports
    # the HTTP header an API token is sent in, shown as it must be typed
    "Authorization", "Bearer",
}
# A serial, model, plate or certificate number: letters and digits, joined by - / . _ only.
IDENTIFIER = re.compile(r"^(?=.*\d)[A-Za-z0-9]+(?:[-/._][A-Za-z0-9]+)*$")
# A complaint's reference (app/complaints/services.new_reference): twelve random characters, which hold no digit
# about one time in 36; it is the complainant's key, not a word.
_REF = f"[{REFERENCE_ALPHABET}]{{4}}"
COMPLAINT_REFERENCE = re.compile(f"^TS-{_REF}-{_REF}-{_REF}$")
TOKEN = re.compile(r"[!-~]+")  # a run of printable ASCII between blanks and Chinese text
WORD = re.compile(r"[A-Za-z]{2,}")
CJK = re.compile(r"[\u3400-\u9fff]")
# Secrets shown once (API tokens, webhook signing secrets) are random URL-safe text after their prefix: two of
# "-" and "_" may meet in them, which IDENTIFIER (one separator between letters or digits) would not accept.
SECRET_PREFIXES = ("mt_", "whsec_")
SEEN_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}
# Endpoints whose pages this sweep leaves to their own tests (none: the monthly report is swept too).
NOT_CHECKED_HERE: set[str] = set()


def runs_on_postgresql(test: str, params: dict) -> bool:
    """The page sweep runs on SQLite only: the words on a page come from the code and the demo data, not from
    the database (the access matrix still opens every page on PostgreSQL). Keeps CI under 5 minutes."""
    return test != "test_every_page_download_and_message_is_in_chinese"


@dataclass
class Chunk:
    """One piece of visible text, whether it is marked as code (<code>), and the row (table row or sheet row)
    it belongs to, so a code can be told apart from its Chinese name beside it."""

    text: str
    in_code: bool = False
    row: int | None = None


class VisibleText(HTMLParser):
    """The pieces of text a user sees on a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[Chunk] = []
        self._hidden = 0
        self._code = 0
        self._rows: list[int] = []
        self._row_count = 0

    def _add(self, text: str) -> None:
        self.chunks.append(Chunk(text, self._code > 0, self._rows[-1] if self._rows else None))

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._hidden += 1
        elif tag == "code":
            self._code += 1
        elif tag == "tr":
            self._row_count += 1
            self._rows.append(self._row_count)
        attrs = dict(attrs)
        for name in SEEN_ATTRIBUTES:
            if attrs.get(name):
                self._add(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button", "reset") and attrs.get("value"):
            self._add(attrs["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self._hidden:
            self._hidden -= 1
        elif tag == "code" and self._code:
            self._code -= 1
        elif tag == "tr" and self._rows:
            self._rows.pop()

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self._add(data.strip())


def visible_text(html: str) -> list[Chunk]:
    """The visible text of a page, piece by piece."""
    parser = VisibleText()
    parser.feed(html)
    return parser.chunks


def english_words(chunk: Chunk | str, names: set[str], codes: dict[str, str], row: list[str] = ()) -> list[str]:
    """The English words in one piece of visible text that are not allowed.

    Allowed: ALLOWED; identifiers with digits (serial and certificate numbers, models, plates); addresses
    (e-mail, http); `names` (user names and the like, which are data); and a code of `codes` (catalogue codes,
    job names, settings: code -> its Chinese name) beside its Chinese name: in the same text, marked as code
    (<code>), or in the same row (`row`: the texts of the chunk's table or sheet row) as its name."""
    chunk = chunk if isinstance(chunk, Chunk) else Chunk(chunk)
    found = []
    for token in TOKEN.findall(chunk.text):
        token = token.strip("()[]{}<>,.;:!?'\"“”=")
        if (not WORD.search(token) or token in ALLOWED or token in names or IDENTIFIER.match(token)
                or COMPLAINT_REFERENCE.match(token)):
            continue
        if "@" in token or token.startswith(("http://", "https://")) or token.startswith(SECRET_PREFIXES):
            continue
        if token in codes and (chunk.in_code or CJK.search(chunk.text) or (codes[token] and codes[token] in row)):
            continue
        found += [w for w in WORD.findall(token) if w not in ALLOWED and w not in names]
    return found


def workbook_text(data: bytes) -> list[Chunk]:
    """Every text cell of every sheet of a workbook (sheet names too), each with its row."""
    book = load_workbook(io.BytesIO(data), read_only=True)
    chunks, row_id = [], 0
    for sheet in book.worksheets:
        chunks.append(Chunk(sheet.title))
        for row in sheet.iter_rows(values_only=True):
            row_id += 1
            chunks += [Chunk(v.strip(), row=row_id) for v in row if isinstance(v, str) and v.strip()]
    return chunks


def offending(chunks: list[Chunk], names: set[str], codes: dict[str, str]) -> list[str]:
    """Each piece of text with English words outside the allow-list, with those words."""
    rows: dict[int, list[str]] = {}
    for c in chunks:
        if c.row is not None:
            rows.setdefault(c.row, []).append(c.text)
    found = []
    for c in chunks:
        words = english_words(c, names, codes, rows.get(c.row, []) if c.row is not None else [])
        if words:
            found.append(f"{' '.join(words)}  <-  {c.text[:80]!r}")
    return found


def demo_world(session) -> factories.World:
    """The matrix's world made of demo records: station A is the first station, B the third; merchant and
    instrument A/B are ones of those stations with an overdue alert, a verification and no pledge."""
    stations = session.scalars(select(Station).order_by(Station.id)).all()
    users = {u.username: u for u in session.scalars(select(User))}

    def merchant_and_instrument(station):
        pledged = select(Pledge.merchant_id)
        row = session.execute(
            select(Merchant, Instrument).join(Instrument, Instrument.merchant_id == Merchant.id)
            .join(Alert, Alert.instrument_id == Instrument.id)
            .where(Merchant.station_id == station.id, Alert.kind == "overdue", Merchant.id.not_in(pledged),
                   Instrument.id.in_(select(Verification.instrument_id)))
            .order_by(Instrument.id).limit(1)).one()
        return row

    (ma, ia), (mb, ib) = merchant_and_instrument(stations[0]), merchant_and_instrument(stations[2])
    a, b = stations[0], stations[2]
    return factories.World(a, b, users["admin"], users["supervisor"], users["inspector5"],
                           users["inspector3"], ma, mb, ia, ib, a.county.parent, a.county, b.county,
                           users["supervisor"], users["county_admin"])


def log_in(client, persona: str) -> None:
    client.post("/logout")
    if persona != ANON:
        username, password = DEMO_LOGINS[persona]
        resp = client.post("/login", data={"username": username, "password": password})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]


def shown_names(session) -> set[str]:
    """Names that are data rather than words: user names, the scheduler processes' names (host:pid:id) and the
    first characters of API tokens (mt_...)."""
    from app.api.models import ApiToken
    from app.jobs.models import JobRun, SchedulerLease

    return (set(session.scalars(select(User.username))) | set(session.scalars(select(JobRun.runner)))
            | set(session.scalars(select(SchedulerLease.holder))) | set(session.scalars(select(ApiToken.prefix))))


def known_codes(app, session) -> dict[str, str]:
    """Codes a page may show beside their Chinese name: finding codes, instrument kinds, job names, settings."""
    from app.scheduler import load_registry

    codes = dict(session.execute(select(FindingCode.code, FindingCode.name_zh)).all())
    codes.update(session.execute(select(InstrumentType.code, InstrumentType.name_zh)).all())
    codes.update({name: spec.label for name, spec in load_registry(app.config["SCHEDULER_JOBS"]).items()})
    codes.update({key: "" for key in app.config if key.isupper()})
    return codes


@pytest.fixture()
def demo(app, session):
    """The demo county (small), the matrix's extra records on it, a run of every scheduled job and a lease."""
    import datetime as dt

    from app.db import utcnow
    from app.jobs import services as jobs
    from app.scheduler import load_registry, runner_id

    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "load", "--merchants", "60", "--instruments", "600", "--stations", "4"])
    assert result.exit_code == 0, result.output
    ids = ids_of(session, demo_world(session), every_extra=True)
    client = app.test_client()
    log_in(client, ADMIN)
    for name in load_registry(app.config["SCHEDULER_JOBS"]):
        assert client.post(f"/admin/jobs/{name}/run").status_code == 302
    jobs.acquire_lease(session, holder=runner_id(), now=utcnow(), ttl=dt.timedelta(minutes=5))
    session.commit()
    return ids


def test_every_page_download_and_message_is_in_chinese(app, session, demo):
    """Every GET of the matrix as each persona (pages, error pages, downloads), every permitted POST with the
    page it leads to (its flash message), then the audit log of every kind of record and action that all this
    wrote: no English word outside the allow-list."""
    from app.audit.models import AuditEntry

    ids, codes = demo, known_codes(app, session)
    client = app.test_client()
    problems: dict[str, list[str]] = {}

    def look(what: str, resp) -> None:
        if resp.status_code in (301, 302, 303):
            return
        if resp.mimetype == "text/html":
            chunks = visible_text(resp.get_data(as_text=True))
        elif resp.mimetype.endswith("spreadsheetml.sheet"):
            chunks = workbook_text(resp.get_data())
        else:
            return
        found = offending(chunks, shown_names(session), codes)
        if found:
            problems[what] = sorted(set(found))

    for persona in PERSONAS:
        log_in(client, persona)
        for case in CASES:
            if all(v == 405 for v in case.get.values()) or case.endpoint in NOT_CHECKED_HERE:
                continue
            look(f"GET {case.id} as {persona}", client.get(path_of(case, ids)))
    for case in CASES:
        if case.post is None or case.endpoint in ("accounts.logout", "accounts.login"):
            continue
        persona = next((p for p in (ADMIN, SUPER, INSP_A) if case.post[p] == OK), None)
        if persona is None:
            continue
        log_in(client, persona)
        resp = client.post(path_of(case, ids), data=case.data(ids))
        look(f"POST {case.id} as {persona}", resp)
        if resp.status_code == 302:
            target = urlparse(resp.headers["Location"])
            look(f"POST {case.id} as {persona} -> {target.path}",
                 client.get(target.path + (f"?{target.query}" if target.query else "")))
    log_in(client, ADMIN)
    for entity_type in session.scalars(select(AuditEntry.entity_type).distinct()):
        look(f"audit log of {entity_type}", client.get("/admin/audit/", query_string={"entity_type": entity_type}))
    for action in session.scalars(select(AuditEntry.action).distinct()):
        look(f"audit log of action {action}", client.get("/admin/audit/", query_string={"action": action}))
    report = "\n".join(f"{what}:\n    " + "\n    ".join(found) for what, found in sorted(problems.items()))
    assert not problems, f"English words on {len(problems)} pages:\n{report}"


def test_every_audit_entry_reads_in_chinese(app, session, demo):
    """What the demo and the matrix's records wrote to the audit log: each kind of record, action and changed
    field has a Chinese name (a page shows only the newest entries; this reads them all)."""
    from app.audit.models import AuditEntry
    from app.audit.queries import action_label, entity_label

    entries = session.scalars(select(AuditEntry)).all()
    assert len({e.entity_type for e in entries}) >= 10
    assert [t for t in {e.entity_type for e in entries} if not CJK.search(entity_label(t))] == []
    assert [a for a in {e.action for e in entries} if not CJK.search(action_label(a))] == []
    fields = {(e.entity_type, c["field"], c["label"]) for e in entries for c in e.changes}
    assert [f for f in fields if not CJK.search(f[2])] == []


def test_every_table_has_a_name_in_the_audit_log():
    """A table audited one day shows its Chinese name, not its table name."""
    from app.audit.queries import ENTITY_LABELS
    from app.models import metadata

    assert sorted(set(metadata.tables) - set(ENTITY_LABELS)) == []


def test_the_scheduler_page_speaks_chinese(app, session, client, world):
    """Job summaries in words, the lease holder as this machine's process (the raw name only as a tooltip)."""
    import datetime as dt
    import os
    import socket

    from app.db import utcnow
    from app.jobs import services as jobs

    holder = f"{socket.gethostname()}:{os.getpid()}:abc123"
    jobs.acquire_lease(session, holder=holder, now=utcnow(), ttl=dt.timedelta(minutes=5))
    session.commit()
    client.post("/login", data={"username": "admin1", "password": factories.PASSWORD})
    page = client.get("/admin/jobs/").get_data(as_text=True)
    lease = page.split('id="lease"', 1)[1].split("</p>", 1)[0]
    assert f">本机进程 {os.getpid()}</span>" in lease and f'title="{holder}"' in lease
    assert client.post("/admin/jobs/due_date_sweep/run").status_code == 302
    runs = client.get("/admin/jobs/due_date_sweep").get_data(as_text=True).split('id="runs"', 1)[1]
    assert re.search(r"新建 \d+ 条，重新打开 \d+ 条，解除 \d+ 条", runs) and "created=" not in runs
    assert f"本机进程 {os.getpid()}" in runs


def test_a_process_on_another_host_is_named_by_its_host(app):
    from app.jobs.views import runner_words

    assert runner_words("db-node-2:4711:abc123") == "主机 db-node-2 上的进程 4711"
    assert runner_words("") == ""


@pytest.mark.parametrize("chunk,bad", [
    ("created=1 reopened=0", ["created", "reopened"]),
    ("调度进程 vm:19066:ab12cd", ["vm", "ab", "cd"]),
    ("NOT_MEASURING", ["NOT", "MEASURING"]),
    ("NOT_MEASURING 不计量", []),
    (Chunk("NOT_MEASURING", in_code=True), []),
    ("campaigns", ["campaigns"]),
    ("breadcrumb", ["breadcrumb"]),
    ("'3' is not a valid choice for this field.", ["is", "not", "valid", "choice", "for", "this", "field"]),
    ("(0.04～15) kg ACS-15 浙MA1234 JJG 539-2016 台账.xlsx", []),
    ("DN15 Q3=2.5 m³/h", []),
    ("令牌 mt_Xk__9f-_aBcD 签名密钥 whsec_q-_Zz__w", []),  # random secrets, shown once
    ("投诉举报 TS-KGTS-SVRS-ERDC", []),  # a complaint's reference that drew no digit
    ("TS-KGTS-SVRS-ERDC-BACK", ["TS", "KGTS", "SVRS", "ERDC", "BACK"]),
])
def test_the_check_itself(chunk, bad):
    """The word check catches the English the issue found and lets units, numbers and named codes through."""
    assert english_words(chunk, {"inspector1"}, {"NOT_MEASURING": "不计量"}) == bad


def test_a_code_is_allowed_in_the_row_of_its_chinese_name():
    html = ("<table><tr><td>应计量而未计量</td><td>NOT_MEASURING</td></tr><tr><td>NOT_MEASURING</td></tr></table>"
            "<svg><text>NOT_MEASURING</text></svg>")
    found = offending(visible_text(html), set(), {"NOT_MEASURING": "应计量而未计量"})
    assert len(found) == 2  # the row without its name, and the chart axis


def test_visible_text_skips_scripts_styles_and_attributes():
    html = ('<html><head><style>.a{color:red}</style><script>var x = "hidden";</script></head>'
            '<body class="page"><a href="/x" title="说明">链接</a><input placeholder="请输入"><input type="submit" '
            'value="保存"><span data-x="english">文字</span></body></html>')
    assert [c.text for c in visible_text(html)] == ["说明", "链接", "请输入", "保存", "文字"]
