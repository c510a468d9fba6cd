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
    from store.items import save_snapshot

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
    from services.scores import compute_scores, fresh_scores
    from store.db import session
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
    from store.events import load_events
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


def _doc(doc_id, **data):
    return ItemSnapshot(
        id=doc_id, type="document", department="qz-fgw", title=f"文件{doc_id}", version=1, state="recorded", data=data
    )


def test_documents_not_disclosed_proactively_are_counted_with_their_reason(db_session):
    """Issue 17 §2: on-request documents are counted (they were not), each 明细 row names its reason; a normative
    document recorded as needing no interpretation is counted and listed; stored events from before the
    rename (withheld_reason) and the now-refused normative + on_request still count (SQLite and PostgreSQL)."""
    from services.scores import compute_scores
    from store.items import save_snapshot

    docs = [
        _doc("W-old", disclosure="withheld", signed_on="2026-08-10", withheld_reason="withheld.state_secret"),
        _doc("Q1", kind="policy", disclosure="on_request", signed_on="2026-08-11", disclosure_reason="仅涉及特定对象"),
        _doc("Q-old", kind="normative", disclosure="on_request", signed_on="2026-08-12", needs_interpretation=True),
        _doc("N1", kind="normative", disclosure="public", signed_on="2026-08-13", needs_interpretation=False),
        _doc("N2", kind="normative", disclosure="public", signed_on="2026-08-14", needs_interpretation=True),
        _doc("P1", kind="policy", disclosure="public", signed_on="2026-08-15", needs_interpretation=False),
        _doc("Q-later", kind="other", disclosure="on_request", signed_on="2026-10-02", disclosure_reason="x"),
    ]
    for d in docs:
        assert save_snapshot(db_session, d)
    res = compute_scores(db_session, Q3, AS_OF)
    (dept,) = res.summary
    assert (dept.withheld, dept.on_request, dept.no_interpretation) == (1, 2, 1)
    rows = {d.item_id: (d.status, d.explanation) for d in res.details}
    assert rows == {
        "W-old": ("withheld", "不予公开：国家秘密"),
        "Q1": ("on_request", "依申请公开：仅涉及特定对象"),
        "Q-old": ("on_request", "依申请公开：（未说明理由）"),
        "N1": ("no_interpretation", rows["N1"][1]),
    }
    assert "国办发〔2016〕80号" in rows["N1"][1]
    assert dept.deduction == 0 and dept.score == 100  # counted, not deducted, by default
