"""What a scanned or typed label code names: the public token in a label's address (no Flask).

A label's QR code holds the instrument's public address, `<PUBLIC_BASE_URL or the printing page's address>`
`/public/i/<token>` (app/instruments/views.py `labels_sheet`). The token is unguessable and looked up in the
database, so an address is recognised by its path; its origin only tells whether a token the database does not
know came from one of this system's labels (an instrument since removed) or from somewhere else.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

# secrets.token_urlsafe(24) is 32 characters (app/public/services.py); the column holds up to 43.
TOKEN = r"[A-Za-z0-9_-]{32,43}"
BARE_TOKEN = re.compile(rf"^{TOKEN}$")
LABEL_PATH = re.compile(rf"/public/i/({TOKEN})/?$")
MAX_CODE = 2000


@dataclass(frozen=True)
class LabelCode:
    """The token a code names (None when it names none) and whether it came from this system's address."""

    token: str | None
    ours: bool


def origin_of(url: str) -> str:
    """scheme://host[:port] of an address, lower-cased ('' when it has none)."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def read_label(code: str, origins: set[str]) -> LabelCode:
    """The token in a label code: a full label address, an address path, or the bare token typed by hand."""
    text = code.strip()
    if not text or len(text) > MAX_CODE:
        return LabelCode(None, False)
    if BARE_TOKEN.match(text):
        return LabelCode(text, True)
    parts = urlsplit(text)
    if parts.scheme and parts.scheme.lower() not in ("http", "https"):
        return LabelCode(None, False)
    found = LABEL_PATH.search(parts.path)
    if found is None:
        return LabelCode(None, False)
    ours = text.startswith("/") if not parts.netloc else origin_of(text) in {o.lower() for o in origins if o}
    return LabelCode(found.group(1), ours)
