"""Flags a supervisor should see on an item (pure; read from the item's snapshot data)."""

from __future__ import annotations

from typing import Any

FLAG_LABELS = {"correction_too_short": "补正期限过短", "rule_not_in_force": "时限规则尚未施行"}


def item_flags(data: dict[str, Any] | None) -> list[dict[str, str]]:
    """[{code, label, detail}] — e.g. a correction period shorter than `[correction] min_working_days`
    (accepted: the agency sets the 合理期限; shown so that the supervisor can judge it)."""
    out = document_flags(data)
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
    if d.get("kind") == "normative" and d.get("needs_interpretation") is False:
        out.append(
            {
                "code": "no_interpretation",
                "label": "规范性文件未解读",
                "detail": "登记为无需解读；国办发〔2016〕80号要求规范性文件与解读同步发布，考评中计数",
            }
        )
    return out
