"""A ledger's e-CQS values (用途, 送检方式, 使用地点行政区划) read against e-CQS's choices: a value that clearly means
one is stored as that value, any other is kept as written; both are said as warnings on the row, never dropped."""
from __future__ import annotations

from app.instruments.ecqs import PURPOSES, REGION, SUBMISSIONS, purpose_of, submission_of
from importers.mapping import ColumnMapping
from importers.parsed import RowError

_KEPT = "；已按原文导入，请核对"


def check_ecqs_values(sheet: str, row: int, values: dict, mapping: ColumnMapping, warnings: list[RowError]) -> None:
    """Map or keep the row's 用途 and 送检方式, and warn of a region that is not a 6-digit code."""
    for name, choices, read in (("purpose", PURPOSES, purpose_of), ("submission", SUBMISSIONS, submission_of)):
        text = values.get(name)
        if not text or text in choices:
            continue
        label = mapping.label(name)
        meant = read(text)
        if meant is not None:
            values[name] = meant
            warnings.append(RowError(sheet, row, label, name, f"{label}“{text}”按“{meant}”导入"))
        else:
            warnings.append(RowError(sheet, row, label, name,
                                     f"{label}“{text}”不是{'、'.join(choices)}之一{_KEPT}"))
    region = values.get("region")
    if region and not REGION.fullmatch(region):
        label = mapping.label("region")
        warnings.append(RowError(sheet, row, label, "region", f"{label}“{region}”不是6位数字的行政区划代码{_KEPT}"))
