"""Named audit-log queries."""
from __future__ import annotations

from sqlalchemy import Select, select

from app.audit.models import AuditEntry

ACTION_LABELS = {
    "create": "新建", "update": "修改", "void": "作废", "replace": "更换", "seed": "初始化",
    "login": "登录", "logout": "退出登录", "reset_password": "重置密码", "change_password": "修改密码",
    "upload": "上传台账", "import": "导入台账", "undo_import": "撤销导入",
    "draw": "随机抽取", "publish": "公示结果", "plan": "列入检查计划", "recheck": "复查", "evidence": "上传证据",
    "acknowledge": "确认预警", "alert_sweep": "预警扫描", "alert_digest": "预警日报",
    "extend": "延长整改期限", "correct": "更正检查结论",
    "revoke": "撤销承诺", "model_unit": "认定示范单位", "unmodel_unit": "取消示范单位", "public_token": "生成公开查询码",
}


def entries_for(entity_type: str, entity_id: int, limit: int = 200) -> Select:
    """A record's audit entries, newest first."""
    return (select(AuditEntry).where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
            .order_by(AuditEntry.id.desc()).limit(limit))


def entries_for_many(entity_type: str, entity_ids: list[int], limit: int = 500) -> Select:
    """Audit entries of several records of one type, newest first."""
    return (select(AuditEntry).where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id.in_(entity_ids))
            .order_by(AuditEntry.id.desc()).limit(limit))


def entries(entity_type: str | None = None, actor: str = "", action: str | None = None) -> Select:
    """All audit entries, filtered, newest first."""
    stmt = select(AuditEntry)
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if actor:
        stmt = stmt.where(AuditEntry.actor.contains(actor, autoescape=True))
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return stmt.order_by(AuditEntry.id.desc())
