"""A published annual report does not move (issue 17 §6): its publication locks tables 二/三/四, a late entry
approved afterwards is listed as an amendment (更正说明) in the report, its .docx and exports, and the next year's
上年结转 keeps to the published 结转下年度 with a note. On the time-skipping server, through the real ingest path,
store, workflows, the review CLI and the annual report service."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from domain import report as R
from store.locks import annual_lock
from tests.test_review import as_role, cli
from tests.test_workflows import received

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.date_sensitive]
DEPT = "qz-czj"


def report_year(today: dt.date) -> int:
    """The latest year whose report (due January 31 of the next year) can have been published by today."""
    return today.year - 1 if today >= dt.date(today.year, 1, 31) else today.year - 2


def lock_of(year: int, scope_key: str):
    from store.db import session

    with session() as s:
        return annual_lock(s, year, scope_key)


async def test_a_late_reply_approved_after_publication_amends_instead_of_rewriting(st, tmp_path):
    from services.annual import annual_document
    from services.annual_render import docx_text, render_docx, render_html
    from services.exports import render_annual_report_html
    from services.views import annual_report_data

    today = await st.today()
    year = report_year(today)
    req = st.id("LATE")
    # received on December 1 and open at the year's end: carried into the next year
    await st.ok(received(req, DEPT, dt.date(year, 12, 1)))
    assert annual_document(year, DEPT)["table3"]["carried_out"]["total"] == 1
    await st.ok(
        {
            "type": "annual_report.published",
            "department": DEPT,
            "year": year,
            "published_on": dt.date(year + 1, 1, 31).isoformat(),
            "url": f"http://www.qinzhou.gov.cn/ndbg/{DEPT}-{year}.html",
        }
    )
    # the government's report (qz-czj is a unit under the 政府办公室 qz-zfb) is locked on its own
    await st.ok(
        {
            "type": "annual_report.published",
            "department": "qz-zfb",
            "level": "government",
            "year": year,
            "published_on": dt.date(year + 1, 1, 31).isoformat(),
            "url": f"http://www.qinzhou.gov.cn/ndbg/zf-{year}.html",
        }
    )
    lock = await st.wait_for(lambda: lock_of(year, f"department:{DEPT}"), lambda x: x is not None)
    gov_lock = await st.wait_for(lambda: lock_of(year, "government:qz-zfb"), lambda x: x is not None)
    assert gov_lock.tables["table3"]["carried_out"]["total"] == 1
    assert (lock.basis, lock.published_on) == ("published", f"{year + 1}-01-31")
    assert lock.tables["table3"]["carried_out"]["total"] == 1

    # A liaison records now a reply dated December 30: held for review, then approved
    r = await as_role(
        st,
        "liaison",
        "liaison-czj",
        {"type": "request.replied", "request_id": req, "on": dt.date(year, 12, 30).isoformat(), "outcome": "granted"},
    )
    assert r[0].status == "held", r[0].text()
    out = await asyncio.to_thread(cli, "review", "approve", r[0].event_id, "--by", "supervisor-zwgk")
    assert out.exit_code == 0, out.output
    assert st.clock(req, "request_reply").state in ("met", "missed")

    # The published year: its table 三 as published, the change listed
    doc = annual_document(year, DEPT)
    t3 = doc["table3"]
    assert (t3["granted"]["total"], t3["total"]["total"], t3["carried_out"]["total"]) == (0, 0, 1)
    assert doc["checks"] == []
    assert doc["lock"]["basis"] == "published" and doc["lock"]["published_on"] == f"{year + 1}-01-31"
    changed = {(a["row"], a["column"]): (a["published"], a["current"]) for a in doc["amendments"]}
    assert changed == {
        (R.ROW_LABELS["granted"], "自然人"): (0, 1),
        (R.ROW_LABELS["granted"], "总计"): (0, 1),
        (R.ROW_LABELS["total"], "自然人"): (0, 1),
        (R.ROW_LABELS["total"], "总计"): (0, 1),
        (R.ROW_LABELS["carried_out"], "自然人"): (1, 0),
        (R.ROW_LABELS["carried_out"], "总计"): (1, 0),
    }
    amend = next(s for s in doc["sections"] if s["heading"] == "附：更正说明")
    text = "".join(b["text"] for b in amend["blocks"])
    assert f"本报告于{year + 1}-01-31公布" in text and "公布数 1，按现有记录为 0（-1）" in text
    # ... with the records that moved it: the approved reply, by id, type and both dates (no applicant data)
    assert [(e["event_id"], e["type"], e["occurred_on"]) for e in doc["lock"]["entries"]] == [
        (r[0].event_id, "request.replied", f"{year}-12-30")
    ]
    assert f"{req} 作出答复（日期 {year}-12-30，{today.isoformat()} 登记）" in text and "张三" not in str(doc)
    # ... in the .docx, the HTML draft and the tables export
    paragraphs = [p for _style, p in docx_text(render_docx(doc))["paragraphs"]]
    assert "附：更正说明" in paragraphs and any("公布数 0，按现有记录为 1（+1）" in p for p in paragraphs)
    assert "附：更正说明" in render_html(doc)
    assert "更正说明" in render_annual_report_html(doc) and "按现有记录为 0（-1）" in render_annual_report_html(doc)
    from openpyxl import load_workbook

    from services.exports import write_annual_report

    xlsx = write_annual_report(doc, "xlsx", tmp_path / "t.xlsx")
    sheet = load_workbook(xlsx)["更正说明"]
    rows = [tuple(c.value for c in row) for row in sheet.iter_rows(min_row=3)]
    assert ("表三", R.ROW_LABELS["carried_out"], "总计", 1, 0) in rows and len(rows) == 6
    gov = annual_document(year, government=True)
    assert gov["table3"]["carried_out"]["total"] == 1 and len(gov["amendments"]) == 6
    # ... and through the API's read side
    assert annual_report_data(year, DEPT)["amendments"] == doc["amendments"]

    # The next year: 上年结转 is the published figure, the difference explained, the balance still checked
    nxt = annual_document(year + 1, DEPT)
    n3 = nxt["table3"]
    assert n3["carried_in"]["total"] == 1 and n3[R.CARRIED_IN_COUNTED]["total"] == 0
    assert nxt["checks"] == [] and R.check_table3(n3) == []
    assert nxt["carry_in"]["published"]["total"] == 1 and nxt["carry_in"]["counted"]["total"] == 0
    note = nxt["carry_in"]["note"]
    assert note in nxt["notes"] and f"按{year}年度报告公布" in note and "少1件" in note
    section3 = next(s for s in nxt["sections"] if s["heading"].startswith("三、"))
    assert any(b.get("text") == note for b in section3["blocks"])
    assert "上年结转1件" in "".join(b.get("text", "") for b in nxt["sections"][0]["blocks"])
    assert nxt["lock"] is None and nxt["amendments"] == []

    # An assessor locks the next year's report; a second lock is refused
    out = await asyncio.to_thread(
        cli, "annual-lock", "--year", str(year + 1), "--department", DEPT, "--by", "kp-1", "--force"
    )
    assert out.exit_code == 0, out.output
    nxt_lock = lock_of(year + 1, f"department:{DEPT}")
    assert (nxt_lock.basis, nxt_lock.locked_by) == ("assessor", "kp-1")
    assert nxt_lock.tables["table3"]["carried_in"]["total"] == 1  # locked with the kept carry-in
    out = await asyncio.to_thread(cli, "annual-lock", "--year", str(year + 1), "--department", DEPT, "--force")
    assert out.exit_code != 0 and "已锁定" in out.output
    out = await asyncio.to_thread(cli, "annual-report", "--year", str(year), "--department", DEPT)
    assert out.exit_code == 0 and "年度报告已锁定（公布时自动锁定）" in out.output and "变化 6 项" in out.output
    locked_next = annual_document(year + 1, DEPT)
    assert locked_next["amendments"] == [] and locked_next["checks"] == []
    assert locked_next["carry_in"]["note"] == note
