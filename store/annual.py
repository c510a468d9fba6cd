"""What a year's annual report reads from the read model, selected and counted in SQL (a province's event log
is hundreds of thousands of rows; the report of a year needs only the year's facts, the requests carried into
it and the documents still in force).

Every query keeps `store.events.load_events(until=Dec 31)` + `domain.annual_document.filter_events`
semantics: only events on or before the year's last day, in the log's order (occurred_on, event_id) where
"the first one" matters, and a scope's events chosen the same way (an event's own department, or for an event
without one the department of an event of the same item). They rest on what the log's writer
(`store.events.event_record_from`, used by the workflows' `save_item` / `record_fact`) guarantees:
`occurred_on` is the day of the event's own date field (`on`, `received_on`, `signed_on`, ...), `item_id` is
its `document_id` / `request_id` / `case_id` / `item_id`, a payload's `department` is the row's, `category` and
`channel` are the payload's fields named by domain.report.REPORT_FIELDS (so no payload is decoded for a count),
and an item has one start event (the item workflow refuses a second). tests/test_annual_fast.py checks the result equals
the full path on a varied store, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, false, func, literal, or_, select, text, true
from sqlalchemy.sql import ColumnElement, Select

from domain.annual_document import interpretation_rules
from domain.annual_rows import CLOSING_TYPES, ClockRow, Share, YearRows
from domain.events import ITEM_TYPE, MODELS
from domain.report import APPLICANT_COLUMNS, CASE_EVENT_TYPES, DOCUMENT_KINDS, OUTCOME_ROWS
from store.models import Clock, EventRecord, Item, table

_EV = table(EventRecord)
_OPINION_ANSWERS = ("opinion.info_released", "opinion.press_conference", "opinion.responded")
_ANSWERS = ("request.answered_on_the_spot", "request.replied")
_COUNTED = ("request.correction_requested", "request.extended", "request.withdrawn")


def code_point(column: ColumnElement[str], postgresql: bool) -> ColumnElement[str]:
    """`column` compared and sorted by code point, as Python and SQLite compare strings: on PostgreSQL with
    COLLATE "C", since a database created with a locale (Chinese deployments: zh_CN.UTF-8) sorts text by
    that locale's rules (pinyin, case and punctuation folded), and "the first event" would depend on it."""
    return column.collate("C") if postgresql else column


def _family(types: Iterable[str]) -> list[str]:
    """Every event type of the same item kinds as `types` (request.* with review.* and litigation.*, ...): an
    event without a department belongs to a scope through an event of its item that has one."""
    kinds = {ITEM_TYPE[t.split(".")[0]] for t in types}
    return sorted(t for t in MODELS if ITEM_TYPE[t.split(".")[0]] in kinds)


class _Reader:
    def __init__(self, session, year: int, departments: frozenset[str] | None):
        self.s = session
        # Python orders strings by code point: so do SQLite and PostgreSQL's "C" collation (not a locale's)
        self.pg = session.get_bind().dialect.name == "postgresql"
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
        return exists(select(literal(1))).where(
            k.c.item_id == t.c.item_id,
            k.c.type == start_type,
            k.c.occurred_on <= self.end,
            self.scoped(k, (start_type,)),
        )

    def first(self, t, types: Sequence[str], *conds: Callable) -> ColumnElement[bool]:
        """Row `t` is the first of its item's scoped events of `types` (with `conds`): by (day, event id), the
        ids compared by code point as domain.report._sort_key and load_events order them, on any collation."""
        o = _EV.alias(f"{t.name}_first")
        oid, tid = self.code_point(o.c.event_id), self.code_point(t.c.event_id)
        return ~exists(select(literal(1))).where(
            o.c.item_id == t.c.item_id,
            o.c.type.in_(types),
            o.c.occurred_on <= self.end,
            self.scoped(o, types),
            *[c(o) for c in conds],
            or_(o.c.occurred_on < t.c.occurred_on, and_(o.c.occurred_on == t.c.occurred_on, oid < tid)),
        )

    def code_point(self, column: ColumnElement[str]) -> ColumnElement[str]:
        return code_point(column, self.pg)

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
            .order_by(t.c.occurred_on, self.code_point(t.c.event_id))
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


def year_rows(session, year: int, departments: frozenset[str] | None, lapsing: Iterable[str], as_of: date) -> YearRows:
    """The rows domain.annual_rows counts the report of `year` from (see its YearRows); clocks as of `as_of`."""
    r = _Reader(session, year, departments)
    start, end = r.start, r.end
    in_year = lambda t: t.c.occurred_on >= start  # noqa: E731  (every query has occurred_on <= end)
    # GROUP BY by position: PostgreSQL does not match an expression re-bound with new parameters to its SELECT twin
    by_position = (text("1"), text("2"), text("3"), text("4"), text("5"))

    # clocks: counted in SQL when surely on time (domain.annual_rows.surely_on_time), else read to classify
    lapsing = sorted(set(lapsing))
    ck, it = table(Clock), table(Item)
    day = as_of.isoformat()
    sure = and_(
        ck.c.state != "closed",
        ck.c.met_on.is_not(None),
        func.length(ck.c.met_on) == 10,
        func.length(ck.c.due) == 10,
        ck.c.met_on <= ck.c.due,
        ck.c.met_on <= day,
    )

    def clocks(*conds) -> Select:
        """Scoring records' clocks (a due date, no lapsing window) with their item's department, in the scope."""
        q = (
            select(ck.c.item_id, ck.c.rule, it.c.department, ck.c.due, ck.c.state, ck.c.met_on)
            .join_from(ck, it, it.c.id == ck.c.item_id)
            .where(ck.c.due.is_not(None), *conds)
        )
        if lapsing:
            q = q.where(ck.c.rule.not_in(lapsing))
        if r.deps is not None:
            q = q.where(it.c.department.in_(r.deps))
        return q

    def with_clock(types: Sequence[str], key: Callable, rule: str, *conds: Callable, alias: str) -> list[tuple]:
        """The scoped events of `types` (with `conds`), each with its item's clock of `rule` as a scoring record
        would have it, grouped by (key, 0 no clock / 1 surely on time / 2 to classify, that clock's columns)."""
        t, where = r.events(types, alias)
        on = [ck.c.item_id == t.c.item_id, ck.c.rule == rule, ck.c.due.is_not(None)]
        if rule in lapsing:  # a window that lapses is no scoring record
            on.append(false())
        if r.deps is not None:
            on.append(ck.c.item_id.in_(select(it.c.id).where(it.c.department.in_(r.deps))))
        classify = lambda c: case((ck.c.item_id.is_(None), None), (sure, None), else_=c)  # noqa: E731
        q = (
            select(
                key(t),
                case((ck.c.item_id.is_(None), 0), (sure, 1), else_=2),
                *[classify(c) for c in (ck.c.item_id, ck.c.due, ck.c.state, ck.c.met_on)],
                func.count(),
            )
            .select_from(t.outerjoin(ck, and_(*on)))
            .where(*where, *[c(t) for c in conds])
            .group_by(*by_position, text("6"))
        )
        return r.rows(q)

    def share(rule: str, grouped: list[tuple]) -> Share:
        n, others = 0, []
        for _key, kind, item_id, due, state, met_on, count in grouped:
            if kind == 1:
                n += int(count)
            elif kind == 2:
                others += [ClockRow(item_id, rule, "", due, state, met_on)] * int(count)
        return Share(n, others)

    # table 二 (regulations and normative documents signed, repealed, in force) and the kinds signed in the year
    rep, rep_where = r.events(("document.repealed",), "rep")
    repealed = (
        select(rep.c.item_id, func.min(rep.c.occurred_on).label("first"))
        .where(*rep_where)
        .group_by(rep.c.item_id)
        .subquery("repealed")
    )
    sig, sig_where = r.events(("document.signed",), "sig")
    signed_in_year = case((sig.c.occurred_on >= start, 1), else_=0)
    doc_counts: dict[str, list[int]] = {}
    signed_kinds: list[tuple[str | None, int]] = []
    for k, this_year, n, repealed_this_year, in_force in r.rows(
        select(
            sig.c.category,
            signed_in_year,
            func.count(),
            func.sum(case((repealed.c.first >= start, 1), else_=0)),
            func.sum(case((repealed.c.first.is_(None), 1), else_=0)),
        )
        .select_from(sig.outerjoin(repealed, repealed.c.item_id == sig.c.item_id))
        .where(*sig_where)
        .group_by(*by_position[:2])
    ):
        if this_year:
            signed_kinds.append((k, int(n)))
        if k in DOCUMENT_KINDS:
            counts = doc_counts.setdefault(k, [0, 0, 0])
            counts[0] += int(n) if this_year else 0
            counts[1] += int(repealed_this_year or 0)
            counts[2] += int(in_force or 0)

    # section 一: the first publication in the year of each known document, by channel; interpretations
    known_doc = lambda t: r.known(t, "document.signed")  # noqa: E731
    first_publication = lambda t: r.first(t, ("document.published",), in_year)  # noqa: E731
    # (with the clocks of those documents: the share published in time)
    published = with_clock(
        ("document.published",),
        lambda t: t.c.channel,
        "policy_publication",
        in_year,
        known_doc,
        first_publication,
        alias="pb",
    )
    published_channels: dict[str | None, int] = {}
    for channel, *_clock, count in published:
        published_channels[channel] = published_channels.get(channel, 0) + int(count)
    interpretations = r.rows(
        r.query(("interpretation.published",), lambda t: [t.c.item_id, t.c.category], in_year, known_doc).order_by(
            text("occurred_on"), text('event_id COLLATE "C"' if r.pg else "event_id")
        )
    )

    # table 三: the requests received in the year or carried into it (not closed before it), grouped with the
    # first of their closings on or before Dec 31 (by day: the reference sorts closings by _sort_key)
    closed_before = r.ids(CLOSING_TYPES, lambda t: t.c.occurred_on < start, alias="cb")
    counted = lambda t: or_(t.c.occurred_on >= start, t.c.item_id.not_in(closed_before))  # noqa: E731
    cl, cl_where = r.events(CLOSING_TYPES, "cl")
    first_closing = (
        select(cl.c.item_id, cl.c.type, cl.c.category.label("outcome"))
        .where(*cl_where, r.first(cl, CLOSING_TYPES))
        .subquery("fc")
    )
    rq, rq_where = r.events(("request.received",), "rq")
    new = rq.c.occurred_on >= start
    request_groups = [
        (applicant, bool(is_new), channel, closing, outcome, int(n))
        for applicant, is_new, channel, closing, outcome, n in r.rows(
            select(
                rq.c.category,
                case((new, 1), else_=0),
                case((new, rq.c.channel), else_=None),
                first_closing.c.type,
                first_closing.c.outcome,
                func.count(),
            )
            .select_from(rq.outerjoin(first_closing, first_closing.c.item_id == rq.c.item_id))
            .where(*rq_where, counted(rq))
            .group_by(*by_position)
        )
    ]
    # the notes' rows, read only when a group shows a value table 三 has no place for (an older vocabulary)
    odd_applicants: list[dict] = []
    odd_closings: list[dict] = []
    if any(g[0] not in APPLICANT_COLUMNS for g in request_groups):
        odd = lambda t: or_(t.c.category.is_(None), t.c.category.not_in(APPLICANT_COLUMNS))  # noqa: E731
        odd_applicants = r.canonical(("request.received",), counted, odd)
    if any(g[3] in _ANSWERS + ("request.abandoned",) and g[4] not in OUTCOME_ROWS for g in request_groups):
        counted_ids = r.ids(("request.received",), counted, alias="ct")
        odd_closings = r.canonical(
            CLOSING_TYPES,
            lambda t: t.c.item_id.in_(counted_ids),
            lambda t: r.first(t, CLOSING_TYPES),
            lambda t: or_(t.c.category.is_(None), t.c.category.not_in(OUTCOME_ROWS)),
        )

    # section 一: what happened in the year to known requests
    known_request = lambda t: r.known(t, "request.received")  # noqa: E731
    first_answer = lambda t: r.first(t, _ANSWERS, in_year)  # noqa: E731
    answered = with_clock(
        _ANSWERS, lambda t: t.c.type, "request_reply", in_year, known_request, first_answer, alias="an"
    )
    answers: dict[str, int] = {}
    for type_, *_clock, count in answered:
        answers[type_] = answers.get(type_, 0) + int(count)
    consultations = [
        (date.fromisoformat(day), eid, with_)
        for day, eid, with_ in r.rows(
            r.query(
                ("request.consultation_started",),
                lambda t: [t.c.occurred_on, t.c.event_id, t.c.category],
                in_year,
                known_request,
            )
        )
    ]
    followup_counts = dict(
        r.rows(r.query(_COUNTED, lambda t: [t.c.type, func.count()], in_year, known_request).group_by(by_position[0]))
    )

    # public opinion: detections near the year (an instant's own day may be a day off Shanghai's) and answers
    near = (date.fromisoformat(start) - timedelta(days=2)).isoformat()
    detected = r.ids(("opinion.detected",), lambda t: t.c.occurred_on >= near, alias="od")
    opinion_events = r.canonical(("opinion.detected",), lambda t: t.c.occurred_on >= near) + r.canonical(
        _OPINION_ANSWERS, lambda t: t.c.item_id.in_(detected)
    )

    after_end = (date.fromisoformat(end) + timedelta(days=1)).isoformat()
    due_in_year = and_(ck.c.due >= start, ck.c.due < after_end)  # ISO "YYYY-MM-DD[Thh:mm...]" sort by day
    interpreted = r.ids(("interpretation.published",), in_year, known_doc, alias="ip")
    return YearRows(
        year=year,
        as_of=as_of,
        doc_counts=[(k, v[0], v[1], v[2]) for k, v in doc_counts.items()],
        signed_kinds=signed_kinds,
        published_channels=list(published_channels.items()),
        interpretations=interpretations,
        request_groups=request_groups,
        odd_applicants=odd_applicants,
        odd_closings=odd_closings,
        answered=sum(answers.values()),
        on_the_spot=answers.get("request.answered_on_the_spot", 0),
        consultations=consultations,
        followup_counts=followup_counts,
        opinion_events=opinion_events,
        case_events=r.canonical(CASE_EVENT_TYPES),  # every case up to the year's end: pairing needs them all
        publication=share("policy_publication", published),
        reply=share("request_reply", answered),
        interpretation_clocks=[
            ClockRow(*row)
            for row in r.rows(clocks(ck.c.rule.in_(interpretation_rules()), ck.c.item_id.in_(interpreted)))
        ],
        missed_candidates=[ClockRow(*row) for row in r.rows(clocks(due_in_year, ~sure))],
    )
