"""我的后台任务: the list, a task's status page (refreshing itself while it runs) and its result; `start`, the one
way a page hands work to the queue."""
from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from app.security import staff_required
from app.tasks import queries, services
from app.tasks.background import submit
from app.tasks.models import TaskKind, TaskState
from app.web import XLSX_MIMETYPE, db, paginate, unit_of_work

bp = Blueprint("tasks", __name__, template_folder="templates", url_prefix="/tasks")

# Seconds between two reloads of a running task's status page (a meta refresh: no script, nothing from outside).
REFRESH_SECONDS = 3


def start(kind: TaskKind, title: str, params: dict, message: str | None = None):
    """Queue a background task for the current user and answer with a redirect to its status page."""
    with unit_of_work() as uow:
        task = services.create_task(uow.session, current_user, kind, title, params)
    # After the commit: a worker on another machine must find the record.
    submit(task.id)
    return uow.redirect(message or "已提交后台任务，可离开本页，稍后在“我的后台任务”中查看结果。",
                        url_for("tasks.detail", task_id=task.id), "info")


def _task(task_id: int):
    return services.get_task(db(), current_user, task_id)


@bp.route("/")
@staff_required
def index():
    """The user's background tasks, newest first (administrators may list everyone's)."""
    everyone = services.may_see_all(current_user) and request.args.get("all") == "1"
    page = paginate(queries.task_list(None if everyone else current_user.id))
    return render_template("tasks/index.html", page=page, everyone=everyone,
                           may_see_all=services.may_see_all(current_user))


@bp.route("/<int:task_id>")
@staff_required
def detail(task_id: int):
    """One task's state, progress and result; reloads itself until the task is done or failed."""
    task = _task(task_id)
    refresh = None if task.state.finished else REFRESH_SECONDS
    return render_template("tasks/detail.html", task=task, refresh=refresh, TaskState=TaskState, TaskKind=TaskKind)


@bp.route("/<int:task_id>/download")
@staff_required
def download(task_id: int):
    """The task's result: a workbook as a download, a label sheet opened in the browser to print, a monthly
    report from its archive."""
    task = _task(task_id)
    if task.state != TaskState.DONE:
        return redirect(url_for("tasks.detail", task_id=task.id))
    if task.result_ref and "monthly_report" in task.result_ref:
        return redirect(url_for("monthly.download", report_id=task.result_ref["monthly_report"]))
    path = services.result_file(current_app.config["TASK_STORAGE"], task)
    if task.kind == TaskKind.LABELS:
        # The stored sheet's <style> carries the nonce it was rendered with: this response allows that one.
        g.csp_nonce = (task.result_ref or {}).get("nonce")
        response = send_file(path, mimetype="text/html", as_attachment=False, download_name=task.result_name)
    else:
        response = send_file(path, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=task.result_name)
    response.headers["Cache-Control"] = "private, no-store"
    return response
