"""`limit` / `cursor` paging of API lists.

The cursor is opaque to clients (base64url JSON): for keyset pages it holds the last key seen, for lists
computed in memory (overdue) an offset. A page answers `next_cursor` (null on the last page)."""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import Query

from services.access import ApiError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class Page:
    def __init__(self, limit: int, cursor: dict[str, Any]) -> None:
        self.limit = limit
        self.cursor = cursor

    def key(self, name: str):
        return self.cursor.get(name)


def encode_cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if isinstance(data, dict):
            return data
    except (ValueError, TypeError):
        pass
    raise ApiError(
        422, "invalid_parameter", f"参数 cursor=“{text}” 无效：请使用上一页返回的 next_cursor", field="cursor"
    )


def page_params(
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"每页条数（1–{MAX_LIMIT}）"),
    cursor: str | None = Query(None, description="上一页返回的 next_cursor"),
) -> Page:
    return Page(limit, decode_cursor(cursor))


def slice_offset(rows: list, page: Page) -> tuple[list, str | None]:
    """A page of an in-memory list (stable order) by offset."""
    start = page.key("o") or 0
    if not isinstance(start, int) or start < 0:
        raise ApiError(422, "invalid_parameter", "参数 cursor 无效：请使用上一页返回的 next_cursor", field="cursor")
    chunk = rows[start : start + page.limit]
    nxt = encode_cursor({"o": start + page.limit}) if start + page.limit < len(rows) else None
    return chunk, nxt
