"""Pages that act: event forms, the supervisor's 督办, locking a score period, accepting an invite.

Every POST carries the session's CSRF token (`csrf_token`) and writes through the same paths as the
API and the CLI: events through services.ingest.Ingestor as the signed-in person, notices through
activities.notify.deliver (delivery log, channel fallback).
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.web.audit_web import audit
from app.web.deps import SessionDep
from app.web.forms import build_fields, form_types, item_field, to_event
from app.web.pages import (
    _who,
    csrf_ok,
    csrf_refused,
    pre_token,
    read_form,
    redirect_with_flash,
    render,
    render_error,
    with_pre_cookie,
)
from domain.engine import engine
from domain.labels import EVENT_TYPES, URGE_COLOURS
from domain.notice_text import beijing_text
from services import views as rm
from services.access import ApiError, Principal, require_lock
from services.item_page import URGERS, WRITERS

router = APIRouter(include_in_schema=False)


def _new_event_id() -> str:
    # One id per rendered form: submitting the same form twice is a duplicate, not a second event.
    return f"web-{uuid.uuid4().hex[:20]}"


def _departments_for(who: Principal) -> dict[str, str]:
    names = rm.department_names()
    own = who.write_scope
    if own is None:
        return names
    return {own: names.get(own, own)} if own else {}


def _form_page(
    request: Request,
    who: Principal,
    type_: str,
    values: dict[str, str],
    errors: dict[str, str],
    item_id: str | None,
    status: int = 200,
    general: str | None = None,
) -> HTMLResponse:
    fields = build_fields(type_, _departments_for(who))
    snap = None
    if item_id:
        snap = rm.load_item(item_id, who)
    id_field = item_field(type_)
    for f in fields:
        if f.name in values:
            f.value = values[f.name]
        if f.name == id_field and item_id:
            f.value, f.readonly = item_id, True
        if f.name == "department":
            if snap is not None:
                f.value, f.readonly = snap.department, True
            elif who.write_scope is not None:
                f.value = who.write_scope
        f.error = errors.get(f.name)
        if f.name == "duty" and type_ == "duty.formed":  # i21-catalogue: the duties this person may register
            from services.catalogue import duty_choices

            f.kind, f.choices = "select", [("", list(duty_choices(who).items()))]
    known = {f.name for f in fields}
    general = general or "；".join(f"{k}：{v}" for k, v in errors.items() if k not in known) or None
    return render(
        request,
        "event_form.html",
        who,
        status=status,
        type=type_,
        label=EVENT_TYPES.get(type_, type_),
        fields=fields,
        event_id=values.get("event_id") or _new_event_id(),
        item=snap,
        item_id=item_id or "",
        general=general,
    )


@router.get("/events/new", response_class=HTMLResponse)
def new_event(request: Request, type: str = "request.received", item: str | None = None):
    who = _who(request)
    who.require(WRITERS, "登记事件")
    if type not in form_types():
        raise ApiError(404, "unknown_type", f"未知或不可手工登记的事件类型：{type}")
    return _form_page(request, who, type, {}, {}, item)


@router.post("/events/new", response_class=HTMLResponse)
async def post_event(request: Request):
    from services.ingest import ingestor_for
    from services.queries import get_status

    who = _who(request)
    form = await read_form(request)
    if not csrf_ok(request, form, who):
        return csrf_refused(request)
    who.require(WRITERS, "登记事件")
    type_ = form.get("type", "")
    if type_ not in form_types():
        raise ApiError(422, "unknown_type", f"未知或不可手工登记的事件类型：{type_}")
    item_id = form.get("item") or None
    obj = to_event(type_, form)
    if item_id and (f := item_field(type_)):
        obj[f] = item_id
    obj["recorded_by"] = who.actor  # attribution comes from the session, never from the form
    values = {k: v for k, v in form.items() if k not in ("csrf_token",)}

    def refused(errors: dict[str, str], status: int = 422) -> HTMLResponse:
        return _form_page(request, who, type_, {**values, "event_id": _new_event_id()}, errors, item_id, status)

    client = request.app.state.client
    if client is None:
        return refused({"type": "工作流服务未连接，暂不能登记事件"}, 503)
    # The person's role goes with the event (a liaison's late entry waits for review, 补录); the department
    # rule is checked by the ingest path against the item's own department.
    ing = ingestor_for(who, client)
    from services.ingest import Stalled, watched, worker_problem

    problem = await worker_problem(client)  # a dead worker or server is said now, not after a minute
    if problem is not None:
        return refused({"type": f"{problem[1]}，本次未登记；请稍后再提交"}, 503)
    try:
        (res,) = await watched(lambda tick: ing.ingest([(1, obj)], progress=tick), 1)
    except Stalled as exc:
        # The same form (same event id) again: if the event did take effect meanwhile it is a duplicate.
        why = f"{exc}：此事件可能稍后生效；请稍后原样再次提交（已生效的不会重复登记）"
        return _form_page(request, who, type_, values, {"type": why}, item_id, 503)
    label = EVENT_TYPES.get(type_, type_)
    if res.status == "rejected":
        return refused({res.field or "type": res.reason or "被拒绝"}, 403 if res.forbidden else 422)
    target = f"/items/{quote(res.item_id or '', safe='')}"
    if res.status == "held":
        return redirect_with_flash(target, f"“{label}”已收到，{res.reason}（督查批准前不计入期限和得分）。", request)
    if res.status == "duplicate":
        return redirect_with_flash(target, f"该表单已经提交过，“{label}”没有重复登记。", request)
    msg = f"已登记“{label}”。"
    snap = get_status(res.item_id) if res.item_id else None
    if snap is not None:
        rules = engine().rule_names
        dues = [
            f"{rules.get(c.rule, c.rule)} 期限 {beijing_text(c.due)}"
            for c in snap.clocks
            if c.state == "open" and c.due
        ]
        if dues:
            msg += "当前时限：" + "；".join(dues) + "。"
    if res.reason:  # a note of the ingest path (e.g. an entry held for review)
        msg += res.reason
    return redirect_with_flash(target, msg, request)


# ---------------------------------------------------------------------------------- item page extras


# ---------------------------------------------------------------------------------- 督办


@router.post("/items/{item_id}/urge", response_class=HTMLResponse)
async def urge(request: Request, item_id: str):
    from services.urge import UrgeRefused
    from services.urge import urge as urge_item

    who = _who(request)
    form = await read_form(request)
    if not csrf_ok(request, form, who):
        return csrf_refused(request)
    who.require(URGERS, "督办")
    snap = rm.load_item(item_id, who)

    def recorded(urge_id: int) -> None:
        audit(request, who, "urge", object=item_id, department=snap.department, detail={"urge_id": urge_id})

    try:
        done = await urge_item(snap, who, form.get("note", ""), recorded, client=request.app.state.client)
    except UrgeRefused as exc:
        return render_error(request, 422, str(exc))
    ok, bad = done.delivered, done.failed
    colour = URGE_COLOURS.get(done.colour, "") if done.colour else ""
    msg = f"已督办（{done.number}{'，' + colour if colour else ''}）。" if done.number else "已督办。"
    msg += f"已通知：{'、'.join(ok)}。" if ok else ""
    msg += f"暂未送达：{'、'.join(bad)}，将自动重试，仍失败的通知督查（见送达记录）。" if bad else ""
    msg += f"正在发送：{'、'.join(done.pending)}。" if done.pending else ""
    if not done.recipients:
        msg += "该部门没有配置联络员或负责人，未发出通知。"
    return redirect_with_flash(f"/items/{quote(item_id, safe='')}", msg, request)


@router.post("/items/{item_id}/urges/{urge_id}/reply", response_class=HTMLResponse)
async def urge_reply(request: Request, item_id: str, urge_id: int):
    """The department's 办理情况 on a 督办单."""
    from services.urge import UrgeRefused, reply, reply_detail

    who = _who(request)
    form = await read_form(request)
    if not csrf_ok(request, form, who):
        return csrf_refused(request)
    snap = rm.load_item(item_id, who)  # a liaison of another department gets the 403 here
    try:
        v = reply(who, snap.id, urge_id, form.get("reply", ""))
    except UrgeRefused as exc:
        return render_error(request, 422, str(exc))
    audit(request, who, "urge.reply", object=item_id, department=snap.department, detail=reply_detail(v))
    return redirect_with_flash(f"/items/{quote(item_id, safe='')}", f"已反馈{v.number or '督办'}的办理情况。", request)


# ---------------------------------------------------------------------------------- score locks


@router.post("/scores/lock", response_class=HTMLResponse)
async def lock_scores(request: Request):
    from services.locks import LockRefused, lock_for

    who = _who(request)
    form = await read_form(request)
    if not csrf_ok(request, form, who):
        return csrf_refused(request)
    period = rm.parse_period_param(form.get("period") or None)
    department, node = form.get("department") or None, form.get("node") or None
    back = f"/scores?period={period.label}"
    try:
        locked = lock_for(
            who,
            period,
            rm.today(),
            department=department,
            node=node,
            confirm_pending=form.get("confirm_pending") == "1",
        )
    except LockRefused as exc:
        if exc.code == "pending_review":  # a confirmation step naming the entries still waiting for review
            return render(
                request,
                "lock_confirm.html",
                who,
                what=period.title,
                pending=exc.pending,
                action="/scores/lock",
                fields={
                    "period": period.label,
                    **({"department": department} if department else {}),
                    **({"node": node} if node else {}),
                },
                back="/#review",
            )
        if exc.code == "already_locked":
            audit(request, who, "scores.lock", object=period.label, outcome="failure", detail={"reason": str(exc)})
            return redirect_with_flash(back, f"未锁定：{exc}", request)
        return redirect_with_flash(back, f"未锁定：{exc}。", request)
    units = [r.department for r in locked if r.department]
    audit(
        request,
        who,
        "scores.lock",
        object=period.label,
        department=department,
        detail={"departments": len(units) or sum(len(r.summary) for r in locked), **({"node": node} if node else {})},
    )
    what = f"（{len(units)} 个部门，逐个锁定）" if units and not department else ""
    return redirect_with_flash(back, f"已锁定 {period.label} 的考评得分{what}，此后的变动将作为更正列出。", request)


@router.post("/scores/annual-lock", response_class=HTMLResponse)
async def lock_annual_report_page(request: Request):
    """The assessor's lock of an annual report (a published one is locked when its publication is recorded)."""
    from services.annual import AnnualReportError, YearNotEnded, lock_annual_report
    from services.locks import LockRefused

    who = _who(request)
    form = await read_form(request)
    if not csrf_ok(request, form, who):
        return csrf_refused(request)
    if not who.may_lock:
        who.require(("assessor", "admin"), "锁定年度报告")
    try:
        year = int(str(form.get("year") or ""))
    except ValueError:
        year = 0
    if not 2008 <= year <= 2100:
        return redirect_with_flash("/scores", "未锁定：年度应为 2008–2100 之间的整数。", request)
    department = str(form.get("department") or "") or None
    government = form.get("government") == "true"
    rm.check_department(department)
    require_lock(who, department, "年度报告")
    back = "/scores" + (f"?department={quote(department, safe='')}" if department else "")
    scope = "政府" if government else (department or "全部")
    from services.rollup import node_scope

    node = node_scope(who, form.get("node") or None, "锁定政府年度报告") if government and not department else None
    try:
        lock_annual_report(
            year,
            department,
            government,
            locked_by=who.actor,
            confirm_pending=form.get("confirm_pending") == "1",
            node=node,
        )
    except YearNotEnded:
        return redirect_with_flash(back, f"未锁定：{year}年度尚未结束。", request)
    except LockRefused as exc:  # pending reviews: the confirmation step names them
        fields = {"year": str(year)} | ({"department": department} if department else {})
        if government:
            fields["government"] = "true"
            fields |= {"node": node} if node else {}
        return render(
            request,
            "lock_confirm.html",
            who,
            what=f"{year}年度报告（{scope}）",
            pending=exc.pending,
            action="/scores/annual-lock",
            fields=fields,
            back="/#review",
        )
    except AnnualReportError as exc:
        audit(request, who, "annual.lock", object=str(year), outcome="failure", detail={"reason": str(exc)})
        return redirect_with_flash(back, f"未锁定：{exc}", request)
    audit(request, who, "annual.lock", object=str(year), department=department, detail={"scope": scope})
    return redirect_with_flash(
        back, f"已锁定{year}年度报告（{scope}）的表二至表四，此后的变化列入报告的更正说明。", request
    )


# ---------------------------------------------------------------------------------- invites


@router.get("/invite/{token}", response_class=HTMLResponse)
def invite_form(request: Request, s: SessionDep, token: str):
    from store.accounts import open_invite

    inv = open_invite(s, token)
    if inv is None:
        return render_error(request, 410, "设置密码的链接无效、已使用或已过期（24 小时内有效），请联系管理员重新发送。")
    resp = render(
        request, "invite.html", None, person=inv.person, csrf_token=pre_token(request), error=None, token=token
    )
    return with_pre_cookie(request, resp)


@router.post("/invite/{token}", response_class=HTMLResponse)
async def invite_accept(request: Request, s: SessionDep, token: str):
    from store.accounts import PasswordError, open_invite, use_invite

    form = await read_form(request)
    if not csrf_ok(request, form, None):
        return csrf_refused(request)
    password, again = form.get("password", ""), form.get("password2", "")
    inv = open_invite(s, token)
    if inv is None:
        return render_error(request, 410, "设置密码的链接无效、已使用或已过期，请联系管理员重新发送。")
    error = "两次输入的密码不一致" if password != again else None
    if error is None:
        try:
            use_invite(s, token, password)
        except PasswordError as exc:
            error = str(exc)
    if error:
        return render(
            request,
            "invite.html",
            None,
            status=422,
            person=inv.person,
            csrf_token=pre_token(request),
            error=error,
            token=token,
        )
    person = inv.person
    audit(request, None, "account.password_set", person=person, object=person, detail={"via": "邀请链接"})
    return redirect_with_flash("/login?next=/", f"密码已设置，请用人员编号 {person} 和新密码登录。", request)
