"""Issue 17 §2: documents the law says must be public get their clock (domain and ledger; the ingest path is
in tests/test_workflows.py, the counts in tests/test_services_scores.py and tests/test_scoring.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from domain import ledger as L
from domain.events import EventError, parse_event

TODAY = dt.date(2026, 11, 2)  # pinned: these checks do not depend on the date


def signed(**kw):
    return {
        "event_id": "e-1",
        "type": "document.signed",
        "document_id": "钦发改规〔2026〕1号",
        "department": "qz-fgw",
        "title": "某办法",
        "kind": "normative",
        "signed_on": "2026-10-09",
        "disclosure": "public",
        **kw,
    }


@pytest.mark.parametrize("kind", ["normative", "regulation"])
@pytest.mark.parametrize("disclosure", ["on_request", "withheld"])
def test_regulations_and_normative_documents_cannot_be_kept_from_proactive_disclosure(kind, disclosure):
    with pytest.raises(EventError) as exc:
        parse_event(signed(kind=kind, disclosure=disclosure, disclosure_reason="内部掌握"), today=TODAY)
    assert exc.value.field == "disclosure"
    assert "第二十条" in exc.value.reason and "第二十六条" in exc.value.reason
    assert ("依申请公开" if disclosure == "on_request" else "不予公开") in exc.value.reason


def test_stored_events_with_the_refused_combination_still_load():
    """History replay and the engine's own reads parse with internal=True: nothing stored becomes unreadable."""
    ev = parse_event(signed(disclosure="on_request"), internal=True, today=TODAY)
    assert ev.data["disclosure"] == "on_request" and ev.data["kind"] == "normative"
    old = parse_event(signed(kind="regulation", disclosure="withheld", withheld_reason="x"), internal=True)
    assert old.data["disclosure_reason"] == "x"


def test_other_kinds_need_a_reason_for_on_request_as_for_withheld():
    for disclosure in ("on_request", "withheld"):
        with pytest.raises(EventError) as exc:
            parse_event(signed(kind="policy", disclosure=disclosure), today=TODAY)
        assert exc.value.field == "disclosure_reason"
    ev = parse_event(signed(kind="other", disclosure="on_request", disclosure_reason="仅涉及特定对象"), today=TODAY)
    assert ev.data["disclosure_reason"] == "仅涉及特定对象"
    # the field's name before issue 17 is still accepted (senders, ledger), normalised to the new one
    ev = parse_event(signed(kind="policy", disclosure="withheld", withheld_reason="withheld.state_secret"), today=TODAY)
    assert ev.data["disclosure_reason"] == "withheld.state_secret" and "withheld_reason" not in ev.data


def test_normative_document_without_interpretation_is_allowed():
    ev = parse_event(signed(needs_interpretation=False), today=TODAY)
    assert ev.data["needs_interpretation"] is False  # counted and listed by the scores, not refused


def _ledger_row(kind: str, disclosure: str, reason: str = "") -> L.Row:
    head = ["文件编号", "文件标题", "文件类型", "成文日期", "公开属性", "不予公开理由"]
    data = "\n".join(
        ",".join(r) for r in (head, ["钦教规〔2026〕3号", "某规定", kind, "2026-03-02", disclosure, reason])
    ).encode()
    rows = L.map_rows(L.read_table(data, "t.csv"), "qz-jyj", ("钦州市教育局",))
    assert len(rows) == 1
    return rows[0]


def test_a_ledger_row_of_a_normative_document_on_request_is_refused():
    row = _ledger_row("规范性文件", "依申请公开", "内部掌握")
    assert not row.ok and row.events == []
    assert [p.column for p in row.problems] == ["公开属性"] and "第二十条" in row.problems[0].reason
    row = _ledger_row("其他", "依申请公开")
    assert not row.ok and [p.column for p in row.problems] == ["不予公开理由"]
    row = _ledger_row("其他", "依申请公开", "仅涉及特定对象")
    assert row.ok, row.problems
    # the ledger keeps writing the old field name: re-importing a ledger gives the same events (no conflict)
    assert row.events[0]["withheld_reason"] == "仅涉及特定对象"
    head = "文件编号,文件标题,文件类型,成文日期,公开属性,不主动公开理由\n钦教发〔2026〕4号,某通知,其他,2026-03-02,依申请公开,x\n"
    (row,) = L.map_rows(L.read_table(head.encode(), "t.csv"), "qz-jyj", ("钦州市教育局",))
    assert row.ok and row.events[0]["withheld_reason"] == "x"


def test_a_phone_number_in_the_reason_is_masked():
    ev = parse_event(signed(kind="policy", disclosure="on_request", disclosure_reason="联系13912345678"), today=TODAY)
    assert "13912345678" not in ev.data["disclosure_reason"]
