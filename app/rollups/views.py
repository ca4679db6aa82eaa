"""Admin pages of the settings a county inherits from its city: alert lead days per kind, and pledge targets
set for regions with their division among counties."""
from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user

from app.catalog.queries import instrument_types
from app.errors import Invalid
from app.integrity.forms import TargetsForm
from app.integrity.models import TargetKind
from app.rollups import settings
from app.rollups.tree import load_tree
from app.security import admin_required
from app.web import arg_int, db, form_error, unit_of_work

bp = Blueprint("rollups", __name__, template_folder="templates")


def _number(text: str, maximum: int) -> int | None | str:
    """A blank (None), a whole number up to `maximum`, or the Chinese error."""
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) > maximum:
        return f"应为 0 到 {maximum} 之间的整数"
    return int(text)


@bp.route("/admin/lead-days", methods=["GET", "POST"])
@admin_required
def lead_days():
    """A region's own reminder lead time per kind; a blank inherits the city's (then the catalogue's)."""
    session = db()
    tree = load_tree(session)
    region_id = settings.chosen_region(tree, current_user, arg_int("region_id"))
    kinds = list(session.scalars(instrument_types()))
    resolved = settings.effective_leads(session, region_id, tree)
    own = {t: r.value for t, r in resolved.items() if region_id is not None and r.source == region_id}
    form = TargetsForm()  # the CSRF token only: one input per kind, read below
    values = {t.id: (request.form.get(f"lead_{t.id}", "") if request.method == "POST" else str(own.get(t.id, "")))
              for t in kinds}
    errors: dict[int, str] = {}
    if region_id is not None and form.validate_on_submit():
        parsed = {}
        for type_id, text in values.items():
            value = _number(text, settings.MAX_LEAD_DAYS)
            if isinstance(value, str):
                errors[type_id] = value
            parsed[type_id] = value if not isinstance(value, str) else None
        if not errors:
            with unit_of_work(form) as uow:
                settings.set_region_leads(uow.session, current_user, tree, region_id, parsed)
            if uow.ok:
                return uow.redirect("已保存预警提前天数；下次到期扫描时生效。",
                                    url_for("rollups.lead_days", region_id=region_id))
    elif request.method == "POST" and region_id is not None:
        form_error(form, Invalid("表单已过期，请刷新后重试"))
    rows = [{"type": t, "value": resolved[t.id].value, "source": settings.source_of(resolved[t.id], region_id, tree),
             "own": t.id in own} for t in kinds if t.id in resolved]
    return render_template("rollups/lead_days.html", form=form, rows=rows, values=values, errors=errors,
                           region_id=region_id, region_name=tree.label(region_id),
                           regions=[(r, tree.label(r)) for r in settings.settable_regions(tree, current_user)])


@bp.route("/admin/region-targets", methods=["GET", "POST"])
@admin_required
def region_targets():
    """Targets set for regions (a city's 1,800 demonstration units) and what each county gets of them."""
    session = db()
    tree = load_tree(session)
    regions = [r for r in settings.settable_regions(tree, current_user) if r is not None]
    form = TargetsForm()
    divided = {k: settings.divided_targets(session, k, tree) for k in TargetKind}
    values = {f"{k.value}_{r}": (request.form.get(f"{k.value}_{r}", "") if request.method == "POST"
                                 else str(divided[k][r].own or "")) for r in regions for k in TargetKind}
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        parsed = {}
        for name, text in values.items():
            value = _number(text, 1_000_000)
            if isinstance(value, str):
                errors[name] = value
            else:
                parsed[name] = value
        if not errors:
            with unit_of_work(form) as uow:
                for r in regions:
                    for k in TargetKind:
                        settings.set_region_target(uow.session, current_user, tree, k, r, parsed[f"{k.value}_{r}"])
            if uow.ok:
                return uow.redirect("目标已保存。", url_for("rollups.region_targets"))
    elif request.method == "POST":
        form_error(form, Invalid("表单已过期，请刷新后重试"))
    depth = {r: len([p for p in tree.parents if tree.is_under(r, p)]) - 1 for r in regions}
    rows = [{"id": r, "name": tree.label(r), "level": tree.levels[r].label, "depth": depth[r],
             **{k.value: divided[k][r] for k in TargetKind}} for r in regions]
    return render_template("rollups/targets.html", form=form, rows=rows, values=values, errors=errors,
                           kinds=list(TargetKind), overall={k.value: divided[k][None] for k in TargetKind})
