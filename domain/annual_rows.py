"""The annual report of a year counted from the rows the year needs (store/annual.py selects them in SQL),
instead of from the whole event log: the fast path of services/annual.py.

domain.report.annual_report and domain.annual_document.build_document over the full event list stay the
definition; this module counts the same things from fewer rows and must give the same document
(tests/test_annual_fast.py compares the two on a varied store, SQLite and PostgreSQL). Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from domain import report as R
from domain.annual_document import (
    ReportScope,
    _share,
    _status_index,
    compose_document,
    missed_clocks,
    opinion_figures,
    split_entered,
)
from domain.scoring import classify

CLOSING_TYPES = ("request.abandoned", "request.answered_on_the_spot", "request.replied", "request.withdrawn")
assert set(CLOSING_TYPES) == R._CLOSING_TYPES


class ClockRow(NamedTuple):
    """A clock as the report reads it (what ClockRecord gives missed_clocks and the shares)."""

    item_id: str
    rule: str
    department: str
    due: str
    state: str
    met_on: str | None

    @property
    def due_day(self) -> date:
        return date.fromisoformat(self.due[:10])


def surely_on_time(state: str, due: str, met_on: str | None, as_of: date) -> bool:
    """What the store may count in SQL as `on_time` without classifying: a clock (not closed) met on a day
    (plain ISO dates, comparable as text) on or before its due day and on or before `as_of`. Each such clock
    is one scoring.classify gives `on_time` (met at the end of its day, due at the end of its day)."""
    return (
        state != "closed"
        and met_on is not None
        and len(met_on) == 10
        and len(due) == 10
        and met_on <= due
        and met_on <= as_of.isoformat()
    )


@dataclass
class Share:
    """Clocks of one share of section 一 (published documents / answered requests of the year): how many are
    surely on time (counted in SQL), and the others as rows to classify."""

    sure: int
    others: list[ClockRow]

    def counts(self, as_of: date) -> tuple[int, int]:
        """(on time, decided), as annual_document._share gives them."""
        on_time = decided = self.sure
        for c in self.others:
            s = classify(c.state, c.due, c.met_on, as_of)
            if s in ("on_time", "late", "overdue"):
                decided += 1
                on_time += s == "on_time"
        return on_time, decided


@dataclass
class YearRows:
    """What the report of `year` reads, already limited to its scope and to events on or before Dec 31
    ("first" per item: in the log's order (occurred_on, event_id), or by (day, event id) where the reference
    sorts with domain.report._sort_key)."""

    year: int
    as_of: date
    doc_counts: list[tuple[str, int, int, int]]  # table 二: kind, issued, repealed, in force
    signed_kinds: list[tuple[str | None, int]]  # documents signed in the year, by kind
    published_channels: list[tuple[str | None, int]]  # the year's first publication of each known document
    interpretations: list[tuple[str, str | None]]  # interpretation.published in the year of known documents:
    #   document id, form (the log's order)
    # the requests received in the year or carried into it, grouped by (applicant type, received in the year,
    # channel if so, type and outcome of the first closing on or before Dec 31): count
    request_groups: list[tuple[str | None, bool, str | None, str | None, str | None, int]]
    odd_applicants: list[dict]  # receipts in those groups with an applicant type table 三 has no column for
    odd_closings: list[dict]  # first closings in those groups with an outcome table 三 has no row for
    answered: int  # known requests answered (replied or on the spot) in the year
    on_the_spot: int  # of those, answered first on the spot
    consultations: list[tuple[date, str, str | None]]  # consultations started in the year: day, event id, with
    followup_counts: dict[str, int]  # extensions, corrections, withdrawals in the year of known requests
    opinion_events: list[dict]  # detections near the year and their answers (whole events)
    case_events: list[dict]  # every review and litigation event (whole events)
    publication: Share
    reply: Share
    interpretation_clocks: list[ClockRow]  # policy_interpretation clocks of the interpreted documents
    missed_candidates: list[ClockRow]  # clocks due in the year, but those surely on time


def table3(rows: YearRows) -> tuple[dict, list[str]]:
    """Table 三 and its notes, as domain.report._table3 gives them for the year."""
    t3 = R.empty_table3()
    for applicant, new, _channel, closing, outcome, n in rows.request_groups:
        col = applicant if applicant in R.APPLICANT_COLUMNS else "legal.other"
        t3["new" if new else "carried_in"][col] += n
        if closing is None:
            t3["carried_out"][col] += n
            continue
        if closing == "request.withdrawn":
            outcome = "other.other"
        elif closing == "request.abandoned":
            outcome = outcome or "other.no_correction"
        t3[outcome if outcome in R.OUTCOME_ROWS else "other.other"][col] += n
        t3["total"][col] += n
    for row in R.ROWS:
        t3[row]["total"] = sum(t3[row][c] for c in R.APPLICANT_COLUMNS)
    # every request grouped is counted in the year, and so is every first closing: their problems are the
    # year's notes, in the reference's order (receipts in the log's order, then closings by day)
    notes = [
        f"申请 {e['request_id']} 的申请人类型“{e.get('applicant_type')}”无法识别，计入“其他”"
        for e in rows.odd_applicants
    ]
    for e in sorted(rows.odd_closings, key=R._sort_key):
        outcome = (e.get("outcome") or "other.no_correction") if e["type"] == "request.abandoned" else e.get("outcome")
        if e["type"] != "request.withdrawn" and str(outcome) not in R.OUTCOME_ROWS:
            notes.append(f"申请 {e.get('request_id')} 的办理结果“{outcome}”无法识别，计入“其他”")
    return t3, notes


def tables(rows: YearRows, entered: dict | None) -> dict:
    """domain.report.annual_report of the (scoped) year."""
    t2: dict[str, Any] = {k: {c: 0 for c in R.DOCUMENT_COLUMNS} for k in R.DOCUMENT_KINDS}
    for kind, issued, repealed, in_force in rows.doc_counts:
        t2[kind] = {"issued": issued, "repealed": repealed, "in_force": in_force}
    t3, notes = table3(rows)
    return {
        "year": rows.year,
        "department": None,
        "table2": R.add_entered(t2, entered),
        "table3": t3,
        "table4": R._table4(rows.case_events, rows.year, None, {}),
        "notes": notes,
    }


def figures(rows: YearRows, rule_hours: dict[str, float] | None = None) -> dict[str, Any]:
    """domain.annual_document.compute_figures of the (scoped) year."""
    as_of = rows.as_of
    signed: Counter[str] = Counter()
    for kind, n in rows.signed_kinds:
        signed[kind or "other"] += n
    channels: Counter[str] = Counter()
    for channel, n in rows.published_channels:
        channels[channel or "website"] += n

    forms: Counter[str] = Counter()
    form_ids: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for doc, form in rows.interpretations:
        forms[form or "other"] += 1
        if doc not in seen:  # the clock is met by the first interpretation
            seen.add(doc)
            form_ids[form or "other"].append(doc)
    status = _status_index(rows.interpretation_clocks, as_of)
    int_share = {f: _share(ids, "policy_interpretation", status) for f, ids in form_ids.items()}

    received: Counter[str] = Counter()
    for _applicant, new, channel, _closing, _outcome, n in rows.request_groups:
        if new:
            received[channel or "other"] += n
    consult: Counter[str] = Counter()
    for _day, _eid, with_ in sorted(rows.consultations, key=lambda c: (c[0], c[1])):
        consult[with_ or "third_party"] += 1
    counts = rows.followup_counts
    pub, reply = rows.publication.counts(as_of), rows.reply.counts(as_of)
    return {
        "documents_signed": dict(signed),
        "documents_published": sum(channels.values()),
        "published_channels": dict(channels),
        "publication_on_time": pub[0],
        "publication_decided": pub[1],
        "interpretations": sum(forms.values()),
        "interpretation_forms": dict(forms),
        "interpretation_on_time": sum(a for a, _ in int_share.values()),
        "interpretation_decided": sum(b for _, b in int_share.values()),
        "interpretation_by_form": {f: {"on_time": a, "decided": b} for f, (a, b) in int_share.items()},
        "requests_received": sum(received.values()),
        "request_channels": dict(received),
        "requests_answered": rows.answered,
        "answered_on_the_spot": rows.on_the_spot,
        "reply_on_time": reply[0],
        "reply_decided": reply[1],
        "extensions": counts.get("request.extended", 0),
        "corrections": counts.get("request.correction_requested", 0),
        "consultations": dict(consult),
        "withdrawn": counts.get("request.withdrawn", 0),
    } | opinion_figures(rows.opinion_events, rows.year, rule_hours)


def document(
    rows: YearRows,
    scope: ReportScope,
    *,
    entered: dict | None = None,
    entered_source: str = "填报数",
    as_of: date | None = None,
    rule_labels: dict[str, str] | None = None,
    dept_names: dict[str, str] | None = None,
    rule_hours: dict[str, float] | None = None,
    lock: dict[str, Any] | None = None,
    previous_carried_out: dict[str, int] | None = None,
    held: Collection[tuple[str, str]] = (),
) -> dict[str, Any]:
    """build_document of the year from its rows (same arguments, same result; `as_of` is the rows')."""
    year = rows.year
    if as_of is not None and as_of != rows.as_of:
        raise ValueError(f"rows read as of {rows.as_of}, asked as of {as_of}")
    t2_figures, narrative = split_entered(entered, entered_source)
    counted = tables(rows, t2_figures)
    figs = figures(rows, rule_hours)
    missed = missed_clocks(
        rows.missed_candidates, year, rows.as_of, scope.departments, rule_labels or {}, dept_names or {}, held
    )
    return compose_document(
        counted, figs, missed, year, scope, narrative, rows.as_of, dept_names, lock, previous_carried_out
    )
