"""The 扫码 page: read a label with the camera and open its record."""
from __future__ import annotations

from app.field.views import bp  # noqa: F401
