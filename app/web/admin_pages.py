"""The admin page (管理员 only): departments, people, roles and channels as office forms, invites and password
resets, a test message per person, the history of changes and the export to departments.toml.

Adapters only: services.directory validates and stores, services.accounts invites; nothing here touches the
store. A one-time link is shown on the page only when no personal channel received it, and never logged."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.web.audit_web import audit
from app.web.pages import _who, csrf_ok, csrf_refused, read_form, redirect_with_flash, render, templates
from domain import passwords
from services import directory as svc
from services.access import Principal

router = APIRouter(include_in_schema=False)
templates.env.globals["password_rules"] = passwords.RULES
templates.env.globals["password_basis"] = passwords.BASIS
ADMIN = ("admin",)
STATES = {"password": "已设置密码", "none": "未设置密码", "disabled": "已停用"}


def _admin(request: Request) -> Principal:
    who = _who(request)
    who.require(ADMIN, "管理人员名录")
    return who


def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


@router.get("/admin", response_class=HTMLResponse)
@router.get("/admin/directory", response_class=HTMLResponse)
def directory_page(request: Request):
    who = _admin(request)
    view = svc.overview(limit=who.node)
    history = svc.history_rows(100, scope=who.node)
    return render(request, "admin.html", who, view=view, history=history, states=STATES)


@router.get("/admin/directory/export")
def directory_export(request: Request):
    who = _admin(request)
    text = svc.export_toml(limit=who.node)
    audit(request, who, "directory.export", object="departments.toml")
    return Response(
        text.encode("utf-8"),
        media_type="application/toml; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="departments.toml"', "Cache-Control": "no-store"},
    )


# ---------------------------------------------------------------------------------- departments
def _department_form(request: Request, who: Principal, d: dict[str, Any], new: bool, errors=None, status=200):
    return render(
        request,
        "admin_department.html",
        who,
        status=status,
        d=d,
        new=new,
        errors=errors or {},
        c=svc.choices(who.node),
        history=svc.history_rows(200, scope=who.node, object=d["id"]) if not new and d.get("id") else [],
    )


@router.get("/admin/departments/new", response_class=HTMLResponse)
def department_new(request: Request):
    return _department_form(request, _admin(request), {}, True)


@router.get("/admin/departments/{dept}", response_class=HTMLResponse)
def department_edit(request: Request, dept: str):
    who = _admin(request)
    return _department_form(request, who, svc.require_department(dept, who.node), False)


async def _save_department(request: Request, dept: str | None):
    who = _admin(request)
    form = await read_form(request)
    if not csrf_ok(request, form, who):
        return csrf_refused(request)
    if dept is not None:
        svc.require_department(dept, who.node)
        form["id"] = dept
    try:
        did = svc.save_department(form, who.actor, new=dept is None, limit=who.node)
    except svc.FormError as exc:
        return _department_form(request, who, form, dept is None, exc.errors, 422)
    audit(request, who, "directory.change", object=did, department=did, detail={"change": svc.version()})
    name = (svc.department_entry(did) or {}).get("name", did)
    return redirect_with_flash("/admin/directory", f"已保存部门“{name}”。", request)


@router.post("/admin/departments")
async def department_create(request: Request):
    return await _save_department(request, None)


@router.post("/admin/departments/{dept}")
async def department_update(request: Request, dept: str):
    return await _save_department(request, dept)


# ---------------------------------------------------------------------------------- people
def _person_form(request: Request, who: Principal, p: dict[str, Any], new: bool, errors=None, status=200, **extra):
    from services.accounts import account_states

    pid = p.get("id") or ""
    return _no_store(
        render(
            request,
            "admin_person.html",
            who,
            status=status,
            p=p,
            new=new,
            errors=errors or {},
            c=svc.choices(who.node),
            rows=svc.channel_rows(pid) if not new else [],
            state=STATES[account_states([pid])[pid]] if not new else "",
            history=svc.history_rows(200, scope=who.node, object=pid) if not new and pid else [],
            **extra,
        )
    )


@router.get("/admin/people/new", response_class=HTMLResponse)
def person_new(request: Request, department: str = ""):
    return _person_form(request, _admin(request), {"department": department, "roles": ["liaison"]}, True)


@router.get("/admin/people/{person_id}", response_class=HTMLResponse)
def person_edit(request: Request, person_id: str):
    who = _admin(request)
    return _person_form(request, who, svc.require_person(person_id, who.node), False)


async def _save_person(request: Request, person_id: str | None):
    who = _admin(request)
    form = await read_form(request)
    if not csrf_ok(request, form, who):
        return csrf_refused(request)
    if person_id is not None:
        svc.require_person(person_id, who.node)
        form["id"] = person_id
    try:
        pid = svc.save_person(form, who.actor, new=person_id is None, limit=who.node)
    except svc.FormError as exc:
        shown: dict[str, Any] = {k: v for k, v in form.items() if not k.startswith("ch_")}  # no secret sent back
        shown["roles"] = [r for r in svc.ROLES if form.get(f"role_{r}")]
        if person_id is not None:
            shown["notify"] = (svc.person_entry(person_id) or {}).get("notify", [])
        return _person_form(request, who, shown, person_id is None, exc.errors, 422)
    p = svc.person_entry(pid) or {}
    audit(request, who, "directory.change", object=pid, department=p.get("department") or None)
    return redirect_with_flash(f"/admin/people/{quote(pid, safe='')}", f"已保存人员“{p.get('name', pid)}”。", request)


@router.post("/admin/people")
async def person_create(request: Request):
    return await _save_person(request, None)


@router.post("/admin/people/{person_id}")
async def person_update(request: Request, person_id: str):
    return await _save_person(request, person_id)


@router.post("/admin/people/{person_id}/invite", response_class=HTMLResponse)
async def person_invite(request: Request, person_id: str):
    """A one-time link to set (or reset) the password: inbox + personal channels; shown here only if no
    personal channel received it."""
    from services.accounts import invite

    who = _admin(request)
    form = await read_form(request)
    if not csrf_ok(request, form, who):
        return csrf_refused(request)
    p = svc.require_person(person_id, who.node)
    out = await invite(person_id, by=who.actor)
    audit(
        request,
        who,
        "account.invite",
        object=person_id,
        department=p.get("department") or None,
        outcome="success",
        detail={"via": "站内消息、个人渠道" if out.delivered else "站内消息、管理员转交"},
    )
    if out.delivered:
        note = f"设置密码链接已发到“{p['name']}”的站内消息和个人渠道（{out.result.channel}），24 小时内有效。"
        return redirect_with_flash(f"/admin/people/{quote(person_id, safe='')}", note, request)
    return _person_form(request, who, p, False, invite_link=out.link)


@router.post("/admin/people/{person_id}/test", response_class=HTMLResponse)
async def person_test(request: Request, person_id: str):
    """发送测试消息: the `test` notice on each channel of the person, the outcome per channel."""
    from activities.notify import send_test
    from domain.engine import engine

    who = _admin(request)
    form = await read_form(request)
    if not csrf_ok(request, form, who):
        return csrf_refused(request)
    p = svc.require_person(person_id, who.node)
    directory = engine().directory
    results = await send_test(person_id, directory) if person_id in directory.people else []
    rows = svc.channel_rows(person_id)
    outcome = [
        {
            "n": r.index + 1,
            "kind": rows[r.index]["kind"] if r.index < len(rows) else "",
            "channel": r.channel,
            "ok": r.ok,
            "text": "发送成功" if r.ok else f"发送失败：{r.error or '原因不明'}",
        }
        for r in results
    ]
    audit(
        request,
        who,
        "notify.test",
        object=person_id,
        outcome="success" if outcome and all(o["ok"] for o in outcome) else "failure",
    )
    return _person_form(request, who, p, False, test_results=outcome, tested=True)


@router.post("/admin/people/{person_id}/disable")
async def person_disable(request: Request, person_id: str):
    from services.accounts import disable

    who = _admin(request)
    form = await read_form(request)
    if not csrf_ok(request, form, who):
        return csrf_refused(request)
    p = svc.require_person(person_id, who.node)
    if person_id == who.person:
        return redirect_with_flash(f"/admin/people/{quote(person_id, safe='')}", "不能停用自己的账号。", request)
    disable(person_id)
    audit(request, who, "account.disable", object=person_id, department=p.get("department") or None)
    return redirect_with_flash(
        f"/admin/people/{quote(person_id, safe='')}",
        f"已停用“{p['name']}”的登录：密码已删除，会话已结束，接口令牌已吊销。重新启用请发送设置密码链接。",
        request,
    )
