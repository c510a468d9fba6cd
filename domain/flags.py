"""Flags a supervisor should see on an item (pure; read from the item's snapshot data and clocks).

Every flag marks an entry that was accepted (the law leaves the agency room) but that a supervisor should
judge; the limits are `config/rules.toml` ([correction], [consultation], [withdrawal])."""

from __future__ import annotations

import datetime as dt
from typing import Any

FLAG_LABELS = {
    "correction_too_short": "补正期限过短",
    "correction_too_long": "补正期限过长",
    "consultation_late_start": "临期征求意见",
    "consultation_paused_long": "征求意见中止过长",
    "after_withdrawal": "撤回后重新申请",
    "rule_not_in_force": "时限规则尚未施行",
    "registration_late": "登记滞后",
    "receipt_moved": "收到日期按渠道确定",
    "awaiting_contact": "待联系申请人",
    "contact_restored": "恢复联络后起算",
    "reply_delayed": "延迟答复（第三十五条）",
    "fee_pending": "待缴信息处理费",
    "fee_paused": "收费中止计时",
    "delay_and_extension": "延期与延迟答复叠加",
    "window_shortened": "缩短征求意见期",  # i21-windows: a minimum window closed early with its reason
}
# Pause reasons of consultations (domain.transitions.pause_reason); 待申请人补正 is not one.
CONSULTATION_REASONS = ("征求第三方意见", "征求其他机关意见", "中止计算")
# Receipt and lawful-delay flags: the board lists them apart (收到日期与依法延迟).
RECEIPT_FLAGS = (
    "receipt_moved",
    "awaiting_contact",
    "contact_restored",
    "reply_delayed",
    "fee_pending",
    "fee_paused",
    "delay_and_extension",
)


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def consultation_summary(data: dict[str, Any] | None, clocks: list[Any] | None = None) -> dict[str, int]:
    """{count, paused_working_days} of a request's consultations: how many were opened and how many working
    days they stopped its reply clock (each pause as the clock's explanation counts it)."""
    count = len((data or {}).get("consultations") or [])
    paused = 0
    for c in clocks or []:
        if _get(c, "rule") != "request_reply":
            continue
        for p in (_get(c, "explanation") or {}).get("pauses") or []:
            if p.get("reason") in CONSULTATION_REASONS and p.get("working_days"):
                paused += int(p["working_days"])
    return {"count": count, "paused_working_days": paused}


def item_flags(data: dict[str, Any] | None, clocks: list[Any] | None = None) -> list[dict[str, str]]:
    """[{code, label, detail}] — e.g. a correction period shorter than `[correction] min_working_days`
    (accepted: the agency sets the 合理期限; shown so that the supervisor can judge it). `clocks` (the
    item's clock snapshots) are needed for the consultation pause total."""
    from domain.engine import engine

    data = data or {}
    out = document_flags(data) + _not_in_force(data) + _registration(data) + receipt_flags(data)
    out += stacked_delay_flags(data, clocks) + shortened_flags(data)
    corr = data.get("correction")
    if not (isinstance(corr, dict) or data.get("consultations") or data.get("after_withdrawal")):
        return out  # most items: nothing to judge, no config read
    limits = engine().limits
    if isinstance(corr, dict) and corr.get("too_short"):
        out.append(
            {
                "code": "correction_too_short",
                "label": FLAG_LABELS["correction_too_short"],
                "detail": f"补正期限至 {corr.get('respond_by')}，仅 {corr.get('working_days')} 个工作日"
                f"（少于 {corr.get('min_working_days')} 个工作日）",
            }
        )
    if isinstance(corr, dict) and int(corr.get("working_days") or 0) > limits.correction_max_working_days:
        out.append(
            {
                "code": "correction_too_long",
                "label": FLAG_LABELS["correction_too_long"],
                "detail": f"补正期限至 {corr.get('respond_by')}，长达 {corr.get('working_days')} 个工作日"
                f"（超过 {limits.correction_max_working_days} 个工作日）",
            }
        )
    consultations = data.get("consultations") or []
    if consultations:
        cal, region = engine().calendar, str(data.get("region") or "national")
        for x in consultations:
            due = x.get("due_before")
            if not due:
                continue
            try:
                left = cal.working_days_between(dt.date.fromisoformat(x["on"]), dt.date.fromisoformat(due[:10]), region)
            except (ValueError, KeyError):  # a day outside the calendar's data: no judgement
                continue
            if left < limits.consultation_late_start_working_days:
                out.append(
                    {
                        "code": "consultation_late_start",
                        "label": FLAG_LABELS["consultation_late_start"],
                        "detail": f"{x['on']} 开始征求意见，距答复期限 {due[:10]} 仅剩 {left} 个工作日"
                        f"（最后 {limits.consultation_late_start_working_days} 个工作日内）",
                    }
                )
        summary = consultation_summary(data, clocks)
        if clocks is not None and summary["paused_working_days"] > limits.consultation_max_paused_working_days:
            out.append(
                {
                    "code": "consultation_paused_long",
                    "label": FLAG_LABELS["consultation_paused_long"],
                    "detail": f"征求意见 {summary['count']} 次，共中止 {summary['paused_working_days']} 个工作日"
                    f"（超过 {limits.consultation_max_paused_working_days} 个工作日）",
                }
            )
    link = data.get("after_withdrawal")
    if isinstance(link, dict):
        out.append(
            {
                "code": "after_withdrawal",
                "label": FLAG_LABELS["after_withdrawal"],
                "detail": f"同一申请人于 {link.get('withdrawn_on')} 撤回申请 {link.get('request_id')}，"
                f"{link.get('working_days')} 个工作日后在本部门重新申请",
            }
        )
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


def _not_in_force(data: dict[str, Any]) -> list[dict[str, str]]:
    """Clocks the item did not get because their rule's source was not yet in force on its start day."""
    out: list[dict[str, str]] = []
    for n in (data or {}).get("rules_not_in_force") or []:
        if isinstance(n, dict):
            out.append(
                {
                    "code": "rule_not_in_force",
                    "label": FLAG_LABELS["rule_not_in_force"],
                    "detail": f"“{n.get('name')}”：{n.get('note') or '该时限规则当时尚未施行'}（自 {n.get('since')} 起施行，"
                    f"本事项起算日 {n.get('on')}），不计该时限",
                }
            )
    return out


def document_flags(data: dict[str, Any] | None) -> list[dict[str, str]]:
    """A document kept from proactive disclosure (with its stated reason), or a normative document recorded as
    needing no interpretation: allowed, counted in the scores, and shown on the item (issue 17 §2)."""
    d = data or {}
    out = []
    if d.get("disclosure") in ("on_request", "withheld"):
        what = "依申请公开" if d["disclosure"] == "on_request" else "不予公开"
        from domain.events import CHOICE_LABELS

        reason = str(d.get("disclosure_reason") or d.get("withheld_reason") or "未说明理由")
        codes = CHOICE_LABELS["outcome"]  # the standard withheld codes, as 表三 names them
        reason = codes.get(reason, codes.get(f"withheld.{reason}", reason))
        out.append({"code": "not_proactive", "label": f"未主动公开（{what}）", "detail": f"理由：{reason}"})
    if d.get("kind") == "normative" and d.get("needs_interpretation") is False and _interpretation_due(d):
        out.append(
            {
                "code": "no_interpretation",
                "label": "规范性文件未解读",
                "detail": "登记为无需解读；国办发〔2016〕80号要求规范性文件与解读同步发布，考评中计数",
            }
        )
    return out


def lag_detail(lag: dict[str, Any]) -> str:
    """A start event recorded past the late-entry bound (not held: holding it would stop the clock)."""
    wd = lag.get("working_days")
    how = (
        f"晚 {wd} 个工作日（{lag.get('calendar_days')} 个自然日）" if wd else f"晚 {lag.get('calendar_days')} 个自然日"
    )
    bound = f"{lag.get('limit')} 个工作日"
    if lag.get("calendar_limit") is not None:
        bound += f"或 {lag.get('calendar_limit')} 个自然日"
    return f"事件日期 {lag.get('on')}，{lag.get('recorded_on')} 才登记（{how}，超过 {bound}）"


def _registration(data: dict[str, Any]) -> list[dict[str, str]]:
    """A start the department registered past the late-entry bound (登记滞后: flagged, not held)."""
    lag = data.get("registration_lag")
    if isinstance(lag, dict):
        return [{"code": "registration_late", "label": FLAG_LABELS["registration_late"], "detail": lag_detail(lag)}]
    return []


def _interpretation_due(d: dict[str, Any]) -> bool:
    """The interpretation duty (the rule's `since`, 国办发〔2016〕80号) was in force when the document was signed."""
    from domain.engine import engine

    rule = engine().rules.get("policy_interpretation")
    since = rule.since if rule is not None else None
    return since is None or str(d.get("signed_on") or "")[:10] >= since.isoformat()


def stacked_delay_flags(data: dict[str, Any], clocks: list[Any] | None) -> list[dict[str, str]]:
    """A 第三十三条 extension and a 第三十五条 later reply date on one request: each is lawful, the due date is
    the later of the two; accepted (the law does not forbid it) but shown, since together they move a reply
    furthest from its statutory date."""
    delayed = data.get("reply_delayed")
    if not isinstance(delayed, dict):
        return []
    for c in clocks or []:
        ext = (_get(c, "explanation") or {}).get("extensions") if _get(c, "rule") == "request_reply" else None
        if ext:
            days = sum(int(e.get("working_days") or 0) for e in ext)
            return [
                {
                    "code": "delay_and_extension",
                    "label": FLAG_LABELS["delay_and_extension"],
                    "detail": f"已延期 {days} 个工作日（条例第三十三条），又按第三十五条延迟答复至 "
                    f"{delayed.get('reply_by')}：两者叠加，请督查核实",
                }
            ]
    return []


def shortened_flags(data: dict[str, Any]) -> list[dict[str, str]]:
    """缩短征求意见期: a minimum window (不少于 N 日) closed on or before its last day with a stated reason
    (domain.transitions keeps it in the item's data)."""
    short = data.get("window_shortened")
    if not isinstance(short, dict):
        return []
    return [
        {
            "code": "window_shortened",
            "label": FLAG_LABELS["window_shortened"],
            "detail": f"{short.get('closed_on')} 结束征求意见，最短期限（{short.get('limit')}）至 {short.get('earliest')}；"
            f"缩短理由：{short.get('reason') or '未说明'}",
        }
    ]


# Which board or score lists an item can be on, as bits of the item's `flags` column (store/items.py writes
# it with every snapshot; migration 0014_item_flags filled it for the rows before it): the board and the scores
# select the few such items from an index instead of scanning every item's data JSON. The conditions are the
# store's former JSON queries (store/requests.py, store/items.py), on the snapshot's data.
MAY_BE_MARK = 1  # a document that can be scored as a mark: withheld, disclosed on request, or normative
# without its interpretation
HAS_FLAG_DATA = 2  # a request whose data can carry a board flag (a correction, a consultation, a relink), or a
# public consultation closed before its minimum
HAS_RECEIPT_DATA = 4  # a request that can carry a receipt or lawful-delay flag (receipt_flags)
FLAG_BITS = (MAY_BE_MARK, HAS_FLAG_DATA, HAS_RECEIPT_DATA)


def flag_bits(item_type: str, data: dict[str, Any] | None) -> int | None:
    """The item's list bits (None when none: the column's index holds only the items with a bit)."""
    data = data or {}
    bits = 0
    if item_type == "document":
        if data.get("disclosure") in ("withheld", "on_request") or (
            data.get("kind") == "normative" and data.get("needs_interpretation") is False
        ):
            bits |= MAY_BE_MARK
    elif item_type == "request":
        if any(data.get(k) is not None for k in ("correction", "consultations", "after_withdrawal")):
            bits |= HAS_FLAG_DATA
        receipt = data.get("receipt")
        basis = receipt.get("basis") if isinstance(receipt, dict) else None
        if any(data.get(k) is not None for k in ("unreachable", "reply_delayed", "fee")) or (
            basis is not None and basis != "received_on"
        ):
            bits |= HAS_RECEIPT_DATA
    elif item_type == "consultation" and data.get("window_shortened") is not None:
        bits |= HAS_FLAG_DATA  # 缩短征求意见期 (shortened_flags)
    return bits or None


def values_with(bit: int) -> list[int]:
    """Every column value holding `bit` (an IN list: the index answers it, no bitwise operator needed)."""
    return [v for v in range(1, 1 << len(FLAG_BITS)) if v & bit]
