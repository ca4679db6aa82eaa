"""JSON for the phone: the offline packet and the endpoint that receives an inspection draft."""
from __future__ import annotations

from app.field.views import bp  # noqa: F401
