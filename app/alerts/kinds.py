"""The registry of alert kinds (预警类型) with their Chinese labels (no Flask).

An alert stores its kind as a plain string checked against this registry, so a later capability
(rectification deadlines, pledge reviews ...) adds a kind by registering it here (or from its own
package at import time) without changing the alert table or its migration.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AlertKind:
    """One kind of alert: its stored code, its label, what it is about and how urgent it is."""

    code: str
    label: str
    subject_type: str
    # Bootstrap colour of its badge: danger for things already late, warning for things coming.
    level: str = "warning"
    description: str = ""


KINDS: dict[str, AlertKind] = {}


def register(kind: AlertKind) -> AlertKind:
    """Add a kind to the registry (once per code)."""
    existing = KINDS.get(kind.code)
    if existing is not None and existing != kind:
        raise ValueError(f"alert kind {kind.code!r} is already registered differently")
    KINDS[kind.code] = kind
    return kind


def get_kind(code: str) -> AlertKind:
    """A registered kind by code (KeyError when unknown)."""
    return KINDS[code]


def label_of(code: str) -> str:
    """The Chinese label of a kind, or the code itself for a kind no longer registered."""
    kind = KINDS.get(code)
    return kind.label if kind else code


def choices() -> list[tuple[str, str]]:
    """(code, label) pairs for filters, in registration order."""
    return [(k.code, k.label) for k in KINDS.values()]


INSTRUMENT = "instrument"

DUE_SOON = register(AlertKind("due_soon", "即将到期", INSTRUMENT, "warning",
                              "下次检定日期在提前提醒天数之内（按器具种类设置，默认30天）"))
DUE_WEEK = register(AlertKind("due_week", "7天内到期", INSTRUMENT, "warning",
                              "下次检定日期在7天之内（第二次提醒）"))
OVERDUE = register(AlertKind("overdue", "已超期", INSTRUMENT, "danger", "已过下次检定日期仍未检定"))
SERVICE_LIFE_ENDING = register(AlertKind("service_life_ending", "即将到期轮换", INSTRUMENT, "warning",
                                         "使用年限将在90天内届满（首检后到期轮换的器具）"))
PAST_SERVICE_LIFE = register(AlertKind("past_service_life", "超过使用年限", INSTRUMENT, "danger",
                                       "已过到期轮换日期仍在使用"))
FAILED = register(AlertKind("failed", "检定不合格未复检", INSTRUMENT, "danger",
                            "最近一次检定不合格，尚无合格的复检记录"))

RECTIFICATION = "rectification"

PLEDGE = "pledge"

PLEDGE_REVIEW = register(AlertKind("pledge_review", "诚信承诺待复核", PLEDGE, "warning",
                                   "作出诚信计量承诺的单位被检查发现较重或严重问题，请监管科室复核其承诺"))
RECTIFICATION_LATE = register(AlertKind("rectification_late", "整改逾期", RECTIFICATION, "danger",
                                        "责令改正的期限已过，尚未复查关闭"))

COMPLAINT = "complaint"

COMPLAINT_LATE = register(AlertKind("complaint_late", "投诉举报逾期", COMPLAINT, "danger",
                                    "投诉举报已过办理期限（按工作日计算）仍未办结"))

CASE = "case"

CASE_LATE = register(AlertKind("case_late", "案件办理逾期", CASE, "danger",
                               "案件下一阶段（调查取证、告知、决定、执行或结案）已过期限仍未登记"))

# What an alert's subject is called where no instrument names it (the digest's lines).
SUBJECT_LABELS = {RECTIFICATION: "责令改正", PLEDGE: "诚信计量承诺", COMPLAINT: "投诉举报", CASE: "案件"}
