"""Case pages: the worklist and its export, a case with its stages, recording the next stage or a correction,
publishing the decision, voiding; the stage limits and the brigades (admins)."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user
from app.cases import queries, services
from app.cases.forms import ExtensionForm, LimitsForm, PublishForm, StageForm, TeamForm
from app.cases.models import Case, EnforcementTeam, Stage
from app.clock import today
from app.security import admin_required, ledger_write_required, staff_required
from app.voiding.forms import VoidForm
from app.web import arg_choice, arg_int, case_access, db, paginate, scoped_stations, unit_of_work, xlsx_download
from reports.lists import CASE_COLUMNS, case_rows

bp = Blueprint("cases", __name__, template_folder="templates", url_prefix="/cases")


def _case(case_id: int) -> Case:
    return services.get_case(db(), case_access(), case_id)


def _writable(case_id: int) -> Case:
    """A case the user may carry: of a station they edit, or assigned to their brigade; 404 unseen, 403 read-only."""
    case = _case(case_id)
    access = case_access()
    if not (current_user.may_edit_station(case.station_id)
            or (case.team_id is not None and case.team_id in access.team_ids)):
        abort(403)
    return case


def _page(case: Case) -> str:
    return url_for("cases.detail", case_id=case.id)


def _list_stmt():
    state = request.args.get("state", "open")
    if state not in queries.CASE_STATES and state != "all":
        state = "open"
    stmt = queries.case_list(case_access(), today(), state="" if state == "all" else state,
                             stage=arg_choice("stage", Stage), station_id=arg_int("station_id"),
                             team_id=arg_int("team_id"), merchant_id=arg_int("merchant_id"))
    return state, stmt


@bp.route("/")
@staff_required
def index():
    """The case worklist: open (late first), late, closed or voided; by stage, station or brigade."""
    state, stmt = _list_stmt()
    return render_template("cases/index.html", page=paginate(stmt), state=state, states=queries.CASE_STATES,
                           stages=Stage.choices(), stations=scoped_stations(),
                           teams=db().scalars(queries.teams()).all(), today=today())


@bp.route("/export.xlsx")
@staff_required
def export():
    """The case list with its current filter, as a workbook."""
    _, stmt = _list_stmt()
    return xlsx_download(stmt, "案件", CASE_COLUMNS, case_rows, url_for("cases.index"))


@bp.route("/<int:case_id>")
@staff_required
def detail(case_id: int):
    """A case: its finding, its stages as recorded (corrections too), the decision and what may come next."""
    case = _case(case_id)
    access = case_access()
    writer = (current_user.may_edit_station(case.station_id)
              or (case.team_id is not None and case.team_id in access.team_ids))
    return render_template("cases/detail.html", case=case, writer=writer, today=today(),
                           next_stages=services.next_stages(case), limits=services.limits(db()))


def _stage_form(case: Case, form: StageForm) -> None:
    form.team_id.choices = [("", f"本所承办（{case.station.name}）")] + [
        (t.id, t.name) for t in db().scalars(queries.teams(active_only=True))]
    form.instrument_ids.choices = [(i.id, str(i)) for i in db().scalars(queries.confiscable(case.merchant_id))]


@bp.route("/<int:case_id>/stage", methods=["GET", "POST"])
@ledger_write_required
def stage_new(case_id: int):
    """Record the next stage of a case (in procedure order)."""
    case = _writable(case_id)
    allowed = services.next_stages(case)
    form = StageForm()
    form.stage.choices = [(s.value, s.label) for s in allowed] or [("", "（案件已结案）")]
    _stage_form(case, form)
    if request.method == "GET":
        form.stage_on.data = today()
        form.team_id.data = case.team_id
        form.version.data = case.version
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            entry = services.add_stage(uow.session, current_user, case, expected_version=form.version.data,
                                       values=form.values(), today=today())
        if uow.ok:
            return uow.redirect(f"已登记“{entry.stage.label}”。", _page(case))
        error = uow.error
    return render_template("cases/stage_form.html", form=form, case=case, error=error, correcting=None,
                           limits=services.limits(db()))


@bp.route("/<int:case_id>/correct", methods=["GET", "POST"])
@ledger_write_required
def correct(case_id: int):
    """Correct the latest stage by a new entry (the old one stays, marked as corrected)."""
    case = _writable(case_id)
    latest = case.effective_entries[-1]
    form = StageForm()
    form.stage.choices = [(latest.stage.value, latest.stage.label)]
    _stage_form(case, form)
    if request.method == "GET":
        form.stage.data = latest.stage.value
        form.stage_on.data, form.team_id.data, form.notes.data = latest.stage_on, latest.team_id, latest.notes
        form.decision.data = latest.decision.value if latest.decision else ""
        form.basis.data = latest.basis.value if latest.basis else ""
        form.fine.data = "" if latest.fine is None else str(latest.fine)
        form.confiscation.data = "" if latest.confiscation is None else str(latest.confiscation)
        form.instrument_ids.data = [i.id for i in latest.confiscated]
        form.version.data = case.version
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.add_stage(uow.session, current_user, case, expected_version=form.version.data,
                               values=form.values(), today=today(), corrects=latest)
        if uow.ok:
            return uow.redirect(f"已更正“{latest.stage.label}”的登记，原登记保留备查。", _page(case))
        error = uow.error
    return render_template("cases/stage_form.html", form=form, case=case, error=error, correcting=latest,
                           limits=services.limits(db()))


@bp.route("/<int:case_id>/extend", methods=["GET", "POST"])
@ledger_write_required
def extend(case_id: int):
    """Extend the time limit for the decision, with the approver, date and reason (never edited)."""
    case = _writable(case_id)
    form = ExtensionForm()
    if request.method == "GET":
        form.approved_on.data = today()
        form.version.data = case.version
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            extension = services.extend(uow.session, current_user, case, expected_version=form.version.data,
                                        values=form.values(), today=today())
        if uow.ok:
            return uow.redirect(f"已登记延长办案期限 {extension.days} 日。", _page(case))
        error = uow.error
    return render_template("cases/extend_form.html", form=form, case=case, error=error,
                           first=not case.extensions)


@bp.route("/<int:case_id>/publish", methods=["GET", "POST"])
@ledger_write_required
def publish(case_id: int):
    """Record that the penalty decision was published; it then shows on the public pages."""
    case = _writable(case_id)
    form = PublishForm()
    if request.method == "GET":
        form.published_on.data = today()
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.publish(uow.session, current_user, case, on=form.published_on.data, today=today())
        if uow.ok:
            return uow.redirect("已记录公示，处罚信息将在公开查询页面显示。", _page(case))
        error = uow.error
    return render_template("cases/publish_form.html", form=form, case=case, error=error)


@bp.route("/<int:case_id>/void", methods=["GET", "POST"])
@ledger_write_required
def void(case_id: int):
    """Void a case opened in error, with a reason; it stays visible, struck through."""
    case = _writable(case_id)
    form = VoidForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.void_case(uow.session, current_user, case, form.reason.data)
        if uow.ok:
            return uow.redirect("案件已作废，不再计入统计、预警和公示。", _page(case))
    return render_template("cases/void.html", form=form, case=case, page=_page(case))


@bp.route("/limits", methods=["GET", "POST"])
@admin_required
def limits():
    """The days each stage may take, with the source of each default."""
    current = services.limits(db())
    form = LimitsForm()
    if request.method == "GET":
        for stage, limit in current.items():
            getattr(form, f"days_{stage.value}").data = limit.days
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            changed = services.set_limits(uow.session, current_user,
                                          {s: getattr(form, f"days_{s.value}").data for s in Stage})
        if uow.ok:
            return uow.redirect("已保存。" if changed else "没有修改。", url_for("cases.limits"))
        error = uow.error
    return render_template("cases/limits.html", form=form, limits=current, defaults=services.DEFAULT_LIMITS,
                           error=error)


@bp.route("/teams")
@admin_required
def teams():
    """The enforcement brigades and their members."""
    return render_template("cases/teams.html", teams=db().scalars(queries.teams()).all())


def _team_form(form: TeamForm) -> None:
    form.member_ids.choices = [(u.id, f"{u.display_name}（{u.username}）") for u in db().scalars(
        queries.possible_members())]


@bp.route("/teams/new", methods=["GET", "POST"])
@admin_required
def team_new():
    """Add an enforcement brigade."""
    form = TeamForm()
    _team_form(form)
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            team = services.save_team(uow.session, current_user, None, name=form.name.data,
                                      is_active=form.is_active.data, member_ids=form.member_ids.data)
        if uow.ok:
            return uow.redirect(f"已添加执法大队“{team.name}”。", url_for("cases.teams"))
        error = uow.error
    return render_template("cases/team_form.html", form=form, team=None, error=error)


@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
@admin_required
def team_edit(team_id: int):
    """Change a brigade's name, state or members."""
    team = db().get(EnforcementTeam, team_id)
    if team is None:
        abort(404)
    form = TeamForm(obj=team)
    _team_form(form)
    if request.method == "GET":
        form.member_ids.data = [m.id for m in team.members]
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            services.save_team(uow.session, current_user, team, name=form.name.data, is_active=form.is_active.data,
                               member_ids=form.member_ids.data, expected_version=form.version.data)
        if uow.ok:
            return uow.redirect("已保存。", url_for("cases.teams"))
        error = uow.error
    return render_template("cases/team_form.html", form=form, team=team, error=error)
