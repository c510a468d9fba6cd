"""Words and links shared by notices, digests and pages: dates in Chinese, item links (rule names:
`Engine.rule_name (domain.engine)`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from domain.settings import get_settings
from domain.shanghai import SHANGHAI_OFFSET


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
        return _chinese(t.astimezone(SHANGHAI_OFFSET) if t.tzinfo else t)
    except ValueError:
        return s


def _chinese(t: datetime, seconds: bool = False) -> str:
    return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M:%S}" if seconds else f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"


def beijing_text(value: Any, seconds: bool = False) -> str:
    """Any moment as a Chinese office writes it, in Beijing time: 2026年12月2日 15:30; a date: 2026年12月2日.

    The one formatter of times people read (pages: the `when` filter; notices; exports; the CLI). A naive
    datetime or ISO string is UTC (the store's convention: SQLite gives timestamps back without a zone)."""
    if value in (None, ""):
        return ""
    if isinstance(value, datetime):
        t = value
    elif isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    else:
        s = str(value).strip()
        if len(s) <= 10:
            return date_text(s)
        try:
            t = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            return s
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return _chinese(t.astimezone(SHANGHAI_OFFSET), seconds)
