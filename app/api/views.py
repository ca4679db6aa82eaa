"""The endpoints of /api/v1 (flask-smorest): the reads, instrument registration, the document and its page.

Add an endpoint: a function under `@bp.route(...)`, `@token_required(<scopes>)`, then `@bp.arguments` /
`@bp.response` with schemas from app/api/schemas.py; the work is a query (app/api/queries.py) or a service
call. A write takes the Idempotency-Key through `idempotent_write` (see Instruments.post).
"""
from __future__ import annotations

import json

from flask import Blueprint as FlaskBlueprint, current_app, render_template
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import Date, DateTime
from sqlalchemy.orm import Session

from app.alerts.models import Alert
from app.api import queries, schemas
from app.api.framework import IDEMPOTENCY_HEADER, current_token, idempotent_write, token_required
from app.api.models import TokenScope
from app.api.services import token_actor, token_scope
from app.clock import today
from app.db import LabeledEnum
from app.errors import DomainError, Forbidden, Invalid
from app.inspections.models import Finding, Inspection, Rectification
from app.instruments import services as instruments
from app.instruments.models import Instrument, Verification
from app.merchants.models import Merchant
from app.results.services import ResultRow, submit_results, tally
from app.scope import Scope
from app.web import unit_of_work
from app.webhooks import queries as webhook_queries, services as webhooks

READERS = (TokenScope.READ, TokenScope.WRITE)
ALL = (TokenScope.READ, TokenScope.WRITE, TokenScope.INSTITUTION)
NOT_YOUR_STATION = "所查站点不在该令牌的站点范围内。"

bp = Blueprint("api", __name__, url_prefix="/api/v1", description="计量器具监督管理系统开放接口（只读与登记）")
# The documentation page: HTML (the one page under /api/), outside the OpenAPI document itself.
docs_bp = FlaskBlueprint("api_docs", __name__, url_prefix="/api/v1", template_folder="templates")


def _db() -> Session:
    return current_app.extensions["database"].session()


def _scope(station_id: int | None) -> Scope:
    """The calling token's stations; a station filter outside them is refused (403), not silently empty."""
    scope = token_scope(current_token())
    if station_id is not None and not scope.allows(station_id):
        raise Forbidden(NOT_YOUR_STATION)
    return scope


def _row_writer(stmt):
    """A function turning one row of `stmt` into its JSON object: enums by value with their Chinese
    `<name>_label`, dates in ISO 8601, `voided` from voided_at. Decided once per page from the column types
    (not per value): a page has 1,000 rows of twenty-odd columns."""
    plan = []
    for index, column in enumerate(stmt.selected_columns):
        kind = column.type
        enum_class = getattr(kind, "enum_class", None)
        if column.name == "voided_at":
            plan.append((index, "voided", "voided"))
        elif enum_class is not None and issubclass(enum_class, LabeledEnum):
            plan.append((index, column.name, "enum"))
        elif isinstance(kind, (Date, DateTime)) or isinstance(getattr(kind, "impl", None), DateTime):
            plan.append((index, column.name, "iso"))
        else:
            plan.append((index, column.name, None))

    def write(row) -> dict:
        out = {}
        for index, name, how in plan:
            value = row[index]
            if how is None:
                out[name] = value
            elif how == "iso":
                out[name] = None if value is None else value.isoformat()
            elif how == "enum":
                out[name] = None if value is None else value.value
                out[f"{name}_label"] = None if value is None else value.label
            else:
                out[name] = value is not None
        return out

    return write


def _page(stmt, model, args: dict, extra=None):
    """One page of `stmt` after the request's cursor, with the next cursor (None after the last row); `extra`
    completes the page's items (the kinds' names).

    Answered as JSON here (the schema documents it): building 1,000 small dicts is several times quicker than
    marshmallow dumping them, and the fuzzer (tests/test_api_fuzz.py) holds the answers to the schema."""
    cursor = queries.Cursor.decode(args["cursor"]) if args.get("cursor") else None
    limit = args["limit"]
    page = queries.keyset(stmt, model, cursor, limit, args.get("updated_since"))
    rows = _db().execute(page).all()
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    write = _row_writer(page)
    items = [write(row) for row in rows]
    if extra is not None:
        extra(items)
    body = {"items": items, "limit": limit,
            "next_cursor": queries.Cursor(last.updated_at, last.id).encode() if more and last else None}
    # The standard library's encoder: Flask's provider sorts every object's keys, a quarter of a page's time.
    response = current_app.response_class(json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                                          mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _with_type_names(items: list[dict]) -> None:
    """Each instrument's kind by its Chinese name."""
    if items:
        names = dict(_db().execute(queries.type_names()).all())
        for item in items:
            item["type_name"] = names.get(item["type_id"], "")


@bp.route("/merchants")
@token_required(*READERS)
@bp.arguments(schemas.StationArgs, location="query", as_kwargs=False)
@bp.response(200, schemas.MerchantPage)
def merchant_list(args: dict):
    """使用单位列表（令牌站点内）"""
    return _page(queries.merchants(_scope(args["station_id"]), args["station_id"]), Merchant, args)


@bp.route("/verifications")
class Verifications(MethodView):
    """检定记录：查询，检定机构报送检定结果"""

    @token_required(*ALL)
    @bp.arguments(schemas.VerificationArgs, location="query", as_kwargs=False)
    @bp.response(200, schemas.VerificationPage)
    def get(self, args: dict):
        """检定记录列表（含已作废记录，voided 标明）。检定机构令牌只读本机构报送的记录。"""
        token = current_token()
        if token.scope == TokenScope.INSTITUTION:
            stmt = queries.verifications(Scope.everything(), station_id=args["station_id"],
                                         instrument_id=args["instrument_id"], body_id=token.body_id)
        else:
            stmt = queries.verifications(_scope(args["station_id"]), station_id=args["station_id"],
                                         instrument_id=args["instrument_id"])
        return _page(stmt, Verification, args)

    @token_required(TokenScope.INSTITUTION)
    @bp.doc(parameters=[IDEMPOTENCY_HEADER])
    @bp.arguments(schemas.ResultBatchIn, location="json", as_kwargs=False)
    @bp.response(200, schemas.ResultBatchOut)
    def post(self, payload: dict):
        """检定机构报送检定结果（每批 1 至 1000 条，逐条判定，逐条返回结果）。

        按器具种类 + 出厂编号（+ 制造单位）及证书编号与台账匹配：匹配到的记为该器具的检定记录，下次检定日期、预警和
        公开查询页随即更新；同一证书重发不重复记录；与已存证书内容不同的拒收；台账中没有的器具转入“未备案器具线索”，
        由监管所登记或忽略。与上传检定结果文件同一规则。
        """
        token = current_token()

        def work(session: Session) -> tuple[dict, int]:
            rows = [ResultRow(row=index, **values) for index, values in enumerate(payload["results"])]
            outcomes = submit_results(session, rows, body=token.body, station_id=None, actor=None,
                                      actor_label=token_actor(token), today=today())
            body: dict = tally(outcomes)
            body["rows"] = [{"index": o.row, "outcome": o.outcome, "outcome_label": o.label, "reason": o.reason,
                             "warnings": list(o.warnings), "instrument_id": o.instrument_id,
                             "verification_id": o.verification_id, "lead_id": o.lead_id} for o in outcomes]
            return body, 200

        return idempotent_write("POST /api/v1/verifications", work)


@bp.route("/inspections")
@token_required(*READERS)
@bp.arguments(schemas.StationArgs, location="query", as_kwargs=False)
@bp.response(200, schemas.InspectionPage)
def inspection_list(args: dict):
    """监督检查列表（令牌站点内）"""
    return _page(queries.inspections(_scope(args["station_id"]), args["station_id"]), Inspection, args)


@bp.route("/findings")
@token_required(*READERS)
@bp.arguments(schemas.StationArgs, location="query", as_kwargs=False)
@bp.response(200, schemas.FindingPage)
def finding_list(args: dict):
    """检查发现的问题列表（含已作废，voided 标明）"""
    return _page(queries.findings(_scope(args["station_id"]), args["station_id"]), Finding, args)


@bp.route("/rectifications")
@token_required(*READERS)
@bp.arguments(schemas.StationArgs, location="query", as_kwargs=False)
@bp.response(200, schemas.RectificationPage)
def rectification_list(args: dict):
    """责令改正列表（令牌站点内）"""
    return _page(queries.rectifications(_scope(args["station_id"]), args["station_id"]), Rectification, args)


@bp.route("/alerts")
@token_required(*READERS)
@bp.arguments(schemas.StationArgs, location="query", as_kwargs=False)
@bp.response(200, schemas.AlertPage)
def alert_list(args: dict):
    """预警列表（令牌站点内）"""
    return _page(queries.alerts(_scope(args["station_id"]), args["station_id"]), Alert, args)


@bp.route("/instruments")
class Instruments(MethodView):
    """计量器具：查询与登记"""

    @token_required(*ALL)
    @bp.arguments(schemas.InstrumentArgs, location="query", as_kwargs=False)
    @bp.response(200, schemas.InstrumentPage)
    def get(self, args: dict):
        """计量器具列表：按站点、种类、使用单位、状态、下次检定日期区间、变更时间筛选。检定机构令牌只读本机构检定过的器具。"""
        token = current_token()
        body_id = token.body_id if token.scope == TokenScope.INSTITUTION else None
        scope = Scope.everything() if body_id else _scope(args["station_id"])
        stmt = queries.instruments(scope, station_id=args["station_id"], type_id=args["type_id"],
                                   merchant_id=args["merchant_id"], status=args["status"], due_after=args["due_after"],
                                   due_before=args["due_before"], body_id=body_id)
        return _page(stmt, Instrument, args, extra=_with_type_names)

    @token_required(TokenScope.WRITE)
    @bp.doc(parameters=[IDEMPOTENCY_HEADER])
    @bp.arguments(schemas.InstrumentBatchIn, location="json", as_kwargs=False)
    @bp.response(200, schemas.BatchOut)
    def post(self, payload: dict):
        """登记计量器具（每批 1 至 1000 条，逐条判定，逐条返回结果）。限定单位的令牌（如供水、燃气公司）只能为该单位登记。

        与台账页面登记同一规则：器具种类 + 出厂编号（+ 制造单位）不得重复；使用单位须在令牌的站点内。
        """
        token = current_token()
        scope = token_scope(token)
        actor = token_actor(token)

        def work(session: Session) -> tuple[dict, int]:
            rows, created = [], 0
            for index, row in enumerate(payload["instruments"]):
                values = dict(row)
                if token.merchant_id is not None:
                    if values.get("merchant_id") not in (None, token.merchant_id):
                        rows.append({"index": index, "outcome": "refused", "id": None,
                                     "errors": ["该令牌只能为其限定的单位登记器具"]})
                        continue
                    values["merchant_id"] = token.merchant_id
                try:
                    with session.begin_nested():
                        if not values.get("merchant_id"):
                            raise Invalid("请填写使用单位编号 merchant_id")
                        instrument = instruments.create_instrument(session, actor, scope, values)
                except DomainError as err:
                    rows.append({"index": index, "outcome": "refused", "id": None, "errors": [err.message]})
                    continue
                created += 1
                rows.append({"index": index, "outcome": "created", "id": instrument.id, "errors": []})
            return {"created": created, "refused": len(rows) - created, "rows": rows}, 200

        body, status = idempotent_write("POST /api/v1/instruments", work)
        return body, status


def _webhook(subscription) -> dict:
    return {"id": subscription.id, "url": subscription.url, "event_types": subscription.types,
            "is_active": subscription.is_active, "description": subscription.description,
            "created_at": subscription.created_at.isoformat()}


@bp.route("/webhooks")
class Webhooks(MethodView):
    """变更通知推送地址：该令牌自己的"""

    @token_required(*ALL)
    @bp.response(200, schemas.WebhookList)
    def get(self):
        """该令牌登记的推送地址"""
        return {"items": [_webhook(s) for s in _db().scalars(webhook_queries.subscriptions_of(current_token().id))]}

    @token_required(*ALL)
    @bp.doc(parameters=[IDEMPOTENCY_HEADER])
    @bp.arguments(schemas.WebhookIn, location="json", as_kwargs=False)
    @bp.response(201, schemas.WebhookCreated)
    def post(self, payload: dict):
        """登记推送地址：令牌范围内的器具和检定记录有变更时，以签名 JSON 推送（说明见 docs/webhooks.md）。
        签名密钥只在此返回一次。检定机构令牌只能订阅检定记录的事件。"""
        token = current_token()

        def work(session: Session) -> tuple[dict, int]:
            subscription, secret = webhooks.subscribe(session, token_actor(token), token, url=payload["url"],
                                                      event_types=payload["event_types"], config=current_app.config,
                                                      description=payload["description"])
            return {**_webhook(subscription), "secret": secret}, 201

        return idempotent_write("POST /api/v1/webhooks", work)


@bp.route("/webhooks/<int:subscription_id>")
class Webhook(MethodView):
    """一个推送地址"""

    @token_required(*ALL)
    @bp.response(204)
    def delete(self, subscription_id: int):
        """删除推送地址（其待发送的通知一并删除）"""
        token = current_token()
        with unit_of_work(show=False) as uow:
            webhooks.remove(uow.session, token_actor(token),
                            webhooks.get_subscription(uow.session, subscription_id, token))
        if uow.error is not None:
            raise uow.error  # answered as problem details
        return ""


@docs_bp.route("/docs")
def docs():
    """The interface's documentation page (Swagger UI, served from the app's own files)."""
    return render_template("api/docs.html")
