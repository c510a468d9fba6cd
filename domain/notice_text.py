"""Words and links shared by notices, digests and pages: dates in Chinese, item links (rule names:
`Engine.rule_name (domain.engine)`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from domain.settings import get_settings


def public_url() -> str:
    return get_settings().public_base


def item_link(item_id: str) -> str:
    return f"{public_url()}/items/{quote(item_id, safe='')}"


def date_text(value: Any) -> str:
    """2025-05-20 -> 2025年5月20日; an ISO datetime keeps its time (hour rules)."""
    if value in (None, ""):
        return ""
    s = str(value)
    try:
        if len(s) <= 10:
            d = date.fromisoformat(s)
            return f"{d.year}年{d.month}月{d.day}日"
        t = datetime.fromisoformat(s)
        return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"
    except ValueError:
        return s
