"""A workbook of one sheet per station: which sheets are summaries and which hold a ledger table.

`survey` is a plain job for importers/sandbox.py's `isolated()`: it opens the stored upload in the
limited child and looks only at the head of each sheet that is not a summary by its name.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from importers.errors import ImportFileError
from importers.parse import ParseOptions, find_table
from importers.reader import DEFAULT_MAX_BYTES, open_book

# A summary, statistics or instructions sheet of a county workbook, by its name (汇总, 全县合计, 填表说明...).
_SUMMARY = re.compile(r"汇总|合计|总计|统计|说明|目录|封面")
SUMMARY_SHEET = "汇总或说明工作表"
NO_TABLE = "没有台账表格"


def summary_reason(sheet: str) -> str | None:
    """Why a sheet is skipped by its name alone (a summary or instructions sheet), else None."""
    return SUMMARY_SHEET if _SUMMARY.search(re.sub(r"\s+", "", sheet)) else None


def survey(path: str, filename: str, kinds: Iterable[tuple[str, str]], options: ParseOptions = ParseOptions(),
           max_bytes: int = DEFAULT_MAX_BYTES, progress: Callable[[int], None] | None = None
           ) -> list[tuple[str, str]]:
    """(sheet, why it is skipped or '') for each visible sheet of the stored upload, in workbook order."""
    kinds = tuple(kinds)
    found = []
    with open_book(path, filename=filename, max_bytes=max_bytes) as book:
        for number, name in enumerate(book.visible_sheet_names, 1):
            reason = summary_reason(name)
            if reason is None:
                try:
                    if find_table(book, name, kinds=kinds, options=options) is None:
                        reason = NO_TABLE
                except ImportFileError as err:  # this sheet is too large, say: the others may still be imported
                    reason = err.message
            found.append((name, reason or ""))
            if progress is not None:
                progress(number)
    return found
