"""The scoring use case over the store (CLI, API, pages and the annual report use it): clock records and
marks from the read model, scores of a period (locked numbers for a locked period), late-entry notes, and the
event log as canonical dicts. The arithmetic is in domain/scoring.py; the rules come from domain/engine.py."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Literal

from domain.engine import engine
from domain.scoring import (
    ClockRecord,
    Period,
    ScoreResult,
    calendar_overdue_days,
    records_from_snapshots,
    score_period,
)
from domain.standing import can_be_overdue
from store.scope import Departments, in_departments, one_department


def load_snapshots(session, department: Departments = None):
    from store.items import list_items

    return list_items(session, department=department)


def default_overdue_days() -> Callable:
    # The calendar in use (a refused, broken notice file does not take the scores down).
    return calendar_overdue_days(engine().calendar)


def current_records(
    session,
    as_of: date,
    department: Departments = None,
    overdue_days: Callable | None = None,
    period: Period | None = None,
) -> list[ClockRecord]:
    """Clock records as of `as_of`; with `period`, only clocks due in it (what scoring a period reads)."""
    if period is None:
        snaps = load_snapshots(session, department)
        return records_from_snapshots(snaps, as_of, overdue_days or default_overdue_days(), engine().rules)
    return period_records(session, period, as_of, department, overdue_days or default_overdue_days())


def period_records(
    session, period: Period, as_of: date, department: Departments, overdue_days: Callable
) -> list[ClockRecord]:
    """records_from_snapshots for the clocks due in `period`, straight from rows (same rules: lapsing windows
    and clocks without a due date are skipped; overdue days only for overdue clocks)."""
    from domain.model import ClockSnapshot, rule_of
    from domain.review import LIVE_STATES
    from domain.scoring import classify
    from store.clock_rows import clock_rows_due_between

    lapsing = {r.id for r in engine().rules.values() if not can_be_overdue(r)}
    held = held_keys(session, department)
    out = []
    as_of_day = as_of.isoformat()[:10]
    explanations: dict[str | None, dict] = {None: {}, "": {}}  # one (read-only) dict per distinct summary
    for item_id, item_type, dept, title, row, due, state, met_on, lateness, region, summary in clock_rows_due_between(
        session, period.start.isoformat(), period.end.isoformat(), department
    ):
        rule = rule_of(row)  # a recurring duty's period row (rule#n) counts under its rule
        if not due or rule in lapsing:
            continue
        overdue = None
        # only a clock not closed and not met before the as-of day can be overdue (most of a year's are met)
        if state != "closed" and (not met_on or met_on[:10] >= as_of_day):
            if classify(state, due, met_on, as_of) == "overdue":
                overdue = overdue_days(ClockSnapshot(rule=rule, start="", due=due, region=region), as_of)
                # (validated, not model_construct: that inspects the default factories on every call, ~200 µs)
        explanation = explanations.get(summary)
        if explanation is None:
            explanation = explanations[summary] = {"summary": summary}
        out.append(
            ClockRecord(
                item_id=item_id,
                item_type=item_type,
                department=dept,
                title=title or "",
                rule=rule,
                due=due,
                state=state,
                met_on=met_on,
                lateness_working_days=lateness,
                overdue_working_days=overdue,
                explanation=explanation,
                held=bool(held) and state in LIVE_STATES and (item_id, rule) in held,
                row=row if row != rule else "",
            )
        )  # scoring reads only the summary
    return out


def held_keys(session, department: Departments = None) -> set[tuple[str, str]]:
    """(item id, rule) of the clocks a late entry waiting for review decides (domain.review.held_clocks)."""
    from domain.review import held_clocks
    from store.items import late_entries

    held = late_entries(session, status="held", department=department)
    return held_clocks(((e.item_id, e.type) for e in held), engine().rules) if held else set()


def current_marks(session, department: Departments = None) -> list:
    """Documents not disclosed proactively (withheld, on request), normative documents without interpretation,
    and lost reviews/litigations (scored facts that are not clocks)."""
    from domain.scoring import marks_from_events, marks_from_snapshots
    from store.events import load_events
    from store.items import document_ids_with_marks, list_items

    # Only the rows that can be marks, selected in SQL (a province has 100,000s of items and events).
    ids = document_ids_with_marks(session, department)
    decided = load_events(session, types=("review.decided", "litigation.decided", "request.reply_delayed"))
    rids = sorted({str(e.get("request_id")) for e in decided if e.get("request_id") is not None})
    owners = load_events(session, types=("request.received",), item_ids=rids) if rids else []
    interp = engine().rules.get("policy_interpretation")
    since = interp.since if interp is not None else None
    marks = marks_from_snapshots(list_items(session, ids=ids) if ids else [], since) + marks_from_events(
        owners + decided
    )
    return [m for m in marks if in_departments(m.department, department)]


def compute_scores(
    session,
    period: Period,
    as_of: date,
    department: Departments = None,
    overdue_days: Callable | None = None,
    *,
    recordings: bool = False,
    checks: bool = False,
    details: Literal["all", "deducted"] = "all",
) -> ScoreResult:
    """Locked numbers (+ amendments) for a locked period, else freshly computed scores (`details`:
    domain.scoring.score_period's). `recordings`: the
    明细's start-registration and 代录 columns too (the xlsx export; a year's ~35,000 rows cost ~0.5 s).
    `checks`: #17 §4's per-department request checks too (the scores page and the API/exports; the board,
    which shows a quarter's scores only, leaves them out: ~0.5 s for a province's year)."""
    from store.locks import locked_result

    records = current_records(session, as_of, department, overdue_days, period=period)
    one = one_department(department)  # a node's set: its records only, scored as "all"
    res = locked_result(session, period, records, one)
    if res is not None and one != department:  # a node: the lock's rows of its departments
        res.summary = [d for d in res.summary if in_departments(d.department, department)]
        res.details = [d for d in res.details if in_departments(d.department, department)]
        res.amendments = [a for a in res.amendments if in_departments(a.department, department)]
    if res is None:
        # the records (and marks) are already those of `department`: a set needs no second filter
        res = score_period(
            records,
            period,
            as_of,
            engine().scoring,
            one,
            current_marks(session, department),
            rules=engine().rules,
            parents=department_parents(),
            details=details,
        )
        if one is None:  # all departments or a node's: those locked one by one show their locked figures
            res = overlay_department_locks(session, period, res, records, department, details)
    res = annotate_late_entries(session, res, department)
    res = annotate_registration(session, res, period, recordings=recordings, department=department)
    if checks:
        res.request_checks = request_checks(session, period, department)
    return res if one is not None or department is None else keep_departments(res, department)


def overlay_department_locks(
    session,
    period: Period,
    res: ScoreResult,
    records: list[ClockRecord],
    departments: Departments,
    details: Literal["all", "deducted"] = "all",
) -> ScoreResult:
    """`res` (fresh scores of several departments) with each department locked on its own for `period`
    (store.locks, e.g. by a node's assessor) replaced by its locked numbers: summary row marked
    `locked_at` (已锁定), its 明细 as locked, its amendments since the lock."""
    from store.locks import amendments, department_locks

    locks = department_locks(session, period, departments)
    if not locks:
        return res
    locked = {lock.department for lock in locks}
    summary = {d.department: d for d in res.summary if d.department not in locked}
    rows = [r for r in res.details if r.department not in locked]
    changes = [a for a in res.amendments if a.department not in locked]
    for lock in locks:
        frozen = lock.result()
        for ds in frozen.summary:
            summary[ds.department] = ds.model_copy(update={"locked_at": frozen.locked_at})
        # the page's "deducted" view keeps what deducts points and the marks (no clock state)
        rows += [r for r in frozen.details if details == "all" or r.deduction or not r.state]
        changes += amendments(session, period, records, lock.department)
    rows.sort(key=lambda r: (r.department, r.due, r.item_id, r.rule))
    changes.sort(key=lambda a: (a.department, a.item_id, a.rule))
    return res.model_copy(
        update={
            "summary": [summary[k] for k in sorted(summary)],
            "details": rows,
            "amendments": changes,
            "locked_departments": sorted(locked),
        }
    )


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a report builds its ~10^5 short-lived rows: each full collection
    walks every object of the process (a province's year of scores spent ~0.4 s of 2 s in them). The rows hold
    no cycles; the collector runs again right after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def period_scores(
    period: Period,
    as_of: date,
    department: Departments = None,
    *,
    recordings: bool = False,
    checks: bool = False,
    details: Literal["all", "deducted"] = "all",
) -> ScoreResult:
    """compute_scores in a unit of work of its own (the CLI, the API and the scores page; the page and the
    board keep only the 明细 rows they list: `details="deducted"`)."""
    from store.db import session

    with session() as s, collector_paused():
        return compute_scores(s, period, as_of, department, recordings=recordings, checks=checks, details=details)


def department_parents() -> dict[str, str | None]:
    """Department id -> parent unit (departments.toml): a scheme of scoring.toml may be set for a unit above."""
    from domain.directory import DirectoryError
    from domain.engine import engine

    try:
        return {d.id: d.parent for d in engine().directory.departments.values()}
    except DirectoryError:  # no directory (a bare config): each department's own entry or the default
        return {}


def fresh_scores(session, period: Period, as_of: date, department: Departments = None) -> ScoreResult:
    """Scores computed now from the store (what a lock publishes), never the locked numbers."""
    res = score_period(
        current_records(session, as_of, department, period=period),
        period,
        as_of,
        engine().scoring,
        one_department(department),
        current_marks(session, department),
        rules=engine().rules,
        parents=department_parents(),
    )
    return res if isinstance(department, str) or department is None else keep_departments(res, department)


def keep_departments(res: ScoreResult, departments: Departments) -> ScoreResult:
    """`res` restricted to a set of departments (a node's subtree): every per-department list of it."""
    for name in ("summary", "details", "registration", "request_checks", "amendments"):
        rows = getattr(res, name, None)
        if isinstance(rows, list):
            setattr(res, name, [r for r in rows if in_departments(_dept_of(r), departments)])
    return res


def _dept_of(row) -> str | None:
    return row.get("department") if isinstance(row, dict) else getattr(row, "department", None)


def annotate_late_entries(session, res, department: Departments = None):
    """Mark each 明细 row that an approved late entry (补录) settled, with both of its dates, so the
    assessor sees which numbers rest on an entry recorded after the fact."""
    from domain.review import holds_clock
    from domain.shanghai import SHANGHAI
    from store.items import late_entries
    from store.models import LateEntryRecord

    approved = late_entries(session, status="approved", department=res.department if department is None else department)
    if not approved or not res.details:
        return res  # the usual case: no need to walk a year's 35,000 detail rows
    ids = {d.item_id for d in res.details}
    by_item: dict[str, list[LateEntryRecord]] = {}
    for e in approved:
        if e.item_id in ids:
            by_item.setdefault(e.item_id, []).append(e)
    rules = engine().rules
    for d in res.details:
        rule = rules.get(d.rule)
        notes = []
        for e in by_item.get(d.item_id, []):
            if rule is None or not holds_clock(
                e.type,
                met_by=list(rule.met_by),
                closed_by=list(rule.closed_by),
                pause=rule.pause,
                stop=rule.stop,
                extension_event=rule.extension.event if rule.extension else None,
                lapses=rule.lapses,
                restart=rule.restart,
            ):
                continue
            recorded = e.recorded_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            notes.append(
                f"{e.type} 事件日期 {e.occurred_on[:10]}，登记于 {recorded}（{e.recorded_by or '-'}），"
                f"{e.decided_by or '-'} 批准"
            )
        d.late_entry = "；".join(notes)
    return res


def request_checks(session, period, department: Departments = None) -> list[dict]:
    """Per department, the requests received in `period` (#17 §4, shown beside the scores, not deducted):
    consultations and the working days they paused, requests over `[consultation] max_paused_working_days`
    or with a consultation in the last working days, extensions, withdrawals, requests registered again
    after a withdrawal, and days with several requests of one applicant (possible 拆分). Counted in SQL;
    only requests whose data can carry a flag are read whole."""
    from domain.flags import consultation_summary, item_flags
    from store.items import list_items
    from store.requests import (
        extension_counts_by_department,
        request_counts_by_department,
        request_ids_with_flag_data,
        same_day_requests,
        withdrawal_counts_by_department,
    )

    lo, hi = period.start.isoformat(), period.end.isoformat()
    out: dict[str, dict] = {}

    def row(d: str) -> dict:
        return out.setdefault(
            d,
            {
                "department": d,
                "requests": 0,
                "consultations": 0,
                "consultation_paused_working_days": 0,
                "paused_over_limit": 0,
                "late_consultations": 0,
                "extensions": 0,
                "withdrawals": 0,
                "after_withdrawal": 0,
                "same_day_groups": 0,
                "shortened_windows": 0,  # public consultations closed before their minimum (缩短征求意见期)
            },
        )

    for dept, n in request_counts_by_department(session, lo, hi, department):
        row(dept)["requests"] += n
    # Withdrawals by the day of the withdrawal (a request received last year may be withdrawn in this
    # period), of requests that are withdrawn now (one waiting for review is not yet).
    for dept, n in withdrawal_counts_by_department(session, lo, hi, department):
        row(dept)["withdrawals"] += n
    for dept, n in extension_counts_by_department(session, lo, hi, department):
        row(dept)["extensions"] += n
    ids = request_ids_with_flag_data(session, department)
    for snap in list_items(session, ids=ids) if ids else []:
        if not lo <= str(snap.data.get("start_on") or "")[:10] <= hi:
            continue
        r = row(snap.department)
        summary = consultation_summary(snap.data, snap.clocks)
        r["consultations"] += summary["count"]
        r["consultation_paused_working_days"] += summary["paused_working_days"]
        codes = [f["code"] for f in item_flags(snap.data, snap.clocks)]
        r["paused_over_limit"] += "consultation_paused_long" in codes
        r["late_consultations"] += codes.count("consultation_late_start")
        r["after_withdrawal"] += "after_withdrawal" in codes
        r["shortened_windows"] += "window_shortened" in codes
    for g in same_day_requests(session, department):
        if lo <= g["day"] <= hi:
            row(g["department"])["same_day_groups"] += 1
    return [out[d] for d in sorted(out)]


def annotate_registration(
    session, res: ScoreResult, period: Period, *, recordings: bool = False, department: Departments = None
) -> ScoreResult:
    """Registration lag per department (median, maximum, count flagged 登记滞后) of the start events dated in
    the period, and with `recordings` on each 明细 row its item's start recording and 代录 entries. Read from
    the event log as it is now (also for a locked period: these figures are shown, not scored)."""
    from domain.review import HELD_ROLES, PROXY_ROLES, REGISTRATION_STARTS
    from domain.scoring import RegistrationLag
    from store.events import start_lag_counts

    # (lag -> count) per department, counted in SQL; the median of the expanded values, as statistics.median
    hist: dict[str, dict[int, int]] = {}
    late: dict[str, int] = {}
    for dept, lag, n, flagged in start_lag_counts(
        session,
        REGISTRATION_STARTS,
        HELD_ROLES,
        period.start.isoformat(),
        period.end.isoformat(),
        res.department if department is None else department,
    ):
        h = hist.setdefault(dept or "", {})
        h[lag] = h.get(lag, 0) + n
        late[dept or ""] = late.get(dept or "", 0) + flagged
    res.registration = [
        RegistrationLag(
            department=dept,
            starts=sum(h.values()),
            median_working_days=_median(h),
            max_working_days=max(h),
            late=late.get(dept, 0),
        )
        for dept, h in sorted(hist.items())
    ]
    by_dept = {r.department: r for r in res.registration}
    for d in res.summary:
        if (r := by_dept.get(d.department)) is not None:
            d.registration_lag_median, d.registration_lag_max = r.median_working_days, r.max_working_days
            d.registration_late = r.late
    if not recordings or not res.details:
        return res
    starts, proxies = _item_recordings(session, sorted({d.item_id for d in res.details}), PROXY_ROLES)
    for row in res.details:
        row.registered = starts.get(row.item_id, "")
        row.proxy_entry = "；".join(proxies.get(row.item_id, []))
    return res


def _median(hist: dict[int, int]) -> float:
    """statistics.median of the values `hist` counts (value -> how many times)."""
    n = sum(hist.values())
    wanted = (n - 1) // 2, n // 2  # the middle one, or the middle two
    found: list[int] = []
    seen = 0
    for value in sorted(hist):
        seen += hist[value]
        while len(found) < 2 and seen > wanted[len(found)]:
            found.append(value)
    return float((found[0] + found[1]) / 2) if n % 2 == 0 else float(found[0])


def _item_recordings(session, item_ids: list[str], proxy_roles) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Per item: its start event's recording line, and its 代录 lines (who, when), in chunks of ids (the
    (item_id, type ...) index answers each)."""
    from domain.events import STARTS
    from domain.labels import EVENT_TYPES, RECORDERS
    from domain.shanghai import SHANGHAI
    from store.events import start_and_proxy_recordings

    starts: dict[str, str] = {}
    proxies: dict[str, list[str]] = {}
    for i in range(0, len(item_ids), 500):
        chunk = item_ids[i : i + 500]
        rows = start_and_proxy_recordings(session, chunk, STARTS, proxy_roles)
        for item_id, type_, on, at, by, role, lag, late in sorted(rows, key=lambda r: (r[0], r[3])):
            when = at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            if type_ in STARTS and item_id not in starts:
                line = f"事件日期 {on}，登记于 {when}（北京时间）"
                if lag is not None:
                    line += f"，滞后 {lag} 个工作日"
                starts[item_id] = line + ("，登记滞后" if late else "")
            if role in proxy_roles:
                proxies.setdefault(item_id, []).append(
                    f"{EVENT_TYPES.get(type_, type_)} 事件日期 {on}，{RECORDERS.get(role, role)}"
                    f"{' ' + by if by else ''} 于 {when} 代录"
                )
    return starts, proxies
