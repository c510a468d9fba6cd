"""Exports: the xlsx/csv of the scores, the annual report files, score locks and the CLI."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

import store.locks  # noqa: F401  (ScoreLock on SQLModel.metadata)
from domain.model import ClockSnapshot, ItemSnapshot
from domain.report import annual_report
from domain.rules import load_rules
from domain.scoring import ClockRecord, load_scoring, parse_period, score_period
from services.exports import ReportCheckError, write_annual_report, write_scores

FIN, EDU = "财政局", "教育局"
Q3 = parse_period("2026-Q3")
AS_OF = date(2026, 10, 16)
RULES = load_rules()


def rec(item, rule, due, state, met_on=None, late=None, overdue=None, dept=FIN, title=None, summary=None):
    return ClockRecord(
        item_id=item,
        item_type="request" if item.startswith(("R", "E")) else "document",
        department=dept,
        title=title or f"事项{item}",
        rule=rule,
        due=due,
        state=state,
        met_on=met_on,
        lateness_working_days=late,
        overdue_working_days=overdue,
        explanation={"summary": summary} if summary else {},
    )


RECORDS = [
    rec("D1", "policy_publication", "2026-07-20", "met", "2026-07-10", summary="成文日起20个工作日"),
    rec("D1", "policy_interpretation", "2026-07-16", "met", "2026-07-20", late=2),
    rec("R1", "request_reply", "2026-09-15", "open", overdue=11, title='=HYPERLINK("x")'),
    rec("E1", "request_reply", "2026-08-03", "met", "2026-07-30", dept=EDU, summary="收到申请之日起20个工作日"),
]


def test_scores_xlsx_sheets_headers_numbers(tmp_path: Path):
    res = score_period(RECORDS, Q3, AS_OF, load_scoring(), rules=RULES)
    out = write_scores(res, "xlsx", tmp_path / "scores.xlsx")
    wb = load_workbook(out)
    assert wb.sheetnames == ["汇总", "明细", "说明"]
    ws = wb["汇总"]
    header = [c.value for c in ws[1]]
    assert header[:11] == [
        "部门",
        "应办事项",
        "按时",
        "逾期办结",
        "逾期未办",
        "未到期",
        "已关闭（不计）",
        "按时率",
        "平均逾期（工作日）",
        "扣分",
        "得分",
    ]
    assert "依申请公开答复按时率" in header and "政策解读发布按时率" in header
    assert header[-1] == "部门编号"  # the Chinese name first, the id last (issue 19 §4)
    rows = {r[-1]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    fin = rows[FIN]
    assert fin[0] == FIN  # not a department of the directory: its id stands in for the name
    assert fin[1:11] == (3, 1, 1, 1, 0, 0, pytest.approx(1 / 3, abs=1e-4), 6.5, 11, 89)
    assert rows[EDU][10] == 100 and rows[EDU][7] == 1
    assert fin[header.index("依申请公开答复按时率")] == 0
    assert rows[EDU][header.index("政策解读发布按时率")] is None

    wd = wb["明细"]
    dh = [c.value for c in wd[1]]
    assert dh == [
        "部门",
        "事项编号",
        "事项类型",
        "标题",
        "时限规则",
        "期限",
        "时钟状态",
        "考评结果",
        "履行日期",
        "逾期工作日",
        "扣分",
        "期限说明",
        "补录（事件日期／登记时间）",
        "起始事件登记（北京时间）",
        "代录",
        "所属地区",  # the department's node (issue 20 §1), just before its id
        "部门编号",
    ]
    detail = {(r[1], r[4]): r for r in wd.iter_rows(min_row=2, values_only=True)}
    assert len(detail) == 4
    assert detail[("D1", "政策文件主动公开")][11] == "成文日起20个工作日"
    late = detail[("D1", "政策解读发布")]
    assert (late[7], late[8], late[9], late[10]) == ("逾期办结", "2026-07-20", 2, 5)
    r1 = detail[("R1", "依申请公开答复")]
    assert (r1[2], r1[7], r1[9], r1[10], r1[11]) == ("依申请公开", "逾期未办", 11, 6, "期限：2026-09-15")
    assert r1[3].startswith("'=")  # a title is never a formula
    assert wd.cell(row=2, column=4).data_type == "s"


def test_scores_csv_has_bom_and_summary_rows(tmp_path: Path):
    res = score_period(RECORDS, Q3, AS_OF, load_scoring(), rules=RULES)
    out = write_scores(res, "csv", tmp_path / "scores.csv")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0][0] == "部门" and rows[0][10] == "得分"
    by = {r[-1]: r for r in rows[1:]}
    assert by[FIN][0] == FIN and rows[0][-1] == "部门编号"
    assert by[FIN][1:5] == ["3", "1", "1", "1"] and by[FIN][7] == "33.3%" and by[FIN][10] == "89"
    assert by[EDU][10] == "100"


def _report_events():
    return [
        {
            "event_id": "a",
            "type": "request.received",
            "request_id": "R1",
            "department": FIN,
            "received_on": "2026-03-01",
            "applicant_type": "natural_person",
            "channel": "online",
            "applicant": {"name": "李四", "contact": "li@example.cn"},
            "subject": "<b>预算</b>",
        },
        {"event_id": "b", "type": "request.replied", "request_id": "R1", "on": "2026-03-10", "outcome": "granted"},
        {
            "event_id": "c",
            "type": "request.received",
            "request_id": "R2",
            "department": FIN,
            "received_on": "2026-12-30",
            "applicant_type": "legal.business",
            "channel": "email",
        },
        {
            "event_id": "d",
            "type": "document.signed",
            "document_id": "D1",
            "department": FIN,
            "title": "办法",
            "kind": "normative",
            "signed_on": "2026-02-01",
            "disclosure": "public",
        },
        {"event_id": "e", "type": "review.filed", "request_id": "R1", "on": "2026-05-01"},
    ]


def test_annual_report_files(tmp_path: Path):
    rep = annual_report(_report_events(), 2026, FIN, entered={"penalty": 7})
    j = write_annual_report(rep, "json", tmp_path / "r.json")
    data = json.loads(j.read_text(encoding="utf-8"))
    assert data["table3"]["new"]["total"] == 2 and data["table3"]["carried_out"]["legal.business"] == 1

    x = write_annual_report(rep, "xlsx", tmp_path / "r.xlsx")
    wb = load_workbook(x)
    assert wb.sheetnames == ["表二", "表三", "表四"]
    t2 = {(r[1], r[2]): r[3] for r in wb["表二"].iter_rows(min_row=4, values_only=True)}
    assert t2[("行政规范性文件", "本年制发件数")] == 1 and t2[("行政处罚", "本年处理决定数量")] == 7
    assert t2[("行政许可", "本年处理决定数量")] is None
    ws3 = wb["表三"]
    assert [c.value for c in ws3[3]] == [
        "项目",
        "自然人",
        "商业企业",
        "科研机构",
        "社会公益组织",
        "法律服务机构",
        "其他",
        "总计",
    ]
    t3 = {r[0]: r[1:] for r in ws3.iter_rows(min_row=4, values_only=True)}
    assert t3["一、本年新收政府信息公开申请数量"] == (1, 1, 0, 0, 0, 0, 2)
    assert t3["（一）予以公开"] == (1, 0, 0, 0, 0, 0, 1)
    assert t3["四、结转下年度继续办理"] == (0, 1, 0, 0, 0, 0, 1)
    assert "（三）不予公开" in t3
    ws4 = wb["表四"]
    assert ws4.cell(row=2, column=1).value == "行政复议" and ws4.cell(row=3, column=6).value == "未经复议直接起诉"
    assert [c.value for c in ws4[5]][:5] == [0, 0, 0, 1, 1]

    h = write_annual_report(rep, "html", tmp_path / "r.html").read_text(encoding="utf-8")
    assert "本年新收政府信息公开申请数量" in h and "尚未审结" in h and "复议后起诉" in h
    assert "李四" not in h and "li@example.cn" not in h


def test_html_escapes_department():
    from services.exports import render_annual_report_html

    rep = annual_report([], 2026, "<script>x</script>")
    h = render_annual_report_html(rep)
    assert "<script>x" not in h and "&lt;script&gt;" in h


def test_bad_table_is_refused(tmp_path: Path):
    rep = annual_report([], 2026)
    rep["table3"]["new"]["natural_person"] = 1
    rep["table3"]["new"]["total"] = 1
    with pytest.raises(ReportCheckError, match="自然人"):
        write_annual_report(rep, "html", tmp_path / "bad.html")
    assert not (tmp_path / "bad.html").exists()


# ---------------------------------------------------------------------------------- locks


def test_lock_keeps_numbers_and_lists_amendments(db_session):
    from store.locks import PeriodLockedError, amendments, lock_period, locked, locked_result

    res = score_period(RECORDS, Q3, AS_OF, load_scoring(), rules=RULES)
    lock_period(db_session, Q3, res, locked_by="考评办")
    assert locked(db_session, "2026-Q3") is not None and locked(db_session, "2026-Q2") is None
    with pytest.raises(PeriodLockedError):
        lock_period(db_session, Q3, res)

    later = [r for r in RECORDS if r.item_id != "R1"] + [
        rec("R1", "request_reply", "2026-09-15", "met", "2026-10-20", late=14),
        rec("R5", "request_reply", "2026-09-30", "open", overdue=5),
        rec("R6", "request_reply", "2026-12-30", "open"),  # other period: ignored
    ]
    am = amendments(db_session, Q3, later)
    assert [(a.item_id, a.change) for a in am] == [("R1", "changed"), ("R5", "new")]
    assert (am[0].locked_state, am[0].current_state, am[0].current_met_on) == ("open", "met", "2026-10-20")

    again = locked_result(db_session, Q3, later)
    assert [d.score for d in again.summary] == [100, 89]  # the published numbers
    assert again.locked_by == "考评办" and again.locked_at and len(again.amendments) == 2
    fin_only = locked_result(db_session, Q3, later, department=EDU)
    assert [d.department for d in fin_only.summary] == [EDU] and fin_only.amendments == []


# ---------------------------------------------------------------------------------- CLI


def _seed(engine):
    from sqlmodel import Session

    from store.events import add_event, event_record_from
    from store.items import save_snapshot

    snaps = [
        ItemSnapshot(
            id="D1",
            type="document",
            department=FIN,
            title="关于预算管理的办法",
            version=1,
            clocks=[
                ClockSnapshot(
                    rule="policy_publication",
                    start="2026-06-19",
                    due="2026-07-20",
                    state="met",
                    met_on="2026-07-10",
                    explanation={"summary": "成文日 6月19日 起20个工作日"},
                ),
                ClockSnapshot(
                    rule="policy_interpretation",
                    start="2026-07-10",
                    due="2026-07-15",
                    state="met",
                    met_on="2026-07-20",
                    lateness_working_days=3,
                ),
            ],
        ),
        ItemSnapshot(
            id="R1",
            type="request",
            department=FIN,
            title="申请公开预算明细",
            version=1,
            clocks=[
                ClockSnapshot(rule="request_reply", start="2026-08-17", due="2026-09-15", state="open"),
            ],
        ),
        ItemSnapshot(
            id="E1",
            type="request",
            department=EDU,
            title="申请公开招生计划",
            version=1,
            clocks=[
                ClockSnapshot(
                    rule="request_reply",
                    start="2026-07-06",
                    due="2026-08-03",
                    state="met",
                    met_on="2026-07-30",
                    explanation={"summary": "收到申请之日起20个工作日"},
                ),
            ],
        ),
    ]
    with Session(engine) as s:
        for snap in snaps:
            save_snapshot(s, snap)
        for ev in _report_events():
            add_event(s, event_record_from(ev))


@pytest.fixture
def cli(tmp_data_dir):
    from app.cli import app
    from store.db import init_db

    engine = init_db()
    _seed(engine)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), catch_exceptions=False)


def test_cli_export_scores_and_lock(cli, tmp_path: Path):
    from domain.calendar import load_calendar

    expected_overdue = load_calendar().working_days_between(date(2026, 9, 15), AS_OF, "national")
    out = tmp_path / "q3.xlsx"
    r = cli("export", "scores", "--period", "2026-Q3", "--format", "xlsx", "--out", str(out), "--as-of", "2026-10-16")
    assert r.exit_code == 0, r.output
    assert "2 个部门" in r.output
    wb = load_workbook(out)
    rows = {row[0]: row for row in wb["汇总"].iter_rows(min_row=2, values_only=True)}
    assert rows[FIN][1:5] == (3, 1, 1, 1) and rows[FIN][9:11] == (11, 89)
    assert rows[FIN][8] == pytest.approx((3 + expected_overdue) / 2)
    assert rows[EDU][10] == 100
    detail = {(d[1], d[4]): d for d in wb["明细"].iter_rows(min_row=2, values_only=True)}
    assert detail[("R1", "依申请公开答复")][9] == expected_overdue
    assert detail[("E1", "依申请公开答复")][11] == "收到申请之日起20个工作日"

    r = cli("scores", "lock", "--period", "2026-Q3", "--as-of", "2026-09-01")
    assert r.exit_code == 1 and "尚未结束" in r.output
    r = cli("scores", "show", "--period", "2026-Q3", "--as-of", "2026-10-16", "--department", FIN)
    assert r.exit_code == 0, r.output
    assert "泉州市鲤城区2020年政务公开指数绩效考评：" in r.output  # each indicator's points / weight
    assert "政府信息依申请公开 0/6" in r.output and "政策解读 0/5" in r.output and "政府信息主动公开 10/10" in r.output
    r = cli("scores", "lock", "--period", "2026-Q3", "--as-of", "2026-10-16", "--by", "考评办")
    assert r.exit_code == 0, r.output
    assert "已锁定" in r.output
    r = cli("scores", "lock", "--period", "2026-Q3", "--as-of", "2026-10-16")
    assert r.exit_code == 1 and "已锁定" in r.output

    # a late reply after the lock: the published numbers stay, the change is an amendment
    from sqlmodel import Session

    from store.db import get_engine
    from store.items import save_snapshot

    with Session(get_engine()) as s:
        save_snapshot(
            s,
            ItemSnapshot(
                id="R1",
                type="request",
                department=FIN,
                title="申请公开预算明细",
                version=2,
                state="closed",
                clocks=[
                    ClockSnapshot(
                        rule="request_reply",
                        start="2026-08-17",
                        due="2026-09-15",
                        state="met",
                        met_on="2026-10-20",
                        lateness_working_days=20,
                    )
                ],
            ),
        )
    out2 = tmp_path / "q3-again.xlsx"
    r = cli("export", "scores", "--period", "2026-Q3", "--format", "xlsx", "--out", str(out2), "--as-of", "2026-11-30")
    assert r.exit_code == 0, r.output
    assert "锁定后更正 1 条" in r.output
    wb2 = load_workbook(out2)
    assert wb2.sheetnames == ["汇总", "明细", "更正", "说明"]
    rows2 = {row[0]: row for row in wb2["汇总"].iter_rows(min_row=2, values_only=True)}
    assert rows2 == rows
    am = list(wb2["更正"].iter_rows(min_row=2, values_only=True))
    assert am == [
        (FIN, "R1", "申请公开预算明细", "依申请公开答复", "锁定后状态变化", "办理中", None, "已履行", "2026-10-20", FIN)
    ]

    csv_out = tmp_path / "q3.csv"
    r = cli(
        "export",
        "scores",
        "--period",
        "2026-Q3",
        "--format",
        "csv",
        "--out",
        str(csv_out),
        "--department",
        EDU,
        "--as-of",
        "2026-11-30",
    )
    assert r.exit_code == 0, r.output
    lines = csv_out.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 2 and lines[1].startswith(EDU)

    r = cli("export", "scores", "--period", "2026-Q5", "--format", "csv", "--out", str(csv_out))
    assert r.exit_code == 1 and "期间" in r.output


def test_cli_annual_report(cli, tmp_path: Path, monkeypatch):
    r = cli("annual-report", "--year", "2026", "--department", FIN)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["year"] == 2026 and data["department"] == FIN
    assert data["table3"]["new"]["total"] == 2 and data["table3"]["granted"]["natural_person"] == 1
    assert data["table2"]["normative"]["issued"] == 1 and data["table4"]["review"]["pending"] == 1
    assert "李四" not in r.output and "li@example.cn" not in r.output

    out = tmp_path / "report.html"
    r = cli("annual-report", "--year", "2026", "--format", "html", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "新收申请 2 件" in r.output
    assert "予以公开" in out.read_text(encoding="utf-8")

    r = cli("annual-report", "--year", "2026", "--format", "xlsx")
    assert r.exit_code == 1 and "--out" in r.output

    # A report whose tables do not balance cannot be produced from consistent store data, so the public
    # domain.annual_rows.tables (what the CLI's draft counts tables with) is wrapped (not a private global) to
    # add one unbalanced case: the CLI must refuse to print it.
    import domain.annual_rows as report_mod

    real = report_mod.tables

    def broken(*a, **k):
        rep = real(*a, **k)
        rep["table3"]["carried_out"]["natural_person"] += 1
        rep["table3"]["carried_out"]["total"] += 1
        return rep

    monkeypatch.setattr(report_mod, "tables", broken)
    r = cli("annual-report", "--year", "2026")
    assert r.exit_code == 2 and "不予输出" in r.output and "{" not in r.stdout


def test_scores_exports_show_each_indicator_of_the_scheme(tmp_path: Path):
    """Issue 17 §7: per department the scheme and each indicator's points (weight − capped deduction), after
    the columns that were there before; §2: on-request documents and normative documents without
    interpretation are counted, and the 说明 sheet gives every indicator's weight and source."""
    from domain.scoring import Mark

    late = [rec(f"R{i}", "request_reply", "2026-09-15", "open", overdue=3) for i in range(3)]
    marks = [
        Mark(
            kind="on_request",
            department=FIN,
            item_id="Q1",
            item_type="document",
            on="2026-08-01",
            reason="依申请公开：x",
        ),
        Mark(kind="no_interpretation", department=FIN, item_id="N1", item_type="document", on="2026-08-02"),
    ]
    res = score_period(RECORDS + late, Q3, AS_OF, load_scoring(), marks=marks, rules=RULES)
    out = write_scores(res, "xlsx", tmp_path / "scores.xlsx")
    wb = load_workbook(out)
    ws = wb["汇总"]
    header = [c.value for c in ws[1]]
    old = header.index("复议诉讼被纠正（件）")
    assert header[old + 1].endswith("按时率")  # the old columns keep their places
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)}
    fin = rows[FIN]
    assert fin["考评方案"] == "泉州市鲤城区2020年政务公开指数绩效考评"
    assert (fin["依申请公开（件）"], fin["规范性文件未解读（件）"], fin["加分"]) == (1, 1, 0)
    # four overdue replies (−24) take 依申请公开's whole weight, not more; 解读 −5 of 5
    assert fin["政府信息依申请公开得分（权重6）"] == 0 and fin["政策解读得分（权重5）"] == 0
    assert fin["政府信息主动公开得分（权重10）"] == 10
    assert (fin["扣分"], fin["得分"]) == (11, 89)
    notes = {r[0]: r[1] for r in wb["说明"].iter_rows(values_only=True)}
    ind = notes["  指标：政府信息依申请公开"]
    assert "权重 6 分（扣分上限）" in ind and "依申请公开答复 每件 6 分" in ind and "超期办理每条扣6分" in ind
    csv_out = write_scores(res, "csv", tmp_path / "scores.csv")
    rows_csv = list(csv.reader(csv_out.read_bytes().decode("utf-8-sig").splitlines()))
    by = {r[0]: dict(zip(rows_csv[0], r, strict=True)) for r in rows_csv[1:]}
    assert by[FIN]["政府信息依申请公开得分（权重6）"] == "0" and by[FIN]["规范性文件未解读（件）"] == "1"
