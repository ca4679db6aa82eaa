"""Import forms: upload, sheet and column choice, saving a mapping, apply and undo."""
from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import Length, Optional

from app.forms import CoercingSelect, Form, VersionField, chosen, int_or_none, optional_int, required
from importers.fields import FIELDS

ACCEPT = ".xlsx,.xlsm,.xls,.ods,.csv"
UNMAPPED = "— 不导入 —"


class UploadForm(Form):
    """A ledger file (or a verification body's results file) and the station it belongs to."""

    kind = SelectField("文件类型", choices=[("ledger", "台账（使用单位和计量器具）"), ("results", "检定机构的检定结果")],
                       default="ledger",
                       description="检定结果文件（器具名称、出厂编号、证书编号、检定日期、检定结论、有效期至、送检单位……）"
                                   "按器具种类和出厂编号与台账匹配；台账中没有的器具转入“未备案器具线索”")
    body_id = CoercingSelect("检定机构", coerce=int_or_none, validators=[Optional()],
                             description="检定结果文件的出具机构；不选则按文件中的“检定机构”列逐行对应")
    station_id = SelectField("监管所", coerce=int, validators=[chosen("监管所")],
                             description="台账中的使用单位和计量器具将登记在该监管所名下")
    file = FileField("台账文件", validators=[FileRequired(message="请选择要导入的台账文件")],
                     render_kw={"accept": ACCEPT},
                     description="支持 .xlsx、.xlsm、.xls、.ods 和 .csv（UTF-8 或 GBK）")
    merchant_id = CoercingSelect("供水/供电/供气企业", coerce=int_or_none, validators=[Optional()],
                                 description="导入按户号登记的水表、燃气表、电能表台账（没有使用单位列）时，"
                                             "选择这些表所属的企业")
    sheets = SelectField("导入范围", choices=[("one", "一个工作表"), ("all", "全部工作表（每个工作表对应一个监管所）")],
                         default="one",
                         description="县局汇总的台账每个监管所一个工作表时选“全部工作表”：按工作表名对应监管所，"
                                     "汇总、说明等工作表自动跳过，一次预览、一次导入")


class SheetForm(Form):
    """Analyse another sheet of the workbook."""

    sheet = SelectField("工作表", validators=[chosen("工作表")])
    version = VersionField()


class MappingForm(Form):
    """Which column feeds each field; one select per field (filled in below)."""

    version = VersionField()

    @staticmethod
    def field_name(name: str) -> str:
        return f"f_{name}"

    def mapping_fields(self):
        """(importer field, form field) pairs in the importer's order."""
        return [(f, self[self.field_name(f.name)]) for f in FIELDS]

    def overrides(self) -> dict[str, int | None]:
        """field -> column index or None, for every field: the whole mapping as chosen."""
        return {f.name: form_field.data for f, form_field in self.mapping_fields()}

    def set_columns(self, headers: list[str], letters: list[str]) -> None:
        """The column choices of every select: unmapped, then each column by letter and header."""
        choices = [("", UNMAPPED)] + [(i, f"{letters[i]}列 {h}".rstrip()) for i, h in enumerate(headers)]
        for _, form_field in self.mapping_fields():
            form_field.choices = choices

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        ok = self._one_field_per_column() and ok
        serial = self[self.field_name("serial_no")]
        if serial.data is None:
            serial.errors = list(serial.errors) + ["请选择出厂编号所在的列"]
            ok = False
        merchant = self[self.field_name("merchant_name")]
        if merchant.data is None and self[self.field_name("credit_code")].data is None and not self.merchant_chosen:
            merchant.errors = list(merchant.errors) + ["请选择使用单位名称或统一社会信用代码所在的列"]
            ok = False
        return ok

    # True when the batch names the merchant of every row (a utility's household meters): no column is needed.
    merchant_chosen = False

    def _one_field_per_column(self) -> bool:
        ok = True
        taken: dict[int, str] = {}
        for f, form_field in self.mapping_fields():
            col = form_field.data
            if col is None:
                continue
            if col in taken:
                form_field.errors = list(form_field.errors) + [f"与“{taken[col]}”选了同一列，每列只能对应一个字段"]
                ok = False
            else:
                taken[col] = f.label
        return ok


for _field in FIELDS:
    setattr(MappingForm, MappingForm.field_name(_field.name),
            CoercingSelect(_field.label, coerce=int_or_none, validators=[Optional()]))
del _field


class ChoicesForm(MappingForm):
    """What the import cannot find in the file, chosen for the whole file: the sheet, the header
    row(s), the values of columns the file does not have and, where the page shows them, the
    columns' fields (all left empty: found from the header)."""

    sheet = SelectField("工作表", validators=[chosen("工作表")])
    header_row = optional_int("表头所在行", 1, 1_000_000)
    group_row = optional_int("表头分组行（两行表头的上一行）", 1, 1_000_000)
    kind_code = CoercingSelect("器具种类（整个文件）", validators=[Optional()],
                               description="文件中没有器具名称列，或某些行未填写时使用")
    merchant_id = CoercingSelect("使用单位（整个文件）", coerce=int_or_none, validators=[Optional()],
                                 description="按户号登记的水表、燃气表、电能表台账没有使用单位列时，选择表具所属的企业")
    station_id = SelectField("监管所", coerce=int, validators=[chosen("监管所")])
    # "1" when the page showed the column selects: only then do they replace the mapping.
    with_fields = HiddenField()

    def validate(self, extra_validators=None) -> bool:
        ok = Form.validate(self, extra_validators)
        ok = self._one_field_per_column() and ok
        if self.group_row.data is not None and (self.header_row.data is None
                                                or self.group_row.data >= self.header_row.data):
            self.group_row.errors = list(self.group_row.errors) + ["分组行应在表头所在行之上"]
            ok = False
        return ok

    def header_rows(self) -> list[int]:
        """The header's Excel rows as chosen: [group row, header row], [header row] or [] (found by the import)."""
        if self.header_row.data is None:
            return []
        return [r for r in (self.group_row.data, self.header_row.data) if r is not None]

    def chosen_overrides(self) -> dict[str, int | None] | None:
        """The columns' fields when the page showed them and any was chosen, else None (found from the header)."""
        if self.with_fields.data != "1":
            return None
        overrides = self.overrides()
        return overrides if any(v is not None for v in overrides.values()) else None


class SaveMappingForm(Form):
    """Keep the column mapping for the next file of the same shape."""

    name = StringField("名称", validators=[required("列对应名称"), Length(max=100)],
                       description="下次上传表头相同的文件时自动使用此列对应")


class ApplyForm(Form):
    """Write the previewed batch."""

    only_valid = BooleanField("只导入无错误的行", default=False)
    version = VersionField()


class UndoForm(Form):
    """Take back what an applied batch wrote."""

    version = VersionField()


class SheetStationForm(Form):
    """Which station one sheet of a workbook batch goes to (none: leave the sheet out)."""

    sheet = StringField("工作表", validators=[required("工作表"), Length(max=100)])
    station_id = CoercingSelect("监管所", coerce=int_or_none, validators=[Optional()])
    version = VersionField()


class WorkbookApplyForm(ApplyForm):
    """Write every sheet of a workbook batch, as the page showed them."""

    sheets = HiddenField()


class WorkbookForm(Form):
    """A button on a workbook batch (analyse every sheet again, undo every sheet)."""

    version = VersionField()


class KindValuesForm(Form):
    """The file's kind values, each mapped to a catalogue kind or to "not a mandatory instrument, skip".

    The rows of the card post pairs (value, kind): `value` as typed in the file, `kind` a code,
    SKIP_CHOICE, or "" to leave the value to the automatic reading.
    """

    SKIP_CHOICE = "__skip__"
    version = VersionField()

    def choices(self, formdata, codes: set[str]) -> dict[str, str | None] | None:
        """{value: code, kinds.SKIP, or None to forget a choice}; None (and an error) when the post is not valid."""
        values, kinds = formdata.getlist("value"), formdata.getlist("kind")
        if len(values) != len(kinds) or not values:
            self.form_errors.append("请为器具名称选择对应的种类")
            return None
        out: dict[str, str | None] = {}
        for value, kind in zip(values, kinds, strict=True):
            if kind not in codes and kind not in ("", self.SKIP_CHOICE) or not value.strip() or len(value) > 200:
                self.form_errors.append(f"“{value[:40]}”的选择无效，请重新选择")
                return None
            out[value] = None if kind == "" else ("" if kind == self.SKIP_CHOICE else kind)
        return out
