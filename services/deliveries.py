"""The notification delivery log as `shixian deliveries` shows it: each delivery with its channel attempts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.shanghai import SHANGHAI


def _iso(value: datetime | None) -> str | None:
    """Stored UTC (SQLite returns it naive) -> ISO with +08:00."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


def delivery_log(status: str | None = None, item_id: str | None = None) -> list[dict[str, Any]]:
    """Deliveries (of `status`, of `item_id`) as plain dicts, times in Beijing time, attempts included."""
    from store import deliveries as store
    from store.db import session

    with session() as s:
        return [
            {
                "key": d.key,
                "item_id": d.item_id,
                "rule": d.rule,
                "step": d.step,
                "person": d.person,
                "state": d.state,
                "channel_used": d.channel_used,
                "error": d.error,
                "created_at": _iso(d.created_at),
                "sent_at": _iso(d.sent_at),
                "attempts": [
                    {
                        "channel": a.channel,
                        "channel_index": a.channel_index,
                        "attempt": a.attempt,
                        "status": a.status,
                        "error": a.error,
                        "at": _iso(a.at),
                    }
                    for a in store.attempts_for(s, d.key)
                ],
            }
            for d in store.list_deliveries(status, session=s, item_id=item_id)
        ]
