"""Outreach records (services flush, never commit): activities are evidence (voided with a reason, never edited),
photos are kept like inspection evidence, the registry's entries are closed rather than deleted."""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import images, uploads
from app.accounts.models import Station
from app.audit import services as audit
from app.catalog.models import InstrumentType
from app.errors import Invalid, NotFound
from app.outreach import queries
from app.outreach.models import (ActivityKind, FreeVerification, MicroStation, OutreachActivity, OutreachPhoto,
                                 OutreachTarget, OutreachTargetKind, PlaceKind, Volunteer)
from app.rollups.inherit import Resolved, nearest
from app.rollups.tree import Tree
from app.scope import Scope
from app.text import as_typed
from app.voiding.services import void_record

MAX_COUNT = 1_000_000  # people served, enterprises, materials, 台件 of one activity: more is a typing slip
PHOTO_TYPES = {"image/jpeg": ".jpg", "image/png": ".png"}


def _station(session: Session, scope: Scope, station_id: int | None) -> Station:
    station = session.get(Station, station_id or 0)
    if station is None or not scope.allows(station.id):
        raise Invalid("请选择您负责的监管所", field="station_id")
    return station


def _count(values: dict, name: str, label: str) -> int:
    value = values.get(name)
    if value is None or value == "":
        return 0
    if not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise Invalid(f"{label}应为 0 到 {MAX_COUNT} 之间的整数", field=name)
    return value


def _text(values: dict, name: str, label: str, maximum: int, required: bool = False) -> str:
    text = as_typed(values.get(name) or "")
    if required and not text:
        raise Invalid(f"请填写{label}", field=name)
    if len(text) > maximum:
        raise Invalid(f"{label}不能超过{maximum}个字", field=name)
    return text


def record_activity(session: Session, actor, scope: Scope, values: dict, verifications: dict[int, int],
                    today: dt.date) -> OutreachActivity:
    """Record an outreach activity with its free verifications by kind (台件); logged."""
    station = _station(session, scope, values.get("station_id"))
    held_on = values.get("held_on")
    if not isinstance(held_on, dt.date):
        raise Invalid("请填写活动日期", field="held_on")
    if held_on > today:
        raise Invalid("活动日期不能晚于今天（活动结束后再登记）", field="held_on")
    try:
        kind, place_kind = ActivityKind(values.get("kind")), PlaceKind(values.get("place_kind"))
    except ValueError:
        raise Invalid("请选择活动类型和场所类型", field="kind") from None
    activity = OutreachActivity(
        station_id=station.id, held_on=held_on, kind=kind, place_kind=place_kind,
        place=_text(values, "place", "活动地点", 200, required=True), staff=_text(values, "staff", "参加人员", 300),
        people_served=_count(values, "people_served", "服务群众人次"),
        enterprises_visited=_count(values, "enterprises_visited", "走访企业数"),
        materials=_count(values, "materials", "发放资料份数"), notes=_text(values, "notes", "备注", 2000),
        created_by_id=getattr(actor, "id", None))
    session.add(activity)
    session.flush()
    kinds = {t.id: t for t in session.scalars(select(InstrumentType).where(InstrumentType.id.in_(verifications)))}
    changes = audit.snapshot(activity, ["held_on", "kind", "place", "place_kind", "station", "staff", "people_served",
                                        "enterprises_visited", "materials", "notes"])
    for type_id, count in verifications.items():
        if not count:
            continue
        itype = kinds.get(type_id)
        if itype is None:
            raise Invalid("免费检定的器具种类不存在", field="verifications")
        if not isinstance(count, int) or not 0 < count <= MAX_COUNT:
            raise Invalid(f"“{itype.name_zh}”的免费检定台件数应为 1 到 {MAX_COUNT} 之间的整数", field="verifications")
        session.add(FreeVerification(activity_id=activity.id, type_id=type_id, count=count))
        changes.append(audit.change_row(f"free_{type_id}", f"免费检定：{itype.name_zh}（台件）", None, count))
    session.flush()
    session.refresh(activity, ["verifications"])
    audit.record(session, actor, "create", activity, changes)
    return activity


def get_activity(session: Session, scope: Scope, activity_id: int) -> OutreachActivity:
    """An activity of a station in the scope, else NotFound."""
    activity = session.get(OutreachActivity, activity_id)
    if activity is None or not scope.allows(activity.station_id):
        raise NotFound("活动记录不存在")
    return activity


def void_activity(session: Session, actor, activity: OutreachActivity, reason: str) -> list[dict]:
    """Void a wrong activity with a reason: it stays visible and leaves every count; enter it again if needed."""
    return void_record(session, actor, activity, reason, what="活动记录", entity_label=str(activity))


def _file_name(file_name: str) -> str:
    return as_typed((file_name or "").replace("\\", "/").rsplit("/", 1)[-1])[:200] or "未命名"


def store_photo(session: Session, actor, activity: OutreachActivity, *, file_name: str, data: bytes,
                storage_dir: str, max_bytes: int, photo_limits: images.ImageLimits | None = None,
                taken_at: dt.datetime | None = None) -> OutreachPhoto:
    """Keep a photo of an activity as evidence is kept (generated name, SHA-256, HEIC kept as JPEG); never deleted."""
    name = _file_name(file_name)
    if activity.is_voided:
        raise Invalid("该活动记录已作废，不能再上传照片", field="file")
    if not data:
        raise Invalid("请选择要上传的照片", field="file")
    if len(data) > max_bytes:
        raise Invalid(f"文件过大：“{name}”超过了 {max_bytes // (1024 * 1024)} MB 的上限", field="file")
    content_type = uploads.sniff(data, heif=True)
    if content_type not in (*PHOTO_TYPES, uploads.HEIC):
        raise Invalid(f"文件“{name}”不是照片：只能上传 JPEG、PNG 或 HEIC 图片（按文件内容识别，不看扩展名）", field="file")
    changes = [audit.change_row("file", "活动照片", None, name)]
    if content_type == uploads.HEIC:
        changes.append(audit.change_row("original", "原始 HEIC 照片 SHA-256", None, hashlib.sha256(data).hexdigest()))
        data, content_type = images.heif_to_jpeg(data, name, photo_limits or images.ImageLimits()), "image/jpeg"
    else:
        images.verify_image(data, name, photo_limits or images.ImageLimits())
    stored = f"outreach/{activity.held_on:%Y/%m}/{uuid.uuid4().hex}{PHOTO_TYPES[content_type]}"
    digest = hashlib.sha256(data).hexdigest()
    uploads.keep(storage_dir, stored, data, sha256=digest, session=session)
    photo = OutreachPhoto(activity_id=activity.id, station_id=activity.station_id, original_name=name,
                          stored_name=stored, content_type=content_type, size=len(data), sha256=digest,
                          created_by_id=getattr(actor, "id", None), taken_at=taken_at)
    session.add(photo)
    session.flush()
    audit.record(session, actor, "evidence", photo, changes, entity_label=f"{activity} 照片")
    return photo


def get_photo(session: Session, scope: Scope, photo_id: int) -> OutreachPhoto:
    """A photo of an activity in the scope, else NotFound."""
    photo = session.get(OutreachPhoto, photo_id)
    if photo is None or not scope.allows(photo.station_id):
        raise NotFound("照片不存在")
    return photo


def photo_path(storage_dir: str, photo: OutreachPhoto) -> Path:
    """Where a photo's bytes are kept, while they are still those uploaded; else NotFound."""
    return uploads.kept_file(storage_dir, photo.stored_name, photo.size, photo.sha256, "照片")


# --- the registry: micro-stations and volunteers ------------------------------------------------------------

def add_micro_station(session: Session, actor, scope: Scope, values: dict, today: dt.date) -> MicroStation:
    """Register a 民生计量科普宣传服务微站 of a station."""
    station = _station(session, scope, values.get("station_id"))
    opened_on = values.get("opened_on")
    if not isinstance(opened_on, dt.date):
        raise Invalid("请填写设立日期", field="opened_on")
    if opened_on > today:
        raise Invalid("设立日期不能晚于今天", field="opened_on")
    row = MicroStation(station_id=station.id, opened_on=opened_on, name=_text(values, "name", "微站名称", 200, True),
                       address=_text(values, "address", "地址", 300), notes=_text(values, "notes", "备注", 2000))
    session.add(row)
    session.flush()
    audit.record(session, actor, "create", row, audit.snapshot(row, ["name", "station", "address", "opened_on",
                                                                     "notes"]))
    return row


def add_volunteer(session: Session, actor, scope: Scope, values: dict, today: dt.date) -> Volunteer:
    """Register a metrology volunteer of a station (attached to one of its micro-stations, optionally)."""
    station = _station(session, scope, values.get("station_id"))
    joined_on = values.get("joined_on")
    if not isinstance(joined_on, dt.date):
        raise Invalid("请填写加入日期", field="joined_on")
    if joined_on > today:
        raise Invalid("加入日期不能晚于今天", field="joined_on")
    micro_id = values.get("micro_station_id") or None
    if micro_id is not None:
        micro = session.get(MicroStation, micro_id)
        if micro is None or micro.station_id != station.id:
            raise Invalid("所选微站不属于该监管所", field="micro_station_id")
    row = Volunteer(station_id=station.id, joined_on=joined_on, micro_station_id=micro_id,
                    name=_text(values, "name", "姓名", 50, True), phone=_text(values, "phone", "联系电话", 30),
                    notes=_text(values, "notes", "备注", 2000))
    session.add(row)
    session.flush()
    audit.record(session, actor, "create", row, audit.snapshot(row, ["name", "station", "micro_station", "phone",
                                                                     "joined_on", "notes"]))
    return row


def get_micro_station(session: Session, scope: Scope, record_id: int) -> MicroStation:
    """A micro-station in the scope, else NotFound."""
    row = session.get(MicroStation, record_id)
    if row is None or not scope.allows(row.station_id):
        raise NotFound("微站不存在")
    return row


def get_volunteer(session: Session, scope: Scope, record_id: int) -> Volunteer:
    """A volunteer in the scope, else NotFound."""
    row = session.get(Volunteer, record_id)
    if row is None or not scope.allows(row.station_id):
        raise NotFound("志愿者不存在")
    return row


def end_registry_entry(session: Session, actor, row: MicroStation | Volunteer, on: dt.date | None,
                       today: dt.date) -> None:
    """Close a micro-station or record a volunteer's leaving (the row stays, for the years it counted)."""
    start, end, label = (("opened_on", "closed_on", "撤销") if isinstance(row, MicroStation)
                         else ("joined_on", "left_on", "退出"))
    if getattr(row, end) is not None:
        raise Invalid(f"已于 {getattr(row, end).isoformat()} {label}", field="ended_on")
    if not isinstance(on, dt.date):
        raise Invalid(f"请填写{label}日期", field="ended_on")
    if on > today:
        raise Invalid(f"{label}日期不能晚于今天", field="ended_on")
    if on < getattr(row, start):
        raise Invalid(f"{label}日期不能早于{'设立' if isinstance(row, MicroStation) else '加入'}日期", field="ended_on")
    changes = audit.apply_changes(row, {end: on})
    session.flush()
    audit.record(session, actor, "update", row, changes, note=f"{label}")


# --- targets per county ------------------------------------------------------------------------------------

@dataclass
class RegistryRow:
    """One county's micro-stations and volunteers against its targets."""

    county_id: int | None
    name: str
    micro_stations: int
    volunteers: int
    micro_target: Resolved[int | None]
    volunteer_target: Resolved[int | None]


def effective_targets(session: Session, tree: Tree, kind: OutreachTargetKind) -> dict[int | None, Resolved]:
    """Each county's target of a kind: its own, else its city's (then province's, the installation's) per-county
    figure, as the settings of migration 0034 inherit."""
    rows = {t.region_id: t.target for t in session.scalars(queries.targets()) if t.kind == kind}
    return {c: nearest(c, tree.parents, rows, None) for c in [*tree.counties(), None]}


def set_target(session: Session, actor, tree: Tree, kind: OutreachTargetKind, region_id: int | None,
               value: int | None) -> list[dict]:
    """Save (None: clear, so the region inherits) a region's per-county target of micro-stations or volunteers."""
    if region_id is not None and region_id not in tree.names:
        raise NotFound("区划不存在")
    if value is not None and not 0 <= value <= 100_000:
        raise Invalid("目标数应为 0 到 100000 之间的整数")
    key = f"r{region_id}" if region_id is not None else "all"
    row = session.scalars(select(OutreachTarget).where(OutreachTarget.kind == kind,
                                                       OutreachTarget.scope_key == key)).first()
    old = row.target if row else None
    if old == value:
        return []
    if value is None:
        session.delete(row)
    elif row is None:
        session.add(OutreachTarget(kind=kind, scope_key=key, region_id=region_id, target=value))
    else:
        row.target = value
    changes = [audit.change_row(kind.value, f"{kind.label}目标（{tree.label(region_id)}）", old, value)]
    session.flush()
    audit.record(session, actor, "update", None, changes, entity_type="outreach_targets", entity_label="微站与志愿者目标")
    return changes


def registry_rows(session: Session, tree: Tree, scope: Scope, on: dt.date) -> list[RegistryRow]:
    """Per county in the scope: micro-stations open and volunteers serving on the date against the targets."""
    micro = dict(session.execute(queries.open_micro_stations_by_station(scope, on)).all())
    vols = dict(session.execute(queries.serving_volunteers_by_station(scope, on)).all())
    micro_t = effective_targets(session, tree, OutreachTargetKind.MICRO_STATIONS)
    vol_t = effective_targets(session, tree, OutreachTargetKind.VOLUNTEERS)
    out = []
    for county, stations in sorted(tree.stations_by_county().items(),
                                   key=lambda kv: (kv[0] is None, tree.codes.get(kv[0], ""))):
        visible = [s for s in stations if scope.allows(s)]
        if not visible:
            continue
        out.append(RegistryRow(county, tree.label(county) if county is not None else "未划入区县",
                               sum(micro.get(s, 0) for s in visible), sum(vols.get(s, 0) for s in visible),
                               micro_t.get(county, Resolved(None, None)), vol_t.get(county, Resolved(None, None))))
    return out
