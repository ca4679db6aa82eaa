"""One data row's cells to typed field values and row errors."""
from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence

from app.text import match_key
from importers.dateorder import Pending, resolve
from importers.dates import AmbiguousDate, to_date
from importers.ecqs_values import check_ecqs_values
from importers.fields import FIELD_BY_NAME
from importers.fill import column_letter
from importers.kinds import SKIP, KindResolver, kind_key
from importers.mapping import ColumnMapping
from importers.parsed import ParsedRow, RowError, Value
from importers.validate import row_problems
from importers.values import (
    CellError,
    display,
    to_code,
    to_count,
    to_credit_code,
    to_result,
    to_status,
    to_text,
)

_QUANTITY = re.compile(r"^(\d{1,6})(?:台|只|个|件|套|块|把|具)?$")


def to_quantity(value: object) -> int:
    """器具数量 as a whole number (3, '3', '3台'); 0 is kept so that the row check can name it."""
    if value.__class__ in (int, float):
        if not float(value).is_integer() or value < 0:  # type: ignore[arg-type,operator]
            raise CellError("应为整数")
        return int(value)  # type: ignore[call-overload]
    m = _QUANTITY.match(match_key(to_text(value)))
    if not m:
        raise CellError("应为整数")
    return int(m.group(1))


CONVERTERS: dict[str, Callable[[object], Value]] = {
    "text": to_text,
    "code": to_code,
    "credit_code": to_credit_code,
    "date": to_date,
    "int": to_count,
    "quantity": to_quantity,
    "result": to_result,
    "status": to_status,
}
_SHOWN_MAX = 40  # characters of a bad value quoted in a message
# Fields that identify nothing: a problem in one is a warning, the field is left out and the row imported.
SOFT_FIELDS = frozenset({"phone", "contact", "notes"})
_LEFT_OUT = "；此项未导入，本行其余内容照常导入"


def cell_message(label: str, value: object, error: CellError) -> str:
    """'检定日期“2023-02-30”不是存在的日期' (or without the value when it adds nothing)."""
    if not error.show_value:
        return f"{label}{error.reason}"
    shown = display(value).strip()
    if len(shown) > _SHOWN_MAX:
        shown = shown[:_SHOWN_MAX] + "…"
    return f"{label}“{shown}”{error.reason}"


class RowNormaliser:
    """Built once per sheet from its mapping; called once per data row."""

    def __init__(self, sheet: str, mapping: ColumnMapping, resolver: KindResolver, *,
                 required: Collection[str], merchant_required: bool, default_kind: str | None = None,
                 default_kind_label: str = "器具种类", formulas: frozenset[tuple[int, int]] = frozenset(),
                 kind_values: Iterable[tuple[str, str]] = ()) -> None:
        self.sheet = sheet
        self.mapping = mapping
        self.resolver = resolver
        self.required = tuple(required)
        self.merchant_required = merchant_required
        self.default_kind = default_kind
        self.default_kind_label = default_kind_label
        self._plan = [(name, col, mapping.label(name), CONVERTERS[FIELD_BY_NAME[name].type])
                      for name, col in sorted(mapping.fields.items(), key=lambda kv: kv[1])
                      if name in FIELD_BY_NAME and FIELD_BY_NAME[name].type in CONVERTERS]
        self._kind_col = mapping.column("kind")
        self._kind_label = mapping.label("kind")
        self._formulas = formulas  # (row, column), 0-based: formula cells the file saved no result for
        self._pending: list[Pending] = []  # short dates read once the sheet is read (see finish)
        # The user's choice for this file's kind values, by comparison key; each text is looked up once.
        self._chosen = {kind_key(text): code for text, code in kind_values}
        self._choice: dict[str, str | None] = {}

    def chosen(self, text: str) -> str | None:
        """The code (or SKIP) the user chose for this kind text in this file; None when none."""
        hit = self._choice.get(text, False)
        if hit is False:
            hit = self._choice[text] = self._chosen.get(kind_key(text))
        return hit

    def skips(self, cells: Sequence[object]) -> bool:
        """True when the row's kind is one the user marked as not a mandatory instrument."""
        col = self._kind_col
        if not self._chosen or col is None or col >= len(cells) or cells[col] == "":
            return False
        return self.chosen(to_text(cells[col])) == SKIP

    def __call__(self, row: int, cells: Sequence[object]) -> ParsedRow:
        """The parsed row for Excel row number `row`."""
        values: dict[str, Value] = {}
        errors: list[RowError] = []
        warnings: list[RowError] = []
        failed: list[str] = []
        pending: list[Pending] | None = None
        n = len(cells)
        for name, col, label, convert in self._plan:
            if col >= n:
                continue
            raw = cells[col]
            if raw == "":
                if self._formulas and (row - 1, col) in self._formulas:
                    message = f"{column_letter(col)}{row}（{label}）是公式，文件中没有保存计算结果；请在Excel中打开并保存后再导入"
                    if name in SOFT_FIELDS:
                        warnings.append(RowError(self.sheet, row, label, name, message + _LEFT_OUT))
                    else:
                        errors.append(RowError(self.sheet, row, label, name, message))
                        failed.append(name)
                continue
            try:
                value = convert(raw)
            except CellError as error:
                if error.__class__ is AmbiguousDate:
                    # Read once the sheet is read, in the order its other dates show.
                    pending = pending or []
                    pending.append(Pending(None, name, label, to_text(raw), error.parts))  # type: ignore[arg-type,attr-defined]
                    failed.append(name)
                    continue
                if name in SOFT_FIELDS:
                    warnings.append(RowError(self.sheet, row, label, name, cell_message(label, raw, error) + _LEFT_OUT))
                    continue
                errors.append(RowError(self.sheet, row, label, name, cell_message(label, raw, error)))
                failed.append(name)
                continue
            if value != "":
                values[name] = value
        size = values.get("size")
        if size is not None and "model" not in values:
            values["model"] = size  # a meter's 规格 is its size (DN15)
        self._kind(row, cells, values, errors, failed, warnings)
        check_ecqs_values(self.sheet, row, values, self.mapping, warnings)
        if size is not None and values["model"] is not size:
            # Both columns given: the size is kept beside the model rather than dropped (the model has room).
            model = values["model"]
            if match_key(size) not in match_key(model) and len(model) + len(size) < 80:  # type: ignore[arg-type]
                values["model"] = f"{model} {size}"
        quantity = values.pop("quantity", 1)
        if quantity != 1:
            errors.append(RowError(self.sheet, row, self.mapping.label("quantity"), "quantity",
                                   self._quantity_message(quantity, values)))  # type: ignore[arg-type]
        for name, message in row_problems(values, self.mapping, required=self.required,
                                          merchant_required=self.merchant_required, failed=failed):
            column = self.mapping.label(name) if name and self.mapping.column(name) is not None else ""
            if name in SOFT_FIELDS:
                del values[name]
                warnings.append(RowError(self.sheet, row, column, name, message + _LEFT_OUT))
            else:
                errors.append(RowError(self.sheet, row, column, name, message))
        parsed = ParsedRow(row, cells, values, tuple(errors), tuple(warnings))
        if pending:
            for p in pending:
                p.row = parsed
            self._pending.extend(pending)
        return parsed

    @property
    def waiting(self) -> bool:
        """True while rows read so far hold short dates that only the end of the sheet decides."""
        return bool(self._pending)

    def finish(self) -> list[str]:
        """Read the short dates left for the end of the sheet (importers/dateorder.py); the notes on
        the order used, for the preview."""
        pending, self._pending = self._pending, []
        return resolve(self.sheet, pending, self.mapping.label)

    def _quantity_message(self, quantity: int, values: dict[str, Value]) -> str:
        label = self.mapping.label("quantity")
        if quantity == 0:
            return f"{label}为0：本行没有器具可登记"
        serial = "本行只有一个出厂编号" if values.get("serial_no") else "本行没有出厂编号"
        return (f"{label}为{quantity}，{serial}：台账每行登记一台器具，请按台分行填写，"
                f"每行写明该台的出厂编号（共{quantity}行）")

    def _kind(self, row: int, cells: Sequence[object], values: dict[str, Value], errors: list[RowError],
              failed: list[str], warnings: list[RowError]) -> None:
        col = self._kind_col
        raw = cells[col] if col is not None and col < len(cells) else ""
        text = to_text(raw) if raw != "" else ""
        label = self._kind_label
        if not text:
            if not self.default_kind:
                return
            text, label = self.default_kind, self.default_kind_label
        column = self._kind_label if col is not None else ""
        if self._chosen and raw != "":
            chosen = self.chosen(text)
            if chosen:
                values["kind"] = chosen
                name = self.resolver.names.get(chosen, chosen)
                warnings.append(RowError(self.sheet, row, column, "kind", f"{label}“{text}”按本文件的指定记为{name}"))
                return
        try:
            values["kind"], note = self.resolver.resolve_noted(
                text, size=values.get("size"), model=values.get("model"))  # type: ignore[arg-type]
        except CellError as error:
            errors.append(RowError(self.sheet, row, column, "kind", cell_message(label, text, error)))
            failed.append("kind")
            return
        if note:
            warnings.append(RowError(self.sheet, row, column, "kind", f"{label}“{text}”{note}；如不对，请在预览中指定"))
