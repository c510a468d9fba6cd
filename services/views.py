"""Read-model views shared by the API and the pages: items with their clocks, the overdue list, scores,
the annual report draft, the calendar, and the checks of the parameters they take.

Each view is an services.schemas model: the API answers it as JSON, the pages render it. Query parameters
are checked here once (`parse_day`, `parse_period_param`, `check_department`) so that both interfaces
refuse the same input with the same Chinese message."""

from __future__ import annotations

import datetime as dt
from typing import Any

from domain.engine import engine
from domain.shanghai import today
from services.access import ApiError, Principal, forbidden
from services.schemas import (
    AnnualReport,
    CalendarInfo,
    ClockView,
    DueChange,
    EventView,
    ItemDetail,
    ItemView,
    OverdueRow,
)
from services.scores import collector_paused, period_scores
from store.scope import Departments

__all__ = [
    "annual_report_data",
    "annual_report_for",
    "board_view",
    "calendar_view",
    "check_department",
    "check_node",
    "clock_view",
    "department_names",
    "directory",
    "item_view",
    "list_item_views",
    "load_item",
    "overdue_views",
    "parse_day",
    "parse_period_param",
    "today",
    "working_days_left",
]


# ---------------------------------------------------------------------------------- parameters

# What parse_day and parse_period_param accept, declared in /openapi.json (domain.limits: 1990-2100);
# declared only (json_schema_extra), so that the parsers' Chinese messages answer a bad value.
YEARS = r"(199\d|20\d\d|2100)"
DAY_SCHEMA = {"format": "date", "pattern": f"^{YEARS}-"}
PERIOD_PATTERN = f"^{YEARS}(-[Qq][1-4]|-(0?[1-9]|1[0-2]))?$"


def parse_day(text: str | None, field: str = "as_of") -> dt.date:
    from domain.limits import parse_iso_day

    if not text:
        return today()
    try:
        return parse_iso_day(text)
    except ValueError as exc:
        raise ApiError(422, "invalid_parameter", f"参数 {field}：{exc}", field=field) from None


def parse_period_param(text: str | None):
    from domain.scoring import parse_period

    text = text or f"{today().year}-Q{(today().month - 1) // 3 + 1}"
    try:
        return parse_period(text)
    except ValueError as exc:
        raise ApiError(422, "invalid_parameter", str(exc), field="period") from None


def directory():
    from domain.engine import engine

    return engine().directory


def department_names() -> dict[str, str]:
    try:
        return {d.id: d.name for d in directory().departments.values()}
    except Exception:  # a broken directory file must not take the pages down
        return {}


def check_department(dept: Departments) -> None:
    if isinstance(dept, str) and dept and dept not in department_names():
        raise ApiError(404, "unknown_department", f"未知部门：{dept}（见 config/departments.toml）")


def check_node(node: str | None) -> None:
    """404 for a node not in config/jurisdictions.toml (services.access.read_scope checks it too)."""
    from services.access import check_node as check

    check(node)


# ---------------------------------------------------------------------------------- items


def working_days_left(c, day: dt.date) -> int | None:
    """Working days from `day` to the due day of an open clock (negative: overdue by that many)."""
    from domain.engine import engine
    from domain.standing import clock_days_left

    eng = engine()
    return clock_days_left(c, day, eng.calendar, eng.rules)


def clock_view(
    c, rules: dict[str, str], today_: dt.date | None = None, held: frozenset[str] | set[str] = frozenset()
) -> ClockView:
    from domain.model import PERIOD_SEP, rule_of
    from domain.review import LIVE_STATES

    name = rules.get(c.rule) or rules.get(rule_of(c.rule), c.rule)
    if PERIOD_SEP in c.rule:  # a recurring duty's finished period (domain.model.period_rule)
        name = f"{name}（第{c.rule.rsplit(PERIOD_SEP, 1)[1]}期）"
    return ClockView(
        **c.model_dump(),
        rule_name=name,
        working_days_left=working_days_left(c, today_ or today()),
        held=c.rule in held and c.state in LIVE_STATES,
    )


SHOWN_PERIODS = 12  # a recurring duty's last finished periods on its page; the counts cover all (data.periods)


def shown_clocks(clocks: list) -> list:
    """An item's clocks as its page shows them: a column updated for years has thousands of period rows."""
    from domain.model import PERIOD_SEP

    periods = [c for c in clocks if PERIOD_SEP in c.rule]
    if len(periods) <= SHOWN_PERIODS:
        return clocks
    recent = sorted(periods, key=lambda c: int(c.rule.rsplit(PERIOD_SEP, 1)[1]))[-SHOWN_PERIODS:]
    keep = {id(c) for c in recent}
    return [c for c in clocks if PERIOD_SEP not in c.rule or id(c) in keep]


def item_view(snap, *, with_history: bool = False) -> ItemView:
    from domain.flags import consultation_summary, item_flags
    from domain.labels import SCORE_STATUSES
    from domain.review import held_clocks

    rules = engine().rule_names
    names = department_names()
    waiting = [(snap.id, e.type) for e in snap.late_entries if e.status == "held"]
    held = {rule for _, rule in held_clocks(waiting, engine().rules)} if waiting else set()
    base = {
        "id": snap.id,
        "type": snap.type,
        "department": snap.department,
        "department_name": names.get(snap.department, snap.department),
        "title": snap.title,
        "state": snap.state,
        "version": snap.version,
        "clocks": [clock_view(c, rules, held=held) for c in shown_clocks(snap.clocks)],
        "flags": item_flags(snap.data, snap.clocks),
        "consultations": consultation_summary(snap.data, snap.clocks),
        # 补录 (late entries): held ones do not count yet; both dates shown
        "late_entries": [e.model_dump() for e in snap.late_entries],
        "review_pending": bool(waiting),
        "review_label": SCORE_STATUSES["held"] if waiting else "",
    }
    if not with_history:
        return ItemView(**base)
    from domain.review import PROXY_ROLES
    from domain.shanghai import SHANGHAI
    from store.clock_rows import due_changes
    from store.db import session
    from store.events import events_for_item

    with session() as s:
        changes = [
            DueChange(
                rule=ch.rule,
                rule_name=rules.get(ch.rule, ch.rule),
                old_due=ch.old_due,
                new_due=ch.new_due,
                reason=ch.reason,
                changed_at=ch.changed_at.isoformat(),
            )
            for ch in due_changes(s, snap.id)
        ]
        events = [
            EventView(
                event_id=e.event_id,
                type=e.type,
                occurred_on=e.occurred_on,
                recorded_by=e.recorded_by,
                ingested_at=e.ingested_at.isoformat(),
                recorded_at=e.ingested_at.astimezone(SHANGHAI).isoformat(),
                recorded_role=e.recorded_role,
                proxy=e.recorded_role in PROXY_ROLES,
                lag_working_days=e.lag_working_days,
                registration_late=bool(e.registration_late),
                payload=e.payload,
            )
            for e in events_for_item(s, snap.id)
        ]
    return ItemDetail(**base, due_date_changes=changes, events=events)


def load_item(item_id: str, who: Principal):
    from services.queries import get_status

    snap = get_status(item_id)
    if snap is None:
        raise ApiError(404, "not_found", f"未找到事项：{item_id}")
    if not who.may_see(snap.department):
        if who.role == "liaison":
            raise forbidden(
                f"无权查看事项 {item_id}：它属于 {snap.department}，联络员只能查看本部门（{who.department}）的事项"
            )
        who.require(("supervisor", "admin", "liaison"), "查看事项")
        from services.access import node_label

        d = directory()
        raise forbidden(
            f"无权查看事项 {item_id}：它属于{d.department_name(snap.department)}"
            f"（{node_label(d.node_of(snap.department))}），权限限于{node_label(who.node)}及其下级单位"
        )
    return snap


def list_item_views(
    department: Departments,
    state: str | None,
    type_: str | None,
    *,
    after: str | None = None,
    limit: int | None = None,
) -> list[ItemView]:
    """Items in id order; `after` / `limit` page through them (keyset, the API's cursor)."""
    from store.db import session
    from store.items import items_with_held_entries, late_entries, late_entry_model, list_items

    with session() as s:
        snaps = list_items(s, department=department, state=state, type=type_, after=after, limit=limit)
        waiting = items_with_held_entries(s, department)
        for snap in snaps:  # 待审核 in lists too (the list query reads no late entries otherwise)
            if snap.id in waiting:
                snap.late_entries = [late_entry_model(r) for r in late_entries(s, status=None, item_id=snap.id)]
    return [item_view(x) for x in snaps]


def overdue_views(as_of: dt.date, department: Departments) -> list[OverdueRow]:
    """Open clocks past due, but those a late entry waiting for review decides (待审核: not overdue)."""
    return overdue_and_held(as_of, department)[0]


@collector_paused()
def overdue_and_held(as_of: dt.date, department: Departments) -> tuple[list[OverdueRow], list[OverdueRow]]:
    """(overdue rows, rows past due that wait for a late entry's review): held is neither late nor on time
    (domain.review.held_clocks), so the second list is counted apart (the board's 待审核), never as 逾期."""
    from services.queries import overdue_rows
    from services.scores import held_keys
    from store.db import session

    names = department_names()
    rows = [
        OverdueRow(**r, department_name=names.get(r["department"], r["department"]))
        for r in overdue_rows(as_of, department)
    ]
    with session() as s:
        held = held_keys(s, department)
    if not held:
        return rows, []
    return [r for r in rows if (r.id, r.rule) not in held], [r for r in rows if (r.id, r.rule) in held]


# ---------------------------------------------------------------------------------- reports, calendar


def government_unit(node: str) -> str:
    """The department of `node` compiling its government's annual report (annual_reports "government")."""
    d = directory()
    unit = next((x.id for x in d.departments.values() if x.node == node and "government" in x.annual_reports), None)
    if unit is None:
        raise ApiError(
            404,
            "not_found",
            f"{d.tree.name(node)}没有编制政府年度报告的单位（config/departments.toml 中 annual_reports 含 government）",
        )
    return unit


REPORT_READERS = ("supervisor", "admin", "assessor", "local")


def annual_report_for(
    who: Principal, year: int, department: str | None = None, node: str | None = None, government: bool = False
) -> tuple[dict, str | None, bool]:
    """The annual report `who` may read (services.access.read_scope, once): a department's; a node's
    government report for `node`, or with no filter for a node-scoped reader's own node (never the whole
    tree: that is the root's or an unscoped reader's); a filter outside the reader's subtree: 403 naming the
    node. Returns (report, the department it is of, whether it is a government report)."""
    from services.access import read_scope

    sc = read_scope(who, department=department, node=node, what="查看年度报告", roles=REPORT_READERS)
    if government and who.role == "liaison":
        raise forbidden("无权查看政府年度报告：联络员只能查看本部门的年度报告")
    dept = sc.department
    if not dept and (node or sc.departments is not None):
        government = True  # a node's annual report is its government's (the unit compiling it, its departments)
    picked = sc.node if government and not dept else None
    return annual_report_data(year, dept, government, node=picked), dept, government


@collector_paused()
def annual_report_data(year: int, department: str | None, government: bool = False, *, node: str | None = None) -> dict:
    """The report draft (a superset of the tables 二/三/四 report); 422 on bad input, 409 when table 三
    fails the national checks. `node`: whose government report (services.annual.resolve_scope)."""
    from domain.report import check_table3
    from services.annual import AnnualReportError, annual_document

    if node and not department:  # a node's annual report: its government's (the unit compiling it, its departments)
        government = True
    try:
        report = annual_document(year, department, government, node=node, as_of=today())
    except AnnualReportError as exc:
        if exc.status == 404:
            raise ApiError(404, "not_found", str(exc)) from None
        raise ApiError(422, "invalid_parameter", str(exc)) from None
    problems = check_table3(report["table3"])
    if problems:
        raise ApiError(
            409,
            "report_check_failed",
            "表三不满足“本年新收 + 上年结转 = 办理结果总计 + 结转下年度”等校验关系，不予输出",
            problems=problems,
        )
    AnnualReport.model_validate(report)  # the declared shape holds before anything is rendered from it
    return report


def region_tree(cal) -> list[dict]:
    """The calendar's regions depth-first under their parents (regions.toml), each with its depth."""
    ids = sorted(cal.regions - {"national"})
    parent = {r: (cal.region_rules[r].parent if r in cal.region_rules else None) for r in ids}
    out: list[dict] = []

    def walk(node: str | None, depth: int) -> None:
        for r in ids:
            if parent[r] == node:
                rule = cal.region_rules.get(r)
                out.append(
                    {
                        "id": r,
                        "name": cal.region_name(r),
                        "parent": node,
                        "depth": depth,
                        "source": rule.source if rule else "",
                    }
                )
                walk(r, depth + 1)

    walk(None, 0)
    return out


def calendar_view() -> CalendarInfo:
    from domain.engine import config_problem, engine

    cal = engine().calendar
    rows = cal.status()
    regional, notices = [], []
    for ov in sorted(cal.overlays, key=lambda o: (o.region, sorted(o.years), o.path.name)):
        if ov.region != "national":
            notices.append(
                {
                    "region": ov.region,
                    "years": sorted(ov.years),
                    "source": ov.source,
                    "issued_by": ov.issued_by,
                    "issued_on": ov.issued_on.isoformat() if ov.issued_on else None,
                    "document_number": ov.document_number,
                    "found_at": list(ov.found_at),
                    "file": ov.path.name,
                    "evidence": ov.evidence,
                    "festivals": list(ov.festivals),
                    "partial_days": [f"{d.isoformat()} {n}" for d, n in sorted(ov.partial_days_off.items())],
                }
            )
    for ov in cal.overlays:
        for day, name in sorted(ov.partial_days_off.items()):
            regional.append(
                {
                    "date": day.isoformat(),
                    "region": ov.region,
                    "kind": "partial",
                    "name": name,
                    "source": ov.source,
                    "file": ov.path.name,
                }
            )
        for day, name in sorted(ov.days_off.items()):
            regional.append(
                {
                    "date": day.isoformat(),
                    "region": ov.region,
                    "kind": "off",
                    "name": name,
                    "source": ov.source,
                    "file": ov.path.name,
                }
            )
        for day, name in sorted(ov.workdays.items()):
            regional.append(
                {
                    "date": day.isoformat(),
                    "region": ov.region,
                    "kind": "work",
                    "name": name,
                    "source": ov.source,
                    "file": ov.path.name,
                }
            )
    regional.sort(key=lambda r: (r["date"], r["region"]))
    tree = region_tree(cal)
    year = today().year
    estimates = [
        {
            "region": node["id"],
            "year": y,
            "festival": e.festival.name,
            "calendar": e.festival.calendar,
            "staff": e.festival.staff,
            "dates": [d.isoformat() for d in sorted(e.days)],
            "uncertainty_days": e.festival.uncertainty_days,
            "reason": e.reason(node["name"]),
        }
        for node in tree
        for y in (year, year + 1)
        for e in cal.estimates(node["id"], y)
    ]
    return CalendarInfo.model_validate(
        {
            "regions": sorted(cal.regions),
            "coverage": rows,
            # Years without the national arrangement; regional gaps are in `coverage` (coverage "estimate"/"none").
            "provisional_years": sorted({r["year"] for r in rows if r["provisional"] and r["region"] == "national"}),
            "regional_days": regional,
            # The regional notices on file, and per region which years since its festival began lack one.
            "notices": notices,
            "notice_summary": cal.notice_summary(today().year),
            "region_tree": tree,
            "estimates": estimates,
            "missing_notices": [
                {
                    "region": m.region,
                    "name": m.name,
                    "year": m.year,
                    "expected": m.expected.isoformat(),
                    "festivals": list(m.festivals),
                    "text": m.text,
                }
                for m in cal.missing_notices(today())
            ],
            "fingerprint": cal.fingerprint(),
            # a refused file: its error (the calendar above is the last good one)
            "config_problem": config_problem(),
        }
    )


# ---------------------------------------------------------------------------------- the board (督办看板)

SORTS = {
    "overdue": lambda r: (-r.overdue_working_days, r.department, r.id),
    "department": lambda r: (r.department_name, -r.overdue_working_days, r.id),
    "due": lambda r: (r.due, r.department, r.id),
    "rule": lambda r: (r.rule_name, -r.overdue_working_days),
    "step": lambda r: (r.ladder_step or "", -r.overdue_working_days),
}


@collector_paused()  # ~10^5 short-lived rows at a province's size (services.scores.collector_paused)
def board_view(
    day: dt.date,
    dept: Departments,
    sort: str = "overdue",
    *,
    with_held: bool = False,
    upload: str | None = None,
    node: str | None = None,
) -> dict[str, Any]:
    """Everything the supervisor's board shows for `dept` (None: all) on `day`: the overdue rows sorted by
    `sort` and grouped per department, the open and provisional counts, flags, 登记滞后, the quarter's scores
    and (`with_held`) the late entries waiting for review. `node` (a jurisdiction, checked by the caller):
    the board of that node's subtree, with its roll-up per child node and per own department above the
    overdue list (services/rollup.py)."""
    from services.rollup import board_node_scope

    node, within = board_node_scope(node, dept if isinstance(dept, str) else None)
    keep = (lambda d: d in within) if within is not None else (lambda d: True)
    rows, held_rows = overdue_and_held(day, dept)
    all_overdue = (rows, held_rows)
    if within is not None:
        rows = [r for r in rows if keep(r.department)]
        held_rows = [r for r in held_rows if keep(r.department)]
    rows.sort(key=SORTS.get(sort, SORTS["overdue"]))
    by_dept: dict[str, dict[str, Any]] = {}

    def group(d: str, name: str) -> dict[str, Any]:
        return by_dept.setdefault(d, {"id": d, "name": name, "count": 0, "max": 0, "total": 0, "held": 0})

    for r in held_rows:  # past due but waiting for review: 待审核, not 逾期
        group(r.department, r.department_name)["held"] += 1
    for r in rows:
        g = group(r.department, r.department_name)
        g["count"] += 1
        g["total"] += r.overdue_working_days
        g["max"] = max(g["max"], r.overdue_working_days)
    from domain.flags import RECEIPT_FLAGS, consultation_summary, item_flags, receipt_flags, stacked_delay_flags
    from store.accounts import urge_counts
    from store.clock_rows import open_board_counts
    from store.db import session
    from store.events import registration_late_events
    from store.items import list_items
    from store.requests import request_ids_with_flag_data, request_ids_with_receipt_flags, same_day_requests

    names = department_names()
    with session() as s:
        open_count, prov_ids = open_board_counts(s, dept)
        prov_items = list_items(s, ids=prov_ids) if prov_ids else []
        # flags come only from a correction notice, a consultation or a link to a withdrawal (domain.flags)
        flaggable = request_ids_with_flag_data(s, dept)
        flagged = [(i, item_flags(i.data, i.clocks)) for i in (list_items(s, ids=flaggable) if flaggable else [])]
        consulted = {i.id: consultation_summary(i.data, i.clocks) for i, _ in flagged if i.data.get("consultations")}
        period = parse_period_param(None)
        same_day = same_day_requests(s, dept, open_only=True)
        urges = urge_counts(s, dept)
        lagging, lag_total = registration_late_events(s, period.start, period.end, dept)
        receipt_ids = request_ids_with_receipt_flags(s, dept)
        receipt_flagged = [
            (i, receipt_flags(i.data) + stacked_delay_flags(i.data, i.clocks))
            for i in (list_items(s, ids=receipt_ids) if receipt_ids else [])
        ]
    # this list is the request checks' flags (登记滞后 has its own list below; 尚未施行 is no one's judgement)
    own_lists = ("registration_late", "rule_not_in_force", *RECEIPT_FLAGS)
    flagged = [(i, f) for i, fl in flagged if (f := [x for x in fl if x["code"] not in own_lists])]
    receipt_flagged = [(i, f) for i, f in receipt_flagged if f]
    if within is not None:  # a node's board: the installation-wide reads above, narrowed to its subtree
        prov_items = [i for i in prov_items if keep(i.department)]
        flagged = [(i, f) for i, f in flagged if keep(i.department)]
        receipt_flagged = [(i, f) for i, f in receipt_flagged if keep(i.department)]
        same_day = [g for g in same_day if keep(g["department"])]
        urges = {d: n for d, n in urges.items() if keep(d)}
        lagging = [e for e in lagging if keep(e.department or "")]
        lag_total = len(lagging)
    for d in urges:  # a department urged but not (or no longer) overdue is listed too
        group(d, names.get(d, d))
    for g in by_dept.values():
        g["urges"] = urges.get(g["id"], 0)
    groups = sorted(by_dept.values(), key=lambda g: (-g["count"], -g["max"], -g["urges"], -g["held"], g["id"]))
    provisional = [(i, c) for i in prov_items for c in i.clocks if c.provisional and c.state == "open"]
    lag_groups: dict[str, list[Any]] = {}
    for e in lagging:  # 登记滞后, per department (longest lag first)
        lag_groups.setdefault(e.department or "", []).append(e)
    scores = period_scores(period, day, dept, details="deducted")  # the board lists the summary only
    rollup = None
    if node is not None:  # computed from the reads above, before they are narrowed for the lists below
        from services.rollup import node_rollup

        rollup = node_rollup(node, day, period, scores=scores, overdue=all_overdue)
        if within is not None:
            open_count = rollup.total.open
    if within is not None:
        scores = scores.model_copy(
            update={
                "summary": [d for d in scores.summary if keep(d.department)],
                "details": [d for d in scores.details if keep(d.department)],
                "registration": [r for r in scores.registration if keep(r.department)],
            }
        )
    from services.review import held_uploads, list_entries

    held = list_entries("held", dept, upload=upload) if with_held else None
    uploads = held_uploads(dept) if with_held else []
    from services.onboarding import open_summaries

    onboarding = open_summaries(dept) if with_held else None  # 历史台账待审核: staged rows are no items yet
    if within is not None:
        held = [e for e in held if keep(e["department"])] if held is not None else None
        uploads = [u for u in uploads if keep(u["department"])]
        onboarding = [b for b in onboarding if keep(b["department"])] if onboarding is not None else None
    return {
        "rows": rows,
        "held_rows": held_rows,
        "groups": groups,
        "sort": sort,
        "as_of": day.isoformat(),
        "department": dept if isinstance(dept, str) else None,
        "node": node,
        "open_count": open_count,
        "provisional": provisional,
        "scores": scores,
        "flagged": flagged,
        "consulted": consulted,
        "same_day": same_day,
        "lag_groups": lag_groups,
        "lag_total": lag_total,
        "receipt_flagged": receipt_flagged,
        "rule_names": engine().rule_names,
        "held": held,
        "upload": upload,
        "uploads": uploads,
        "onboarding": onboarding,
        "rollup": rollup,
        # i21-proposals: 复议/诉讼期限届满前 (not a department deadline) and 表四 reconciled with it
        "appeals": _narrowed_appeals(appeal_windows_view(day, dept), keep if within is not None else None),
    }


def _narrowed_appeals(view: dict[str, Any], keep) -> dict[str, Any]:
    if keep is not None:
        view["windows"] = [w for w in view["windows"] if keep(w["department"])]
    return view


# ---------------------------------------------------------------- i21-proposals: appeal windows
def appeal_windows_view(day: dt.date, dept: Departments, days: int | None = None) -> dict[str, Any]:
    """The supervisor's "复议/诉讼期限届满前": the appeal windows (audience = "supervisor") ending in the next
    `days` calendar days, and the year's 表四 filings reconciled with the windows they closed."""
    from domain.appeals import WINDOW_LIST_DAYS, days_left, reconcile, supervisor_rules
    from store import clock_rows
    from store import events as event_log
    from store.db import session

    closers = supervisor_rules(engine().rules)
    ahead = WINDOW_LIST_DAYS if days is None else days
    names = engine().rule_names
    types = sorted({t for ts in closers.values() for t in ts})
    with session() as s:
        rows = clock_rows.window_rows(
            s, closers, dept, due_from=day.isoformat(), due_to=(day + dt.timedelta(days=ahead)).isoformat()
        )
        filed = event_log.filings(s, types, dt.date(day.year, 1, 1), dt.date(day.year, 12, 31), dept)
        mine = clock_rows.window_rows(s, closers, dept, item_ids=[f[0] for f in filed]) if filed else []
    windows = [
        {
            "item_id": r[0],
            "department": r[1],
            "title": r[2] or r[0],
            "rule": r[3],
            "rule_name": names.get(r[3], r[3]),
            "start": r[4],
            "due": r[5],
            "days_left": days_left(r[5], day),
        }
        for r in rows
    ]
    recon = reconcile(((f[0], f[1], f[2]) for f in filed), ((r[0], r[3], r[5]) for r in mine), closers)
    return {
        "days": ahead,
        "windows": windows,
        "year": day.year,
        "reconciliation": [
            {
                "event_type": r.event_type,
                "rule_name": names.get(r.rule, r.rule),
                "recorded": r.recorded,
                "within": r.within,
                "outside": r.outside,
                "no_window": r.no_window,
                "mismatch": r.mismatch,
            }
            for r in recon
        ],
    }
