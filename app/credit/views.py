"""Admin page of the credit classes: the rule, the counts per class, and recomputing now."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from app.credit import queries, services
from app.credit.forms import CreditRuleForm
from app.credit.models import CLASS_LABELS
from app.security import admin_required
from app.web import arg_int, db, unit_of_work

bp = Blueprint("credit", __name__, template_folder="templates", url_prefix="/admin/credit")
JOB_NAME = "credit_classes"


@bp.route("/", methods=["GET", "POST"])
@admin_required
def rule():
    """Show and change the rule's weights and thresholds: the installation's, or (?region_id=) a region's own,
    which starts as a copy of the rule it inherits."""
    from app.rollups import settings
    from app.rollups.tree import load_tree

    session = db()
    tree = load_tree(session)
    region_id = settings.chosen_region(tree, current_user, arg_int("region_id"))
    resolved = settings.effective_rule(session, region_id, tree)
    if region_id is None or resolved.source == region_id:
        current = resolved.value
    else:
        current = services.default_rule(region_id)
        for name in services.RULE_FIELDS:
            setattr(current, name, getattr(resolved.value, name))
    form = CreditRuleForm(obj=current)
    error = None
    back = url_for("credit.rule", region_id=region_id or None)
    if form.validate_on_submit():
        values = {k: getattr(form, k).data for k in services.RULE_FIELDS}
        with unit_of_work(form) as uow:
            services.update_rule(uow.session, current_user, current, expected_version=form.version.data,
                                 values=values)
        if uow.ok:
            return uow.redirect("已保存信用分类规则；下次重新计算时生效。", back)
        error = uow.error
    counts = dict(session.execute(queries.class_counts()).all())
    return render_template("credit/rule.html", form=form, error=error, counts=counts, labels=CLASS_LABELS,
                           regions=[(r, tree.label(r)) for r in settings.settable_regions(tree, current_user)],
                           region_id=region_id, source=settings.source_of(resolved, region_id, tree),
                           own=region_id is not None and resolved.source == region_id)


@bp.route("/inherit", methods=["POST"])
@admin_required
def inherit():
    """Drop a region's own rule: the region inherits the rule above it again."""
    from app.rollups import settings
    from app.rollups.tree import load_tree

    tree = load_tree(db())
    region_id = settings.chosen_region(tree, current_user, arg_int("region_id"))
    with unit_of_work() as uow:
        if region_id is not None:
            services.drop_region_rule(uow.session, current_user, region_id, tree.label(region_id))
    return uow.redirect("已恢复继承上级的信用分类规则。" if uow.ok else None,
                        url_for("credit.rule", region_id=region_id or None))


@bp.route("/recompute", methods=["POST"])
@admin_required
def recompute():
    """Recompute every merchant's class now, recorded as a manual run of the scheduled job."""
    from app.scheduler import load_registry, run_job, runner_id
    from app.jobs.models import RunOutcome, RunTrigger

    spec = load_registry(current_app.config["SCHEDULER_JOBS"])[JOB_NAME]
    run = run_job(current_app.extensions["database"], spec, trigger=RunTrigger.MANUAL, runner=runner_id(),
                  config=current_app.config, started_by_id=current_user.id)
    if run.outcome is RunOutcome.SUCCEEDED:
        flash(f"已重新计算 {run.counts.get('merchants', 0)} 家使用单位的信用分类，其中 {run.counts.get('changed', 0)} 家发生变化。",
              "success")
    else:
        flash("重新计算失败，错误已记录在定时任务的运行记录中。", "danger")
    return redirect(url_for("credit.rule"))
