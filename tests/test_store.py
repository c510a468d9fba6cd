"""Read-model repository on SQLite and PostgreSQL (each test runs on both)."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlmodel import Session

from domain.model import ClockSnapshot, ItemSnapshot
from domain.shanghai import SHANGHAI_OFFSET
from store.clock_rows import clock_rows_due_between, due_changes, open_clocks_due_before, record_due_change
from store.db import init_db
from store.events import add_event, event_record_from, find_event
from store.items import get_item, list_items, save_snapshot
from store.models import Clock, DueDateChange, EventRecord, Item
from store.requests import request_ids_with_flag_data, same_day_requests, withdrawals_by_applicant


def snap(item_id="req-1", version=1, dept="dept-a", due="2026-03-10", state="open", clock_state="open", **kw):
    return ItemSnapshot(
        id=item_id,
        type="request",
        department=dept,
        title="关于公开某文件的申请",
        state=state,
        version=version,
        data={"channel": "online", "v": version},
        clocks=[
            ClockSnapshot(
                rule="request.reply",
                start="2026-02-09",
                due=due,
                due_instant=f"{due}T23:59:59+08:00",
                state=clock_state,
                explanation={"steps": [f"v{version}"]},
                **kw,
            )
        ],
    )


def test_init_db_is_idempotent(engine):
    init_db(engine)
    init_db(engine)
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(Item)).scalar_one() == 0


def test_save_snapshot_version_guard(db_session):
    s = db_session
    assert save_snapshot(s, snap(version=1, due="2026-03-10")) is True
    assert save_snapshot(s, snap(version=1, due="2026-03-11")) is False  # equal: ignored
    assert save_snapshot(s, snap(version=0, due="2026-03-12")) is False  # older: ignored
    got = get_item(s, "req-1")
    assert got.version == 1 and got.clocks[0].due == "2026-03-10"

    newer = snap(version=3, due="2026-03-20", paused_days=2, ladder_step="T-3")
    newer.clocks.append(ClockSnapshot(rule="request.extension", start="2026-03-01", due=None))
    assert save_snapshot(s, newer) is True
    got = get_item(s, "req-1")
    assert got.version == 3
    assert got.data == {"channel": "online", "v": 3}
    assert [c.rule for c in got.clocks] == ["request.reply", "request.extension"]
    reply = got.clocks[0]
    assert reply.due == "2026-03-20" and reply.paused_days == 2 and reply.ladder_step == "T-3"
    assert reply.explanation == {"steps": ["v3"]}
    # the instant survives the round trip (stored UTC, given back in +08:00)
    assert datetime.fromisoformat(reply.due_instant) == datetime(2026, 3, 20, 23, 59, 59, tzinfo=SHANGHAI_OFFSET)
    assert got.clocks[1].due is None and got.clocks[1].due_instant is None
    # one row per (item, rule): upsert, not insert
    assert s.execute(select(func.count()).select_from(Clock)).scalar_one() == 2
    # created_at kept, updated_at aware UTC
    item = s.get(Item, "req-1")
    s.refresh(item)
    assert item.created_at.tzinfo is not None and item.updated_at >= item.created_at


def test_clock_summary_is_written_beside_the_explanation_and_capped(db_session):
    """The 明细 reads clock.summary (an indexed column), not the explanation JSON: the store keeps it in step
    with every write, capped so the index entry stays small."""
    from store.models import SUMMARY_MAX

    s = db_session
    first = snap(version=1)
    first.clocks[0].explanation = {"summary": "自 2026-02-09 的次日起算第 20 个工作日为 2026-03-10", "steps": []}
    save_snapshot(s, first)
    second = snap(version=2)
    second.clocks[0].explanation = {"summary": "延" * (SUMMARY_MAX + 50)}
    second.clocks.append(ClockSnapshot(rule="request.extension", start="2026-03-01", due=None))
    save_snapshot(s, second)
    got = dict(s.execute(select(Clock.rule, Clock.summary)).all())
    assert got == {"request.reply": "延" * (SUMMARY_MAX - 1) + "…", "request.extension": None}
    rows = clock_rows_due_between(s, "2026-03-01", "2026-03-31")
    assert [r[-1] for r in rows] == ["延" * (SUMMARY_MAX - 1) + "…"]


def test_save_snapshot_concurrent_writers_keep_newest(engine):
    versions = list(range(1, 41))
    random.Random(7).shuffle(versions)
    errors: list[BaseException] = []

    def writer(chunk):
        try:
            with Session(engine) as s:
                for v in chunk:
                    save_snapshot(s, snap(version=v, due=f"2026-04-{(v % 28) + 1:02d}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(versions[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with Session(engine) as s:
        got = get_item(s, "req-1")
        assert got.version == 40
        assert got.clocks[0].due == f"2026-04-{(40 % 28) + 1:02d}"
        assert got.clocks[0].explanation == {"steps": ["v40"]}
        assert s.execute(select(func.count()).select_from(Clock)).scalar_one() == 1


def test_list_items_and_get_missing(db_session):
    s = db_session
    save_snapshot(s, snap("a-1", dept="dept-a"))
    save_snapshot(s, snap("a-2", dept="dept-a", state="closed", clock_state="met"))
    save_snapshot(s, snap("b-1", dept="dept-b"))
    assert get_item(s, "nope") is None
    assert [i.id for i in list_items(s)] == ["a-1", "a-2", "b-1"]
    assert [i.id for i in list_items(s, department="dept-a")] == ["a-1", "a-2"]
    assert [i.id for i in list_items(s, department="dept-a", state="open")] == ["a-1"]
    assert [i.id for i in list_items(s, type="document")] == []
    by_id = {i.id: i for i in list_items(s)}
    assert by_id["a-2"].clocks[0].state == "met" and len(by_id["b-1"].clocks) == 1


def test_open_clocks_due_before(db_session):
    s = db_session
    save_snapshot(s, snap("late-a", dept="dept-a", due="2026-03-02"))
    save_snapshot(s, snap("late-b", dept="dept-b", due="2026-03-03"))
    save_snapshot(s, snap("met", dept="dept-a", due="2026-03-01", clock_state="met"))
    save_snapshot(s, snap("paused", dept="dept-a", due="2026-03-01", clock_state="paused"))
    save_snapshot(s, snap("future", dept="dept-a", due="2026-03-09"))
    # due 2026-03-03T23:59:59+08:00 == 15:59:59Z: one second later it is overdue
    now = datetime(2026, 3, 3, 16, 0, 0, tzinfo=UTC)
    rows = open_clocks_due_before(s, now)
    assert [(i.id, c.rule) for i, c in rows] == [("late-a", "request.reply"), ("late-b", "request.reply")]
    assert all(c.due_instant.tzinfo is not None for _, c in rows)
    assert [i.id for i, _ in open_clocks_due_before(s, now, department="dept-b")] == ["late-b"]
    just_before = datetime(2026, 3, 3, 23, 59, 59, tzinfo=SHANGHAI_OFFSET)
    assert [i.id for i, _ in open_clocks_due_before(s, just_before)] == ["late-a"]


def test_event_record_drops_applicant(db_session, engine):
    s = db_session
    event = {
        "event_id": "ev-1",
        "type": "request.received",
        "request_id": "req-9",
        "department": "dept-a",
        "channel": "online",
        "received_on": "2026-02-09",
        "applicant_type": "natural_person",
        "applicant": {"name": "张三", "contact": "13800000000"},
        "subject": "某文件",
        "recorded_by": "p-1",
    }
    rec = event_record_from(event)
    assert "applicant" not in rec.payload and rec.payload["applicant_type"] == "natural_person"
    assert rec.item_id == "req-9" and rec.occurred_on == "2026-02-09" and rec.recorded_by == "p-1"
    # one content hash everywhere (domain.events): personal data is not even hashed, and who sent it
    # (CLI or API) does not make it another event; any other field does
    from domain.events import content_hash

    assert rec.content_hash == content_hash(event)
    assert (
        event_record_from(dict(event, applicant={"name": "李四"}, recorded_by="p-2")).content_hash == rec.content_hash
    )
    assert event_record_from(dict(event, subject="另一文件")).content_hash != rec.content_hash

    assert add_event(s, rec) is True
    assert add_event(s, event_record_from(event)) is False
    found = find_event(s, "ev-1")
    assert found is not None and found.content_hash == rec.content_hash
    assert find_event(s, "missing") is None
    # nothing personal anywhere in the stored row
    with engine.connect() as conn:
        raw = " ".join(str(v) for v in conn.execute(text("select * from event_record")).one())
    assert "张三" not in raw and "13800000000" not in raw and 'applicant"' not in raw

    ar = event_record_from(
        {
            "event_id": "ev-2",
            "type": "annual_report.published",
            "department": "dept-a",
            "year": 2025,
            "published_on": "2026-01-20",
        }
    )
    assert ar.item_id == "annual-report:dept-a:2025" and ar.occurred_on == "2026-01-20"
    op = event_record_from(
        {
            "event_id": "ev-3",
            "type": "opinion.detected",
            "case_id": "c-1",
            "department": "dept-a",
            "detected_at": "2026-02-01T10:00:00+08:00",
        }
    )
    assert op.item_id == "c-1" and op.occurred_on == "2026-02-01"
    assert s.execute(select(func.count()).select_from(EventRecord)).scalar_one() == 1


def test_record_due_change(db_session):
    s = db_session
    save_snapshot(s, snap())
    rec = record_due_change(s, "req-1", "request.reply", "2026-03-10", "2026-04-08", "经审批延长答复期限20个工作日")
    assert rec.id is not None and rec.changed_at.tzinfo is not None
    changes = due_changes(s, "req-1")
    assert [(c.old_due, c.new_due, c.reason) for c in changes] == [
        ("2026-03-10", "2026-04-08", "经审批延长答复期限20个工作日")
    ]
    assert s.execute(select(func.count()).select_from(DueDateChange)).scalar_one() == 1


def test_first_use_from_many_threads_migrates_once(tmp_path):
    """The worker's activity threads can all be the first to touch a fresh store (the item workflow is the one
    writer): the migration runs once, the others wait for it instead of racing alembic."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlmodel import create_engine

    from store.db import init_db

    eng = create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    with ThreadPoolExecutor(16) as pool:
        done = list(pool.map(lambda _: init_db(eng), range(16)))
    assert all(e is eng for e in done)
    with eng.connect() as conn:
        assert conn.execute(text("select count(*) from alembic_version")).scalar_one() == 1


def test_requests_of_one_applicant_are_found_by_key_only(db_session):
    """#17 §4: withdrawals of an applicant (by the keyed hash) and same-day groups, on both databases; the
    flaggable requests are those whose data carries a correction, a consultation or a withdrawal link."""

    def request(item_id, key, day, dept="dept-a", state="open", **data):
        s = ItemSnapshot(
            id=item_id,
            type="request",
            department=dept,
            state=state,
            version=1,
            data={"start_on": day, **data},
            applicant_key=key,
        )
        save_snapshot(db_session, s)

    request("w-1", "k1", "2026-03-02", state="withdrawn")
    request("w-2", "k1", "2026-03-02", dept="dept-b", state="withdrawn")
    request("n-1", "k1", "2026-03-10", consultations=[{"on": "2026-03-11"}])
    request("n-2", "k1", "2026-03-10")
    request("o-1", "k2", "2026-03-10", correction={"respond_by": "2026-03-20"})
    request("o-2", None, "2026-03-10", after_withdrawal={"request_id": "w-1"})
    request("o-3", None, "2026-03-10")
    for item_id, dept in (("w-1", "dept-a"), ("w-2", "dept-b")):
        rec = event_record_from(
            {"event_id": f"{item_id}-w", "type": "request.withdrawn", "request_id": item_id, "on": "2026-03-05"},
            department=dept,
        )
        add_event(db_session, rec)
    assert withdrawals_by_applicant(db_session, "k1", "dept-a", "n-1") == [("w-1", "2026-03-05")]
    assert withdrawals_by_applicant(db_session, "k2", "dept-a", "n-1") == []
    assert withdrawals_by_applicant(db_session, "k1", "dept-a", "w-1") == []
    assert same_day_requests(db_session) == [{"department": "dept-a", "day": "2026-03-10", "ids": ["n-1", "n-2"]}]
    assert same_day_requests(db_session, "dept-b") == []
    assert same_day_requests(db_session, None, "2026-03-11", "2026-03-31") == []  # the board's period
    assert len(same_day_requests(db_session, None, "2026-03-01", "2026-03-10")) == 1
    assert same_day_requests(db_session, None, open_only=True)[0]["ids"] == ["n-1", "n-2"]
    assert same_day_requests(db_session, "dept-b", open_only=True) == []
    assert request_ids_with_flag_data(db_session) == ["n-1", "o-1", "o-2"]
    assert db_session.get(Item, "n-1").applicant_key == "k1"


def test_request_checks_count_per_department_on_both_databases(db_session):
    """The scores page's #17 §4 counts: requests of the period by receipt, withdrawals, extensions (event
    rows), consultations from the item data, same-day groups of one applicant key."""
    from domain.scoring import parse_period
    from services.scores import request_checks

    def request(item_id, day, dept="dept-a", state="open", key=None, **data):
        save_snapshot(
            db_session,
            ItemSnapshot(
                id=item_id, type="request", department=dept, state=state, version=1, applicant_key=key,
                data={"start_on": day, **data},
            ),
        )  # fmt: skip

    request("a-1", "2026-03-02", state="withdrawn")
    request("a-2", "2026-03-10", key="k", consultations=[{"on": "2026-03-11"}, {"on": "2026-03-20"}])
    request("a-3", "2026-03-10", key="k")
    request("a-4", "2025-12-30", consultations=[{"on": "2026-01-05"}])  # received last year: not counted
    request("b-1", "2026-04-01", dept="dept-b")
    request("a-5", "2025-12-29", state="withdrawn")  # received last year, withdrawn in this one: counted
    ext = {"event_id": "a-3-x", "type": "request.extended", "request_id": "a-3", "on": "2026-03-20"}
    add_event(db_session, event_record_from(ext, department="dept-a"))
    for rid, on in (("a-1", "2026-03-05"), ("a-5", "2026-01-06")):  # withdrawals count by their own date
        ev = {"event_id": f"{rid}-w", "type": "request.withdrawn", "request_id": rid, "on": on}
        add_event(db_session, event_record_from(ev, department="dept-a"))
    got = {r["department"]: r for r in request_checks(db_session, parse_period("2026"))}
    a = got["dept-a"]
    assert (a["requests"], a["withdrawals"], a["extensions"], a["consultations"], a["same_day_groups"]) == (
        3,
        2,
        1,
        2,
        1,
    )
    assert got["dept-b"]["requests"] == 1 and got["dept-b"]["consultations"] == 0
    assert [r["department"] for r in request_checks(db_session, parse_period("2026"), "dept-b")] == ["dept-b"]
