"""Server-rendered pages (Jinja2, autoescaped, Chinese). Forms that write are in app.web.pages_actions.

Access (app.web.auth.page_principal): the session cookie set by /login (person + password), or anonymous
read-only access with SHIXIAN_WEB_ANONYMOUS=read. Liaisons see their own department only.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from app.web.audit_web import audit, sign_in_failed
from app.web.auth import COOKIE, page_principal
from app.web.deps import SessionDep
from domain import labels
from domain.engine import engine
from domain.events import CHOICE_LABELS
from domain.notice_text import beijing_text
from domain.scoring import MARK_DEFAULTS
from domain.shanghai import SHANGHAI_OFFSET
from services import inbox
from services import views as rm
from services.access import (
    ApiError,
    Departments,
    Principal,
    landing_path,
    node_choices,
    node_label,
    principal_for_person,
    read_scope,
    visible_departments,
)
from services.review import REVIEWERS
from services.schemas import ItemDetail
from services.scores import period_scores

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.autoescape = True


templates.env.filters["step"] = labels.step_label
templates.env.filters["label"] = labels.label_of
templates.env.filters["type_label"] = lambda t: labels.label(labels.ITEM_TYPES, t)
templates.env.filters["clock_state"] = lambda s: labels.label(labels.CLOCK_STATES, s)
templates.env.filters["item_state"] = lambda s: labels.label(labels.ITEM_STATES, s)
templates.env.filters["late_status"] = lambda s: labels.label(labels.LATE_ENTRY_STATUSES, s)
templates.env.filters["event_label"] = lambda t: labels.label(labels.EVENT_TYPES, t)
templates.env.filters["recorder"] = lambda r: labels.label(labels.RECORDERS, r)
templates.env.filters["shanghai"] = beijing_text
# Beijing time as an office writes it (2026年12月2日 15:30); dates 2026年12月2日.
templates.env.filters["when"] = beijing_text
# An enumerated field's value (an outcome, a channel...) by its Chinese name (domain.events.CHOICE_LABELS).
templates.env.filters["choice"] = lambda v, field: labels.label(CHOICE_LABELS.get(field, {}), v)
templates.env.filters["pct"] = lambda x: "—" if x is None else f"{x * 100:.1f}%"
# A stored address is a link only if it is http(s): rows written before the check may hold javascript: URLs.
templates.env.filters["web_link"] = lambda u: (
    isinstance(u, str) and u.strip().lower().startswith(("http://", "https://"))
)
templates.env.globals["inbox_unread"] = inbox.header_unread  # the header's 站内消息 badge
templates.env.filters["num"] = lambda x: "—" if x is None else (f"{x:g}" if isinstance(x, float) else str(x))


def _who(request: Request) -> Principal:
    p = page_principal(request)
    if p is None:
        raise ApiError(401, "unauthorized", "请先登录")
    return p


def render(request: Request, template: str, who: Principal | None, status: int = 200, **ctx: Any) -> HTMLResponse:
    flash = request.cookies.get(FLASH_COOKIE)
    base = {
        "request": request,
        "who": who,
        "role_labels": labels.ROLES,
        "depts": rm.department_names(),
        "regions": labels.region_names(engine().calendar),
        "today": rm.today().isoformat(),
        "csrf": who.csrf if who else None,
        "flash": unquote(flash) if flash else None,
    }
    resp = templates.TemplateResponse(request, template, {**base, **ctx}, status_code=status)
    if flash:
        resp.delete_cookie(FLASH_COOKIE)  # shown once
    return resp


FLASH_COOKIE = "shixian_flash"


def redirect_with_flash(url: str, message: str, request: Request) -> RedirectResponse:
    resp = RedirectResponse(url, status_code=303)
    resp.set_cookie(
        FLASH_COOKIE, quote(message), httponly=True, samesite="lax", secure=secure_cookie(request), max_age=120
    )
    return resp


def render_error(request: Request, status: int, detail: str) -> HTMLResponse:
    return render(request, "error.html", page_principal(request), status=status, status_code=status, detail=detail)


# ---------------------------------------------------------------------------------- login

PRE_COOKIE = "shixian_presession"  # CSRF token of forms shown before sign-in (double-submit)


def public_https() -> bool:
    from domain.settings import get_settings

    return get_settings().public_base.lower().startswith("https://")


def secure_cookie(request: Request) -> bool:
    return public_https() or request.url.scheme == "https"


def pre_token(request: Request) -> str:
    """The pre-session CSRF token (kept in its own cookie); created on first use."""
    import secrets

    tok = request.cookies.get(PRE_COOKIE) or getattr(request.state, "new_pre", None)
    if not tok:
        tok = request.state.new_pre = secrets.token_urlsafe(32)
    return tok


def with_pre_cookie(request: Request, resp):
    new = getattr(request.state, "new_pre", None)
    if new:
        resp.set_cookie(PRE_COOKIE, new, httponly=True, samesite="strict", secure=secure_cookie(request))
    return resp


def csrf_ok(request: Request, form: dict[str, str], who: Principal | None) -> bool:
    """A form post carries the session's token (signed in) or the pre-session cookie's (sign-in forms)."""
    import hmac

    if who is not None and who.token_id and request.headers.get("authorization"):
        return True  # a machine's bearer token is not sent by browsers on their own: no cross-site forgery
    sent = form.get("csrf_token", "")
    want = who.csrf if who is not None and who.csrf else request.cookies.get(PRE_COOKIE, "")
    return bool(sent) and bool(want) and hmac.compare_digest(sent, want)


def csrf_refused(request: Request) -> HTMLResponse:
    return render_error(request, 403, "表单已过期或来源不明（CSRF 校验失败），未作任何改动。请刷新页面后重新提交。")


async def read_form(request: Request) -> dict[str, str]:
    form = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in form.items()}


def client_address(request: Request) -> str:
    # X-Forwarded-For is applied by uvicorn only from SHIXIAN_TRUSTED_PROXIES (app.web.server.uvicorn_config).
    return request.client.host if request.client else "-"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    resp = render(
        request,
        "login.html",
        page_principal(request),
        next=_safe_next(next),
        error=None,
        person="",
        csrf_token=pre_token(request),
        oidc=oidc_button(),
    )
    return with_pre_cookie(request, resp)


def oidc_button() -> str | None:
    """The label of the identity provider's sign-in button, when one is configured (services.oidc)."""
    from services import oidc

    return f"使用{oidc.provider_name()}登录" if oidc.enabled() else None


def app_paths(request: Request) -> set[str]:
    """The landing paths this app serves (a landing page is offered only where a route exists). Asked by
    matching, not by listing `app.routes`: FastAPI >= 0.165 keeps an included router as one entry there."""
    from starlette.routing import Match

    from services.access import LANDING_PATHS

    def served(path: str) -> bool:
        scope = {"type": "http", "path": path, "method": "GET", "root_path": "", "headers": []}
        return any(r.matches(scope)[0] == Match.FULL for r in request.app.router.routes)

    return {p for p in LANDING_PATHS if served(p)}


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, s: SessionDep):
    from store import accounts

    form = await read_form(request)
    person = form.get("person", "").strip()
    password = form.get("password", "")
    nxt = _safe_next(form.get("next") or "/")
    if not csrf_ok(request, form, None):
        return csrf_refused(request)

    def again(status: int, error: str, headers: dict | None = None) -> HTMLResponse:
        resp = render(
            request,
            "login.html",
            None,
            status=status,
            next=nxt,
            error=error,
            person=person,
            csrf_token=pre_token(request),
            oidc=oidc_button(),
        )
        if headers:
            resp.headers.update(headers)
        return resp

    client = client_address(request)
    now = accounts.utcnow()
    locked = accounts.address_locked_until(s, client, now)
    delayed = accounts.person_delay_until(s, person[:100], now)
    if locked is not None or delayed is not None:  # refused unchecked, but the person will hear of it
        accounts.note_sign_in(s, person[:100], client, False)
    if locked is not None:
        local = locked.astimezone(SHANGHAI_OFFSET)
        wait = max(1, int((locked - now).total_seconds()))
        sign_in_failed(request, person, "此地址登录失败次数过多，已暂停")
        return again(
            429,
            f"此地址登录失败次数过多（15 分钟内 {accounts.THROTTLE_FAILURES} 次），"
            f"请于 {local:%H:%M}（北京时间，约 {(wait + 59) // 60} 分钟后）再试。",
            {"Retry-After": str(wait)},
        )
    if delayed is not None:  # a delay, not a lock: nobody can lock a person out by guessing
        wait = max(1, int((delayed - now).total_seconds() + 0.999))
        sign_in_failed(request, person, "该人员编号最近多次登录失败，须稍后再试")
        return again(429, f"该人员编号最近多次登录失败，请 {wait} 秒后再试。", {"Retry-After": str(wait)})
    ok = bool(person) and bool(password) and accounts.verify_password(s, person, password)
    p = principal_for_person(person) if ok else None
    accounts.record_attempt(s, person[:100], client, ok and p is not None)
    last_at, last_from, failed = accounts.note_sign_in(s, person[:100], client, ok and p is not None)
    if p is None:
        sign_in_failed(request, person, "人员编号或密码不正确")
        return again(401, "人员编号或密码不正确。")
    sid, _ = accounts.start_session(s, person)
    audit(request, p, "auth.sign_in", object=p.person, department=p.department)
    if nxt == "/":
        nxt = landing_path(p, app_paths(request))
    if last_at is None:
        seen = "这是此账号第一次登录。"
    else:
        seen = f"上次登录：{beijing_text(last_at)}（北京时间），地址 {last_from or '-'}。"
    seen += f"此后有 {failed} 次失败的登录尝试，如非本人所为请联系管理员。" if failed else "此后没有失败的登录尝试。"
    resp = redirect_with_flash(nxt, seen, request)
    resp.set_cookie(COOKIE, sid, httponly=True, samesite="lax", secure=secure_cookie(request))
    resp.delete_cookie(PRE_COOKIE)
    return resp


@router.post("/logout")
async def logout(request: Request, s: SessionDep):
    from store.accounts import end_session

    form = await read_form(request)
    who = page_principal(request)
    if who is not None and who.csrf and not csrf_ok(request, form, who):
        return csrf_refused(request)
    end_session(s, request.cookies.get(COOKIE, ""))
    if who is not None and who.person:
        audit(request, who, "auth.sign_out", object=who.person)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE)
    return resp


def _safe_next(nxt: str) -> str:
    """Only a path on this site: browsers read "/\\host" and "//host" as another host."""
    if not nxt.startswith("/") or nxt.startswith("//") or "\\" in nxt or any(ord(ch) < 32 for ch in nxt):
        return "/"
    return nxt


# ---------------------------------------------------------------------------------- pages


@router.get("/", response_class=HTMLResponse)
def board(
    request: Request,
    sort: str = "overdue",
    as_of: str | None = None,
    department: str | None = None,
    upload: str | None = None,
    node: str | None = None,
    all: bool = False,
):
    who = _who(request)
    if who.role == "liaison" and not department:
        return RedirectResponse("/liaison", status_code=303)
    sc = read_scope(who, department=department, node=node, what="查看督办看板", roles=("supervisor", "admin", "local"))
    day = rm.parse_day(as_of)
    view = rm.board_view(
        day, sc.filter, sort, with_held=who.role in ("supervisor", "admin", "local"), upload=upload, node=sc.node
    )
    from services.urge import urge_list

    urges = urge_list(who, sc.department, limit=30, node=node)
    return render(
        request,
        "board.html",
        who,
        **view,
        may_review=who.role in REVIEWERS,
        urges=urges,
        node_name=node_label(node) if node else "",
        # a province's board lists thousands of overdue clocks: the first BOARD_ROWS in the chosen order, the
        # roll-up above and ?all=1 for every row (the API's /api/overdue has them all too)
        row_limit=None if all else BOARD_ROWS,
    )


# ---------------------------------------------------------------------------------- review forms
# A supervisor's decision on a late entry (补录), with the session's CSRF token like every page form.


async def _review_form(request: Request, event_id: str, approve: bool):
    from services.review import ReviewError, decide, review_action, review_audit

    who = _who(request)
    form = await read_form(request)
    if not csrf_ok(request, form, who):
        return csrf_refused(request)
    who.require(REVIEWERS, "审核补录")
    client = request.app.state.client
    if client is None:
        raise ApiError(503, "temporal_unavailable", "工作流服务未连接，暂不能审核补录")
    try:
        e = await decide(client, event_id, approve=approve, by=who.actor, reason=form.get("reason", ""), who=who)
    except ReviewError as exc:
        audit(request, who, review_action(approve), object=event_id, outcome="failure", detail={"reason": exc.reason})
        raise ApiError(exc.status, "review_refused", exc.reason) from None
    audit(request, who, review_action(approve), **review_audit(e))
    done = "已批准补录" if e["status"] == "approved" else "已驳回补录"
    what = labels.label(labels.EVENT_TYPES, e.get("type"))
    return redirect_with_flash("/#review", f"{done}：{what}（{e['item_id']}）", request)


@router.post("/review/bulk")
async def review_bulk_form(request: Request):
    """The board's 批准所选 / 驳回所选 (checked entries) and 全部批准 / 全部驳回 (one upload), one reason."""
    from services.review import ReviewError, decide_many, review_action, review_audit, upload_entry_ids

    who = _who(request)
    form = await read_form(request)
    if not csrf_ok(request, form, who):
        return csrf_refused(request)
    who.require(REVIEWERS, "审核补录")
    client = request.app.state.client
    if client is None:
        raise ApiError(503, "temporal_unavailable", "工作流服务未连接，暂不能审核补录")
    approve = form.get("decision") == "approve"
    lists = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    ids = [i for i in lists.get("event_id", []) if i]
    if form.get("upload"):
        ids += upload_entry_ids(form["upload"], who=who)
    if not ids:
        return redirect_with_flash("/#review", "请先勾选要审核的补录", request)
    try:
        results = await decide_many(client, ids, approve=approve, by=who.actor, reason=form.get("reason", ""), who=who)
    except ReviewError as exc:
        raise ApiError(exc.status, "review_refused", exc.reason) from None
    failed = []
    for r in results:
        if r["ok"]:
            audit(request, who, review_action(approve), **review_audit(r["entry"]))
        else:
            failed.append(f"{r['event_id']}：{r['error']}")
            audit(
                request,
                who,
                review_action(approve),
                object=r["event_id"],
                outcome="failure",
                detail={"reason": r["error"]},
            )
    done = "批准" if approve else "驳回"
    text = f"已{done} {len(results) - len(failed)} 条补录" + (
        f"；{len(failed)} 条未能{done}：" + "；".join(failed) if failed else ""
    )
    return redirect_with_flash("/#review", text, request)


@router.post("/review/{event_id}/approve")
async def review_approve_form(request: Request, event_id: str):
    return await _review_form(request, event_id, True)


@router.post("/review/{event_id}/reject")
async def review_reject_form(request: Request, event_id: str):
    return await _review_form(request, event_id, False)


@router.get("/liaison", response_class=HTMLResponse)
def liaison(request: Request, s: SessionDep, department: str | None = None):
    who = _who(request)
    sc = read_scope(who, department=department, what="查看联络员页面", roles=("supervisor", "admin", "local"))
    names = rm.department_names()
    dept = sc.department
    if not dept:
        if sc.departments is not None:  # a node's reader chooses among the departments of their subtree
            names = {k: v for k, v in names.items() if k in sc.departments}
        return render(request, "choose.html", who, names=names, target="/liaison")
    from store.items import list_items

    day = rm.today()
    rules = engine().rule_names
    snaps = list_items(s, department=dept, state="open")
    entries: list[dict[str, Any]] = []
    for snap in snaps:
        for c in snap.clocks:
            if c.state not in ("open", "paused"):
                continue
            entries.append(
                {"item": snap, "clock": c, "rule_name": rules.get(c.rule, c.rule), "left": rm.working_days_left(c, day)}
            )
    entries.sort(key=lambda e: (e["left"] is None, e["left"] if e["left"] is not None else 0, e["item"].id))
    from services.review import list_entries

    return render(
        request,
        "liaison.html",
        who,
        department=dept,
        name=names.get(dept, dept),
        entries=entries,
        held=list_entries("held", dept),
    )


@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, item_id: str):
    who = _who(request)
    if who.role == "assessor":
        who.require(("supervisor", "admin", "liaison"), "查看事项")
    data = rm.item_view(rm.load_item(item_id, who), with_history=True)
    assert isinstance(data, ItemDetail)
    timeline: list[dict[str, Any]] = []
    for e in data.events:
        timeline.append({"when": e.occurred_on or e.ingested_at[:10], "kind": "event", "e": e})
    for ch in data.due_date_changes:
        timeline.append({"when": ch.changed_at[:10], "kind": "change", "e": ch})
    from services.item_page import item_extras

    x = item_extras(data, who.role)
    for u in x["urges"]:
        timeline.append(
            {
                "when": u.day,
                "kind": "urge",
                "e": u,
            }
        )
    timeline.sort(key=lambda t: (t["when"], 0 if t["kind"] == "event" else 1))
    return render(request, "item.html", who, item=data, timeline=timeline, x=x)


@router.get("/departments", response_class=HTMLResponse)
def departments(request: Request):
    who = _who(request)
    if who.role == "liaison":
        return RedirectResponse(f"/departments/{quote(who.department or '')}", status_code=303)
    seen = visible_departments(who)  # a node's reader chooses among their subtree's departments
    names = {k: v for k, v in rm.department_names().items() if seen is None or k in seen}
    return render(request, "choose.html", who, names=names, target="/departments")


@router.get("/departments/{dept}", response_class=HTMLResponse)
def department_page(request: Request, s: SessionDep, dept: str):
    who = _who(request)
    dept = read_scope(who, department=dept, what="查看部门", roles=("supervisor", "admin", "local")).department or dept
    directory = rm.directory()
    d = directory.departments[dept]
    people = [p for p in directory.people.values() if p.department == dept]
    from store.items import items_with_held_entries, list_items

    items = list_items(s, department=dept)
    review_pending = items_with_held_entries(s, dept)
    day = rm.today()
    overdue = rm.overdue_views(day, dept)
    period = rm.parse_period_param(None)
    scores = period_scores(period, day, dept)
    return render(
        request,
        "department.html",
        who,
        d=d,
        people=people,
        review_pending=review_pending,
        items=items,
        overdue=overdue,
        scores=scores,
        role_names=labels.ROLES,
    )


BOARD_ROWS = 300


@router.get("/scores", response_class=HTMLResponse)
def scores_page(
    request: Request,
    s: SessionDep,
    period: str | None = None,
    department: str | None = None,
    node: str | None = None,
):
    from services.rollup import scores_rollup

    who = _who(request)
    sc = read_scope(
        who, department=department, node=node, what="查看考评得分", roles=("supervisor", "admin", "assessor", "local")
    )
    dept = sc.department
    mine = visible_departments(who)
    p = rm.parse_period_param(period or str(rm.today().year))
    day = rm.today()
    res = period_scores(p, day, sc.filter, checks=True, details="deducted")  # the rows it lists
    picked = (sc.node or None) if not dept else None
    rollup, res = scores_rollup(picked, res, day, p)  # a jurisdiction's scores, per child node (issue 20)
    chart = trend_chart(s, p, day, sc.filter)
    checks = res.request_checks
    # the annual report drafted in January-March is last year's
    today = rm.today()
    report_year = p.start.year - (1 if p.start.year == today.year and today.month <= 3 else 0)
    return render(
        request,
        "scores.html",
        who,
        res=res,
        period=p,
        department=dept,
        node=node or "",
        node_name=node_label(node) if node else "",
        nodes=node_choices(who),
        # the department select: the principal's own reach only
        choices={k: v for k, v in rm.department_names().items() if mine is None or k in mine},
        chart=chart,
        checks=checks,
        period_text=period or p.label,
        report_year=report_year,
        rollup=rollup,
        MARK_STATUSES=tuple(MARK_DEFAULTS),  # 明细 rows that are facts, not clocks (listed with their reason)
    )


@router.get("/calendar", response_class=HTMLResponse)
def calendar_page(request: Request):
    who = _who(request)
    data = rm.calendar_view()
    years: dict[int, dict[str, Any]] = {}
    for r in data.coverage:
        years.setdefault(r.year, {})[r.region] = r
    return render(request, "calendar.html", who, data=data, years=sorted(years.items()), region_list=data.regions)


# ---------------------------------------------------------------------------------- chart

PALETTE = ["#1f6feb", "#d9480f", "#2f9e44", "#9c36b5", "#0c8599", "#f59f00", "#c2255c", "#5c940d"]


def trend_chart(s, period, as_of: dt.date, department: Departments) -> dict[str, Any]:
    """Monthly scores of each department over the period (a year → 12 months; a quarter → 3; a
    month → the months of its year up to it), as an inline-SVG-ready structure."""
    from domain.engine import engine
    from domain.scoring import parse_period, score_period
    from services.scores import current_marks, current_records, department_parents

    start = period.start
    months = (
        [(start.year, m) for m in range(1, 13)]
        if period.kind == "year"
        else (
            [(start.year, m) for m in range(start.month, start.month + 3)]
            if period.kind == "quarter"
            else [(start.year, m) for m in range(1, start.month + 1)]
        )
    )
    months = [(y, m) for y, m in months if dt.date(y, m, 1) <= as_of]
    config = engine().scoring
    records = current_records(s, as_of, department)
    marks = current_marks(s, department)
    parents = department_parents()
    series: dict[str, list[tuple[int, float]]] = {}
    for i, (yr, m) in enumerate(months):
        res = score_period(
            records,
            parse_period(f"{yr}-{m:02d}"),
            as_of,
            config,
            department if isinstance(department, str) else None,  # a node's set: its records already are
            marks,
            rules=engine().rules,
            parents=parents,
        )
        for d in res.summary:
            series.setdefault(d.department, []).append((i, d.score))
    names = rm.department_names()
    W, H, L, R, T, B = 640, 240, 40, 12, 12, 28
    n = max(len(months), 1)
    lo = min([v for pts in series.values() for _, v in pts] + [60.0])
    lo = max(0.0, (int(lo) // 10) * 10)

    def x(i: int) -> float:
        return L + (W - L - R) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return T + (H - T - B) * (100 - v) / (100 - lo if lo < 100 else 1)

    lines = []
    for k, (dept, pts) in enumerate(sorted(series.items())):
        color = PALETTE[k % len(PALETTE)]
        segments: list[list[tuple[int, float]]] = []
        for i, v in pts:  # months without a clock due break the line
            if segments and segments[-1][-1][0] == i - 1:
                segments[-1].append((i, v))
            else:
                segments.append([(i, v)])
        lines.append(
            {
                "dept": dept,
                "name": names.get(dept, dept),
                "color": color,
                "segments": [" ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in seg) for seg in segments if len(seg) > 1],
                "dots": [
                    {"x": round(x(i), 1), "y": round(y(v), 1), "v": v, "label": f"{months[i][1]}月"} for i, v in pts
                ],
            }
        )
    grid = [{"y": round(y(v), 1), "v": v} for v in range(int(lo), 101, 10)]
    ticks = [{"x": round(x(i), 1), "label": f"{m}月"} for i, (_, m) in enumerate(months)]
    return {"w": W, "h": H, "lines": lines, "grid": grid, "ticks": ticks, "left": L, "right": W - R, "bottom": H - B}
