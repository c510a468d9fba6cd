"""The annual report of a year counted from the rows the year needs (store/annual.py selects them in SQL),
instead of from the whole event log: the fast path of app/annual_service.py.

domain.report.annual_report and domain.annual_document.build_document over the full event list stay the
definition; this module counts the same things from fewer rows and must give the same document
(tests/test_annual_fast.py compares the two on a varied store, SQLite and PostgreSQL). Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
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


@dataclass
class YearRows:
    """What the report of `year` reads, already limited to its scope and to events on or before Dec 31.
    Day fields are the events' own days; "store order" is the log's (occurred_on, event_id)."""

    year: int
    doc_counts: list[tuple[str, int, int, int]]  # table 二: kind, issued, repealed, in force
    signed_kinds: list[tuple[str | None, int]]  # documents signed in the year, by kind
    requests: list[tuple[str, date, str | None, str | None]]  # received in or carried into the year: id, day,
    #   applicant type, channel (store order)
    closings: list[tuple[str, str, date, str, str | None]]  # of those requests: id, type, day, event id, outcome
    published: list[tuple[str, str | None]]  # document.published in the year of known documents: id, channel
    interpretations: list[tuple[str, str | None]]  # interpretation.published likewise: id, form
    followups: list[tuple[str, str, date, str, str | None]]  # answers and consultations in the year of known
    #   requests: id, type, day, event id, `with`
    followup_counts: dict[str, int]  # extensions, corrections, withdrawals in the year of known requests
    opinion_events: list[dict]  # detections near the year and their answers (whole events)
    case_events: list[dict]  # every review and litigation event (whole events)
    year_clocks: list[ClockRow]  # clocks due in the year
    share_clocks: list[ClockRow]  # other clocks of the items whose shares section 一 gives
    _status: dict[tuple[str, str], str] | None = field(default=None, repr=False, compare=False)


def table3(rows: YearRows) -> tuple[dict, list[str]]:
    start, end = date(rows.year, 1, 1), date(rows.year, 12, 31)
    # every request read is counted in the year (received in it, or carried into it), and so is every
    # closing read (on or before Dec 31): their problems are the year's notes, in the reference's order
    notes: list[str] = []
    requests: dict[str, list[Any]] = {}
    for rid, received, col, _channel in rows.requests:
        if col not in R.APPLICANT_COLUMNS:
            notes.append(f"申请 {rid} 的申请人类型“{col}”无法识别，计入“其他”")
            col = "legal.other"
        requests[rid] = [received, col, None, None]
    for rid, etype, on, _eid, outcome in sorted(rows.closings, key=lambda c: (c[2], c[3])):
        r = requests.get(rid)
        if r is None or r[2] is not None:
            continue
        if etype == "request.withdrawn":
            outcome = "other.other"
        elif etype == "request.abandoned":
            outcome = outcome or "other.no_correction"
        if outcome not in R.OUTCOME_ROWS:
            notes.append(f"申请 {rid} 的办理结果“{outcome}”无法识别，计入“其他”")
            outcome = "other.other"
        r[2], r[3] = max(on, r[0]), outcome
    t3 = R.empty_table3()
    for received, col, closed, outcome in requests.values():
        if received > end or (closed is not None and closed < start):
            continue
        t3["new" if received >= start else "carried_in"][col] += 1
        if closed is not None and closed <= end:
            t3[outcome][col] += 1
            t3["total"][col] += 1
        else:
            t3["carried_out"][col] += 1
    for row in R.ROWS:
        t3[row]["total"] = sum(t3[row][c] for c in R.APPLICANT_COLUMNS)
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


def statuses(rows: YearRows, as_of: date) -> dict[tuple[str, str], str]:
    """_status_index of the clocks read (each classified once: the year's serve section 五 too)."""
    if rows._status is None:
        rows._status = _status_index([*rows.year_clocks, *rows.share_clocks], as_of)
    return rows._status


def figures(rows: YearRows, as_of: date, rule_hours: dict[str, float] | None = None) -> dict[str, Any]:
    """domain.annual_document.compute_figures of the (scoped) year."""
    start, end = date(rows.year, 1, 1), date(rows.year, 12, 31)
    status = statuses(rows, as_of)
    signed: Counter[str] = Counter()
    for kind, n in rows.signed_kinds:
        signed[kind or "other"] += n

    published: list[str] = []
    channels: Counter[str] = Counter()
    seen_pub: set[str] = set()
    for doc, channel in rows.published:
        if doc not in seen_pub:
            seen_pub.add(doc)
            published.append(doc)
            channels[channel or "website"] += 1
    forms: Counter[str] = Counter()
    form_ids: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for doc, form in rows.interpretations:
        forms[form or "other"] += 1
        if doc not in seen:  # the clock is met by the first interpretation
            seen.add(doc)
            form_ids[form or "other"].append(doc)
    int_share = {f: _share(ids, "policy_interpretation", status) for f, ids in form_ids.items()}

    received = [r for r in rows.requests if start <= r[1] <= end]
    answered: list[str] = []
    seen_ans: set[str] = set()
    counts: Counter[str] = Counter()
    consult: Counter[str] = Counter()
    for rid, t, _day, _eid, with_ in sorted(rows.followups, key=lambda f: (f[2], f[3])):
        if t in ("request.replied", "request.answered_on_the_spot") and rid not in seen_ans:
            seen_ans.add(rid)
            answered.append(rid)
            if t == "request.answered_on_the_spot":
                counts["on_the_spot"] += 1
        elif t == "request.consultation_started":
            consult[with_ or "third_party"] += 1
    n = rows.followup_counts
    pub = _share(published, "policy_publication", status)
    reply = _share(answered, "request_reply", status)
    return {
        "documents_signed": dict(signed),
        "documents_published": len(published),
        "published_channels": dict(channels),
        "publication_on_time": pub[0],
        "publication_decided": pub[1],
        "interpretations": sum(forms.values()),
        "interpretation_forms": dict(forms),
        "interpretation_on_time": sum(a for a, _ in int_share.values()),
        "interpretation_decided": sum(b for _, b in int_share.values()),
        "interpretation_by_form": {f: {"on_time": a, "decided": b} for f, (a, b) in int_share.items()},
        "requests_received": len(received),
        "request_channels": dict(Counter(r[3] or "other" for r in received)),
        "requests_answered": len(answered),
        "answered_on_the_spot": counts["on_the_spot"],
        "reply_on_time": reply[0],
        "reply_decided": reply[1],
        "extensions": n.get("request.extended", 0),
        "corrections": n.get("request.correction_requested", 0),
        "consultations": dict(consult),
        "withdrawn": n.get("request.withdrawn", 0),
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
) -> dict[str, Any]:
    """build_document of the year from its rows (same arguments, same result)."""
    year = rows.year
    as_of = as_of or date(year + 1, 1, 31)
    t2_figures, narrative = split_entered(entered, entered_source)
    counted = tables(rows, t2_figures)
    figs = figures(rows, as_of, rule_hours)
    status = statuses(rows, as_of)
    late = [c for c in rows.year_clocks if status[(c.item_id, c.rule)] in ("late", "overdue")]  # (re-classified)
    missed = missed_clocks(late, year, as_of, scope.departments, rule_labels or {}, dept_names or {})
    return compose_document(counted, figs, missed, year, scope, narrative, as_of, dept_names)
