"""Flags a supervisor should see on an item (pure; read from the item's snapshot data)."""

from __future__ import annotations

from typing import Any

FLAG_LABELS = {"correction_too_short": "补正期限过短", "rule_not_in_force": "时限规则尚未施行"}


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
