"""The phone inspection flow, drafts and sync state, manifest and service worker."""
from __future__ import annotations

from app.field.views import bp  # noqa: F401
