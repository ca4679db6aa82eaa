"""Rules over a whole row once each cell is normalised."""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from importers.fields import FIELDS
from importers.mapping import ColumnMapping

_LIMITS = {f.name: f.max_len for f in FIELDS if f.max_len}
_SHORTEST = min(_LIMITS.values())  # a text no longer than this is within every limit


def row_problems(values: Mapping[str, object], mapping: ColumnMapping, *, required: Collection[str],
                 merchant_required: bool, failed: Collection[str] = ()) -> list[tuple[str | None, str]]:
    """(field, Chinese message) for each rule the row breaks; `failed` fields already have errors."""
    problems: list[tuple[str | None, str]] = []
    for name, value in values.items():
        if value.__class__ is not str or len(value) <= _SHORTEST:  # type: ignore[arg-type]
            continue  # checked on every row: most values are short
        limit = _LIMITS.get(name)
        if limit and len(value) > limit:  # type: ignore[arg-type]
            problems.append((name, f"{mapping.label(name)}过长（{len(value)}字，最多{limit}字）"))  # type: ignore[arg-type]
    for name in required:
        if name not in values and name not in failed:
            problems.append((name, f"缺少{mapping.label(name)}"))
    if (merchant_required and "merchant_name" not in values and "credit_code" not in values
            and "merchant_name" not in failed and "credit_code" not in failed):
        problems.append(("merchant_name", f"缺少{mapping.label('merchant_name')}（或统一社会信用代码）"))
    message = date_order_problem(values, mapping.label)
    if message:
        problems.append(("valid_until", message))
    return problems


def date_order_problem(values: Mapping[str, object], label: Callable[[str], str]) -> str | None:
    """The message when the row's valid-until date is before its verification date."""
    verified, valid = values.get("verified_on"), values.get("valid_until")
    if verified is not None and valid is not None and valid < verified:  # type: ignore[operator]
        return f"{label('valid_until')}（{valid}）早于{label('verified_on')}（{verified}）"
    return None
