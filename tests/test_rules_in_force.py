"""Rules before their source (issue 17 §6): each rule's first edition starts the day its source came into
force; a start before that day is recorded with no clock and the item says why (该时限规则当时尚未施行)."""

from __future__ import annotations

import datetime as dt

from domain.rules import load_rules
from tests.test_clock_edges_wf import supervisor_http

D = dt.date


def test_each_rule_starts_when_its_source_came_into_force():
    rules = load_rules()
    since = {rid: r.since for rid, r in rules.items()}
    assert since["policy_publication"] == since["request_reply"] == D(2008, 5, 1)  # 国务院令第492号
    assert since["annual_report_department"] == since["annual_report_government"] == D(2008, 5, 1)
    assert since["budget_disclosure"] == D(2015, 1, 1)  # 预算法（2014年修正）第十四条
    assert since["opinion_response_general"] == since["opinion_response_press"] == D(2016, 8, 12)  # 国办发〔2016〕61号
    assert since["opinion_response_info"] == since["policy_interpretation"] == D(2016, 11, 10)  # 国办发〔2016〕80号
    assert since["correction_notice"] == D(2019, 5, 15)
    # The oldest edition is the one in force from that day: 2008-05-01 counts 15 working days.
    assert rules["request_reply"].for_start(D(2008, 5, 1)).length == 15


def _signed(doc, day, **kw):
    return {
        "type": "document.signed",
        "document_id": doc,
        "department": "qz-jyj",
        "title": f"测试文件{doc}",
        "kind": "normative",
        "signed_on": day,
        "disclosure": "public",
        **kw,
    }


def _detected(case, at, severity="general"):
    return {
        "type": "opinion.detected",
        "case_id": case,
        "department": "qz-jyj",
        "detected_at": at,
        "severity": severity,
    }


async def test_events_before_a_rules_source_get_no_clock_and_say_so(st):
    old, new = st.id("D-old"), st.id("D-new")
    await st.ok(_signed(old, "2008-04-30", needs_interpretation=False), _signed(new, "2008-05-05"))
    assert [c.rule for c in st.item(new).clocks] == ["policy_publication"]
    item = st.item(old)
    assert item.clocks == [] and item.state == "recorded"
    assert [(n["rule"], n["since"], n["on"]) for n in item.data["rules_not_in_force"]] == [
        ("policy_publication", "2008-05-01", "2008-04-30")
    ]
    # Interpretations: none before 国办发〔2016〕80号 (2016-11-10), the publication clock runs as usual.
    doc = st.id("D-2016")
    await st.ok(
        _signed(doc, "2016-10-10", needs_interpretation=True),
        {"type": "document.published", "document_id": doc, "published_on": "2016-10-20", "url": "https://x.cn/1"},
    )
    snap = st.item(doc)
    assert [(c.rule, c.state) for c in snap.clocks] == [("policy_publication", "met")]
    assert [n["rule"] for n in snap.data["rules_not_in_force"]] == ["policy_interpretation"]
    # Opinion responses: 48 hours from 国办发〔2016〕61号 (2016-08-12), not the day before.
    early, late = st.id("O-early"), st.id("O-late")
    await st.ok(_detected(early, "2016-08-11T09:00:00"), _detected(late, "2016-08-12T09:00:00"))
    assert st.item(early).clocks == [] and st.item(early).data["rules_not_in_force"][0]["since"] == "2016-08-12"
    assert [c.rule for c in st.item(late).clocks] == ["opinion_response_general"]
    # The supervisor sees why there is no clock: item API and page.
    async with await supervisor_http(st) as http:
        api = (await http.get(f"/api/items/{old}")).json()
        assert [f["code"] for f in api["flags"]] == ["rule_not_in_force"]
        page = (await http.get(f"/items/{doc}")).text
        assert "该时限规则当时尚未施行" in page and "自 2016-11-10 起施行" in page and "政策解读发布" in page
        assert "该时限规则当时尚未施行" not in (await http.get(f"/items/{new}")).text
