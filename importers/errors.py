"""The one exception the import pipeline raises for a file it cannot use."""
from __future__ import annotations

from app.errors import Invalid


class ImportFileError(Invalid):
    """The file as a whole cannot be imported (not a spreadsheet, encrypted, no header ...).

    The message is Chinese and meant for the person who uploaded the file. Problems with
    single rows are never raised: they are collected as `RowError`s on the parsed rows.
    """

    def __init__(self, message: str, *, sheet: str | None = None) -> None:
        super().__init__(message)
        self.sheet = sheet
