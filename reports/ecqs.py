"""The ledger in the e-CQS batch-import template layout (计量器具使用信息): one row per instrument with its latest
verification in force, under headers the ledger import recognises as e-CQS columns, so the file imports back
(no Flask).

器具种别 is the kind's 种别 from the catalogue where that names this kind alone for the import (数字指示秤,
燃油加油机), else the catalogue's own name of the kind (水表（DN≤25）): a 种别 shared by several kinds (水表,
膜式燃气表) would come back as a different kind or none.
"""
from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from app.catalog.models import InstrumentType, InstrumentTypeAlias
from app.instruments.models import Instrument, Verification
from app.merchants.models import Merchant
from importers.kinds import KindResolver
from importers.values import CellError
from reports.xlsx import Column

CHUNK = 2000
SHEET = "计量器具使用信息"

# Each header is a synonym importers/fields.py gives its field (tests/test_ecqs.py checks the mapping).
ECQS_COLUMNS = [
    Column("序号", 6), Column("使用单位名称", 30), Column("统一社会信用代码", 22), Column("器具项别", 14),
    Column("器具种别", 18), Column("器具名称", 18), Column("型号规格", 14), Column("测量范围", 14),
    Column("准确度等级", 10), Column("出厂编号", 18), Column("生产厂家", 22), Column("器具产地", 10),
    Column("安装/使用地点", 18), Column("安装地址", 30), Column("使用地点行政区划", 16), Column("器具数量", 8),
    Column("器具用途", 10), Column("送检方式", 10), Column("枪数", 6), Column("使用状态", 8),
    Column("检定日期", 12, "date"), Column("检定结论", 8), Column("有效期至", 12, "date"), Column("证书编号", 20),
    Column("检定机构", 26),
]
# What each header must map to in the import (the round trip's contract).
ECQS_FIELDS = ["row_no", "merchant_name", "credit_code", None, "kind", None, "model", "measuring_range",
               "accuracy_class", "serial_no", "maker", "origin", "location", "install_address", "region", "quantity",
               "purpose", "submission", "nozzle_count", "status", "verified_on", "result", "valid_until",
               "certificate_no", "institution"]


def subcategory_names(session: Session) -> dict[int, str]:
    """kind id -> what its 器具种别 cell says: its 种别 when the import resolves that to this kind alone, else its name."""
    kinds = session.execute(select(InstrumentType.id, InstrumentType.code, InstrumentType.name_zh,
                                   InstrumentType.subcategory)).all()
    aliases = session.execute(select(InstrumentType.code, InstrumentTypeAlias.alias)
                              .join(InstrumentType, InstrumentType.id == InstrumentTypeAlias.type_id)).all()
    resolver = KindResolver([(k.code, k.name_zh) for k in kinds], [tuple(a) for a in aliases])
    names = {}
    for kind in kinds:
        try:
            own = kind.subcategory and resolver.resolve(kind.subcategory) == kind.code
        except CellError:
            own = False
        names[kind.id] = kind.subcategory if own else kind.name_zh
    return names


def latest_in_force():
    """A correlated subquery: the id of the instrument's latest verification in force (by date, then id)."""
    ver = aliased(Verification)  # the outer statement joins verifications too
    return (select(ver.id).where(ver.instrument_id == Instrument.id, ver.voided_at.is_(None))
            .order_by(ver.verified_on.desc(), ver.id.desc()).limit(1).correlate(Instrument).scalar_subquery())


def ecqs_rows(session: Session, list_stmt: Select) -> Iterator[tuple]:
    """The rows of an instrument list in ECQS_COLUMNS order, streamed."""
    kinds = subcategory_names(session)
    stmt = (list_stmt.with_only_columns(
        Merchant.name, Merchant.credit_code, InstrumentType.category, Instrument.type_id, InstrumentType.name_zh,
        Instrument.model, Instrument.measuring_range, Instrument.accuracy_class, Instrument.serial_no,
        Instrument.maker, Instrument.origin, Instrument.location, Instrument.install_address, Instrument.region,
        Instrument.purpose, Instrument.submission, Instrument.nozzle_count, Instrument.status,
        Verification.verified_on, Verification.result, Verification.valid_until, Verification.certificate_no,
        Verification.institution, maintain_column_froms=False)
        .join_from(Instrument, Merchant, Instrument.merchant_id == Merchant.id)
        .join_from(Instrument, InstrumentType, Instrument.type_id == InstrumentType.id)
        .outerjoin_from(Instrument, Verification, Verification.id == latest_in_force()))
    for number, row in enumerate(session.execute(stmt.execution_options(yield_per=CHUNK)), start=1):
        (merchant, credit_code, category, type_id, name, *middle_and_rest) = row
        rest = list(middle_and_rest)
        # 器具数量 is 1: one row, one instrument (the import refuses any other count).
        yield (number, merchant, credit_code, category, kinds.get(type_id, name), name, *rest[:9], 1, *rest[9:])
