"""The scoring use case (services/scores.py): one path for the CLI, the API, the pages and the locks."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from domain.model import ClockSnapshot, ItemSnapshot
from domain.scoring import parse_period

Q3 = parse_period("2026-Q3")
AS_OF = dt.date(2026, 10, 20)


def _store(tmp_path, monkeypatch):
    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    from store.db import database_url, get_engine, init_db
    from store.repo import save_snapshot

    engine = init_db(get_engine(database_url()))
    with Session(engine) as s:
        # late reply (met after due) and a document withheld in the period (a mark, not a clock)
        assert save_snapshot(
            s,
            ItemSnapshot(
                id="R1",
                type="request",
                department="qz-fgw",
                title="申请",
                version=1,
                state="closed",
                clocks=[
                    ClockSnapshot(
                        rule="request_reply",
                        start="2026-08-01",
                        due="2026-08-28",
                        state="met",
                        met_on="2026-09-03",
                        lateness_working_days=4,
                    )
                ],
            ),
        )
        assert save_snapshot(
            s,
            ItemSnapshot(
                id="D1",
                type="document",
                department="qz-fgw",
                title="文件",
                version=1,
                state="closed",
                data={"disclosure": "withheld", "signed_on": "2026-08-10", "withheld_reason": "withheld.state_secret"},
            ),
        )
    return engine


def test_lock_publishes_what_the_scores_show(tmp_path, monkeypatch):
    """The page's lock and the CLI's lock publish the numbers `scores show` gives, marks included (the
    page used to lock without the withheld / lost-case rows)."""
    _store(tmp_path, monkeypatch)
    from services.scores import compute_scores, fresh_scores, session
    from store.locks import lock_period

    with session() as s:
        shown = compute_scores(s, Q3, AS_OF)
        fresh = fresh_scores(s, Q3, AS_OF)
        assert sorted(d.status for d in fresh.details) == ["late", "withheld"]
        assert [(d.item_id, d.status) for d in shown.details] == [(d.item_id, d.status) for d in fresh.details]
        lock_period(s, Q3, fresh, locked_by="考评办")
    with session() as s:
        locked = compute_scores(s, Q3, AS_OF)
    assert locked.locked_at and [d.score for d in locked.summary] == [d.score for d in shown.summary]
    assert sorted(d.status for d in locked.details) == ["late", "withheld"]


def test_event_log_loads_as_canonical_dicts(tmp_path, monkeypatch):
    """load_events: the event log in order, type and id filled in, applicant data never returned."""
    engine = _store(tmp_path, monkeypatch)
    from services.scores import load_events
    from store.models import EventRecord

    with Session(engine) as s:
        s.add(
            EventRecord(
                event_id="e2",
                type="request.replied",
                item_id="R1",
                department="qz-fgw",
                occurred_on="2026-09-03",
                payload={"request_id": "R1"},
                content_hash="h2",
            )
        )
        s.add(
            EventRecord(
                event_id="e1",
                type="request.received",
                item_id="R1",
                department="qz-fgw",
                occurred_on="2026-08-01",
                content_hash="h1",
                payload={"request_id": "R1", "applicant": {"name": "张三"}},
            )
        )
        s.commit()
        events = load_events(s)
    assert [(e["event_id"], e["type"], e["department"]) for e in events] == [
        ("e1", "request.received", "qz-fgw"),
        ("e2", "request.replied", "qz-fgw"),
    ]
    assert all("applicant" not in e for e in events)
