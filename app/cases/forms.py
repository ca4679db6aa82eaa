"""Case forms: a stage (with the decision's fields), publication, the stage limits, a brigade."""
from __future__ import annotations

from wtforms import BooleanField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from app.cases.models import DecisionKind, NoPenaltyBasis, Stage
from app.cases.services import DEFAULT_LIMITS
from app.forms import CoercingSelect, Form, VersionField, int_or_none, required
from app.instruments.forms import date_field


class StageForm(Form):
    """One stage as recorded: which, when, who is responsible; on 决定 the decision, amounts and basis."""

    stage = SelectField("阶段", choices=Stage.choices())
    stage_on = date_field("日期")
    team_id = CoercingSelect("承办单位", coerce=int_or_none, validators=[Optional()],
                             description="不选表示由本所承办；也可交执法大队承办")
    decision = SelectField("处理决定（仅“决定”阶段）", choices=[("", "（不适用）")] + DecisionKind.choices(),
                           validators=[Optional()])
    fine = StringField("罚款（元）", validators=[Length(max=30)], description="精确到分，例如 5000 或 1234.50")
    confiscation = StringField("没收违法所得（元）", validators=[Length(max=30)])
    instrument_ids = SelectMultipleField("没收的计量器具", coerce=int, validators=[Optional()],
                                         description="所选器具将记为报废（没收）")
    basis = SelectField("不予处罚依据", choices=[("", "（不适用）")] + NoPenaltyBasis.choices(), validators=[Optional()])
    notes = TextAreaField("说明", validators=[Length(max=2000)])
    version = VersionField()

    def values(self) -> dict:
        """The form's values as add_stage() takes them."""
        return {k: getattr(self, k).data for k in ("stage", "stage_on", "team_id", "decision", "fine",
                                                    "confiscation", "instrument_ids", "basis", "notes")}


class ExtensionForm(Form):
    """An extension of the decision's time limit: days, who approved it and when, why."""

    days = IntegerField("延长天数", validators=[InputRequired(message="请填写延长天数")],
                        description="首次延期经负责人批准，最多三十日；继续延期由负责人集体讨论决定合理期限")
    approved_on = date_field("批准日期")
    approver = StringField("批准人", validators=[required("批准人"), Length(max=50)],
                           description="批准的负责人；继续延期写明集体讨论的负责人")
    reason = TextAreaField("延期理由", validators=[required("延期理由"), Length(max=2000)])
    version = VersionField()

    def values(self) -> dict:
        """The form's values as extend() takes them."""
        return {k: getattr(self, k).data for k in ("days", "approved_on", "approver", "reason")}


class PublishForm(Form):
    """The date the decision was published (行政处罚信息公示)."""

    published_on = date_field("公示日期")


class LimitsForm(Form):
    """The days each stage may take (fields days_<stage> are added per stage)."""


for _stage, _limit in DEFAULT_LIMITS.items():
    setattr(LimitsForm, f"days_{_stage.value}", IntegerField(
        f"{_stage.label}期限（{_limit.unit}）", validators=[
            InputRequired(message=f"请填写{_stage.label}期限"),
            NumberRange(min=1, max=_limit.most, message=f"应为1到{_limit.most}之间的{_limit.unit}数")]))


class TeamForm(Form):
    """A brigade: name, in use, members."""

    name = StringField("名称", validators=[required("名称"), Length(max=100)])
    is_active = BooleanField("启用", default=True)
    member_ids = SelectMultipleField("成员", coerce=int, validators=[Optional()])
    version = VersionField()
