"""站内消息 pages: /inbox (the signed-in person's messages, unread first, paged, and their 待办 list),
/inbox/{id} (opening a message marks it 已读; `?go=1` follows its link), POST /inbox/read-all.

Only one's own messages (services.inbox.person_of): another person's message id reads as missing (404)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.web.pages import _who, csrf_ok, csrf_refused, read_form, redirect_with_flash, render, render_error
from services import inbox
from services.access import ApiError
from services.todo import todo

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20


def _person(request: Request) -> str:
    try:
        return inbox.person_of(_who(request))
    except inbox.NoPerson as exc:
        raise ApiError(403, "no_person", str(exc)) from None


@router.get("/inbox", response_class=HTMLResponse)
def inbox_page(request: Request, offset: int = Query(0, ge=0)):
    who = _who(request)
    person = _person(request)
    page = inbox.messages(person, offset=offset, limit=PAGE_SIZE)
    return render(
        request,
        "inbox.html",
        who,
        page=page,
        todo=todo(who),
        prev_offset=max(0, offset - PAGE_SIZE) if offset else None,
        next_offset=offset + PAGE_SIZE if offset + PAGE_SIZE < page["total"] else None,
    )


@router.get("/inbox/{message_id}", response_class=HTMLResponse)
def inbox_message(request: Request, message_id: int, go: int = 0):
    who = _who(request)
    m = inbox.open_message(_person(request), message_id)
    if m is None:
        return render_error(request, 404, "没有这条站内消息（或它不是您的）")
    if go and m["link"]:
        return RedirectResponse(m["link"], status_code=303)
    return render(request, "inbox.html", who, message=m)


@router.post("/inbox/read-all")
async def inbox_read_all(request: Request):
    who = _who(request)
    form = await read_form(request)
    if not csrf_ok(request, form, who):
        return csrf_refused(request)
    n = inbox.mark_read(_person(request))
    return redirect_with_flash("/inbox", f"已将 {n} 条消息标为已读" if n else "没有未读消息", request)
