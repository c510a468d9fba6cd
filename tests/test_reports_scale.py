"""The period-scoped score path (rows, explanation summary from SQL) gives exactly what the full path over
every snapshot gives, on SQLite and PostgreSQL; the annual report reads events only up to its year."""

from __future__ import annotations

import datetime as dt
import random
import uuid

from sqlmodel import Session

from domain.model import ClockSnapshot, ItemSnapshot
from domain.rules import load_rules
from domain.scoring import load_scoring, parse_period, score_period
from services.scores import current_records, default_overdue_days
from store.events import add_event, event_record_from, load_events
from store.items import save_snapshot

RULES = load_rules()


def _snapshots(tag: str, n: int = 120) -> list[ItemSnapshot]:
    rng = random.Random(7)
    out = []
    rules = ["request_reply", "policy_publication", "correction_notice", "opinion_response_general"]
    for i in range(n):
        rule = rules[i % len(rules)]
        start = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randint(0, 500))
        due = (start + dt.timedelta(days=rng.randint(10, 40))).isoformat()
        if rule == "opinion_response_general":
            due = f"{due}T{rng.randint(0, 23):02d}:30:00+08:00"
        state = rng.choice(["open", "met", "met", "closed", "paused"])
        met_on = None
        if state == "met":
            met_on = (dt.date.fromisoformat(due[:10]) + dt.timedelta(days=rng.randint(-9, 9))).isoformat()
        clock = ClockSnapshot(
            rule=rule,
            start=start.isoformat(),
            due=None if state == "paused" and i % 2 else due,
            state=state,
            met_on=met_on,
            lateness_working_days=rng.choice([None, 0, 3]),
            region=rng.choice(["national", "guangxi"]),
            explanation={"summary": f"说明 {i}", "skipped": [{"date": "2025-10-01"}]} if i % 3 else {},
        )
        out.append(
            ItemSnapshot(
                id=f"{tag}-{i:03d}",
                type="request" if rule == "request_reply" else "document",
                department=f"dept-{i % 5}",
                title=f"事项{i}",
                state="open",
                version=1,
                clocks=[clock],
            )
        )
    return out


def test_period_scores_equal_the_full_path(engine):
    tag = f"SC-{uuid.uuid4().hex[:5]}"
    with Session(engine) as s:
        for snap in _snapshots(tag):
            save_snapshot(s, snap)
    as_of = dt.date(2026, 3, 15)
    od = default_overdue_days()
    with Session(engine) as s:
        for label in ("2025", "2025-Q4", "2026-Q1", "2026-02"):
            p = parse_period(label)
            for dept in (None, "dept-2"):
                fast = score_period(
                    current_records(s, as_of, dept, od, period=p), p, as_of, load_scoring(), dept, rules=RULES
                )
                full = score_period(current_records(s, as_of, dept, od), p, as_of, load_scoring(), dept, rules=RULES)
                mine = lambda r: [d for d in r.model_dump()["details"] if d["item_id"].startswith(tag)]  # noqa: E731
                assert mine(fast) == mine(full), (label, dept)
                assert dept or len(mine(full)) > 3
                if dept == "dept-2":
                    assert fast.model_dump() == full.model_dump()


def test_annual_report_events_stop_at_the_year(engine):
    tag = f"EV-{uuid.uuid4().hex[:5]}"
    with Session(engine) as s:
        for i, day in enumerate(("2025-12-31", "2026-01-01")):
            rec = event_record_from(
                {"event_id": f"{tag}-{i}", "type": "request.received", "request_id": f"{tag}-{i}", "department": "d"},
                item_id=f"{tag}-{i}",
                department="d",
                occurred_on=day,
                content_hash="x",
                recorded_by=None,
            )
            add_event(s, rec)
    with Session(engine) as s:
        ids = {e["event_id"] for e in load_events(s, until=dt.date(2025, 12, 31))}
        every = {e["event_id"] for e in load_events(s)}
    assert f"{tag}-0" in ids and f"{tag}-1" not in ids and {f"{tag}-0", f"{tag}-1"} <= every


def test_marks_selected_in_sql_equal_the_full_scan(engine):
    from domain.scoring import marks_from_events, marks_from_snapshots
    from services.scores import current_marks, load_snapshots

    tag = f"MK-{uuid.uuid4().hex[:5]}"
    with Session(engine) as s:
        for i, disclosure in enumerate(("withheld", "public", "withheld")):
            save_snapshot(
                s,
                ItemSnapshot(
                    id=f"{tag}-d{i}",
                    type="document",
                    department=f"dept-{i}",
                    title="文件",
                    state="open",
                    version=1,
                    data={
                        "disclosure": disclosure,
                        "signed_on": "2026-03-02",
                        "withheld_reason": "withheld.state_secret",
                    },
                ),
            )
        evs = [
            {
                "event_id": f"{tag}-r",
                "type": "request.received",
                "request_id": f"{tag}-q",
                "department": "dept-1",
                "subject": "x",
            },
            {
                "event_id": f"{tag}-v",
                "type": "review.decided",
                "request_id": f"{tag}-q",
                "on": "2026-05-01",
                "result": "corrected",
            },
            {
                "event_id": f"{tag}-w",
                "type": "litigation.decided",
                "request_id": f"{tag}-q",
                "on": "2026-06-01",
                "result": "upheld",
            },
        ]
        for e in evs:
            add_event(
                s,
                event_record_from(
                    e,
                    item_id=e["request_id"],
                    department=e.get("department"),
                    occurred_on=e.get("on", "2026-04-01"),
                    content_hash="x",
                    recorded_by=None,
                ),
            )
    with Session(engine) as s:
        for dept in (None, "dept-1", "dept-2"):
            full = marks_from_snapshots(load_snapshots(s, dept)) + marks_from_events(load_events(s))
            full = [m for m in full if dept is None or m.department == dept]
            key = lambda m: (m.kind, m.item_id, m.on)  # noqa: E731
            assert sorted(current_marks(s, dept), key=key) == sorted(full, key=key)
        mine = [m for m in current_marks(s) if m.item_id.startswith(tag)]
        assert sorted((m.kind, m.item_id) for m in mine) == [
            ("case_lost", f"{tag}-q"),
            ("withheld", f"{tag}-d0"),
            ("withheld", f"{tag}-d2"),
        ]
