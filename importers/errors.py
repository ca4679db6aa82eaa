"""The exceptions the import pipeline raises for a file it cannot use."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.errors import Invalid


class ImportFileError(Invalid):
    """The file as a whole cannot be imported (not a spreadsheet, encrypted, no header ...).

    The message is Chinese and meant for the person who uploaded the file. Problems with
    single rows are never raised: they are collected as `RowError`s on the parsed rows.
    """

    def __init__(self, message: str, *, sheet: str | None = None) -> None:
        super().__init__(message)
        self.sheet = sheet

    def details(self) -> dict | None:
        """What a subclass adds, as plain values (sent across the sandbox's pipe); None here."""
        return None


class UnmappedTableError(ImportFileError):
    """A spreadsheet whose table was not recognised, or that lacks a required column: the person
    importing it can choose the sheet, the header row and each column's field instead.

    `headers` and `fields` are the header row found (empty when none was) and the columns mapped
    so far; `missing` the required fields no column feeds.
    """

    def __init__(self, message: str, *, sheet: str | None = None, headers: Sequence[str] = (),
                 fields: Mapping[str, int] | None = None, missing: Sequence[str] = ()) -> None:
        super().__init__(message, sheet=sheet)
        self.headers = tuple(headers)
        self.fields = dict(fields or {})
        self.missing = tuple(missing)

    def details(self) -> dict:
        """The header, mapping and missing fields as plain values."""
        return {"headers": list(self.headers), "fields": dict(self.fields), "missing": list(self.missing)}
