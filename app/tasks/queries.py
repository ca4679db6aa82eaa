"""Named queries of background tasks (no Flask)."""
from __future__ import annotations

from sqlalchemy import Select, select

from app.tasks.models import BackgroundTask


def task_list(user_id: int | None) -> Select:
    """Tasks newest first: one user's, or everyone's (None, for administrators)."""
    stmt = select(BackgroundTask).order_by(BackgroundTask.id.desc())
    return stmt if user_id is None else stmt.where(BackgroundTask.requested_by_id == user_id)
