"""Flags a supervisor should see on an item (pure; read from the item's snapshot data)."""

from __future__ import annotations

from typing import Any

FLAG_LABELS = {"correction_too_short": "补正期限过短", "registration_late": "登记滞后"}


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
    lag = (data or {}).get("registration_lag")
    if isinstance(lag, dict):
        out.append({"code": "registration_late", "label": FLAG_LABELS["registration_late"], "detail": lag_detail(lag)})
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
