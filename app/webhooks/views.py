"""The admin's webhook pages (系统管理 → 变更通知推送): tokens' addresses, their delivery log, pause, retry."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, session as cookie, url_for
from flask_login import current_user

from app.db import utcnow
from app.security import installation_admin_required
from app.web import arg_choice, db, paginate, unit_of_work
from app.webhooks import queries, services
from app.webhooks.forms import ActionForm, SubscriptionForm
from app.webhooks.models import EVENT_TYPES, DeliveryStatus

bp = Blueprint("webhooks", __name__, template_folder="templates", url_prefix="/admin/webhooks")
SHOW_ONCE = "webhook_secret"


@bp.route("/")
@installation_admin_required
def index():
    """Every token's addresses with their counts of pending, delivered and given-up events."""
    counts: dict[int, dict[str, int]] = {}
    for subscription_id, status, n in db().execute(queries.counts_by_subscription()):
        counts.setdefault(subscription_id, {})[status.value if hasattr(status, "value") else status] = n
    return render_template("webhooks/index.html", subscriptions=db().scalars(queries.subscriptions()).all(),
                           counts=counts, now=utcnow(), event_types=EVENT_TYPES, allow_private=services.allow_private(current_app.config))


@bp.route("/new", methods=["GET", "POST"])
@installation_admin_required
def new():
    """Register an address for a token; its signing secret is shown once on the next page."""
    form = SubscriptionForm()
    tokens = services.usable_tokens(db())
    form.token_id.choices = [(t.id, f"{t.name}（{t.scope.label}）") for t in tokens]
    if form.validate_on_submit():
        token = next((t for t in tokens if t.id == form.token_id.data), None)
        with unit_of_work(form) as uow:
            subscription, secret = services.subscribe(
                uow.session, current_user, token, url=form.url.data, event_types=form.event_types.data,
                description=form.description.data, config=current_app.config)
        if uow.ok:
            # Kept in the admin's own (signed, HttpOnly) session cookie until the next page shows it once.
            cookie[SHOW_ONCE] = {"id": subscription.id, "secret": secret}
            return uow.redirect("已登记接收地址。请立即复制签名密钥，它只显示这一次。",
                                url_for("webhooks.detail", subscription_id=subscription.id))
    return render_template("webhooks/form.html", form=form, has_tokens=bool(tokens))


@bp.route("/<int:subscription_id>")
@installation_admin_required
def detail(subscription_id: int):
    """An address, its secret once after registering, and its delivery log (newest first)."""
    subscription = services.get_subscription(db(), subscription_id)
    shown = cookie.get(SHOW_ONCE)
    secret = None
    if shown and shown.get("id") == subscription.id:
        secret = cookie.pop(SHOW_ONCE)["secret"]
    status = arg_choice("status", DeliveryStatus)
    page = paginate(queries.events_of(subscription.id, status))
    return render_template("webhooks/detail.html", subscription=subscription, secret=secret, page=page,
                           status=status, statuses=DeliveryStatus.choices(), event_types=EVENT_TYPES,
                           action_form=ActionForm(formdata=None), now=utcnow(),
                           max_attempts=services.setting(current_app.config, "WEBHOOK_MAX_ATTEMPTS"))


def _act(subscription_id: int, change, message: str, to_list: bool = False):
    subscription = services.get_subscription(db(), subscription_id)
    form = ActionForm()
    if form.validate_on_submit():
        with unit_of_work(form) as uow:
            change(uow.session, subscription)
        if uow.ok:
            return uow.redirect(message, url_for("webhooks.index") if to_list
                                else url_for("webhooks.detail", subscription_id=subscription_id))
    return redirect(url_for("webhooks.detail", subscription_id=subscription_id))


@bp.route("/<int:subscription_id>/pause", methods=["POST"])
@installation_admin_required
def pause(subscription_id: int):
    """Pause an address: no new events are recorded for it and nothing is sent until it is resumed."""
    return _act(subscription_id, lambda s, sub: services.set_active(s, current_user, sub, False), "已暂停推送。")


@bp.route("/<int:subscription_id>/resume", methods=["POST"])
@installation_admin_required
def resume(subscription_id: int):
    """Resume an address: events waiting for it go out, new changes are recorded again."""
    return _act(subscription_id, lambda s, sub: services.set_active(s, current_user, sub, True), "已恢复推送。")


@bp.route("/<int:subscription_id>/delete", methods=["POST"])
@installation_admin_required
def delete(subscription_id: int):
    """Delete an address with its delivery log."""
    return _act(subscription_id, lambda s, sub: services.remove(s, current_user, sub), "已删除接收地址。",
                to_list=True)


@bp.route("/<int:subscription_id>/retry", methods=["POST"])
@installation_admin_required
def retry_all(subscription_id: int):
    """Make every waiting and given-up event of an address due now (the next run sends them)."""
    return _act(subscription_id, lambda s, sub: services.retry(s, sub), "已安排立即重发，下一次推送任务运行时发送。")


@bp.route("/<int:subscription_id>/events/<int:event_id>/retry", methods=["POST"])
@installation_admin_required
def retry_event(subscription_id: int, event_id: int):
    """Make one waiting or given-up event due now."""
    return _act(subscription_id, lambda s, sub: services.retry(s, sub, event_id),
                "已安排立即重发，下一次推送任务运行时发送。")
