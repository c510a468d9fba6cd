"""Annual-report tables: a hand-counted example and the national identity as a property."""

from __future__ import annotations

import random
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.report import (
    APPLICANT_COLUMNS,
    COLUMNS,
    OUTCOME_ROWS,
    ROWS,
    annual_report,
    check_table3,
    empty_table3,
)

FIN = "财政局"
EDU = "教育局"


def ev(n, type_, **fields):
    return {"event_id": f"e{n}", "type": type_, **fields}


def received(n, rid, on, atype, dept=FIN):
    return ev(
        n,
        "request.received",
        request_id=rid,
        department=dept,
        channel="online",
        received_on=on,
        applicant_type=atype,
        applicant={"name": "张三", "contact": "13800000000"},
        subject="某项信息",
    )


EVENTS = [
    # requests
    received(1, "R1", "2025-03-01", "natural_person"),
    ev(2, "request.replied", request_id="R1", on="2025-03-20", outcome="granted"),
    received(3, "R2", "2025-12-20", "legal.business"),
    ev(4, "request.replied", request_id="R2", on="2026-01-10", outcome="partially_granted"),
    received(5, "R3", "2025-11-01", "natural_person"),
    ev(6, "request.correction_requested", request_id="R3", on="2025-11-05", respond_by="2025-11-20"),
    ev(7, "request.replied", request_id="R3", on="2026-01-15", outcome="other.no_correction"),
    received(8, "R4", "2026-02-01", "legal.research"),
    ev(9, "request.withdrawn", request_id="R4", on="2026-02-10"),
    received(10, "R5", "2026-12-25", "natural_person"),
    received(11, "R6", "2026-03-01", "natural_person"),
    ev(12, "request.answered_on_the_spot", request_id="R6", on="2026-03-01", outcome="granted"),
    received(13, "R7", "2026-04-01", "natural_person", dept=EDU),
    ev(14, "request.replied", request_id="R7", on="2026-04-20", outcome="unavailable.not_held"),
    received(15, "R8", "2024-12-30", "natural_person"),
    ev(16, "request.replied", request_id="R8", on="2025-01-06", outcome="withheld.state_secret"),
    # documents
    ev(
        17,
        "document.signed",
        document_id="D1",
        department=FIN,
        title="规章一",
        kind="regulation",
        signed_on="2024-06-01",
        disclosure="public",
    ),
    ev(18, "document.repealed", document_id="D1", repealed_on="2025-07-01"),
    ev(
        19,
        "document.signed",
        document_id="D2",
        department=FIN,
        title="规范性文件二",
        kind="normative",
        signed_on="2025-05-01",
        disclosure="public",
    ),
    ev(
        20,
        "document.signed",
        document_id="D3",
        department=FIN,
        title="规范性文件三",
        kind="normative",
        signed_on="2026-01-10",
        disclosure="public",
    ),
    ev(
        21,
        "document.signed",
        document_id="D4",
        department=FIN,
        title="其他政策",
        kind="policy",
        signed_on="2025-02-01",
        disclosure="public",
    ),
    # review and litigation
    ev(22, "review.filed", request_id="R1", on="2025-05-01"),
    ev(23, "review.decided", request_id="R1", on="2026-02-01", result="upheld"),
    ev(24, "litigation.filed", request_id="R6", on="2026-05-01", after_review=False),
]


def expected_t3(cells: dict[tuple[str, str], int]) -> dict:
    t = empty_table3()
    for (row, col), n in cells.items():
        t[row][col] = n
    for row in ROWS:
        t[row]["total"] = sum(t[row][c] for c in APPLICANT_COLUMNS)
    return t


def shuffled(events, seed):
    evs = list(events)
    random.Random(seed).shuffle(evs)
    return evs


def test_hand_counted_2025_department():
    r = annual_report(shuffled(EVENTS, 1), 2025, department=FIN)
    # new: R1 (np), R2 (business), R3 (np); carried in: R8 (np, received 2024-12-30)
    # closed in 2025: R1 granted, R8 state secret; open at year end: R2, R3
    assert r["table3"] == expected_t3(
        {
            ("new", "natural_person"): 2,
            ("new", "legal.business"): 1,
            ("carried_in", "natural_person"): 1,
            ("granted", "natural_person"): 1,
            ("withheld.state_secret", "natural_person"): 1,
            ("total", "natural_person"): 2,
            ("carried_out", "natural_person"): 1,
            ("carried_out", "legal.business"): 1,
        }
    )
    assert r["table3"]["new"]["total"] == 3
    assert check_table3(r["table3"]) == []
    assert r["table2"]["regulation"] == {"issued": 0, "repealed": 1, "in_force": 0}
    assert r["table2"]["normative"] == {"issued": 1, "repealed": 0, "in_force": 1}
    assert r["table2"]["licensing"] == {"decisions": None}
    assert r["table4"]["review"] == {"upheld": 0, "corrected": 0, "other": 0, "pending": 1, "total": 1}
    assert r["table4"]["litigation_direct"]["total"] == 0
    assert r["year"] == 2025 and r["department"] == FIN


def test_hand_counted_2026_department():
    r = annual_report(shuffled(EVENTS, 2), 2026, department=FIN, entered={"licensing": 12, "fees": 3.5})
    # new: R4 (research), R5 (np), R6 (np); carried in: R2 (business), R3 (np)
    # closed: R2 partial, R3 no correction, R4 withdrawn -> other, R6 on the spot granted; open: R5
    assert r["table3"] == expected_t3(
        {
            ("new", "natural_person"): 2,
            ("new", "legal.research"): 1,
            ("carried_in", "natural_person"): 1,
            ("carried_in", "legal.business"): 1,
            ("granted", "natural_person"): 1,
            ("partially_granted", "legal.business"): 1,
            ("other.no_correction", "natural_person"): 1,
            ("other.other", "legal.research"): 1,
            ("total", "natural_person"): 2,
            ("total", "legal.business"): 1,
            ("total", "legal.research"): 1,
            ("carried_out", "natural_person"): 1,
        }
    )
    assert check_table3(r["table3"]) == []
    assert r["table2"]["regulation"] == {"issued": 0, "repealed": 0, "in_force": 0}
    assert r["table2"]["normative"] == {"issued": 1, "repealed": 0, "in_force": 2}
    assert r["table2"]["licensing"] == {"decisions": 12}
    assert r["table2"]["penalty"] == {"decisions": None}
    assert r["table2"]["fees"] == {"amount_10k_yuan": 3.5}
    assert r["table4"]["review"] == {"upheld": 1, "corrected": 0, "other": 0, "pending": 0, "total": 1}
    assert r["table4"]["litigation_direct"] == {"upheld": 0, "corrected": 0, "other": 0, "pending": 1, "total": 1}
    assert r["table4"]["litigation_after_review"]["total"] == 0


def test_all_departments_and_no_applicant_data():
    r = annual_report(EVENTS, 2026)
    assert r["table3"]["new"]["natural_person"] == 3  # R5, R6 and 教育局's R7
    assert r["table3"]["unavailable.not_held"]["total"] == 1
    assert check_table3(r["table3"]) == []
    text = repr(r)
    assert "张三" not in text and "13800000000" not in text


def test_order_and_duplicates_do_not_matter():
    base = annual_report(EVENTS, 2026, department=FIN)
    for seed in range(5):
        assert annual_report(shuffled(EVENTS + EVENTS[:5], seed), 2026, department=FIN) == base


def test_abandoned_synthetic_event_and_reply_before_receipt():
    evs = [
        received(1, "A", "2026-03-01", "natural_person"),
        ev(2, "request.abandoned", request_id="A", on="2027-01-05"),
        received(3, "B", "2026-05-01", "legal.other"),
        ev(4, "request.replied", request_id="B", on="2025-12-01", outcome="granted"),  # bad data
    ]
    r26 = annual_report(evs, 2026)
    assert r26["table3"]["carried_out"]["natural_person"] == 1
    assert r26["table3"]["granted"]["legal.other"] == 1  # counted on its receipt date
    r27 = annual_report(evs, 2027)
    assert r27["table3"]["other.no_correction"]["natural_person"] == 1
    assert r25_empty(annual_report(evs, 2025))


def r25_empty(r):
    return all(v == 0 for row in r["table3"].values() for v in row.values())


def test_check_table3_reports_violations_in_chinese():
    t = empty_table3()
    t["new"]["natural_person"] = 1
    t["new"]["total"] = 1
    problems = check_table3(t)
    assert problems and any("自然人" in p for p in problems)
    assert check_table3(empty_table3()) == []


def test_unknown_entered_key_is_rejected():
    import pytest

    with pytest.raises(ValueError, match="无法识别"):
        annual_report([], 2026, entered={"licence": 1})


# ---- property: the identity holds for any event sequence -------------------------------------

_CLOSERS = ["request.replied", "request.answered_on_the_spot", "request.withdrawn", "request.abandoned"]
_DAY0 = date(2023, 1, 1)


@st.composite
def event_sequences(draw):
    n = draw(st.integers(min_value=0, max_value=30))
    events = []
    k = 0
    for _ in range(n):
        rid = f"R{draw(st.integers(0, n + 3))}"  # repeated ids happen
        k += 1
        events.append(
            received(
                k,
                rid,
                (_DAY0 + timedelta(days=draw(st.integers(0, 1500)))).isoformat(),
                draw(st.sampled_from(APPLICANT_COLUMNS + ["unknown"])),
                dept=draw(st.sampled_from([FIN, EDU])),
            )
        )
        for _ in range(draw(st.integers(0, 2))):
            k += 1
            events.append(
                ev(
                    k,
                    draw(st.sampled_from(_CLOSERS)),
                    request_id=rid,
                    on=(_DAY0 + timedelta(days=draw(st.integers(0, 1600)))).isoformat(),
                    outcome=draw(st.sampled_from(OUTCOME_ROWS + ["bogus"])),
                )
            )
    events.append(ev(k + 1, "request.replied", request_id="nobody", on="2024-01-01", outcome="granted"))
    return draw(st.permutations(events))


@settings(max_examples=200, deadline=None)
@given(event_sequences(), st.sampled_from([None, FIN, EDU]))
def test_identity_holds_for_random_sequences(events, dept):
    prev = None
    for year in range(2022, 2029):
        t3 = annual_report(events, year, department=dept)["table3"]
        assert check_table3(t3) == []
        assert set(t3) == set(ROWS) and all(set(t3[r]) == set(COLUMNS) for r in ROWS)
        if prev is not None:
            assert prev["carried_out"] == t3["carried_in"]
        prev = t3


# ---- the seed report's year (tests/seed_2016.py, also drafted as a whole report in test_annual_document)


def test_seed_2016_city_figures():
    from tests import seed_2016 as S

    r = annual_report(S.events(), 2016)
    t3 = r["table3"]
    # 钦州市2016年度报告: 48 received, 41 answered (33 granted, 3 partial, 2 secret, 3 not held), none carried in
    assert (t3["new"]["total"], t3["carried_in"]["total"], t3["total"]["total"], t3["carried_out"]["total"]) == (
        48,
        0,
        41,
        7,
    )
    assert (
        t3["granted"]["total"],
        t3["partially_granted"]["total"],
        t3["withheld.state_secret"]["total"],
        t3["unavailable.not_held"]["total"],
    ) == (33, 3, 2, 3)
    assert check_table3(t3) == []
    assert all(v == 0 for block in r["table4"].values() for v in block.values())  # no review, no litigation
