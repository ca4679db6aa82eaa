"""The monthly report archive: list, build (or rebuild) a month, download."""
from __future__ import annotations

import io

from flask import Blueprint, render_template, request, send_file
from flask_login import current_user
from wtforms import SelectField, StringField
from wtforms.validators import ValidationError

from app.clock import today
from app.forms import Form, required
from app.monthly import queries, services
from app.security import staff_required
from app.tasks.models import TaskKind
from app.tasks.views import start
from app.web import XLSX_MIMETYPE, db, paginate, region_tree, scope, scoped_stations
from reports.monthly import Month

bp = Blueprint("monthly", __name__, template_folder="templates", url_prefix="/reports/monthly")


class BuildForm(Form):
    """Which month and scope to build."""

    month = StringField("月份", validators=[required("月份")], description="例如 2026-10")
    station_id = SelectField("范围", choices=[])

    def validate_month(self, field) -> None:
        try:
            Month.parse(field.data.strip())
        except ValueError as err:
            raise ValidationError(str(err)) from None


def _user_regions() -> frozenset[int]:
    """The regions whose editions the user may build and open (app/monthly/services.edition_regions)."""
    return services.edition_regions(region_tree(), current_user)


def _form() -> BuildForm:
    form = BuildForm()
    choices = [] if not scope().is_all else [("", "全部监管所")]
    tree = region_tree()
    editions = [(f"r{r}", services.edition_name(tree, r))
                for r in sorted(_user_regions(), key=lambda r: tree.codes[r])]
    form.station_id.choices = choices + editions + [(str(s.id), s.name) for s in scoped_stations()]
    if not form.month.data:
        form.month.data = str(services.last_month(today()))
    return form


def _render(form: BuildForm, status: int = 200):
    page = paginate(queries.archive(scope(), request.args.get("month") or None, _user_regions()))
    return render_template("monthly/index.html", page=page, form=form), status


@bp.route("/")
@staff_required
def index():
    """The archive of monthly reports the user may open, and the form to build one."""
    return _render(_form())


@bp.route("/build", methods=["POST"])
@staff_required
def build():
    """Queue one month's report (build or rebuild) and go to its status page; the worker keeps it in the archive."""
    form = _form()
    if not form.validate_on_submit():
        return _render(form)
    chosen = form.station_id.data or ""
    region_id = int(chosen[1:]) if chosen.startswith("r") else None
    station_id = int(chosen) if chosen.isdigit() else None
    month = Month.parse(form.month.data.strip())
    scope_name = dict(form.station_id.choices).get(chosen, "全部监管所")
    return start(TaskKind.MONTHLY_REPORT, f"{month.label}月报（{scope_name}）",
                 {"month": str(month), "station_id": station_id, "region_id": region_id},
                 f"{month.label}月报（{scope_name}）已提交后台生成：完成后在本页下载，也会存入月报档案。")


@bp.route("/<int:report_id>/download")
@staff_required
def download(report_id: int):
    """The archived workbook."""
    report = services.get_report(db(), scope(), report_id, _user_regions())
    return send_file(io.BytesIO(report.content), mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=report.file_name)
