"""Admin pages of the scheduler: the jobs, their run history, and running a job now."""
from __future__ import annotations

import socket

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from app.db import utcnow
from app.jobs import queries, services
from app.jobs.models import RunOutcome, RunTrigger
from app.security import installation_admin_required
from app.web import db, paginate

bp = Blueprint("jobs", __name__, template_folder="templates", url_prefix="/admin/jobs")


@bp.app_template_filter("runner_words")
def runner_words(runner: str) -> str:
    """A scheduler process ("host:pid:suffix", see app.scheduler.runner_id) in words: 本机进程 12345, or the host."""
    host, _, rest = (runner or "").partition(":")
    pid = rest.partition(":")[0]
    if not pid.isdigit():
        return runner or ""
    if host == socket.gethostname():
        return f"本机进程 {pid}"
    return f"主机 {host} 上的进程 {pid}"


@bp.app_template_filter("run_summary")
def run_summary(run) -> str:
    """A run's counts in Chinese, as its job's registry entry describes them."""
    spec = _registry().get(run.job_name)
    if spec is None:
        return "，".join(f"{k} {v}" for k, v in run.counts.items())
    return spec.summary(run.counts)


def _registry():
    from app.scheduler import load_registry

    return load_registry(current_app.config["SCHEDULER_JOBS"])


def _spec_or_404(name: str):
    spec = _registry().get(name)
    if spec is None:
        abort(404)
    return spec


@bp.route("/")
@installation_admin_required
def index():
    """Every registered job with its next run and last outcome, and who holds the scheduler lease."""
    session = db()
    states = {s.name: s for s in session.scalars(queries.job_states())}
    latest = {r.job_name: r for r in session.scalars(queries.latest_runs())}
    lease = services.current_lease(session)
    leader_alive = lease is not None and bool(lease.holder) and lease.expires_at > utcnow()
    return render_template("jobs/index.html", specs=list(_registry().values()), states=states, latest=latest,
                           lease=lease, leader_alive=leader_alive)


@bp.route("/<name>")
@installation_admin_required
def history(name: str):
    """The run history of one job, newest first."""
    spec = _spec_or_404(name)
    return render_template("jobs/history.html", spec=spec, page=paginate(queries.runs_of(name)))


@bp.route("/<name>/run", methods=["POST"])
@installation_admin_required
def run_now(name: str):
    """Run a job now in this request and record it as a manual run."""
    from app.scheduler import run_job, runner_id

    spec = _spec_or_404(name)
    run = run_job(current_app.extensions["database"], spec, trigger=RunTrigger.MANUAL, runner=runner_id(),
                  config=current_app.config, started_by_id=current_user.id)
    if run.outcome is RunOutcome.SUCCEEDED:
        flash(f"“{spec.label}”已运行完成，用时 {run.seconds:.1f} 秒。", "success")
    else:
        flash(f"“{spec.label}”运行失败，错误已记录在运行记录中。", "danger")
    return redirect(url_for("jobs.history", name=name))
