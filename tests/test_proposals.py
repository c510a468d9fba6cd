"""i21-proposals: 人大建议/政协提案 (months, provincial variants), 12345 热线 (extension), website messages,
and the appeal windows after a reply (audience = "supervisor"), on the time-skipping server through the real
ingest path and store; plus the pure parts (rule selection by region, 表四 reconciliation, config checks)."""

from __future__ import annotations

import calendar as pycal
import datetime as dt

import pytest

from domain.engine import engine

DAY = dt.timedelta(days=1)

SICHUAN = """
[[department]]
id = "sc-jyt"
name = "四川省教育厅"
region = "sichuan"

[[department]]
id = "sd-zwfw"
name = "山东省政务服务管理办公室"
region = "shandong"
"""


def cal():
    return engine().calendar


def month_end_months_ago(today: dt.date, back: int) -> dt.date:
    """The last day of the month `back` months before today's (a month-end start, 民法典第二百零二条)."""
    y, m = divmod(today.month - 1 - back, 12)
    year, month = today.year + y, m + 1
    return dt.date(year, month, pycal.monthrange(year, month)[1])


def months_later(start: dt.date, months: int) -> dt.date:
    """The corresponding day `months` later, else that month's last day (computed here independently)."""
    y, m = divmod(start.month - 1 + months, 12)
    year, month = start.year + y, m + 1
    return dt.date(year, month, min(start.day, pycal.monthrange(year, month)[1]))


def add_departments(st) -> None:
    deps = st.config / "departments.toml"
    deps.write_text(deps.read_text(encoding="utf-8") + SICHUAN, encoding="utf-8")
    assert "sc-jyt" in engine().directory.departments  # the engine reloads the edited file


# ---------------------------------------------------------------- pure
def test_item_rules_pick_the_provincial_variant_by_region():
    from services.ingest import item_rules, rule_table

    table = rule_table(engine().rules)
    national = item_rules(table, "proposal", None, {}, ())
    assert {"proposal_reply", "proposal_reply_complex"} <= set(national)
    assert not any(k.endswith("sichuan") or "sichuan_" in k for k in national)
    # 凉山州 lies under 四川: the province's rules join there, each replacing its national rule at the start
    # where its own `when` applies (domain.transitions.replaced_here; the workflow tests below start them)
    liangshan = item_rules(table, "proposal", None, {}, cal().chain("liangshan"))
    assert {m.replaces for m in liangshan.values() if m.replaces} == {"proposal_reply", "proposal_reply_complex"}
    assert {"proposal_reply_sichuan", "proposal_reply_sichuan_cppcc_plenary", "proposal_reanswer_sichuan"} <= set(
        liangshan
    )
    assert "hotline_reply_shandong" in item_rules(table, "hotline", None, {}, cal().chain("shandong"))
    assert item_rules(table, "hotline", None, {}, cal().chain("guangxi")) == {}


def test_rule_data_checks_what_a_variant_replaces():
    from domain.config import ConfigError
    from domain.rules import parse_rules

    base = {"name": "x", "unit": "months", "length": 3, "start_event": "proposal.assigned", "source": "s", "quote": "q"}
    # a variant names whom it is for: a province's (regions) or a node's (nodes; [] is off until listed)
    with pytest.raises(ConfigError, match="regions（地方规则）或 nodes"):
        parse_rules({"rules": {"a": base, "b": {**base, "replaces": "a"}}})
    with pytest.raises(ConfigError, match="之一"):
        parse_rules({"rules": {"a": base, "b": {**base, "replaces": "a", "regions": ["sichuan"], "nodes": []}}})
    assert parse_rules({"rules": {"a": base, "b": {**base, "replaces": "a", "nodes": []}}})["b"].nodes == frozenset()
    with pytest.raises(ConfigError, match="replaces"):
        parse_rules({"rules": {"a": base, "b": {**base, "replaces": "zz", "nodes": []}}})
    with pytest.raises(ConfigError, match="不是一条全国规则"):
        parse_rules({"rules": {"a": base, "b": {**base, "regions": ["sichuan"], "replaces": "zz"}}})


def test_reconcile_counts_filings_against_their_windows():
    from domain.appeals import reconcile

    closers = {"appeal_review": ("review.filed",), "appeal_litigation": ("litigation.filed",)}
    filings = [
        ("r1", "review.filed", "2026-03-01"),
        ("r2", "review.filed", "2026-05-01"),
        ("r3", "review.filed", "2026-03-01"),
    ]
    windows = [("r1", "appeal_review", "2026-03-02"), ("r2", "appeal_review", "2026-04-30")]
    got = {r.event_type: r for r in reconcile(filings, windows, closers)}
    rev = got["review.filed"]
    assert (rev.recorded, rev.within, rev.outside, rev.no_window, rev.mismatch) == (3, 1, ["r2"], ["r3"], 2)
    assert got["litigation.filed"].recorded == 0


def test_supervisor_windows_are_never_overdue_nor_reminded_to_the_liaison(tmp_path):
    import shutil

    from domain.config import config_dir
    from domain.config_check import check_config
    from domain.standing import can_be_overdue

    rules = engine().rules
    assert not can_be_overdue(rules["appeal_review"]) and not can_be_overdue(rules["appeal_litigation"])
    assert can_be_overdue(rules["proposal_reply"])
    cfg = tmp_path / "config"
    shutil.copytree(config_dir(), cfg)
    rem = cfg / "reminders.toml"
    rem.write_text(
        rem.read_text(encoding="utf-8").replace(
            '[rules.appeal_review]\nrepeat_every = 0\nsteps = [{ id = "t_minus_3", offset = -3, to = ["supervisor"] }]',
            '[rules.appeal_review]\nrepeat_every = 0\nsteps = [{ id = "t_minus_3", offset = -3, to = ["liaison"] }]',
        ),
        encoding="utf-8",
    )
    problems = check_config(cfg)
    assert any("appeal_review" in p and "liaison" in p for p in problems), problems


def test_message_events_take_no_submitter_fields():
    from domain.events import EventError, parse_event

    base = {"event_id": "m1", "type": "message.received", "message_id": "M-1", "department": "qz-zfb"}
    base |= {"received_on": "2026-01-05", "kind": "consultation"}
    assert parse_event(base).item_type == "message"
    with pytest.raises(EventError) as exc:
        parse_event({**base, "name": "张三", "phone": "13800000000"})
    assert exc.value.field in ("name", "phone") and exc.value.reason == "未知字段"


# ---------------------------------------------------------------- time-skipping server
async def test_proposal_three_months_from_a_month_end(st):
    add_departments(st)
    today = await st.today()
    start = month_end_months_ago(today, 4)  # e.g. 08-31 -> 11-30; 10-31 -> 01-31
    nominal = months_later(start, 3)
    due = cal().next_working_day(nominal, "sichuan")
    pid = st.id("P")
    await st.ok(
        {
            "type": "proposal.assigned",
            "proposal_id": pid,
            "department": "sc-jyt",
            "assigned_on": start.isoformat(),
            "kind": "npc_suggestion",
            "title": "关于加强乡村教师队伍建设的建议",
        }
    )
    c = st.clock(pid, "proposal_reply_sichuan")
    assert c.due == due.isoformat(), c.explanation
    assert {k.rule for k in st.item(pid).clocks} == {"proposal_reply_sichuan"}  # not the national rule
    if nominal.day != start.day:
        assert "月末日" in (c.explanation.get("summary") or "")
    # 政协大会期间提案: 5 months in 四川
    cp = st.id("CP")
    await st.ok(
        {
            "type": "proposal.assigned",
            "proposal_id": cp,
            "department": "sc-jyt",
            "assigned_on": start.isoformat(),
            "kind": "cppcc_proposal",
            "plenary": True,
        }
    )
    assert (
        st.clock(cp, "proposal_reply_sichuan_cppcc_plenary").due
        == cal().next_working_day(months_later(start, 5), "sichuan").isoformat()
    )
    # answered before the due date: met; the item is done
    answered = min(due, today) - DAY
    await st.ok({"type": "proposal.answered", "proposal_id": pid, "answered_on": answered.isoformat()})
    snap = st.item(pid)
    assert st.clock(pid, "proposal_reply_sichuan").state == "met" and snap.state == "closed"
    # 不满意、重新办理: its own item with 四川's 3 months for the re-answer
    await st.ok(
        {
            "type": "proposal.reanswer_requested",
            "proposal_id": pid,
            "department": "sc-jyt",
            "requested_on": today.isoformat(),
        }
    )
    again = st.clock(f"{pid}:重办1", "proposal_reanswer_sichuan")
    assert again.due == cal().next_working_day(months_later(today, 3), "sichuan").isoformat()
    # a national department (钦州) gets the 国办 办法's 3 months instead
    nat = st.id("N")
    await st.ok(
        {
            "type": "proposal.assigned",
            "proposal_id": nat,
            "department": "qz-zfb",
            "assigned_on": start.isoformat(),
            "kind": "cppcc_proposal",
            "plenary": True,
        }
    )
    assert {k.rule for k in st.item(nat).clocks} == {"proposal_reply"}


async def test_hotline_ticket_extension_within_the_shandong_limit(st):
    add_departments(st)
    today = await st.today()
    received = cal().subtract_working_days(today, 10, "shandong")
    tid = st.id("H")
    await st.ok(
        {
            "type": "hotline.received",
            "ticket_id": tid,
            "department": "sd-zwfw",
            "received_on": received.isoformat(),
            "kind": "complaint",
        }
    )
    c = st.clock(tid, "hotline_reply_shandong")
    assert c.due == cal().add_working_days(received, 15, "shandong").isoformat()
    # 延期时限为7个工作日: 8 refused, 7 accepted (no 条例 approver or notice asked of a hotline ticket)
    res = await st.ingest(
        {
            "type": "hotline.extended",
            "ticket_id": tid,
            "on": today.isoformat(),
            "working_days": 8,
            "reason": "需现场核查",
        }
    )
    assert res[0].status == "rejected" and "7" in res[0].text()
    await st.ok(
        {
            "type": "hotline.extended",
            "ticket_id": tid,
            "on": today.isoformat(),
            "working_days": 7,
            "reason": "需现场核查",
        }
    )
    c = st.clock(tid, "hotline_reply_shandong")
    assert c.due == cal().add_working_days(received, 22, "shandong").isoformat()
    await st.ok({"type": "hotline.replied", "ticket_id": tid, "on": today.isoformat()})
    assert st.clock(tid, "hotline_reply_shandong").state == "met"


async def test_website_error_report_and_consultation_clocks(st):
    today = await st.today()
    mid = st.id("M")
    on = cal().subtract_working_days(today, 1, "guangxi")
    await st.ok(
        {
            "type": "message.received",
            "message_id": mid,
            "department": "qz-zfb",
            "received_on": on.isoformat(),
            "kind": "error_report",
        }
    )
    assert {c.rule for c in st.item(mid).clocks} == {"website_error_report"}
    assert st.clock(mid, "website_error_report").due == cal().add_working_days(on, 3, "guangxi").isoformat()
    q = st.id("Q")
    await st.ok(
        {
            "type": "message.received",
            "message_id": q,
            "department": "qz-zfb",
            "received_on": on.isoformat(),
            "kind": "consultation",
        }
    )
    assert (
        st.clock(q, "website_message_reply").due == cal().next_working_day(months_later(on, 3), "guangxi").isoformat()
    )


async def test_appeal_windows_not_overdue_shown_to_the_supervisor_closed_by_a_review(st):
    from services.views import appeal_windows_view, board_view, overdue_views

    today = await st.today()
    region = engine().directory.region_of("qz-fgw")
    # replied 40 days ago: the 60-day review window ends within the supervisor's 30 days
    replied = today - 40 * DAY
    while not cal().is_workday(replied, region):
        replied -= DAY
    received = cal().subtract_working_days(replied, 5, region)
    rid = st.id("R")
    await st.ok(
        {
            "type": "request.received",
            "request_id": rid,
            "department": "qz-fgw",
            "channel": "in_person",
            "received_on": received.isoformat(),
            "applicant_type": "natural_person",
        },
        {"type": "request.replied", "request_id": rid, "on": replied.isoformat(), "outcome": "granted"},
    )
    snap = st.item(rid)
    assert snap.state == "closed"  # the department's duty is done; the windows are the applicant's time
    review = st.clock(rid, "appeal_review")
    assert review.state == "open"
    assert review.due == cal().next_working_day(replied + 60 * DAY, region).isoformat()
    suit = st.clock(rid, "appeal_litigation")
    assert suit.due == cal().next_working_day(months_later(replied, 6), region).isoformat()
    # an older reply: its review window has passed, and still it is nobody's overdue
    old = st.id("O")
    old_reply = today - 90 * DAY
    await st.ok(
        {
            "type": "request.received",
            "request_id": old,
            "department": "qz-fgw",
            "channel": "in_person",
            "received_on": cal().subtract_working_days(old_reply, 3, region).isoformat(),
            "applicant_type": "natural_person",
        },
        {"type": "request.replied", "request_id": old, "on": old_reply.isoformat(), "outcome": "granted"},
    )
    assert not [r for r in overdue_views(today, None) if r.id in (rid, old)]
    view = appeal_windows_view(today, None)
    listed = {(w["item_id"], w["rule"]) for w in view["windows"]}
    assert (rid, "appeal_review") in listed and (old, "appeal_review") not in listed
    board = board_view(today, None)
    assert any(w["item_id"] == rid for w in board["appeals"]["windows"])
    from tests.test_clock_edges_wf import supervisor_http

    async with await supervisor_http(st) as http:
        page = (await http.get("/", params={"department": "qz-fgw"})).text
        form = (await http.get("/events/new", params={"type": "proposal.assigned"})).text
        item = await http.get(f"/items/{rid}")
        overdue = await http.get("/api/overdue", params={"department": "qz-fgw", "as_of": today.isoformat()})
    assert item.status_code == 200 and "行政复议申请期限" in item.text
    # the old reply's review window ended a month ago; open in the store until its timer (appeals:<id>) closes it
    # an hour after the import (no server time has passed here): never overdue
    assert overdue.status_code == 200, overdue.text
    assert not [r for r in overdue.json()["rows"] if r["id"] in (rid, old)]
    section = page.split('id="appeals"')[1].split("时限考评得分")[0]
    assert rid in section and "行政复议申请期限" in section and old not in section.split("表四")[0]
    assert "涉及面广、处理难度大" in form and "交办日期" in form
    # a review filed (the request's workflow has ended: the fact closes the window)
    await st.ok({"type": "review.filed", "request_id": rid, "on": today.isoformat()})
    closed = st.clock(rid, "appeal_review")
    assert closed.state == "closed" and closed.met_on == today.isoformat()
    assert st.clock(rid, "appeal_litigation").state == "open"
    view = appeal_windows_view(today, None)
    assert (rid, "appeal_review") not in {(w["item_id"], w["rule"]) for w in view["windows"]}
    rec = next(r for r in view["reconciliation"] if r["event_type"] == "review.filed")
    assert rec["recorded"] >= 1 and rec["within"] >= 1
    # a review filed after the old window lapsed: recorded for 表四, counted outside the window
    await st.ok({"type": "review.filed", "request_id": old, "on": today.isoformat()})
    rec = next(r for r in appeal_windows_view(today, None)["reconciliation"] if r["event_type"] == "review.filed")
    assert old in rec["outside"] and rec["mismatch"] >= 1


async def test_hotline_and_proposal_ledgers_import_with_their_clocks(st):
    """建议提案办理台账 / 热线工单台账: rows become events through the one ingest path; the submitter's name or
    phone column is dropped before anything reads the row; a refused row names its column."""
    from services.ledger_import import apply, plan

    add_departments(st)
    today = await st.today()
    got = cal().subtract_working_days(today, 12, "shandong")
    ext = cal().add_working_days(got, 3, "shandong")
    h1, h2 = st.id("LH1"), st.id("LH2")
    st.started |= {f"hotline:{h1}", f"hotline:{h2}"}
    head = "工单编号,接单日期,诉求类型,诉求摘要,来电人电话,延期日期,延期工作日,延期原因,办结日期\n"
    rows = f"{h1},{got},投诉,施工噪音,13800000000,{ext},7,需现场核查,\n{h2},{got},投诉,施工噪音,13800000001,{ext},,,\n"
    p = plan((head + rows).encode("utf-8-sig"), "热线.csv", "sd-zwfw")
    assert p.table.kind == "hotline" and p.table.dropped == ["来电人电话"]
    res = await apply(p, st.client, recorded_by=None)
    assert [o.status for o in res] == ["applied", "rejected"], [o.text() for o in res]
    assert {x["column"] for x in res[1].problems} == {"延期工作日", "延期原因"}
    assert st.clock(h1, "hotline_reply_shandong").due == cal().add_working_days(got, 22, "shandong").isoformat()
    assert "13800000000" not in str(st.item(h1).data)
    start = month_end_months_ago(today, 2)
    pid = st.id("LP")
    st.started.add(f"proposal:{pid}")
    head = "建议提案编号,类别,交办日期,大会期间提出,涉及面广、处理难度大,标题,代表姓名\n"
    p = plan((head + f"{pid},政协提案,{start},是,否,关于学前教育的提案,王五\n").encode(), "提案.csv", "sc-jyt")
    assert p.table.kind == "proposals" and p.table.dropped == ["代表姓名"]
    res = await apply(p, st.client, recorded_by=None)
    assert [o.status for o in res] == ["applied"], [o.text() for o in res]
    due = cal().next_working_day(months_later(start, 5), "sichuan")
    assert st.clock(pid, "proposal_reply_sichuan_cppcc_plenary").due == due.isoformat()


async def test_a_complex_proposal_row_imports_with_the_assigning_offices_approval(st):
    """建议提案办理台账: “涉及面广、处理难度大”=是 with 延长批准日期 / 延长批准人 / 延长理由 gives the assignment and
    the extension (the 6 months from the assignment day); “是” without the approval is refused by its columns."""
    from services.ledger_import import apply, plan

    add_departments(st)
    today = await st.today()
    start = month_end_months_ago(today, 2)
    ok, bare = st.id("LPX"), st.id("LPB")
    st.started |= {f"proposal:{ok}", f"proposal:{bare}"}
    head = "建议提案编号,类别,交办日期,涉及面广、处理难度大,延长理由,延长批准日期,延长批准人\n"
    rows = f"{ok},人大代表建议,{start},是,涉及多个部门,{today},省政府办公厅 李四\n{bare},人大代表建议,{start},是,涉及多个部门,,\n"
    p = plan((head + rows).encode(), "提案.csv", "sc-jyt")
    res = await apply(p, st.client, recorded_by=None)
    assert [o.status for o in res] == ["applied", "rejected"], [o.text() for o in res]
    assert {x["column"] for x in res[1].problems} == {"延长批准日期", "延长批准人"}
    assert f"第 3 行 {bare} [延长批准日期] “涉及面广、处理难度大”为“是”" in res[1].text()
    longer = st.clock(ok, "proposal_reply_sichuan_complex")
    assert longer.start == start.isoformat() and longer.state == "open"
    assert longer.due == cal().next_working_day(months_later(start, 6), "sichuan").isoformat()
    assert st.clock(ok, "proposal_reply_sichuan").state == "closed"
    assert st.item(ok).data["proposal_extended"]["approved_by"] == "省政府办公厅 李四"
    assert st.item(bare) is None


# ---------------------------------------------------------------- review21 findings 6, 12
async def _replied_request(st, replied: dt.date, region: str, **reply) -> str:
    rid = st.id("AW")
    await st.ok(
        {
            "type": "request.received",
            "request_id": rid,
            "department": "qz-fgw",
            "channel": "in_person",
            "received_on": cal().subtract_working_days(replied, 5, region).isoformat(),
            "applicant_type": "natural_person",
        },
        {"type": "request.replied", "request_id": rid, "on": replied.isoformat(), "outcome": "granted", **reply},
    )
    st.started.add(f"appeals:{rid}")
    return rid


async def test_appeal_window_reminds_the_supervisor_then_lapses_and_is_not_an_open_duty(st):
    """Finding 6: the request's run ends at its reply, and still the review window's t_minus_3 reaches the
    supervisor (never the liaison), the window closes once its 60 days run out (lapsed: no met_on), and the
    open-clock gauge counts no window."""
    from domain.shanghai import SHANGHAI
    from store.clock_rows import open_clock_counts
    from store.db import session
    from worker.metrics import StoreCollector

    today = await st.today()
    region = engine().directory.region_of("qz-fgw")
    replied = today - 50 * DAY  # the review window ends in about 10 days, after a few working days
    while not cal().is_workday(replied, region):
        replied -= DAY
    rid = await _replied_request(st, replied, region)
    review = st.clock(rid, "appeal_review")
    due = dt.date.fromisoformat(review.due)
    assert review.state == "open" and st.item(rid).state == "closed"
    with session() as s:  # two windows open in the store, and no open duty of the department's
        assert [n for d, n in open_clock_counts(s) if d == "qz-fgw"] == [2]
    gauge = next(f for f in StoreCollector().collect() if f.name == "shixian_open_clocks")
    assert not [x for x in gauge.samples if x.labels == {"department": "qz-fgw"} and x.value], gauge.samples

    async def sleep_until(day: dt.date, hour: int) -> None:
        await st.env.sleep(dt.datetime.combine(day, dt.time(hour), SHANGHAI) - await st.now())

    # the day before the due date: the t_minus_3 step (3 working days before) has fired
    await sleep_until(due - DAY, 18)
    posts = await st.wait_for(lambda: st.posts_for(rid), bool)
    assert {p.path for p in posts} == {"/hook/supervisor-zwgk"}, [p.path for p in posts]
    assert "行政复议申请期限" in posts[0].json["message"]
    assert st.clock(rid, "appeal_review").state == "open"
    # past the due date: the window has lapsed and is closed (not met: nothing was filed), the suit's runs on
    await sleep_until(cal().next_working_day(due + DAY, region), 12)
    lapsed = await st.wait_for(lambda: st.clock(rid, "appeal_review"), lambda c: c.state == "closed")
    assert lapsed.met_on is None and "期限届满" in str(lapsed.explanation)
    assert st.clock(rid, "appeal_litigation").state == "open"
    assert not [p for p in st.posts_for(rid) if p.path != "/hook/supervisor-zwgk"]


async def test_appeal_windows_start_when_the_applicant_received_the_reply(st):
    """Finding 12: 自知道之日起 — the windows run from `delivered_on` (the letter's receipt) when it is given;
    the reply clock is still met on the reply date. A receipt before the reply is refused by its field."""
    today = await st.today()
    region = engine().directory.region_of("qz-fgw")
    replied = cal().subtract_working_days(today, 10, region)
    delivered = replied + 4 * DAY
    rid = await _replied_request(st, replied, region, delivered_on=delivered.isoformat())
    assert st.clock(rid, "request_reply").met_on == replied.isoformat()
    review, suit = st.clock(rid, "appeal_review"), st.clock(rid, "appeal_litigation")
    assert review.start == delivered.isoformat()
    assert review.due == cal().next_working_day(delivered + 60 * DAY, region).isoformat()
    assert suit.due == cal().next_working_day(months_later(delivered, 6), region).isoformat()
    from domain.events import EventError, parse_event

    bad = {"event_id": "x", "type": "request.replied", "request_id": "R", "on": replied.isoformat()}
    with pytest.raises(EventError) as exc:
        parse_event({**bad, "outcome": "granted", "delivered_on": (replied - DAY).isoformat()})
    assert exc.value.field == "delivered_on"


def test_caller_and_proposer_headers_are_personal_data():
    """Finding 18: a ledger's caller / proposer / submitter columns are dropped like an applicant's."""
    from domain.ledger import is_pii

    for header in ("来电人", "来电号码", "代表", "提案人", "诉求人", "留言人", "委员"):
        assert is_pii(header), header
    for header in ("工单编号", "诉求类型", "诉求摘要", "建议提案编号", "交办日期", "类别"):
        assert not is_pii(header), header


async def test_a_proposal_gets_its_longer_period_only_by_the_assigning_office(st):
    """Finding 9: 涉及面广、处理难度大 — the 6 months are the 交办机关's decision (四川: 经省政府办公厅同意), not the
    department's say-so at assignment: refused on proposal.assigned; a proposal.extended approved by someone
    other than its recorder, decided before the 3 months run out, switches to the longer period (from the same
    assignment day) and is flagged on the item."""
    from services.ingest import Ingestor

    add_departments(st)
    today = await st.today()
    start = month_end_months_ago(today, 2)  # the regular 3 months end next month
    pid = st.id("PX")
    assigned = {
        "type": "proposal.assigned",
        "proposal_id": pid,
        "department": "sc-jyt",
        "assigned_on": start.isoformat(),
        "kind": "npc_suggestion",
    }
    res = await st.ingest({**assigned, "complex": True, "complex_reason": "涉及多个部门"})
    assert res[0].status == "rejected" and res[0].field == "complex", res[0].text()
    await st.ok(assigned)
    regular = st.clock(pid, "proposal_reply_sichuan")
    assert regular.due == cal().next_working_day(months_later(start, 3), "sichuan").isoformat()
    # approved by its own recorder: refused
    clerk = Ingestor(st.client, recorded_by="op-jyt")
    ext = {"type": "proposal.extended", "proposal_id": pid, "approved_on": today.isoformat(), "reason": "涉及多个部门"}
    res = st._track(await clerk.ingest([(1, {"event_id": f"{st.tag}-self", **ext, "approved_by": "op-jyt"})]))
    assert res[0].status == "rejected" and res[0].field == "approved_by", res[0].text()
    # approved by the 交办机关: the 6 months from the assignment day, the 3 months closed, flagged
    res = st._track(await clerk.ingest([(1, {"event_id": f"{st.tag}-ok", **ext, "approved_by": "省政府办公厅 李四"})]))
    assert res[0].status == "applied", res[0].text()
    longer = st.clock(pid, "proposal_reply_sichuan_complex")
    assert longer.start == start.isoformat() and longer.state == "open"
    assert longer.due == cal().next_working_day(months_later(start, 6), "sichuan").isoformat()
    assert st.clock(pid, "proposal_reply_sichuan").state == "closed"
    flag = st.item(pid).data["proposal_extended"]
    assert flag == {"on": today.isoformat(), "approved_by": "省政府办公厅 李四", "reason": "涉及多个部门"}
    res = await st.ingest({**ext, "approved_by": "省政府办公厅 王五"})
    assert res[0].status == "rejected" and "不能再次延长" in res[0].text()
    # decided after the 3 months ran out: refused, the regular period stands
    late = st.id("PL")
    old = month_end_months_ago(today, 4)
    await st.ok({**assigned, "proposal_id": late, "assigned_on": old.isoformat()})
    res = await st.ingest({**ext, "proposal_id": late, "approved_by": "省政府办公厅 李四"})
    assert res[0].status == "rejected" and res[0].field == "approved_on", res[0].text()
    assert {c.rule for c in st.item(late).clocks} == {"proposal_reply_sichuan"}


def test_window_queries_on_both_stores(db_session):
    """Finding 6, the store side on SQLite and PostgreSQL: open windows are found, a lapse closes only the
    open ones (no met_on, a note), and the open-clock count can leave the window rules out."""
    from domain.model import ClockSnapshot, ItemSnapshot
    from store.clock_rows import lapse_windows, open_clock_counts, open_windows
    from store.items import get_item, save_snapshot

    def clk(rule: str, state: str = "open") -> ClockSnapshot:
        return ClockSnapshot(
            rule=rule, start="2026-03-02", due="2026-05-04", due_instant="2026-05-04T23:59:59+08:00", state=state
        )

    snap = ItemSnapshot(
        id="r-1",
        type="request",
        department="qz-fgw",
        title="申请",
        state="closed",
        version=2,
        data={},
        clocks=[clk("request_reply", "met"), clk("appeal_review"), clk("appeal_litigation")],
    )
    s = db_session
    save_snapshot(s, snap)
    windows = ["appeal_review", "appeal_litigation"]
    assert open_clock_counts(s) == [("qz-fgw", 2)] and open_clock_counts(s, windows) == []
    assert open_windows(s, "r-1", windows) == ["appeal_litigation", "appeal_review"]
    assert lapse_windows(s, "r-1", ["appeal_review"], "{due} 期限届满") == ["appeal_review"]
    assert lapse_windows(s, "r-1", ["appeal_review"], "{due} 期限届满") == []  # already closed: untouched
    review = next(c for c in get_item(s, "r-1").clocks if c.rule == "appeal_review")
    assert review.state == "closed" and review.met_on is None and "2026-05-04 期限届满" in review.explanation["notes"]
    assert open_windows(s, "r-1", windows) == ["appeal_litigation"]
