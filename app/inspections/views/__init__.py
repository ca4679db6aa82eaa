"""Special inspection pages (专项检查) on one blueprint, one module per sub-area:

- campaigns: campaigns, planned merchants and random draws (双随机);
- inspections: inspections, findings, print views and the figures;
- rectifications: rectification orders and re-checks (复查);
- evidence: evidence files of an inspection;
- signatures: signing the 现场检查笔录 on screen, and the signature images.

The published results of a draw are a public page: app/public/views.py.
"""
from __future__ import annotations

from flask import Blueprint

from app.accounts.models import Station, User
from app.accounts.queries import stations, users_by_ids
from app.web import db

bp = Blueprint("inspections", __name__, template_folder="../templates")


def stations_by_id() -> dict[int, Station]:
    """Every station by id, in code order."""
    return {s.id: s for s in db().scalars(stations())}


def users_by_id(ids) -> dict[int, User]:
    """The users with these ids, by id."""
    ids = set(ids)
    return {u.id: u for u in db().scalars(users_by_ids(ids))} if ids else {}


# Each module adds its routes to bp when imported.
from app.inspections.views import campaigns, evidence, inspections, rectifications, signatures  # noqa: E402,F401
