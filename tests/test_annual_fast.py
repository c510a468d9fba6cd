"""The annual report's SQL path (store/annual.py + domain/annual_rows.py) gives exactly the document of the
reference path (domain.annual_document.build_document over every event up to the year's end and every clock
record) on a varied store, for several years and scopes, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import random

import pytest
from sqlmodel import Session

from domain import annual_rows
from domain import report as R
from domain.annual_document import ALL_SCOPE, build_document, department_scope, government_scope
from domain.directory import load_directory
from domain.engine import engine as config_engine
from domain.events import parse_event
from domain.model import ClockSnapshot, ItemSnapshot
from domain.scoring import load_scoring, rule_labels
from domain.shanghai import SHANGHAI_OFFSET
from services.annual import _records, _rule_hours, annual_document
from store.annual import year_rows
from store.events import add_event, event_record_from, load_events
from store.items import save_snapshot

AS_OF = dt.date(2026, 11, 20)
# The day the fixture's rows are recorded: after its last fact (opinion cases around 2026-12-31), since a fact is
# never dated after the day it is recorded.
TODAY = dt.date(2027, 1, 10)
DEPTS = ["qz-zfb", "qz-fgw", "qz-czj", "qz-jyj", "qz-zrzyj", "x-gone"]  # x-gone: not in the directory
APPLICANTS = ["natural_person", "legal.business", "legal.research", "legal.public_interest", "legal.other"]
OUTCOMES = ["granted", "granted", "partially_granted", "unavailable.not_held", "withheld.state_secret"]
OUTCOMES += ["not_processed.duplicate", "other.fee_unpaid"]


def _day(d: dt.date) -> str:
    return d.isoformat()


class _Store:
    """Writes events the way the workflows' save_item does (validated, the item's department on every row),
    or for some items the way older imports did (follow-ups without a department), and clock snapshots."""

    def __init__(self, s: Session, rng: random.Random):
        self.s, self.rng, self.n = s, rng, 0
        self.snaps: dict[str, ItemSnapshot] = {}

    def add(self, dept: str, legacy: bool = False, **raw):
        self.n += 1
        raw["event_id"] = f"ev-{self.n:05d}"
        ev = parse_event(raw, internal=raw["type"] == "request.abandoned", today=TODAY)
        data = ev.data | {"type": ev.type, "event_id": ev.event_id}
        if legacy:  # as older imports wrote it: a follow-up without its item's department
            rec = event_record_from(data)
        else:
            rec = event_record_from(data, item_id=ev.item_id, department=ev.department or dept, occurred_on=ev.on[:10])
        add_event(self.s, rec, commit=False)

    def odd(self, dept: str, **raw):
        """A value outside today's vocabulary (an event of an older release), stored as it is."""
        self.n += 1
        raw["event_id"] = f"ev-{self.n:05d}"
        add_event(self.s, event_record_from(raw, department=dept), commit=False)

    def clock(self, item_id: str, item_type: str, dept: str, rule: str, due: str | None, state: str, met_on=None):
        snap = self.snaps.setdefault(
            item_id, ItemSnapshot(id=item_id, type=item_type, department=dept, title=item_id, version=1, clocks=[])
        )
        snap.clocks.append(
            ClockSnapshot(rule=rule, start=(due or "2025-01-01")[:10], due=due, state=state, met_on=met_on)
        )

    def close(self):
        for snap in self.snaps.values():
            save_snapshot(self.s, snap, commit=False)
        self.s.commit()


def _fill(s: Session, seed: int = 3) -> None:
    rng = random.Random(seed)
    st = _Store(s, rng)
    first = dt.date(2023, 6, 1).toordinal()

    def some_day(after: dt.date, span: int) -> dt.date:
        return min(after + dt.timedelta(days=rng.randint(0, span)), TODAY - dt.timedelta(days=1))

    def clock_state(due: dt.date) -> tuple[str, str | None]:
        state = rng.choice(["open", "met", "met", "met", "missed", "closed", "paused"])
        met = None
        if state in ("met", "missed"):
            met = _day(min(due + dt.timedelta(days=rng.randint(-12, 15)), TODAY))
        return state, met

    # requests: received 2023-06 .. 2026-10, carried over year ends, corrected, consulted, extended, closed
    for i in range(160):
        rid, dept = f"YSQ-{i:03d}", DEPTS[i % len(DEPTS)]
        legacy = i % 5 == 0
        received = dt.date.fromordinal(rng.randint(first, dt.date(2026, 10, 31).toordinal()))
        base = dict(request_id=rid)
        if i == 7:  # an applicant type an older release knew
            st.odd(
                dept, type="request.received", department=dept, channel="online", received_on=_day(received),
                applicant_type="legal.unknown", subject="s", request_id=rid,
            )  # fmt: skip
        else:
            st.add(
                dept, legacy, type="request.received", department=dept, received_on=_day(received),
                channel=rng.choice(["online", "in_person", "email", "post_registered", "fax"]),
                applicant_type=rng.choice(APPLICANTS), subject="政府信息公开申请", **base,
            )  # fmt: skip
        day = received
        if rng.random() < 0.25:
            day = some_day(day, 5)
            st.add(dept, legacy, type="request.correction_requested", on=_day(day),
                   respond_by=_day(day + dt.timedelta(days=15)), **base)  # fmt: skip
            if rng.random() < 0.7:
                day = some_day(day, 10)
                st.add(dept, legacy, type="request.corrected", on=_day(day), **base)
        if rng.random() < 0.25:
            day = some_day(day, 8)
            st.add(dept, legacy, type="request.consultation_started", on=_day(day),
                   **{"with": rng.choice(["third_party", "agency"])}, **base)  # fmt: skip
            day = some_day(day, 15)
            st.add(dept, legacy, type="request.consultation_ended", on=_day(day), **base)
        if rng.random() < 0.2:
            day = some_day(day, 20)
            st.add(dept, legacy, type="request.extended", on=_day(day), working_days=rng.randint(5, 20),
                   approved_by="主任", notified_on=_day(day), reason="需要调取档案", **base)  # fmt: skip
        close = rng.random()
        if close < 0.55:
            day = some_day(day, 90)
            if i == 11:  # an outcome an older release knew
                st.odd(dept, type="request.replied", on=_day(day), outcome="granted_in_part", **base)
            else:
                st.add(dept, legacy, type="request.replied", on=_day(day), outcome=rng.choice(OUTCOMES), **base)
            if i % 23 == 0:  # a second closing (bad data): the first one counts
                st.add(dept, legacy, type="request.withdrawn", on=_day(some_day(day, 3)), **base)
        elif close < 0.62:
            st.add(dept, legacy, type="request.answered_on_the_spot", on=_day(received), outcome="granted", **base)
        elif close < 0.72:
            st.add(dept, legacy, type="request.withdrawn", on=_day(some_day(day, 60)), **base)
        elif close < 0.8:
            st.add(dept, legacy, type="request.abandoned", on=_day(some_day(day, 40)), **base)
        elif close < 0.83 and received.month == 1:
            # dated before its receipt (bad data): read as closed on the receipt day
            st.add(dept, legacy, type="request.replied", on=_day(received - dt.timedelta(days=3)),
                   outcome="granted", **base)  # fmt: skip
        if rng.random() < 0.15:  # review, then perhaps litigation (with or without after_review on the decision)
            f = some_day(day, 200)
            st.add(dept, legacy, type="review.filed", on=_day(f), **base)
            if rng.random() < 0.7:
                st.add(dept, legacy, type="review.decided", on=_day(some_day(f, 200)),
                       result=rng.choice(["upheld", "corrected", "other"]), **base)  # fmt: skip
            if rng.random() < 0.5:
                lf = some_day(f, 100)
                st.add(dept, legacy, type="litigation.filed", on=_day(lf), after_review=rng.random() < 0.5, **base)
                if rng.random() < 0.6:
                    extra = {"after_review": rng.random() < 0.5} if rng.random() < 0.4 else {}
                    st.add(dept, legacy, type="litigation.decided", on=_day(some_day(lf, 300)),
                           result=rng.choice(["upheld", "corrected", "other"]), **extra, **base)  # fmt: skip
        due = received + dt.timedelta(days=28)
        state, met = clock_state(due)
        st.clock(rid, "request", dept, "request_reply", None if state == "paused" and i % 2 else _day(due), state, met)
        if i % 4 == 0:
            st.clock(rid, "request", dept, "correction_notice", _day(received + dt.timedelta(days=7)), "closed")

    # documents of every kind: published (sometimes twice), interpreted, repealed, withheld
    for i in range(140):
        did, dept = f"WJ-{i:03d}", DEPTS[(i * 7) % len(DEPTS)]
        legacy = i % 6 == 0
        signed = dt.date.fromordinal(rng.randint(first, dt.date(2026, 10, 31).toordinal()))
        kind = rng.choice(["regulation", "normative", "normative", "policy", "other"])
        # (rng drawn first either way: the rest of the data set stays the same) 规章/规范性文件 cannot be withheld
        withheld = rng.random() < 0.1 and kind in ("policy", "other")
        st.add(
            dept, legacy, type="document.signed", document_id=did, department=dept, title=f"文件{i}", kind=kind,
            signed_on=_day(signed), disclosure="withheld" if withheld else "public",
            **({"withheld_reason": "涉及国家秘密"} if withheld else {}),
        )  # fmt: skip
        base = dict(document_id=did)
        pub = None
        if not withheld and rng.random() < 0.85:
            pub = some_day(signed, 40)
            channel = rng.choice(["website", "gazette", "weibo", "wechat"])
            st.add(dept, legacy, type="document.published", published_on=_day(pub), url=f"https://x.gov.cn/{did}",
                   **({"channel": channel} if rng.random() < 0.8 else {}), **base)  # fmt: skip
            if rng.random() < 0.15:
                st.add(dept, legacy, type="document.published", published_on=_day(some_day(pub, 60)),
                       url=f"https://x.gov.cn/{did}/2", channel="gazette", **base)  # fmt: skip
            for _ in range(rng.choice([0, 0, 1, 1, 2])):
                st.add(dept, legacy, type="interpretation.published", published_on=_day(some_day(pub, 6)),
                       url=f"https://x.gov.cn/{did}/jd", form=rng.choice(["text", "graphic", "video", "other"]),
                       **base)  # fmt: skip
        if rng.random() < 0.2:
            st.add(dept, legacy, type="document.repealed", repealed_on=_day(some_day(signed, 500)), **base)
        due = signed + dt.timedelta(days=28)
        state, met = clock_state(due)
        st.clock(did, "document", dept, "policy_publication", _day(due), state, met)
        if pub is not None and kind in ("normative", "policy"):
            state, met = clock_state(pub + dt.timedelta(days=4))
            st.clock(did, "document", dept, "policy_interpretation", _day(pub + dt.timedelta(days=4)), state, met)

    # public opinion, detected near year ends and in other offsets than Shanghai's
    for i in range(40):
        cid, dept = f"YQ-{i:03d}", DEPTS[(i * 5) % len(DEPTS)]
        year = 2024 + i % 3
        at = dt.datetime(year, 12, 31, 12, tzinfo=dt.UTC) + dt.timedelta(hours=rng.randint(-900, 30))
        shown = at.isoformat() if i % 3 else at.astimezone(SHANGHAI_OFFSET).isoformat()
        severity = rng.choice(["major", "general"])
        st.add(dept, i % 4 == 0, type="opinion.detected", case_id=cid, department=dept, detected_at=shown,
               severity=severity)  # fmt: skip
        for kind in rng.sample(["opinion.info_released", "opinion.press_conference", "opinion.responded"], 2):
            when = at + dt.timedelta(hours=rng.uniform(0.5, 60))
            st.add(dept, i % 4 == 0, type=kind, case_id=cid, at=when.isoformat())
        due = (at + dt.timedelta(hours=5 if severity == "major" else 48)).astimezone(SHANGHAI_OFFSET)
        met = (at + dt.timedelta(hours=rng.uniform(1, 60))).astimezone(SHANGHAI_OFFSET)
        rule = "opinion_response_info" if severity == "major" else "opinion_response_general"
        st.clock(cid, "opinion", dept, rule, due.isoformat(), rng.choice(["met", "open"]), met.isoformat())
    st.close()


def _args() -> dict:
    directory = load_directory()
    return dict(
        as_of=AS_OF,
        rule_labels=rule_labels(config_engine().rules, load_scoring()),
        dept_names={d.id: d.name for d in directory.departments.values()},
        rule_hours=_rule_hours(),
        entered={"licensing": 4, "staff_full_time": 2},
    )


def _both(s: Session, year: int, scope) -> tuple[dict, dict]:
    lapsing = [r.id for r in config_engine().rules.values() if r.lapses]
    fast = annual_rows.document(year_rows(s, year, scope.departments, lapsing, AS_OF), scope, **_args())
    ref = build_document(load_events(s, until=dt.date(year, 12, 31)), year, scope, clocks=_records(s, AS_OF), **_args())
    return fast, ref


@pytest.fixture
def varied(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(tmp_path / "data"))
    with Session(engine) as s:
        _fill(s)
    with Session(engine) as s:
        yield s


def test_fast_path_equals_the_reference(varied):
    s = varied
    parents = {"qz-zfb": None, "qz-fgw": None, "qz-jyj": "qz-fgw", "qz-czj": "qz-zfb", "x-gone": "qz-jyj"}
    scopes = [
        ALL_SCOPE,
        department_scope("qz-czj", "钦州市财政局"),
        department_scope("x-gone", "x-gone"),
        government_scope("qz-fgw", "钦州市发展改革委办公室", parents),  # qz-fgw, qz-jyj and x-gone
    ]
    seen = {"carried_in": 0, "notes": 0, "t4": 0, "missed": 0, "opinion": 0, "t2": 0, "consult": 0}
    for year in (2024, 2025, 2026):
        for scope in scopes:
            fast, ref = _both(s, year, scope)
            for key in ref:  # key by key first: a difference names its part
                assert fast[key] == ref[key], (year, scope.kind, scope.department, key)
            assert fast == ref
            t3, f = ref["table3"], ref["figures"]
            seen["carried_in"] += t3["carried_in"]["total"] > 0 and t3["carried_out"]["total"] > 0
            seen["notes"] += bool(ref["notes"])
            seen["t4"] += sum(b["total"] for b in ref["table4"].values()) > 0
            seen["missed"] += bool(ref["missed"])
            seen["opinion"] += f["opinion_cases"] > 0 and f["opinion_answered"] > 0
            seen["t2"] += sum(ref["table2"][k]["in_force"] + ref["table2"][k]["repealed"] for k in ("normative",)) > 0
            seen["consult"] += f["consultations"] != {} and f["extensions"] > 0 and f["reply_decided"] > 0
    # the store is varied enough that every part was compared on real numbers, not on zeros
    assert all(n >= 2 for n in seen.values()), seen


def test_the_service_uses_the_fast_path_with_the_directory_scopes(varied):
    for kwargs in ({}, {"department": "qz-czj"}, {"government": True}):
        fast = annual_document(2025, as_of=AS_OF, session=varied, **kwargs)
        ref = annual_document(2025, as_of=AS_OF, session=varied, reference=True, **kwargs)
        assert fast == ref, kwargs
        assert fast["table3"]["new"]["total"] > 0


def test_a_locked_year_and_its_successor_read_the_same_on_both_paths(varied):
    """Locks of 2024 (department and government reports) and a reply dated 2024-12-30 written afterwards: both
    paths show 2024 as locked with the same amendments, and 2025 with the carry-in kept to the published figure."""
    from sqlmodel import select

    from store.locks import lock_annual_report
    from store.models import EventRecord

    lapsing = [r.id for r in config_engine().rules.values() if r.lapses]
    kwargs: list[dict] = [{"department": "qz-czj"}, {"government": True}]
    locks = []
    for kw in kwargs:
        from services.annual import resolve_scope

        scope = resolve_scope(kw.get("department"), kw.get("government", False))
        locks.append(lock_annual_report(varied, 2024, scope, lapsing=lapsing, as_of=AS_OF, basis="assessor"))
    before = annual_document(2025, as_of=AS_OF, session=varied, department="qz-czj")
    # a request of qz-czj open at the end of 2024, closed now by a reply dated December 30
    closed = {
        e.item_id for e in varied.exec(select(EventRecord).where(EventRecord.type.in_(annual_rows.CLOSING_TYPES)))
    }
    open_2024 = sorted(
        e.item_id
        for e in varied.exec(
            select(EventRecord).where(
                EventRecord.type == "request.received",
                EventRecord.department == "qz-czj",
                EventRecord.occurred_on <= "2024-12-31",
            )
        )
        if e.item_id not in closed
    )
    assert open_2024, "the fixture has a qz-czj request carried out of 2024"
    st = _Store(varied, random.Random(0))
    st.n = 90000
    st.add("qz-czj", type="request.replied", request_id=open_2024[0], on="2024-12-30", outcome="granted")
    varied.commit()
    for kw, lock in zip(kwargs, locks, strict=True):
        for year in (2024, 2025):
            fast = annual_document(year, as_of=AS_OF, session=varied, **kw)
            ref = annual_document(year, as_of=AS_OF, session=varied, reference=True, **kw)
            assert fast == ref, (year, kw)
        doc = annual_document(2024, as_of=AS_OF, session=varied, **kw)
        assert doc["table3"] == lock.tables["table3"] and doc["lock"]["basis"] == "assessor"
        assert {(a["row"], a["column"]) for a in doc["amendments"]} >= {
            (R.ROW_LABELS["carried_out"], "总计"),
            (R.ROW_LABELS["granted"], "总计"),
        }
        nxt = annual_document(2025, as_of=AS_OF, session=varied, **kw)
        assert nxt["table3"]["carried_in"] == lock.tables["table3"]["carried_out"]
        assert nxt["table3"][R.CARRIED_IN_COUNTED]["total"] == nxt["table3"]["carried_in"]["total"] - 1
        assert nxt["checks"] == [] and nxt["carry_in"]["note"] in nxt["notes"]
    assert before["carry_in"] is None  # before the change the counted carry-in was the published one


def test_the_year_reads_only_what_it_counts(varied):
    """Requests closed before the year and events after it are not counted at all, the requests are read
    as counts per group; of the clocks only those that may be late are rows."""
    lapsing = [r.id for r in config_engine().rules.values() if r.lapses]
    rows = year_rows(varied, 2025, None, lapsing, AS_OF)
    events = load_events(varied)
    received = {e["request_id"]: e["received_on"] for e in events if e["type"] == "request.received"}
    closed: dict[str, str] = {}
    for e in sorted(events, key=lambda e: e.get("on", "")):
        if e["type"] in annual_rows.CLOSING_TYPES:
            closed.setdefault(e["request_id"], e["on"])
    done_before = {rid for rid, on in closed.items() if on < "2025-01-01" and received[rid] < "2025-01-01"}
    later = {rid for rid, on in received.items() if on > "2025-12-31"}
    assert done_before and later
    counted = sum(g[-1] for g in rows.request_groups)
    assert counted == len(received) - len(later) - len(done_before)
    assert rows.missed_candidates and rows.publication.sure > 0 and rows.reply.sure > 0
    for c in rows.missed_candidates + rows.publication.others + rows.reply.others:
        assert not annual_rows.surely_on_time(c.state, c.due, c.met_on, AS_OF)
    assert all("2025-01-01" <= c.due[:10] <= "2025-12-31" for c in rows.missed_candidates)


def test_surely_on_time_is_on_time():
    """What the store counts in SQL without classifying is what scoring.classify calls on time."""
    from domain.scoring import classify

    rng = random.Random(5)
    days = [dt.date(2025, 12, 20) + dt.timedelta(days=n) for n in range(20)]
    values = [d.isoformat() for d in days] + [f"{d.isoformat()}T{h:02d}:30:00+08:00" for d in days for h in (1, 23)]
    values += [f"{d.isoformat()}T20:00:00Z" for d in days] + [f"{d.isoformat()}T10:00:00" for d in days]
    sure = 0
    for _ in range(20000):
        state = rng.choice(["open", "met", "missed", "closed", "paused"])
        due, met_on, as_of = rng.choice(values), rng.choice([None, "", *values]), rng.choice(days)
        if annual_rows.surely_on_time(state, due, met_on, as_of):
            sure += 1
            assert classify(state, due, met_on, as_of) == "on_time", (state, due, met_on, as_of)
    assert sure > 100


def _tie_store(s: Session) -> dict[str, str]:
    """A document published twice on one day and a request closed twice on one day, the ids of each pair
    ordered one way by code point (Python, SQLite, PostgreSQL's "C") and the other way by a locale such as
    zh_CN.UTF-8 (lower case before upper case). Returns each publication's channel by event id."""
    dept, channels = "qz-czj", {"pub-b": "website", "pub-B": "gazette"}
    raws = [
        dict(event_id="sign-1", type="document.signed", document_id="WJ-T", department=dept, title="文件",
             kind="normative", signed_on="2025-03-03", disclosure="public"),
        *[dict(event_id=eid, type="document.published", document_id="WJ-T", published_on="2025-03-10",
               url=f"https://x.gov.cn/{eid}", channel=ch) for eid, ch in channels.items()],
        dict(event_id="recv-1", type="request.received", request_id="YSQ-T", department=dept, channel="online",
             received_on="2025-04-01", applicant_type="natural_person", subject="s"),
        dict(event_id="close-b", type="request.replied", request_id="YSQ-T", on="2025-04-20", outcome="granted"),
        dict(event_id="close-B", type="request.withdrawn", request_id="YSQ-T", on="2025-04-20"),
    ]  # fmt: skip
    for raw in raws:
        ev = parse_event(raw, today=TODAY)
        data = ev.data | {"type": ev.type, "event_id": ev.event_id}
        rec = event_record_from(data, item_id=ev.item_id, department=dept, occurred_on=ev.on[:10])
        add_event(s, rec, commit=False)
    s.commit()
    return channels


def test_the_first_event_does_not_depend_on_the_collation(engine, tmp_path, monkeypatch):
    """Ties on a day are broken by event id by code point on any database collation: the report on
    PostgreSQL (./scripts/test runs this on a C and on a zh_CN.UTF-8 database) equals SQLite's."""
    from sqlalchemy import text

    from tests.conftest import make_engine

    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(tmp_path / "data"))
    wanted = os.environ.get("SHIXIAN_TEST_COLLATION")
    if wanted and engine.dialect.name == "postgresql":  # the run on a Chinese database really is on one
        with engine.connect() as conn:
            collation = conn.execute(text("SELECT datcollate FROM pg_database WHERE datname = current_database()"))
            assert collation.scalar() == wanted
    lite, cleanup = make_engine(f"sqlite:///{tmp_path / 'lite.db'}")
    try:
        docs = []
        for eng in (engine, lite):
            with Session(eng) as s:
                channels = _tie_store(s)
                fast, ref = _both(s, 2025, ALL_SCOPE)
                assert fast == ref
                docs.append(fast)
                ids = [e["event_id"] for e in load_events(s) if e["type"] == "document.published"]
                assert ids == sorted(channels)  # the log's order: by code point
        assert docs[0] == docs[1]
        # the first publication's channel is the code-point-first id's; so is the first closing (a reply
        # counts as granted, the withdrawal does not)
        assert docs[0]["figures"]["published_channels"] == {channels[min(channels)]: 1}
        assert docs[0]["table3"]["granted"]["total"] == (1 if min("close-b", "close-B") == "close-b" else 0)
    finally:
        cleanup()
