"""The one table of Chinese labels users see: item and clock states, score statuses, ladder steps and notices,
roles, item types, event types. Rule names live with the rules (config/rules.toml: `name`), read by
`rule_names()`. Messages, pages, the CLI and exports all take their words from here.
"""

from __future__ import annotations

from collections.abc import Mapping

ITEM_STATES = {"open": "办理中", "closed": "已办结"}

CLOCK_STATES = {
    "open": "办理中",
    "paused": "中止计时",
    "awaiting_contact": "待联系申请人（未起算）",
    "met": "已履行",
    "missed": "逾期履行",  # met, but after the due date
    "closed": "已关闭",
}

# A finished clock's state in the note of its re-projection (domain/clocks.py): "由逾期 1 个工作日改为按时".
REPROJECTED_STATES = {"met": "按时", "missed": "逾期", "closed": "期限届满前关闭"}

# How a clock counts in a period's scores (domain/scoring.py).
SCORE_STATUSES = {
    "on_time": "按时",
    "late": "逾期办结",
    "overdue": "逾期未办",
    "pending": "未到期",
    "closed": "已关闭（不计）",
    "held": "待审核",  # a late entry waiting for review decides the clock (neither on time nor late yet)
    # score-sheet rows that are not clocks (domain/scoring.py `Mark`)
    "withheld": "不予公开",
    "on_request": "依申请公开",
    "no_interpretation": "规范性文件未解读",
    "case_lost": "复议诉讼被纠正",
    "reply_delayed": "延迟答复（条例第三十五条）",
}

# Reminder-ladder steps (config/reminders.toml) and the other notices the engine sends.
STEPS = {
    "t_minus_3": "到期前3个工作日提醒",
    "t_minus_1": "到期前1个工作日提醒",
    "due_today": "今日到期提醒",
    "t_minus_1h": "到期前1小时提醒",
    "overdue_1": "逾期通知",
    "overdue_repeat": "逾期督办",
    "due_date_changed": "期限变更通知",
    "delivery_failed": "送达失败通知",
    "digest_liaison": "每日到期提醒",
    "digest_supervisor": "每日逾期汇总",
    "digest_head": "每日部门汇总",
    "digest_admin": "日历通知未录入提醒",
    "test": "渠道测试",
    "urge": "督办通知",
    "invite": "设置密码邀请",
    "earliest_close": "最短征求意见期届满提醒",  # i21-windows
}

ROLES = {
    "liaison": "联络员",
    "head": "部门负责人",
    "supervisor": "督查",
    "assessor": "绩效考评",
    "admin": "管理员",
    "local": "匿名只读访问",  # anonymous read-only pages (web, SHIXIAN_WEB_ANONYMOUS=read)
}

# Who recorded an event (late entries, 补录): the roles above plus the two kinds of trusted input.
# `onboarding`: a department's history (历史台账初始化), applied once a supervisor approved its batch.
RECORDERS = {**ROLES, "operator": "运维导入", "system": "系统", "onboarding": "历史台账"}

# An onboarding batch (store/onboarding.py) and what the import preview says of a history row.
ONBOARDING_STATUSES = {"open": "待审核", "approved": "已批准", "rejected": "已驳回"}

# Audit trail (store/audit.py): what was done, how it ended, through which door, as who.
AUDIT_ACTIONS = {
    "catalogue.import": "导入标准目录",  # i21-catalogue
    "auth.sign_in": "登录",
    "auth.sign_out": "退出登录",
    "account.password_set": "设置密码",
    "account.invite": "发送设置密码邀请",
    "account.disable": "停用账号",
    "token.create": "生成接口令牌",
    "token.revoke": "吊销接口令牌",
    "export.scores": "导出考评得分",
    "export.annual_report": "下载年度报告",
    "export.audit": "导出审计记录",
    "review.approve": "批准补录",
    "review.reject": "驳回补录",
    "urge": "督办",
    "urge.reply": "反馈督办办理情况",
    "scores.lock": "锁定考评期间",
    "annual.lock": "锁定年度报告",
    "calendar.reload": "重新载入日历",
    "events.ingest": "运维导入事件",
    "events.job": "提交事件导入任务",
    "ledger.import": "导入台账",
    "onboarding.approve": "批准历史台账",
    "onboarding.reject": "驳回历史台账",
    "access.denied": "越权访问被拒绝",
    "audit.purge": "清理过期审计记录",
    "directory.import": "导入人员名录",
    "directory.change": "修改人员名录",
    "directory.export": "导出人员名录",
    "notify.test": "发送测试消息",
}
# The keys of an audit record's detail, as shown on the page and in exports.
AUDIT_DETAIL = {
    "reason": "原因",
    "as_of": "统计截止",
    "scope": "范围",
    "urge_id": "督办编号",
    "departments": "部门数",
    "people": "人员数",
    "change": "名录修改编号",
    "via": "途径",
    "items": "通知事项数",
    "item_id": "事项",
    "type": "事件类型",
    "occurred_on": "事件日期",
    "recorded_by": "登记人",
    "decided_by": "审核人",
    "decision_reason": "审核意见",
    "role": "角色",
    "person": "人员",
    "by": "署名",
    "rows": "条数",
    "since": "自",
    "until": "至",
    "actor": "人员",
    "action": "操作",
    "outcome": "结果",
    "department": "部门",
    "deleted": "删除条数",
    "through_id": "删至序号",
    "through_hash": "删至哈希",
    "retention_days": "保存天数",
    "before": "早于",
    "applied": "已登记",
    "held": "补录待审核",
    "duplicate": "重复",
    "rejected": "被拒绝",
    "partial": "部分导入",
    "nothing_new": "无新内容",
}
AUDIT_OUTCOMES = {"success": "成功", "failure": "失败"}
AUDIT_CHANNELS = {"web": "网页", "api": "接口", "cli": "命令行", "system": "系统"}
AUDIT_ROLES = {**ROLES, "operator": "运维（命令行）", "system": "系统", "": "未登录"}

# A late entry's review state (domain/review.py).
# Notice deliveries (store/deliveries.py): claimed before sending, then sent or failed.
DELIVERY_STATES = {"intent": "发送中", "sent": "已送达", "failed": "送达失败"}
# A channel attempt of a delivery (store.deliveries.DeliveryAttempt.status); skipped: an SMS passed over in the
# quiet hours before s24 held it instead (older rows).
ATTEMPT_STATES = {"ok": "成功", "failed": "失败", "skipped": "未发送（静默时段）"}
# 站内消息 (store/inbox.py): what a message is about, and its state as the item page and the inbox show it.
INBOX_KINDS = {
    "reminder": "到期提醒",
    "digest": "每日汇总",
    "urge": "督办",
    "review": "审核结果",
    "onboarding": "历史台账",
    "invite": "账号邀请",
    "delivery_failed": "送达失败",
    "test": "测试消息",
    "notice": "通知",
}
INBOX_STATES = {"unread": "已送达", "read": "已读"}

# Document kinds (domain/events.py `kind`; the annual report's table 二 counts the first two).
DOCUMENT_KINDS = {"regulation": "规章", "normative": "行政规范性文件", "policy": "政策文件", "other": "其他"}

# The standard reasons a document is not disclosed (条例第十四至十六条), by code (`withheld.<code>`).
WITHHELD_REASONS = {
    "state_secret": "国家秘密",
    "prohibited_by_law": "法律行政法规禁止公开",
    "security_stability": "危及“三安全一稳定”",
    "third_party_rights": "保护第三方合法权益",
    "internal_affairs": "内部事务信息",
    "process_information": "过程性信息",
    "enforcement_file": "行政执法案卷",
    "administrative_inquiry": "行政查询事项",
}

LATE_ENTRY_STATUSES = {"held": "补录待审核", "approved": "补录已批准", "rejected": "补录已驳回"}

ITEM_TYPES = {
    "document": "文件",
    "request": "依申请公开",
    "opinion": "舆情",
    "budget": "预决算",
    "annual_report": "年度报告",
    "clocks": "时限事项",
    # i21-proposals
    "proposal": "建议提案",
    "hotline": "12345热线工单",
    "message": "网站留言",
    # i21-catalogue
    "duty": "标准目录事项",
    "consultation": "公开征求意见",  # i21-windows
}

EVENT_TYPES = {
    "document.signed": "文件签发",
    "document.published": "文件公开",
    "document.repealed": "文件废止",
    "interpretation.published": "政策解读发布",
    "request.received": "收到申请",
    "request.answered_on_the_spot": "当场答复",
    "request.correction_requested": "告知补正",
    "request.corrected": "收到补正",
    "request.consultation_started": "开始征求意见",
    "request.consultation_ended": "征求意见结束",
    "request.extended": "延长答复期限",
    "request.replied": "作出答复",
    "request.withdrawn": "申请人撤回",
    "request.abandoned": "视为放弃",
    "request.applicant_unreachable": "无法联系申请人",
    "request.contact_restored": "恢复与申请人联络",
    "request.reply_delayed": "延迟答复（第三十五条）",
    "request.fee_notified": "发出收费通知",
    "request.fee_paid": "申请人缴费",
    "review.filed": "申请行政复议",
    "review.decided": "行政复议决定",
    "litigation.filed": "提起行政诉讼",
    "litigation.decided": "行政诉讼判决",
    "opinion.detected": "发现舆情",
    "opinion.info_released": "发布权威信息",
    "opinion.press_conference": "召开新闻发布会",
    "opinion.responded": "回应舆情",
    "budget.approved": "预决算批复",
    "budget.published": "预决算公开",
    "annual_report.year_closed": "年度结束",
    "annual_report.published": "年度报告公布",
    # i21-proposals
    "proposal.assigned": "交办建议提案",
    "proposal.extended": "经交办机关同意延长办理期限",
    "proposal.answered": "答复建议提案",
    "proposal.reanswer_requested": "代表委员不满意、重新办理",
    "hotline.received": "接到热线工单",
    "hotline.extended": "热线工单延期",
    "hotline.replied": "热线工单办结",
    "message.received": "收到网站留言",
    "message.replied": "答复网站留言",
    # i21-catalogue: catalogue duties (基层政务公开标准目录)
    "duty.formed": "信息形成或变更",
    "duty.published": "目录事项公开",
    # i21-windows: consultations
    "consultation.opened": "开始公开征求意见",
    "consultation.closed": "结束公开征求意见",
}

# The item page's buttons: event type -> label, in the order the page shows them (the everyday actions
# first, the rare receipt and delay ones after, closing and appeal last). Which of them an item offers
# comes from domain.transitions.accepted_events.
EVENT_BUTTONS = {
    "document.published": "登记公开",
    "interpretation.published": "登记解读",
    "request.correction_requested": "告知补正",
    "request.consultation_started": "征求意见",
    "request.extended": "延期",
    "request.consultation_ended": "收到意见",
    "request.corrected": "收到补正",
    "request.replied": "答复",
    "request.contact_restored": "恢复联络",
    "request.fee_paid": "登记缴费",
    "request.fee_notified": "收费通知",
    "request.reply_delayed": "延迟答复（第三十五条）",
    "request.withdrawn": "撤回",
    "document.repealed": "废止",
    "review.filed": "申请行政复议",
    "review.decided": "复议决定",
    "litigation.filed": "提起行政诉讼",
    "litigation.decided": "诉讼判决",
    "opinion.info_released": "发布权威信息",
    "opinion.press_conference": "召开新闻发布会",
    "opinion.responded": "回应舆情",
    "budget.published": "登记公开",
    "annual_report.published": "登记公布",
    # i21-proposals
    "proposal.answered": "登记答复",
    "proposal.extended": "延长办理期限",
    "proposal.reanswer_requested": "不满意、重新办理",
    "hotline.extended": "延期",
    "hotline.replied": "办结回复",
    "message.replied": "登记答复",
    # i21-catalogue
    "duty.published": "登记公开",
    "consultation.closed": "结束征求意见",  # i21-windows
}


# The last column of every export row that names a department (its Chinese name comes first).
EXPORT_DEPARTMENT_ID = "部门编号"
# Just before it: the jurisdiction node (config/jurisdictions.toml) the department belongs to, by name.
EXPORT_NODE = "所属地区"

# Column headers of the exports (services/exports.py): score sheets, details, amendments, the audit trail.
EXPORT_SUMMARY_HEADERS = [
    "部门",
    "应办事项",
    *(SCORE_STATUSES[k] for k in ("on_time", "late", "overdue", "pending", "closed")),
    "按时率",
    "平均逾期（工作日）",
    "扣分",
    "得分",
    f"{SCORE_STATUSES['withheld']}（件）",
    f"{SCORE_STATUSES['case_lost']}（件）",
]

# After the per-rule rates (the columns before stay where they were): the scheme of each department, the
# documents not disclosed proactively, then one column per indicator (points left of its weight) and bonus item.
EXPORT_SCHEME_HEADERS = [
    "考评方案",
    f"{SCORE_STATUSES['on_request']}（件）",
    f"{SCORE_STATUSES['no_interpretation']}（件）",
    "延迟答复（第三十五条，件）",
    "加分",
]

# Registration lag of the period's start events (not scored; appended after the per-rule rates).
EXPORT_LAG_HEADERS = ["登记滞后中位数（工作日）", "登记滞后最大（工作日）", "登记滞后（件）"]

# #17 §4 counts per department (sheet 申请办理核查): requests received in the period and their checks.
EXPORT_REQUEST_CHECK_COLUMNS = [
    ("department", "部门"),
    ("requests", "本期收到申请（件）"),
    ("consultations", "征求意见（次）"),
    ("consultation_paused_working_days", "征求意见中止（工作日）"),
    ("paused_over_limit", "中止超限（件）"),
    ("late_consultations", "临期征求意见（次）"),
    ("extensions", "延期（件）"),
    ("withdrawals", "撤回（件，按撤回日期）"),
    ("after_withdrawal", "撤回后重新申请（件）"),
    ("same_day_groups", "同一申请人同日多件（组）"),
    ("shortened_windows", "缩短征求意见期（件）"),  # i21-windows: public consultations, not requests
]

EXPORT_DETAIL_HEADERS = [
    "部门",
    "事项编号",
    "事项类型",
    "标题",
    "时限规则",
    "期限",
    "时钟状态",
    "考评结果",
    "履行日期",
    "逾期工作日",
    "扣分",
    "期限说明",
    "补录（事件日期／登记时间）",
    "起始事件登记（北京时间）",
    "代录",
]

EXPORT_AMENDMENT_HEADERS = [
    "部门",
    "事项编号",
    "标题",
    "时限规则",
    "变化",
    "锁定时状态",
    "锁定时履行日期",
    "当前状态",
    "当前履行日期",
]

EXPORT_AUDIT_HEADERS = [
    "序号",
    "时间（北京时间）",
    "人员",
    "姓名",
    "角色",
    "途径",
    "操作",
    "对象",
    "部门",
    "结果",
    "地址",
    "说明",
    EXPORT_DEPARTMENT_ID,
]


# Calendar regions: the country; the others are named in config/regions.toml (`region_names`).
REGIONS = {"national": "全国"}

# 督办 three-colour practice (config/urge.toml): how overdue the item was when urged.
URGE_COLOURS = {"blue": "蓝色督办", "orange": "橙色督办", "red": "红色督办"}
URGE_COLOUR_SHORT = {"blue": "蓝", "orange": "橙", "red": "红"}
# The department's reply to an urge (办理情况): none yet, or given.
URGE_REPLY_STATES = {"waiting": "待反馈", "replied": "已反馈"}


def step_label(step: str | None) -> str:
    """A ladder step's label; accepts fired keys such as `overdue_repeat_2@2026-11-05`."""
    if not step:
        return "—"
    base = step.split("@")[0]
    return STEPS.get(base, STEPS.get(base.rstrip("_0123456789"), step))


def label(table: Mapping[str, str], key: str | None) -> str:
    return table.get(key or "", key or "—")


def tables() -> dict[str, Mapping[str, str]]:
    """The tables by the name templates give the `label` filter: `{{ d.state | label('delivery') }}`."""
    return {
        "item_state": ITEM_STATES,
        "clock_state": CLOCK_STATES,
        "score_status": SCORE_STATUSES,
        "step": STEPS,
        "role": ROLES,
        "recorder": RECORDERS,
        "delivery": DELIVERY_STATES,
        "document_kind": DOCUMENT_KINDS,
        "withheld_reason": WITHHELD_REASONS,
        "late_status": LATE_ENTRY_STATUSES,
        "onboarding_status": ONBOARDING_STATUSES,
        "item_type": ITEM_TYPES,
        "event": EVENT_TYPES,
        "region": REGIONS,
        "urge_colour": URGE_COLOURS,
        "urge_reply": URGE_REPLY_STATES,
        "node_level": NODE_LEVELS,
        "evidence": EVIDENCE,
        "festival_calendar": FESTIVAL_CALENDARS,
        "festival_staff": FESTIVAL_STAFF,
    }


def label_of(key: str | None, table: str) -> str:
    """The Chinese label of `key` in the named table (see `tables`); the key itself when unknown."""
    return label(tables()[table], key)


def rule_names(rules: Mapping) -> dict[str, str]:
    """Rule id -> Chinese name (rules.toml `name`). The rules in use: `engine().rule_names`, so a
    rules.toml edit reaches notices, digests, pages and the CLI alike."""
    return {rid: getattr(r, "name", rid) for rid, r in rules.items()}


def region_names(calendar) -> dict[str, str]:
    """Region id -> Chinese name: 全国 and the regions of config/regions.toml (`name`)."""
    names = dict(REGIONS)
    for rid, rule in getattr(calendar, "region_rules", {}).items():
        names[rid] = rule.name
    for rid in getattr(calendar, "regions", ()):
        names.setdefault(rid, rid)
    return names


# The admin page's directory history (store/directory.py) and its fields.
# Calendar notices (config/calendars/*.toml `evidence`) and festival rules (config/regions.toml).
EVIDENCE = {"notice": "通知原文", "report": "仅见报道", "unknown": "未注明"}
FESTIVAL_CALENDARS = {"lunar": "农历", "solar": "公历", "islamic": "伊斯兰历", "tibetan": "藏历"}
FESTIVAL_STAFF = {"all": "全体职工放假", "some": "仅部分职工放假（不影响期限）"}

DIRECTORY_CHANGE_KINDS = {"department": "部门", "person": "人员", "import": "整体导入"}
DIRECTORY_ACTIONS = {"create": "新增", "update": "修改", "import": "导入"}
DIRECTORY_FIELDS = {
    "id": "编号",
    "name": "名称",
    "short_name": "简称",
    "region": "日历地区",
    "head": "负责人",
    "parent": "上级单位",
    "node": "所属地区",
    "annual_reports": "年度报告",
    "go_live": "上线日期",
    "department": "所属部门",
    "title": "职务",
    "roles": "角色",
    "notify": "通知渠道",
}


# Jurisdiction levels (domain/jurisdictions.py LEVELS) and the roll-up pages' column names (domain/rollup.py).
NODE_LEVELS = {"province": "省级", "city": "地级", "county": "县级"}
ROLLUP_COLUMNS = {
    "name": "地区 / 部门",
    "level": "级别",
    "departments": "部门数",
    "open": "办理中",
    "overdue": "逾期未办",
    "held": "待审核",
    "on_time": "按时办结",
    "late": "逾期办结",
    "missed": "到期未办",
    "on_time_rate": "按时率",
    "lag_mean": "平均登记滞后（工作日）",
    "lag_late": "登记滞后（件）",
    "score": "平均得分",
    "urges": "督办次数",
}
AUDIT_ACTIONS["export.compare"] = "导出下级对比"


# ---------------------------------------------------------------- i21-catalogue: catalogue duties
CATALOGUE_STATUSES = {"new": "新增", "unchanged": "未变", "changed": "有变更", "refused": "拒绝"}
CATALOGUE_PERIOD_KINDS = {"clock": "有时限", "standing": "长期公开（无时限）"}
# ---------------------------------------------------------------- i21-fresh: website columns, 政务新媒体
ITEM_TYPES["column"] = "网站栏目与政务新媒体"
EVENT_TYPES.update({"column.registered": "登记栏目", "column.updated": "栏目更新", "column.closed": "栏目关闭"})
EVENT_BUTTONS.update({"column.updated": "登记更新", "column.closed": "关闭栏目"})
# The column ledger (栏目台账) offices keep for the national check: one row per column, its last update.
COLUMN_LEDGER_HEADERS = ["栏目编号", "栏目名称", "类型", "网址", "最近更新日期", "更新周期", "当前期限", "部门"]
# Counts of a recurring duty's periods (item data `periods`), as the item page and the column ledger name them.
PERIOD_COUNTS = {
    "finished": "已结束周期",
    "on_time": "按时更新",
    "late": "超期更新",
    "late_working_days": "超期合计（工作日）",
    "last_update": "最近更新日期",
}
# ---------------------------------------------------------------- end i21-fresh
