"""Flags a supervisor should see on an item (pure; read from the item's snapshot data)."""

from __future__ import annotations

from typing import Any

FLAG_LABELS = {
    "correction_too_short": "补正期限过短",
    "receipt_moved": "收到日期按渠道确定",
    "awaiting_contact": "待联系申请人",
    "contact_restored": "恢复联络后起算",
    "reply_delayed": "延迟答复（第三十五条）",
    "fee_pending": "待缴信息处理费",
    "fee_paused": "收费中止计时",
}


def item_flags(data: dict[str, Any] | None) -> list[dict[str, str]]:
    """[{code, label, detail}] — e.g. a correction period shorter than `[correction] min_working_days`
    (accepted: the agency sets the 合理期限; shown so that the supervisor can judge it)."""
    out = []
    corr = (data or {}).get("correction")
    if isinstance(corr, dict) and corr.get("too_short"):
        out.append(
            {
                "code": "correction_too_short",
                "label": FLAG_LABELS["correction_too_short"],
                "detail": f"补正期限至 {corr.get('respond_by')}，仅 {corr.get('working_days')} 个工作日"
                f"（少于 {corr.get('min_working_days')} 个工作日）",
            }
        )
    out += receipt_flags(data or {})
    return out


def receipt_flags(d: dict[str, Any]) -> list[dict[str, str]]:
    """How the receipt date was fixed and the lawful delays (条例第三十一条、第三十五条, 207号, 109号)."""
    out = []

    def flag(code: str, detail: str) -> None:
        out.append({"code": code, "label": FLAG_LABELS[code], "detail": detail})

    rec = d.get("receipt")
    if isinstance(rec, dict) and rec.get("on") != rec.get("entered"):
        flag(
            "receipt_moved",
            f"登记的收到日期 {rec.get('entered')}，按{rec.get('channel_name', '')}规则为 {rec.get('on')}",
        )
    unreachable = d.get("unreachable")
    if isinstance(unreachable, dict):
        if unreachable.get("restored_on"):
            flag(
                "contact_restored",
                f"{unreachable.get('since')} 无法联系申请人，{unreachable['restored_on']} 恢复联络后起算期限",
            )
        else:
            flag("awaiting_contact", f"{unreachable.get('since')} 起无法联系申请人，期限尚未起算（207号 一.2）")
    delayed = d.get("reply_delayed")
    if isinstance(delayed, dict):
        flag(
            "reply_delayed",
            f"答复期限由 {delayed.get('statutory_due') or '—'} 延至 {delayed.get('reply_by')}，"
            f"{delayed.get('notified_on')} 告知申请人；理由：{delayed.get('reason', '')}",
        )
    fee = d.get("fee")
    if isinstance(fee, dict):
        if fee.get("paid_on"):
            flag("fee_paused", f"{fee.get('notified_on')} 发出收费通知，{fee['paid_on']} 缴费，期间不计入答复期限")
        else:
            by = f"，缴费期限 {fee['pay_by']}（逾期未缴视为放弃申请）" if fee.get("pay_by") else ""
            flag("fee_pending", f"{fee.get('notified_on')} 发出收费通知，尚未缴费：答复期限中止计算{by}")
    return out
