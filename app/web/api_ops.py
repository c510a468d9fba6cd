"""Operations API: the notification delivery log, paged (`limit`, `cursor`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from app.web.auth import api_principal
from app.web.deps import SessionDep
from app.web.paging import Page, encode_cursor, page_params
from services.access import Principal
from services.schemas import API_ERRORS, DeliveryList
from store.deliveries import STATES

router = APIRouter(prefix="/api", responses=API_ERRORS)


def _iso(v) -> str | None:
    return v.isoformat() if v is not None else None


@router.get("/deliveries", summary="通知送达记录（新的在前，分页）", tags=["通知"], response_model=DeliveryList)
def get_deliveries(
    s: SessionDep,
    status: str | None = Query(None, description="intent / sent / failed", json_schema_extra={"enum": list(STATES)}),
    item: str | None = Query(None, description="只看某一事项"),
    page: Page = Depends(page_params),
    who: Principal = Depends(api_principal),
) -> dict[str, Any]:
    from services.deliveries import delivery_page

    before = page.key("id")
    rows = delivery_page(
        who,
        s,
        status=status,
        item_id=item,
        before_id=before if isinstance(before, int) else None,
        limit=page.limit + 1,
    )
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    out = [
        {
            "id": d.id,
            "item_id": d.item_id,
            "rule": d.rule,
            "step": d.step,
            "person": d.person,
            "state": d.state,
            "channel_used": d.channel_used,
            "error": d.error,
            "created_at": _iso(d.created_at),
            "sent_at": _iso(d.sent_at),
        }
        for d in rows
    ]
    return {"deliveries": out, "next_cursor": encode_cursor({"id": out[-1]["id"]}) if more else None}
