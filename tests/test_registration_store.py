"""The registration-lag queries of the store (issue 17 §3) on SQLite and PostgreSQL: the board's list goes by
the Shanghai day of the recording instant, the scores' lags by the start's own date and the recorder's role."""

from __future__ import annotations

import datetime as dt

from domain.review import HELD_ROLES, REGISTRATION_STARTS
from domain.shanghai import SHANGHAI
from store.events import add_event, event_record_from, registration_late_events, start_lags


def _start(db_session, n: int, *, on: str, at: dt.datetime, lag: int, late: bool, role: str = "liaison", dept="d1"):
    rec = event_record_from(
        {
            "event_id": f"e{n}",
            "type": "request.received",
            "request_id": f"R{n}",
            "department": dept,
            "received_on": on,
            "channel": "online",
            "applicant_type": "natural_person",
        },
        ingested_at=at,
        recorded_role=role,
        lag_working_days=lag,
        registration_late=late,
    )
    assert add_event(db_session, rec)


def test_board_list_by_shanghai_recording_day_and_scores_by_own_date(db_session):
    q4, q1 = (dt.date(2026, 10, 1), dt.date(2026, 12, 31)), (dt.date(2027, 1, 1), dt.date(2027, 3, 31))
    # 23:30 on 12-31 in Shanghai is still Q4; 00:30 on 01-01 (16:30 UTC on 12-31) is already Q1
    _start(db_session, 1, on="2026-12-20", at=dt.datetime(2026, 12, 31, 23, 30, tzinfo=SHANGHAI), lag=7, late=True)
    _start(db_session, 2, on="2026-12-21", at=dt.datetime(2027, 1, 1, 0, 30, tzinfo=SHANGHAI), lag=6, late=True)
    _start(db_session, 3, on="2026-12-30", at=dt.datetime(2026, 12, 31, 9, 0, tzinfo=SHANGHAI), lag=1, late=False)
    _start(
        db_session,
        4,
        on="2026-11-02",
        at=dt.datetime(2026, 12, 1, tzinfo=SHANGHAI),
        lag=20,
        late=False,
        role="operator",
    )
    _start(db_session, 5, on="2026-12-01", at=dt.datetime(2026, 12, 9, tzinfo=SHANGHAI), lag=5, late=True, dept="d2")
    rows, total = registration_late_events(db_session, *q4)
    assert ([e.event_id for e in rows], total) == (["e1", "e5"], 2)  # by department, flagged only
    rows, total = registration_late_events(db_session, *q1)
    assert ([e.event_id for e in rows], total) == (["e2"], 1)
    rows, total = registration_late_events(db_session, *q4, department="d2", limit=1)
    assert ([e.event_id for e in rows], total) == (["e5"], 1)
    rows, total = registration_late_events(db_session, *q4, limit=1)
    assert ([e.event_id for e in rows], total) == (["e1"], 2)  # the longest lag first when capped
    # the scores: starts dated in the period (all four of d1 are dated in Q4), registered by the department
    lags = start_lags(db_session, REGISTRATION_STARTS, HELD_ROLES, "2026-10-01", "2026-12-31")
    assert sorted(lags) == [("d1", 1, False), ("d1", 6, True), ("d1", 7, True), ("d2", 5, True)]
    assert start_lags(db_session, REGISTRATION_STARTS, HELD_ROLES, "2026-10-01", "2026-12-31", "d2") == [
        ("d2", 5, True)
    ]
