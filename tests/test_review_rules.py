"""Late-entry rules (domain/review.py): which events are reviewed, when, and the config file."""

from __future__ import annotations

import pytest

from domain.config import ConfigError
from domain.config_check import check_config
from domain.review import Recorded, first_late_day, holds_clock, late_entry_reason, load_review_config, registration_lag
from domain.rules import load_rules


def rec(role="liaison", on="2026-11-26", after=0, limit=3):
    return Recorded(at=f"{on}T10:00:00+08:00", on=on, role=role, by="x", working_days_after=after, limit=limit)


def test_more_than_the_limit_is_held_for_liaisons_and_heads_only():
    assert late_entry_reason(rec(after=3), "2026-11-20", extension_dues=[]) is None  # exactly the limit
    why = late_entry_reason(rec(after=4), "2026-11-20", extension_dues=[])
    assert "晚 4 个工作日" in why and "2026-11-20" in why and "2026-11-26" in why
    assert late_entry_reason(rec(role="head", after=4), "2026-11-20", extension_dues=[])
    for trusted in ("supervisor", "admin", "operator", "system"):
        assert late_entry_reason(rec(role=trusted, after=40), "2026-10-01", extension_dues=["2026-11-01"]) is None
    assert late_entry_reason(None, "2026-10-01", extension_dues=[]) is None


def test_the_recording_day_is_compared_with_the_first_late_day():
    # issue 16 §B: the ingest path counts from the event's own date alone (the first late day), the
    # workflow compares its own recording day; a sender's count for another day is not trusted
    def bounded(on, after=0):
        return rec(on=on, after=after).model_copy(update={"late_from": "2026-11-26"})

    assert late_entry_reason(bounded("2026-11-25"), "2026-11-20", extension_dues=[]) is None
    why = late_entry_reason(bounded("2026-11-26"), "2026-11-20", extension_dues=[])
    assert why and "2026-11-26 起登记即为补录" in why and "2026-11-20" in why
    # a host that counted 0 working days (its clock behind) does not make the entry timely
    assert late_entry_reason(bounded("2026-12-07", after=0), "2026-11-20", extension_dues=[])
    assert "晚 4 个工作日" in late_entry_reason(bounded("2026-11-26", after=4), "2026-11-20", extension_dues=[])
    assert (
        late_entry_reason(
            bounded("2026-12-07").model_copy(update={"role": "operator"}), "2026-11-20", extension_dues=[]
        )
        is None
    )


def test_an_extension_recorded_after_the_due_date_is_held_whatever_its_date():
    why = late_entry_reason(rec(on="2026-11-26", after=0), "2026-11-25", extension_dues=["2026-11-25"])
    assert "已过当前答复期限 2026-11-25" in why
    assert late_entry_reason(rec(on="2026-11-25", after=0), "2026-11-25", extension_dues=["2026-11-25"]) is None


def test_which_events_are_reviewed_comes_from_the_rule_data():
    rules = load_rules()

    def held(rule_id, ev):
        r = rules[rule_id]
        return holds_clock(
            ev,
            met_by=list(r.met_by),
            closed_by=list(r.closed_by),
            pause=r.pause,
            stop=r.stop,
            extension_event=r.extension.event if r.extension else None,
            lapses=r.lapses,
            restart=r.restart,
        )

    assert held("request_reply", "request.replied")  # meet
    assert held("request_reply", "request.consultation_started")  # pause
    assert held("request_reply", "request.correction_requested")  # stop
    assert held("request_reply", "request.extended")  # extend
    assert held("request_reply", "request.withdrawn")  # withdraw
    assert held("policy_publication", "document.repealed")  # close
    assert held("policy_publication", "document.published")
    # ending a consultation late only shortens the department's time: not reviewed
    assert not held("request_reply", "request.consultation_ended")
    assert not held("third_party_opinion", "request.consultation_ended")  # meets a lapsing window
    # issue 17 §3: a correction received later restarts the clock later, i.e. gives the department more time
    assert held("request_reply", "request.corrected")


def test_config_default_bounds_and_check(tmp_path):
    assert load_review_config().late_entry_working_days == 3  # shipped default
    assert load_review_config(tmp_path).late_entry_working_days == 3  # no file: default
    (tmp_path / "review.toml").write_text("late_entry_working_days = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="review.toml: late_entry_working_days"):
        load_review_config(tmp_path)
    (tmp_path / "review.toml").write_text("late_entry_days = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="未知字段 late_entry_days"):
        load_review_config(tmp_path)


def test_config_check_reports_a_bad_review_file(tmp_path):
    import shutil
    from pathlib import Path

    cfg = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parents[1] / "config", cfg)
    assert check_config(cfg) == []
    (cfg / "review.toml").write_text('late_entry_working_days = "three"\n', encoding="utf-8")
    assert any("review.toml" in p for p in check_config(cfg))


def test_the_shorter_of_the_working_day_and_calendar_day_bounds_decides():
    """issue 17 §3: across Spring Festival 3 working days are many calendar days; 7 calendar days decide."""
    import datetime as dt

    from domain.calendar import load_calendar

    cal = load_calendar()
    friday = dt.date(2026, 2, 13)  # the last working day before the 2026 Spring Festival break
    by_working = cal.add_working_days(friday, 4, "national")
    assert (by_working - friday).days > 8  # the holiday: the 4th working day is well over a week later
    assert first_late_day(friday, 3, 7, cal, "national") == dt.date(2026, 2, 21)
    assert first_late_day(friday, 3, 30, cal, "national") == by_working  # a long calendar bound: working days
    # an ordinary week: 3 working days come first (Monday + 4 working days = Friday, before Tuesday + 1 week)
    monday = dt.date(2026, 11, 16)
    assert first_late_day(monday, 3, 7, cal, "national") == dt.date(2026, 11, 20)
    assert load_review_config().late_entry_calendar_days == 7  # shipped default


def test_calendar_day_bound_config_and_reason(tmp_path):
    (tmp_path / "review.toml").write_text("late_entry_calendar_days = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="review.toml: late_entry_calendar_days"):
        load_review_config(tmp_path)
    (tmp_path / "review.toml").write_text("late_entry_working_days = 5\nlate_entry_calendar_days = 10\n")
    cfg = load_review_config(tmp_path)
    assert (cfg.late_entry_working_days, cfg.late_entry_calendar_days) == (5, 10)
    r = rec(on="2026-02-24").model_copy(update={"late_from": "2026-02-21", "calendar_limit": 7})
    why = late_entry_reason(r, "2026-02-13", extension_dues=[])
    assert why and "3 个工作日或 7 个自然日" in why and "2026-02-21 起登记即为补录" in why


def test_a_late_start_by_the_department_is_flagged():
    late = rec(on="2026-11-26", after=4).model_copy(update={"late_from": "2026-11-26", "calendar_limit": 7})
    lag = registration_lag(late, "e1", "request.received", "2026-11-20")
    assert lag and (lag["on"], lag["recorded_on"], lag["calendar_days"], lag["working_days"]) == (
        "2026-11-20",
        "2026-11-26",
        6,
        4,
    )
    assert registration_lag(late.model_copy(update={"role": "head"}), "e1", "document.signed", "2026-11-20")
    for role in ("supervisor", "admin", "operator", "system"):  # not the department's registration: 代录
        assert registration_lag(late.model_copy(update={"role": role}), "e1", "request.received", "2026-11-20") is None
    assert registration_lag(late, "e1", "annual_report.year_closed", "2026-11-20") is None  # engine-made
    assert registration_lag(late, "e1", "request.replied", "2026-11-20") is None  # not a start: held instead
    timely = late.model_copy(update={"on": "2026-11-25"})
    assert registration_lag(timely, "e1", "request.received", "2026-11-20") is None
