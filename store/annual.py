"""What a year's annual report reads from the read model, selected and counted in SQL (a province's event log
is hundreds of thousands of rows; the report of a year needs only the year's facts, the requests carried into
it and the documents still in force).

Every query keeps `services.scores.load_events(until=Dec 31)` + `domain.annual_document.filter_events`
semantics: only events on or before the year's last day, in the log's order (occurred_on, event_id) where
"the first one" matters, and a scope's events chosen the same way (an event's own department, or for an event
without one the department of an event of the same item). They rest on what the log's writer
(`store.repo.event_record_from`, used by the workflows' `save_item` / `record_fact`) guarantees:
`occurred_on` is the day of the event's own date field (`on`, `received_on`, `signed_on`, ...), `item_id` is
its `document_id` / `request_id` / `case_id` / `item_id`, a payload's `department` is the row's, and an item
has one start event (the item workflow refuses a second). tests/test_annual_fast.py checks the result equals
the full path on a varied store, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select, text, true
from sqlalchemy.sql import ColumnElement, Select

from domain.annual_rows import CLOSING_TYPES, ClockRow, YearRows
from domain.events import ITEM_TYPE, MODELS
from domain.report import CASE_EVENT_TYPES, DOCUMENT_KINDS
from store.models import Clock, EventRecord, Item, table

_EV = table(EventRecord)
_OPINION_ANSWERS = ("opinion.info_released", "opinion.press_conference", "opinion.responded")
_COUNTED = ("request.correction_requested", "request.extended", "request.withdrawn")
_FOLLOW_UPS = ("request.answered_on_the_spot", "request.consultation_started", "request.replied", *_COUNTED)
_SHARE_RULES = [  # (clock rule, the events in the year whose items' clocks section 一's shares read)
    ("policy_publication", ("document.published",)),
    ("policy_interpretation", ("interpretation.published",)),
    ("request_reply", ("request.replied", "request.answered_on_the_spot")),
]


def _family(types: Iterable[str]) -> list[str]:
    """Every event type of the same item kinds as `types` (request.* with review.* and litigation.*, ...): an
    event without a department belongs to a scope through an event of its item that has one."""
    kinds = {ITEM_TYPE[t.split(".")[0]] for t in types}
    return sorted(t for t in MODELS if ITEM_TYPE[t.split(".")[0]] in kinds)


class _Reader:
    def __init__(self, session, year: int, departments: frozenset[str] | None):
        self.s = session
        self.start, self.end = date(year, 1, 1).isoformat(), date(year, 12, 31).isoformat()
        self.deps = sorted(departments) if departments is not None else None

    def scoped(self, t, types: Sequence[str]) -> ColumnElement[bool]:
        """filter_events' rule for rows of `t` (an alias of event_record) of `types`."""
        if self.deps is None:
            return true()
        owner = _EV.alias(f"{t.name}_owner")
        owners = select(owner.c.item_id).where(
            owner.c.department.in_(self.deps), owner.c.occurred_on <= self.end, owner.c.type.in_(_family(types))
        )
        return or_(t.c.department.in_(self.deps), and_(t.c.department.is_(None), t.c.item_id.in_(owners)))

    def events(self, types: Sequence[str], alias: str):
        """(t, conditions): event_record as `alias`, rows of `types` on or before the year's end in the scope."""
        t = _EV.alias(alias)
        return t, [t.c.type.in_(types), t.c.occurred_on <= self.end, self.scoped(t, types)]

    def known(self, t, start_type: str) -> ColumnElement[bool]:
        """The item of row `t` has its start event of `start_type` on or before the year's end, in the scope."""
        k = _EV.alias(f"{t.name}_known")
        return exists().where(
            k.c.item_id == t.c.item_id,
            k.c.type == start_type,
            k.c.occurred_on <= self.end,
            self.scoped(k, (start_type,)),
        )

    def query(self, types: Sequence[str], cols: Callable[[Any], list], *conds: Callable, alias: str = "e") -> Select:
        t, where = self.events(types, alias)
        return select(*cols(t)).where(*where, *[c(t) for c in conds])

    def ids(self, types: Sequence[str], *conds: Callable, alias: str) -> Select:
        """Item ids of the scoped events of `types` (a sub-select)."""
        return self.query(types, lambda t: [t.c.item_id], *conds, alias=alias)

    def rows(self, q: Select) -> list[tuple]:
        return [tuple(row) for row in self.s.execute(q)]

    def canonical(self, types: Sequence[str], *conds: Callable) -> list[dict]:
        """Whole events as load_events gives them, in its order (for the few rows whose every field matters)."""
        t, where = self.events(types, "e")
        q = (
            select(t.c.payload, t.c.type, t.c.event_id, t.c.department)
            .where(*where, *[c(t) for c in conds])
            .order_by(t.c.occurred_on, t.c.event_id)
        )
        out = []
        for payload, type_, event_id, department in self.s.execute(q):
            ev = dict(payload or {})
            ev.pop("applicant", None)
            ev["type"], ev["event_id"] = type_, event_id
            if department and not ev.get("department"):
                ev["department"] = department
            out.append(ev)
        return out


def _str(t, key: str):
    return t.c.payload[key].as_string()


def _day(value: str) -> date:
    return date.fromisoformat(value)


def year_rows(session, year: int, departments: frozenset[str] | None, lapsing: Iterable[str]) -> YearRows:
    """The rows domain.annual_rows counts the report of `year` from (see its YearRows)."""
    r = _Reader(session, year, departments)
    start, end = r.start, r.end
    in_year = lambda t: t.c.occurred_on >= start  # noqa: E731  (every query has occurred_on <= end)

    # table 二 (regulations and normative documents signed, repealed, in force), counted in SQL
    rep, rep_where = r.events(("document.repealed",), "rep")
    repealed = (
        select(rep.c.item_id, func.min(rep.c.occurred_on).label("first"))
        .where(*rep_where)
        .group_by(rep.c.item_id)
        .subquery("repealed")
    )
    sig, sig_where = r.events(("document.signed",), "sig")
    kind, signed_in_year = _str(sig, "kind"), sig.c.occurred_on >= start
    doc_counts: dict[str, list[int]] = {}
    signed_kinds: list[tuple[str | None, int]] = []
    for k, this_year, n, repealed_this_year, in_force in r.rows(
        select(
            kind,
            case((signed_in_year, 1), else_=0),
            func.count(),
            func.sum(case((repealed.c.first >= start, 1), else_=0)),
            func.sum(case((repealed.c.first.is_(None), 1), else_=0)),
        )
        .select_from(sig.outerjoin(repealed, repealed.c.item_id == sig.c.item_id))
        .where(*sig_where)
        .group_by(text("1"), text("2"))  # by position: PostgreSQL would not match re-bound expressions
    ):
        if this_year:
            signed_kinds.append((k, int(n)))
        if k in DOCUMENT_KINDS:
            counts = doc_counts.setdefault(k, [0, 0, 0])
            counts[0] += int(n) if this_year else 0
            counts[1] += int(repealed_this_year or 0)
            counts[2] += int(in_force or 0)

    # section 一: publications and interpretations in the year of known documents, in the log's order
    doc_events = r.rows(
        r.query(
            ("document.published", "interpretation.published"),
            lambda t: [
                t.c.item_id,
                t.c.type,
                case((t.c.type == "document.published", _str(t, "channel")), else_=_str(t, "form")),
            ],
            in_year,
            lambda t: r.known(t, "document.signed"),
        ).order_by(text("occurred_on"), text("event_id"))
    )
    published = [(doc, v) for doc, type_, v in doc_events if type_ == "document.published"]
    interpretations = [(doc, v) for doc, type_, v in doc_events if type_ == "interpretation.published"]

    # table 三: the requests received in the year or carried into it (not closed before it), their closings
    closed_before = r.ids(CLOSING_TYPES, lambda t: t.c.occurred_on < start, alias="cb")
    requests = [
        (rid, _day(day), col, channel)
        for rid, day, col, channel in r.rows(
            r.query(
                ("request.received",),
                lambda t: [t.c.item_id, t.c.occurred_on, _str(t, "applicant_type"), _str(t, "channel")],
                lambda t: or_(t.c.occurred_on >= start, t.c.item_id.not_in(closed_before)),
            ).order_by(text("occurred_on"), text("event_id"))
        )
    ]
    new_ids = r.ids(("request.received",), in_year, alias="nw")
    closings = [
        (rid, type_, _day(day), eid, outcome)
        for rid, type_, day, eid, outcome in r.rows(
            r.query(
                CLOSING_TYPES,
                lambda t: [t.c.item_id, t.c.type, t.c.occurred_on, t.c.event_id, _str(t, "outcome")],
                lambda t: or_(t.c.occurred_on >= start, t.c.item_id.in_(new_ids)),
            )
        )
    ]

    # section 一: what happened in the year to known requests (answers and consultations as rows, the rest counted)
    followups: list[tuple[str, str, date, str, str | None]] = []
    followup_counts: dict[str, int] = {}
    for rid, type_, day, eid, with_ in r.rows(
        r.query(
            _FOLLOW_UPS,
            lambda t: [
                t.c.item_id,
                t.c.type,
                t.c.occurred_on,
                t.c.event_id,
                case((t.c.type == "request.consultation_started", _str(t, "with")), else_=None),
            ],
            in_year,
            lambda t: r.known(t, "request.received"),
        )
    ):
        if type_ in _COUNTED:
            followup_counts[type_] = followup_counts.get(type_, 0) + 1
        else:
            followups.append((rid, type_, _day(day), eid, with_))

    # public opinion: detections near the year (an instant's own day may be a day off Shanghai's) and answers
    near = (date.fromisoformat(start) - timedelta(days=2)).isoformat()
    detected = r.ids(("opinion.detected",), lambda t: t.c.occurred_on >= near, alias="od")
    opinion_events = r.canonical(("opinion.detected",), lambda t: t.c.occurred_on >= near) + r.canonical(
        _OPINION_ANSWERS, lambda t: t.c.item_id.in_(detected)
    )

    # clocks: those due in the year (section 五) and those the shares of section 一 read
    lapsing = sorted(set(lapsing))
    ck, it = table(Clock), table(Item)

    def clock_q(*conds) -> Select:
        q = (
            select(ck.c.item_id, ck.c.rule, it.c.department, ck.c.due, ck.c.state, ck.c.met_on)
            .join(it, it.c.id == ck.c.item_id)
            .where(ck.c.due.is_not(None), *conds)
        )
        if lapsing:
            q = q.where(ck.c.rule.not_in(lapsing))
        if r.deps is not None:
            q = q.where(it.c.department.in_(r.deps))
        return q

    after_end = (date.fromisoformat(end) + timedelta(days=1)).isoformat()
    due_in_year = and_(ck.c.due >= start, ck.c.due < after_end)  # ISO "YYYY-MM-DD[Thh:mm...]" sort by day
    year_clocks = [ClockRow(*row) for row in r.rows(clock_q(due_in_year))]
    share_clocks: list[ClockRow] = []
    for rule, types in _SHARE_RULES:
        items = r.ids(types, in_year, alias="sh")
        share_clocks += [
            ClockRow(*row) for row in r.rows(clock_q(ck.c.rule == rule, ck.c.item_id.in_(items), ~due_in_year))
        ]

    return YearRows(
        year=year,
        doc_counts=[(k, *v) for k, v in doc_counts.items()],
        signed_kinds=signed_kinds,
        requests=requests,
        closings=closings,
        published=published,
        interpretations=interpretations,
        followups=followups,
        followup_counts=followup_counts,
        opinion_events=opinion_events,
        case_events=r.canonical(CASE_EVENT_TYPES),  # every case up to the year's end: pairing needs them all
        share_clocks=share_clocks,
        year_clocks=year_clocks,
    )
