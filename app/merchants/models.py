"""Merchants (使用单位 / 经营者)."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Station
from app.db import Base, LabeledEnum, VersionedMixin, enum_column, one_of
from app.search import keys as search_keys


class Industry(LabeledEnum):
    """The merchant's line of business."""

    MARKET_VENDOR = "market_vendor"
    MARKET_ORGANISER = "market_organiser"
    FUEL_STATION = "fuel_station"
    EYEWEAR_SHOP = "eyewear_shop"
    MEDICAL = "medical"
    TAXI_COMPANY = "taxi_company"
    CHARGING_OPERATOR = "charging_operator"
    UTILITY = "utility"
    RETAIL = "retail"
    CATERING = "catering"
    AGRICULTURE = "agriculture"
    OTHER = "other"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {
            "market_vendor": "集贸市场经营户",
            "market_organiser": "集贸市场主办者",
            "fuel_station": "加油站",
            "eyewear_shop": "眼镜店",
            "medical": "医疗机构",
            "taxi_company": "出租汽车公司",
            "charging_operator": "充电运营商",
            "utility": "供水/供电/供气企业",
            "retail": "商场超市",
            "catering": "餐饮",
            "agriculture": "涉农（农资经营、农产品收购）",
            "other": "其他",
        }


class Merchant(VersionedMixin, Base):
    """A business that uses instruments; belongs to one station."""

    __tablename__ = "merchants"
    __table_args__ = (Index("ix_merchants_station_name_key", "station_id", "name_key"),
                      # The list by name, a station's stretch at a time (keyset pages, migration 0039).
                      Index("ix_merchants_station_name_id", "station_id", "name", "id"),
                      # The API reads changes in (updated_at, id) order (app/api/queries.py, migration 0029).
                      Index("ix_merchants_updated_id", "updated_at", "id"),
                      one_of("industry", Industry))
    __labels__ = {
        "name": "名称",
        "credit_code": "统一社会信用代码",
        "industry": "行业",
        "address": "地址",
        "contact": "联系人",
        "phone": "联系电话",
        "station": "所属监管所",
        "station_id": "所属监管所",
        "parent": "所属市场",
        "parent_id": "所属市场",
        "notes": "备注",
        "credit_class": "信用等级",
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Normalised name (NFKC, no spaces) used to match merchants without a credit code.
    name_key: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    industry: Mapped[Industry] = mapped_column(enum_column(Industry))
    address: Mapped[str] = mapped_column(String(300), default="")
    contact: Mapped[str] = mapped_column(String(50), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"), index=True)
    # A to D, computed by the credit-class capability; None until then (its own class in random draws).
    credit_class: Mapped[str | None] = mapped_column(String(1))
    # Name, address and credit code folded for search (app/search/keys.py); trigram-indexed by migration 0015.
    search_text: Mapped[str] = mapped_column(Text, default=search_keys.context_default("merchants"),
                                             info=search_keys.column_info("merchants"))

    station: Mapped[Station] = relationship(lazy="joined")
    parent: Mapped["Merchant | None"] = relationship(remote_side=[id])

    def __str__(self) -> str:
        return self.name


search_keys.keep_in_step(Merchant)
