"""Named audit-log queries."""
from __future__ import annotations

from sqlalchemy import Select, select

from app.audit.models import AuditEntry

ACTION_LABELS = {
    "create": "新建", "update": "修改", "void": "作废", "replace": "更换", "seed": "初始化",
    "login": "登录", "logout": "退出登录", "reset_password": "重置密码", "change_password": "修改密码",
    "upload": "上传台账", "import": "导入台账", "undo_import": "撤销导入", "submit_results": "接收检定结果",
    "draw": "随机抽取", "publish": "公示结果", "plan": "列入检查计划", "recheck": "复查", "evidence": "上传证据",
    "acknowledge": "确认预警", "alert_sweep": "预警扫描", "alert_digest": "预警日报",
    "extend": "延长整改期限", "correct": "更正检查结论", "sign": "签名",
    "revoke": "撤销承诺", "model_unit": "认定示范单位", "unmodel_unit": "取消示范单位", "public_token": "生成公开查询码",
    "build": "生成月报", "delete": "删除", "certificate": "上传检定证书",
    "revoke_token": "吊销令牌", "api_call": "API 调用",
    "receive": "受理投诉举报", "assign": "指定承办人", "link_inspection": "关联核查检查", "outcome": "记录核查结论",
    "correct_outcome": "更正核查结论", "close": "办结答复",
    "stage": "登记案件阶段", "correct_stage": "更正案件登记",
    "retire": "停用", "restore": "恢复启用",
}

# What the log calls each kind of record (entity_type is the table name, or a name given by the service):
# every table has one, so a newly audited table cannot show its English name (tests/test_chinese.py checks).
ENTITY_LABELS = {
    "merchants": "使用单位", "instruments": "计量器具", "verifications": "检定记录", "users": "用户",
    "stations": "监管所", "regions": "行政区划", "station_counts": "各所器具统计", "station_count_days": "各所统计日期",
    "station_months": "各所每月检定记录数", "instrument_types": "器具种类", "finding_codes": "问题代码", "catalogue": "器具目录",
    "import_batches": "台账导入批次", "result_leads": "未备案器具线索", "credit_rules": "信用分类规则", "monthly_reports": "月报",
    "campaigns": "专项检查行动", "campaign_targets": "检查计划对象", "random_draws": "双随机抽取",
    "inspections": "监督检查", "inspection_inspectors": "检查人员", "inspection_instruments": "检查器具",
    "findings": "检查发现问题", "rectifications": "责令改正", "rechecks": "复查", "evidence_files": "证据材料",
    "alerts": "预警", "alert_digests": "预警日报", "pledges": "诚信计量承诺", "integrity_targets": "诚信计量目标",
    "credit_scores": "信用分类结果", "import_rows": "台账导入行", "import_mappings": "台账列对应方案",
    "imported_records": "导入记录", "job_runs": "定时任务运行记录", "job_states": "定时任务",
    "scheduler_leases": "调度租约", "mail_outbox": "邮件", "user_stations": "用户所属监管所", "audit_log": "操作日志",
    "deadline_extensions": "整改期限延长", "instrument_type_aliases": "器具种类别名",
    "inspection_signatures": "现场检查笔录签名", "verification_bodies": "检定机构",
    "verification_certificates": "检定证书",
    "webhook_subscriptions": "变更通知推送地址", "webhook_events": "变更通知",
    "background_tasks": "后台任务", "region_lead_days": "区划预警提前天数",
    "complaints": "投诉举报", "complaint_outcomes": "投诉举报核查结论", "calendar_days": "工作日历",
    "outreach_activities": "计量惠民活动", "outreach_verifications": "活动免费检定", "outreach_photos": "活动照片",
    "micro_stations": "科普宣传服务微站", "outreach_volunteers": "计量志愿者", "outreach_targets": "微站与志愿者目标",
    "fair_scales": "公平秤", "reweighs": "复秤记录", "market_duty_checks": "主办者义务检查",
    "api_tokens": "API 令牌", "api_token_stations": "API 令牌站点", "api_idempotent_requests": "API 幂等请求",
    "cases": "案件", "case_stages": "案件办理阶段", "case_extensions": "延长办案期限",
    "case_confiscations": "没收的计量器具",
    "case_stage_limits": "案件办理期限", "enforcement_teams": "执法大队", "enforcement_team_members": "执法大队成员",
}


def entity_label(entity_type: str) -> str:
    """The Chinese name of a kind of record in the log."""
    return ENTITY_LABELS.get(entity_type, entity_type)


def action_label(action: str) -> str:
    """The Chinese name of a logged action."""
    return ACTION_LABELS.get(action, action)


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
