"""§5 of issue 17 in the domain: the receipt date by channel (条例第三十一条, 国办公开办函〔2015〕207号), its
explanation, the fee pause (国办函〔2020〕109号) and the 第三十五条 delay in clocks and scores."""

from __future__ import annotations

import datetime as dt

import pytest

from activities.clocks import ClockSpec, PauseSpec, calc
from domain.calendar import load_calendar
from domain.clocks import FEE_PAUSE_REASON, FEE_PAUSE_SOURCE, Pause, compute
from domain.config import ConfigError
from domain.config_check import check_config
from domain.events import EventError, future_fact, parse_event
from domain.receipt import CHANNELS, load_receipt, parse_receipt
from domain.rules import load_rules
from domain.scoring import Period, ScoringConfig, marks_from_events, score_period

D = dt.date
CAL = load_calendar()
RULES = load_rules()
TODAY = D(2026, 12, 2)


def received(channel: str, received_on: str, **kw):
    return parse_event(
        {
            "event_id": f"e-{channel}",
            "type": "request.received",
            "request_id": "R-1",
            "department": "qz-fgw",
            "channel": channel,
            "received_on": received_on,
            "applicant_type": "natural_person",
            **kw,
        },
        today=TODAY,
    )


def test_every_channel_cites_its_source():
    cfg = load_receipt()
    assert set(cfg.channels) == set(CHANNELS)
    for rule in cfg.channels.values():
        assert rule.source and rule.quote and rule.basis[-1] == "received_on"
    assert "第三十一条" in cfg.channels["in_person"].source
    assert "207号 一.3" in cfg.channels["email"].source
    assert cfg.channels["post_ordinary"].unreachable and not cfg.channels["in_person"].unreachable
    assert "109号" in cfg.fee.source and cfg.fee.payment_working_days == 20


def test_online_submission_on_a_rest_day_counts_from_the_platform_record():
    # 2026-03-07 is a Saturday; the clerk typed the Monday after.
    assert not CAL.is_workday(D(2026, 3, 7))
    ev = received("online", "2026-03-09", submitted_at="2026-03-07T22:10")
    assert ev.on == ev.data["received_on"] == "2026-03-07"
    rec = ev.data["receipt"]
    assert (rec["basis"], rec["entered"]) == ("submitted_at", "2026-03-09")
    assert "2026-03-09" in rec["note"] and "不作为起算日" in rec["note"]
    # The reply clock counts from the Saturday: a day earlier than from the typed Monday.
    sat = compute(RULES["request_reply"], D(2026, 3, 7), CAL).due
    mon = compute(RULES["request_reply"], D(2026, 3, 9), CAL).due
    assert sat == CAL.add_working_days(D(2026, 3, 7), 20) and sat < mon


def test_platform_time_is_read_in_shanghai():
    # 2026-03-06T17:30Z is 2026-03-07 01:30 in Shanghai.
    assert received("email", "2026-03-09", submitted_at="2026-03-06T17:30:00+00:00").on == "2026-03-07"


def test_confirmation_channels_take_the_confirmed_day():
    ev = received("post_ordinary", "2026-03-02", confirmed_on="2026-03-04")
    assert ev.on == "2026-03-04" and ev.data["receipt"]["basis"] == "confirmed_on"
    # no confirmation typed: the registered day, said so
    ev = received("fax", "2026-03-02")
    assert ev.on == "2026-03-02" and "未填写" in ev.data["receipt"]["note"]
    # in person: the day submitted, nothing else
    assert received("in_person", "2026-03-02").data["receipt"]["basis"] == "received_on"


@pytest.mark.parametrize(
    ("channel", "extra", "field", "words"),
    [
        ("in_person", {"submitted_at": "2026-03-02T09:00"}, "submitted_at", "当面提交"),
        ("post_registered", {"confirmed_on": "2026-03-03"}, "confirmed_on", "签收"),
        ("fax", {"confirmed_on": "2026-03-01"}, "confirmed_on", "早于收到日期"),
        ("online", {"submitted_at": "2026-12-05T09:00"}, "submitted_at", "晚于登记当日"),
        ("post_ordinary", {"confirmed_on": "2026-12-03"}, "confirmed_on", "晚于登记当日"),
    ],
)
def test_refused_with_the_field_named(channel, extra, field, words):
    with pytest.raises(EventError) as exc:
        received(channel, "2026-03-02", **extra)
    assert exc.value.field == field
    if words != "签收":
        assert words in exc.value.reason
    else:
        assert "邮寄（挂号/EMS）" in exc.value.reason


def test_workflow_side_check_sees_a_future_platform_time():
    ev = received("online", "2026-03-02", submitted_at="2026-03-02T09:00")
    ev.data["submitted_at"] = "2026-12-09T09:00:00+08:00"  # as a queued event read a week earlier
    assert future_fact(ev, D(2026, 12, 2)) is not None


def test_receipt_config_is_checked(tmp_path):
    good = {
        "receipt": {
            c: {"name": c, "basis": ["received_on"], "source": "条例第三十一条", "quote": "……"} for c in CHANNELS
        }
    }
    parse_receipt(good)
    bad = {"receipt": {**good["receipt"], "fax": {"name": "传真", "basis": ["received_on"], "quote": "x"}}}
    with pytest.raises(ConfigError, match=r"\[receipt.fax\].*source"):
        parse_receipt(bad)
    with pytest.raises(ConfigError, match=r"缺少渠道 \[receipt.other\]"):
        parse_receipt({"receipt": {c: v for c, v in good["receipt"].items() if c != "other"}})
    with pytest.raises(ConfigError, match="basis"):
        parse_receipt({"receipt": {**good["receipt"], "online": {**good["receipt"]["online"], "basis": ["x"]}}})
    import shutil

    from domain.config import REPO_CONFIG

    cfg = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, cfg)
    (cfg / "receipt.toml").write_text((cfg / "receipt.toml").read_text().replace("[receipt.fax]", "[receipt.telex]"))
    problems = check_config(cfg)
    assert any("receipt.toml" in p and "telex" in p for p in problems), problems


def test_explanation_says_how_the_receipt_was_fixed():
    note = received("online", "2026-03-09", submitted_at="2026-03-07T22:10").data["receipt"]["note"]
    out = calc(ClockSpec(rule="request_reply", start="2026-03-07", note=note))
    assert out.explanation["notes"][0] == note and out.explanation["receipt"] == note
    assert out.due == CAL.add_working_days(D(2026, 3, 7), 20).isoformat()


def test_fee_pause_days_are_explained_with_109():
    dl = compute(
        RULES["request_reply"],
        D(2026, 3, 2),
        CAL,
        pauses=[Pause(D(2026, 3, 5), D(2026, 3, 16), f"{FEE_PAUSE_REASON}（2026-03-05 发出收费通知）")],
    )
    # 03-03, 03-04 counted; 03-05..03-16 stand still; 18 working days after 03-16.
    assert dl.due == CAL.add_working_days(D(2026, 3, 16), 18)
    paused = [s for s in dl.explanation["skipped"] if s["kind"] == "pause"]
    assert paused and all(s["source"] == FEE_PAUSE_SOURCE and "收费通知" in s["reason"] for s in paused)
    consult = compute(RULES["request_reply"], D(2026, 3, 2), CAL, pauses=[Pause(D(2026, 3, 5), D(2026, 3, 16))])
    consult_paused = [s for s in consult.explanation["skipped"] if s["kind"] == "pause"]
    assert consult_paused and all(s["source"] == "条例第三十二条、第三十三条" for s in consult_paused)


def test_delay_sets_a_later_due_date_and_says_why():
    base = calc(ClockSpec(rule="request_reply", start="2026-03-02"))
    out = calc(
        ClockSpec(rule="request_reply", start="2026-03-02", delayed_to="2026-05-29", delay_note="理由：一次申请 300 项")
    )
    assert base.due == CAL.add_working_days(D(2026, 3, 2), 20).isoformat()
    assert out.due == "2026-05-29" and out.due_instant == "2026-05-29T23:59:59+08:00"
    assert "第三十五条" in out.explanation["summary"] and "理由：一次申请 300 项" in out.explanation["notes"]
    # an agency date before the statutory one never shortens the clock
    early = calc(ClockSpec(rule="request_reply", start="2026-03-02", delayed_to="2026-03-10"))
    assert early.due == base.due
    # pauses still apply on top
    paused = calc(
        ClockSpec(
            rule="request_reply",
            start="2026-03-02",
            pauses=[PauseSpec(start="2026-03-05", end=None, reason=FEE_PAUSE_REASON, kind="fee")],
            delayed_to="2026-05-29",
        )
    )
    assert paused.due is None


def test_delays_are_counted_per_department():
    events = [
        {"type": "request.received", "request_id": "R-1", "department": "qz-fgw", "received_on": "2026-03-02"},
        {"type": "request.received", "request_id": "R-2", "department": "qz-jyj", "received_on": "2026-03-02"},
        {
            "type": "request.reply_delayed",
            "request_id": "R-1",
            "on": "2026-03-20",
            "reply_by": "2026-05-29",
            "notified_on": "2026-03-20",
            "reason": "一次申请 300 项",
        },
    ]
    marks = marks_from_events(events)
    assert [(m.kind, m.department, m.item_id) for m in marks] == [("reply_delayed", "qz-fgw", "R-1")]
    res = score_period(
        [], Period(D(2026, 1, 1), D(2026, 12, 31), "2026", "year"), TODAY, ScoringConfig(), marks=marks, rules=RULES
    )
    (d,) = res.summary
    assert (d.department, d.reply_delayed, d.deduction) == ("qz-fgw", 1, 0)
    assert res.details[0].status == "reply_delayed" and "300 项" in res.details[0].explanation


def _ledger_row(header: list[str], values: list[str]):
    from domain import ledger as L

    data = "\n".join(",".join(r) for r in (header, values)).encode()
    (row,) = L.map_rows(L.read_table(data, "t.csv"), "qz-jyj", ("钦州市教育局",))
    return row


BASE_COLS = ["受理编号", "收到申请日期", "申请方式", "申请人类型"]


def test_ledger_columns_for_confirmation_fee_and_delay():
    row = _ledger_row(
        [
            *BASE_COLS,
            "确认日期",
            "收费通知日期",
            "缴费日期",
            "延迟答复决定日期",
            "延迟答复期限",
            "延迟答复告知日期",
            "延迟答复理由",
        ],
        [
            "2026-017",
            "2026-03-02",
            "邮寄（平信）",
            "自然人",
            "2026-03-03",
            "2026-03-05",
            "2026-03-16",
            "2026-03-20",
            "2026-05-29",
            "2026-03-23",
            "一次申请300项",
        ],
    )
    assert not row.problems, row.problems
    types = [e["type"] for e in row.events]
    assert types == ["request.received", "request.fee_notified", "request.fee_paid", "request.reply_delayed"]
    assert row.events[0]["confirmed_on"] == "2026-03-03"
    assert row.events[3]["reply_by"] == "2026-05-29" and row.events[3]["reason"] == "一次申请300项"
    # the derived receipt is the confirmation day
    assert parse_event(row.events[0], today=TODAY).on == "2026-03-03"


def test_ledger_platform_time_column():
    row = _ledger_row([*BASE_COLS, "提交时间"], ["2026-021", "2026-03-09", "网络", "自然人", "2026-03-07 22:10"])
    assert not row.problems, row.problems
    assert parse_event(row.events[0], today=TODAY).on == "2026-03-07"
    row = _ledger_row([*BASE_COLS, "提交时间"], ["2026-022", "2026-03-09", "网络", "自然人", "三月七日"])
    assert [p.column for p in row.problems] == ["平台提交时间"]


def test_ledger_refusals_name_the_column():
    row = _ledger_row([*BASE_COLS, "确认日期"], ["2026-018", "2026-03-02", "传真", "自然人", "2026-03-01"])
    assert [(p.column, "早于" in p.reason) for p in row.problems] == [("确认日期", True)]
    row = _ledger_row([*BASE_COLS, "延迟答复决定日期"], ["2026-019", "2026-03-02", "网络", "自然人", "2026-03-20"])
    assert {p.column for p in row.problems} == {"延迟答复期限", "延迟答复告知日期", "延迟答复理由"}
    row = _ledger_row([*BASE_COLS, "确认日期"], ["2026-020", "2026-03-02", "当面", "自然人", "2026-03-03"])
    assert [p.column for p in row.problems] == ["确认日期"] and "当面提交" in row.problems[0].reason


def test_board_query_finds_receipt_flags_on_both_databases(db_session):
    """store.request_ids_with_receipt_flags on SQLite and PostgreSQL (the board's list)."""
    from domain.model import ItemSnapshot
    from store.items import save_snapshot
    from store.requests import request_ids_with_receipt_flags

    typed = {"receipt": {"basis": "received_on", "on": "2026-03-02", "entered": "2026-03-02"}}
    cases = {
        "plain": typed,
        "moved": {"receipt": {"basis": "submitted_at", "on": "2026-03-07", "entered": "2026-03-09"}},
        "waiting": {**typed, "unreachable": {"since": "2026-03-02"}},
        "delayed": {**typed, "reply_delayed": {"reply_by": "2026-05-29"}},
        "fee": {**typed, "fee": {"notified_on": "2026-03-05"}},
        "legacy": {"channel": "online"},
    }
    for i, (name, data) in enumerate(cases.items(), start=1):
        save_snapshot(
            db_session,
            ItemSnapshot(id=name, type="request", department="qz-jyj" if i % 2 else "qz-fgw", data=data, version=1),
        )
    assert request_ids_with_receipt_flags(db_session) == ["delayed", "fee", "moved", "waiting"]
    assert request_ids_with_receipt_flags(db_session, "qz-jyj") == ["fee", "waiting"]


def test_forms_ask_what_the_channel_needs():
    from app.web.forms import build_fields, form_types

    kinds = {f.name: f.kind for f in build_fields("request.received", {})}
    assert (kinds["submitted_at"], kinds["confirmed_on"], kinds["received_on"]) == ("datetime", "date", "date")
    for t in ("request.applicant_unreachable", "request.contact_restored", "request.reply_delayed"):
        assert t in form_types()
    delay = {f.name: (f.kind, f.required) for f in build_fields("request.reply_delayed", {})}
    assert delay["reply_by"] == ("date", True) and delay["notified_on"] == ("date", True)
    assert delay["reason"] == ("textarea", True)


def test_a_receipt_file_broken_while_running_keeps_the_last_good_rules(tmp_path):
    import os
    import shutil

    from domain.config import REPO_CONFIG

    shutil.copy(REPO_CONFIG / "receipt.toml", tmp_path / "receipt.toml")
    good = load_receipt(tmp_path)
    path = tmp_path / "receipt.toml"
    path.write_text(path.read_text() + "\n[receipt.telex]\n")
    os.utime(path, ns=(1, 1))  # a changed signature, whatever the file system's clock resolution
    with pytest.raises(ConfigError, match="telex"):
        load_receipt(tmp_path)
    assert load_receipt(tmp_path, last_good=True) is good
    with pytest.raises(ConfigError, match="文件不存在"):
        load_receipt(tmp_path / "nowhere", last_good=True)
