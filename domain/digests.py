"""Daily digest contents (who reads what today), from item snapshots and the directory. Pure: the
calendar comes in as a `working_days_left` function, the rules as a mapping."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from domain import standing
from domain.directory import Directory
from domain.engine import engine
from domain.labels import rule_names
from domain.notice_text import date_text, item_link, public_url
from domain.review import held_clocks
from domain.shanghai import SHANGHAI

DIGEST_WINDOW_WORKING_DAYS = 5

WorkingDaysLeft = Callable[[date, date, str], int]


def working_days_left_from(calendar) -> WorkingDaysLeft:
    """Adapter for domain.calendar.WorkCalendar: signed working days from `today` to `due`.

    0 = due today; n > 0 = n working days left; -n = n working days overdue (counted as in issue 3:
    working days after the due date up to and including today).
    """

    def left(today: date, due: date, region: str) -> int:
        return standing.working_days_left(calendar, today, due, region)

    return left


def _due_date(due: str) -> date:
    return date.fromisoformat(due[:10])


def _held_line(held: list[str], directory: Directory) -> dict[str, Any]:
    """`held`: the department of each late entry waiting for review -> the digest's one line about them."""
    if not held:
        return {"held_count": 0}
    counts: dict[str, int] = {}
    for d in held:
        counts[d] = counts.get(d, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    parts = "、".join(f"{directory.department_name(d)} {n} 条" for d, n in ranked)
    return {"held_count": len(held), "held_departments": parts, "review_link": f"{public_url()}/#review"}


DECISION_NAMES = {"approved": "批准", "rejected": "驳回"}


def utc_iso(value: Any) -> str | None:
    """A moment as one comparable text: ISO in UTC with microseconds (naive = UTC, as SQLite returns it)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _beijing(iso: str | None) -> str:
    if not iso:
        return ""
    t = datetime.fromisoformat(iso).astimezone(SHANGHAI)
    return f"{t.month}月{t.day}日 {t:%H:%M}"


def decision_rows(decided: list, directory: Directory) -> list[dict[str, Any]]:
    """Late entries (补录) decided, as digest lines: one line per decision, oldest first. `decided` holds
    objects (or mappings) with item_id, department, type, occurred_on, status, decision_reason, decided_at,
    and optionally item_type and title."""
    from domain.labels import EVENT_TYPES

    out = []
    for d in decided:
        g = d.get if isinstance(d, Mapping) else (lambda k, default=None, d=d: getattr(d, k, default))
        status = str(g("status"))
        if status not in DECISION_NAMES:
            continue
        at = utc_iso(g("decided_at"))
        out.append(
            {
                "item_id": g("item_id"),
                "item_type": g("item_type"),
                "title": g("title") or "",
                "department": g("department"),
                "event_name": EVENT_TYPES.get(str(g("type")), str(g("type"))),
                "occurred_on": g("occurred_on"),
                "status": status,
                "decision": DECISION_NAMES[status],
                "reason": g("decision_reason") or "",
                "decided_at": at,
                "decided_text": _beijing(at),
                "link": item_link(str(g("item_id"))),
            }
        )
    out.sort(key=lambda r: (str(r["decided_at"]), r["item_id"]))
    return out


def _decisions_for(person_id: str, department: str, rows: list[dict[str, Any]], since: Mapping[str, Any]):
    """The department's decisions after the person's previous digest (`since[person_id]`; all when absent)."""
    after = utc_iso(since.get(person_id))
    return [r for r in rows if r["department"] == department and (after is None or (r["decided_at"] or "") > after)]


def _reach(directory: Directory, person) -> frozenset[str] | None:
    """The departments a node-scoped person's digest covers; None: all (no node, or the root's)."""
    tree = directory.tree
    node = person.node
    if node is None or node == tree.root.id:
        return None
    if node not in tree.nodes:
        return frozenset()
    return frozenset(directory.departments_in(node))


def build_digests(
    items: list,
    directory: Directory,
    today: date,
    working_days_left: WorkingDaysLeft,
    rules: Mapping[str, Any] | None = None,
    held: list | None = None,
    decided: list | None = None,
    since: Mapping[str, Any] | None = None,
    missing_notices: list[str] | None = None,
) -> list[tuple[str, str, dict[str, Any]]]:
    """Daily digest contents: [(person_id, step, context)], one per person with something to read.

    - each liaison: their department's overdue open clocks first (most overdue first), then those due within
      5 working days (0..5 left); either is enough for a digest;
    - each supervisor: overdue open clocks of the departments of their node's subtree (all without a node),
      grouped by department;
    - each department head: their department's overdue and due-soon clocks.
    - each supervisor also gets one line on the late entries (补录) waiting for review (`held`: their
      departments), not one message per entry; that line alone is enough for a digest.
    - liaisons and heads get a 审核结果 section: their department's late entries decided (`decided`, see
      `decision_rows`) after their previous digest (`since`: person id -> its time; the caller picks the
      window), one line per decision; that section alone is enough for a digest.
    - each admin: one line per calendar notice usually published by now and not on file (`missing_notices`,
      `WorkCalendar.missing_notices` as text); that alone is enough for a digest.
    `items` are `domain.model.ItemSnapshot`s; `working_days_left(today, due, region)` is signed
    (see `working_days_left_from`). Send them with item_id `digest-{today}` and rule `digest`: once a day.
    """
    names = rule_names(rules) if rules is not None else {}
    rows: list[dict[str, Any]] = []
    for item in items:
        if item.state not in ("open",):
            continue
        for clock in item.clocks:
            if clock.state not in ("open", "paused") or not clock.due:
                continue
            spec = rules.get(clock.rule) if rules is not None else None
            if not standing.department_duty(spec):
                continue  # an appeal window: the supervisor's board list, not a department's digest
            region = clock.region or directory.region_of(item.department)
            left = working_days_left(today, _due_date(clock.due), region)
            if left < 0 and rules is not None and not standing.can_be_overdue(rules.get(clock.rule)):
                continue  # a lapsed window (correction notice, opinion period) is never overdue
            if (
                left < 0
                and rules is not None
                and (item.id, clock.rule) in held_clocks(((item.id, e.type) for e in item.held), rules)
            ):
                continue  # 待审核: a late entry waiting for review decides it; neither late nor on time
            rows.append(
                {
                    "item_id": item.id,
                    "item_type": item.type,  # a request's title stays off group channels (domain/channels.py)
                    "title": item.title,
                    "department": item.department,
                    "department_name": directory.department_name(item.department),
                    "rule": clock.rule,
                    "rule_name": standing.due_label(spec, names.get(clock.rule) or engine().rule_name(clock.rule)),
                    "due": clock.due[:16].replace("T", " "),
                    "working_days_left": left,
                    "overdue_working_days": -left if left < 0 else 0,
                    "link": item_link(item.id),
                }
            )
    rows.sort(key=lambda r: (r["working_days_left"], r["due"], r["item_id"], r["rule"]))
    soon = [r for r in rows if 0 <= r["working_days_left"] <= DIGEST_WINDOW_WORKING_DAYS]
    overdue = [r for r in rows if r["working_days_left"] < 0]
    overdue_desc = sorted(overdue, key=lambda r: (-r["overdue_working_days"], r["item_id"], r["rule"]))
    base = {"date": today.isoformat(), "date_text": date_text(today.isoformat())}
    out: list[tuple[str, str, dict[str, Any]]] = []
    decisions = decision_rows(decided or [], directory)

    for person in directory.people.values():
        if "liaison" in person.roles and person.department:
            od = [r for r in overdue_desc if r["department"] == person.department]
            mine = [r for r in soon if r["department"] == person.department]
            dec = _decisions_for(person.id, person.department, decisions, since or {})
            if od or mine or dec:
                out.append(
                    (
                        person.id,
                        "digest_liaison",
                        {
                            **base,
                            "person_name": person.name,
                            "department": person.department,
                            "department_name": directory.department_name(person.department),
                            "overdue": od,
                            "items": mine,
                            "decisions": dec,
                        },
                    )
                )
        if "head" in person.roles and person.department:
            od = [r for r in overdue_desc if r["department"] == person.department]
            ds = [r for r in soon if r["department"] == person.department]
            dec = _decisions_for(person.id, person.department, decisions, since or {})
            if od or ds or dec:
                out.append(
                    (
                        person.id,
                        "digest_head",
                        {
                            **base,
                            "person_name": person.name,
                            "department": person.department,
                            "department_name": directory.department_name(person.department),
                            "overdue": od,
                            "due_soon": ds,
                            "decisions": dec,
                        },
                    )
                )
        if "supervisor" in person.roles:
            # a supervisor's digest covers their node's subtree (the root's or no node: every department)
            reach = _reach(directory, person)
            sup_overdue = overdue_desc if reach is None else [r for r in overdue_desc if r["department"] in reach]
            sup_held = (held or []) if reach is None else [d for d in held or [] if d in reach]
            if sup_overdue or sup_held:
                groups: dict[str, list] = {}
                for r in sup_overdue:
                    groups.setdefault(r["department"], []).append(r)
                departments = [
                    {"department": d, "department_name": directory.department_name(d), "items": g}
                    for d, g in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
                ]
                out.append(
                    (
                        person.id,
                        "digest_supervisor",
                        {
                            **base,
                            "person_name": person.name,
                            "departments": departments,
                            "total": len(sup_overdue),
                            **_held_line(sup_held, directory),
                        },
                    )
                )
        if "admin" in person.roles and missing_notices:
            out.append(
                (
                    person.id,
                    "digest_admin",
                    {**base, "person_name": person.name, "missing_notices": list(missing_notices)},
                )
            )
    return out
