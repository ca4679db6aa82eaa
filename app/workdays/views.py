"""The working-day calendar (系统管理 → 工作日历): installation admins list holidays and adjusted working days."""
from __future__ import annotations

from flask import Blueprint, render_template, url_for
from flask_login import current_user

from app.clock import today
from app.security import installation_admin_required
from app.web import arg_int, db, unit_of_work
from app.workdays import queries, services
from app.workdays.forms import DayForm

bp = Blueprint("workdays", __name__, template_folder="templates", url_prefix="/admin/calendar")


def _render(form: DayForm, error=None):
    year = arg_int("year", 2100) or today().year
    years = sorted({int(y) for y in db().scalars(queries.listed_years())} | {today().year})
    return render_template("workdays/index.html", form=form, error=error, year=year, years=years,
                           days=db().scalars(queries.days_of_year(year)).all())


@bp.route("/", methods=["GET", "POST"])
@installation_admin_required
def index():
    """A year's holidays and adjusted working days, and the form to add a day."""
    form = DayForm()
    error = None
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            entry = services.add_day(uow.session, current_user, form.data)
        if uow.ok:
            return uow.redirect(f"已加入 {entry}。", url_for("workdays.index", year=entry.day.year))
        error = uow.error
    return _render(form, error)


@bp.route("/<int:day_id>/delete", methods=["POST"])
@installation_admin_required
def delete(day_id: int):
    """Take a day off the calendar (deadlines already set keep their date)."""
    entry = services.get_day(db(), day_id)
    with unit_of_work() as uow:
        services.remove_day(uow.session, current_user, entry)
    return uow.redirect(f"已删除 {entry}。" if uow.ok else None, url_for("workdays.index", year=entry.day.year))


@bp.route("/seed-2026", methods=["POST"])
@installation_admin_required
def seed_2026():
    """Add China's 2026 calendar as the State Council published it (days already listed are kept)."""
    with unit_of_work() as uow:
        added = services.seed_china_2026(uow.session, current_user)
    return uow.redirect(f"已按{services.SOURCE_2026}加入 {added} 天。" if uow.ok else None,
                        url_for("workdays.index", year=2026))
