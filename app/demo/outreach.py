"""Demo outreach: World Metrology Day and 五进 activities with free verifications and a photo, micro-stations and
volunteers against the 9-and-9 targets of the Wushan plan (no Flask)."""
from __future__ import annotations

import datetime as dt
import io
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Station
from app.catalog.models import InstrumentType
from app.outreach import services
from app.outreach.models import OutreachTargetKind
from app.rollups.tree import load_tree
from app.scope import Scope

# (kind, place kind, place, people served, enterprises, materials, free verifications by kind code)
ACTIVITIES = (
    ("metrology_day", "market", "{town}农贸市场", 260, 0, 500, {"elec_price_scale": 36, "bp_manual": 18}),
    ("five_into", "school", "{town}中心小学", 180, 0, 300, {}),
    ("five_into", "care_home", "{town}敬老院", 45, 0, 60, {"bp_manual": 22, "bp_auto": 9}),
    ("five_into", "hospital", "{town}卫生院", 30, 1, 40, {"ecg": 2, "bp_manual": 6}),
    ("sme", "enterprise", "{town}工业集中区", 25, 8, 80, {"truck_scale": 2}),
    ("benefit", "community", "{town}社区服务中心", 120, 0, 200, {"lensmeter": 3, "elec_price_scale": 12}),
    ("science", "community", "{town}新时代文明实践站", 90, 0, 150, {}),
)
TOWNS = ("城关", "城东", "城西", "新桥", "石门", "龙溪", "双河", "青山")
VOLUNTEERS = ("王芳", "李强", "张敏", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周杰", "吴霞", "徐亮", "孙倩")


def _photo() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 24), (30, 110, 180)).save(out, "PNG")
    return out.getvalue()


def add_demo_outreach(session: Session, today: dt.date, seed: int, storage_dir: str) -> dict[str, int]:
    """Activities over the past year in each station, a photo on World Metrology Day, the registry and targets."""
    r = random.Random(seed + 20)
    everything = Scope.everything()
    kinds = {t.code: t.id for t in session.scalars(select(InstrumentType))}
    stations = session.scalars(select(Station).order_by(Station.id)).all()
    tree = load_tree(session)
    services.set_target(session, None, tree, OutreachTargetKind.MICRO_STATIONS, None, 9)
    services.set_target(session, None, tree, OutreachTargetKind.VOLUNTEERS, None, 9)
    metrology_day = dt.date(today.year if today >= dt.date(today.year, 5, 20) else today.year - 1, 5, 20)
    counts = {"activities": 0, "micro_stations": 0, "volunteers": 0}
    for n, station in enumerate(stations):
        town = TOWNS[n % len(TOWNS)]
        for i, (kind, place_kind, place, people, firms, materials, free) in enumerate(ACTIVITIES):
            held_on = metrology_day if kind == "metrology_day" else today - dt.timedelta(days=r.randint(3, 300))
            activity = services.record_activity(session, None, everything, {
                "station_id": station.id, "held_on": held_on, "kind": kind, "place": place.format(town=town),
                "place_kind": place_kind, "staff": "、".join(r.sample(VOLUNTEERS[:6], 2)),
                "people_served": people + r.randint(0, 40), "enterprises_visited": firms, "materials": materials,
                "notes": "免费检定血压计、电子秤，宣传计量法律法规。" if free else "计量科普宣传。"},
                {kinds[c]: v for c, v in free.items() if c in kinds}, today)
            if i == 0:
                services.store_photo(session, None, activity, file_name="世界计量日现场.png", data=_photo(),
                                     storage_dir=storage_dir, max_bytes=1024 * 1024)
            counts["activities"] += 1
        micro_ids = []
        for m in range(1 + n % 3):
            micro = services.add_micro_station(session, None, everything, {
                "station_id": station.id, "name": f"{town}{('农贸市场', '社区', '中心小学')[m]}民生计量科普宣传服务微站",
                "address": f"{town}镇", "opened_on": today - dt.timedelta(days=200 + 30 * m)}, today)
            micro_ids.append(micro.id)
            counts["micro_stations"] += 1
        for v in range(2 + n % 3):
            services.add_volunteer(session, None, everything, {
                "station_id": station.id, "name": VOLUNTEERS[(n * 3 + v) % len(VOLUNTEERS)],
                "micro_station_id": micro_ids[v % len(micro_ids)], "joined_on": today - dt.timedelta(days=150),
                "phone": f"1390000{n:02d}{v:02d}"}, today)
            counts["volunteers"] += 1
    return counts
