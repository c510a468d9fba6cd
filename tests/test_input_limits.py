"""Bad input never hangs, crashes or half-applies (issue 8 §5): the domain's bounds on ids, text and
dates, the CLI's refusal of impossible dates, and the activity that turns a domain error into a
non-retryable failure."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from domain.events import EventError, parse_event

SHIXIAN = str(Path(sys.executable).with_name("shixian"))
TODAY = dt.date(2026, 11, 26)


def received(**kw):
    return {
        "event_id": "e-1",
        "type": "request.received",
        "request_id": "r-1",
        "department": "qz-fgw",
        "channel": "online",
        "received_on": "2026-11-02",
        "applicant_type": "natural_person",
        "subject": "申请公开某项目批复",
        **kw,
    }


def signed(**kw):
    return {
        "event_id": "e-2",
        "type": "document.signed",
        "document_id": "d-1",
        "department": "qz-fgw",
        "title": "关于印发某办法的通知",
        "kind": "normative",
        "signed_on": "2026-11-02",
        "disclosure": "public",
        **kw,
    }


def refused(obj, *, internal=False, today=TODAY) -> EventError:
    with pytest.raises(EventError) as exc:
        parse_event(obj, internal=internal, today=today)
    return exc.value


# ---------------------------------------------------------------------------------- dates


@pytest.mark.parametrize("day", ["9999-12-31", "1900-01-01", "1989-12-31", "2101-01-01"])
def test_dates_outside_1990_2100_are_refused_with_the_field(day):
    err = refused(received(received_on=day))
    assert err.field == "received_on" and day in err.reason and "1990-01-01 至 2100-12-31" in err.reason


@pytest.mark.date_sensitive
def test_a_fact_is_never_dated_after_the_day_it_is_recorded():
    # issue 16 A7: a reply dated 2026-12-18, recorded on 2026-12-02, is refused with its field
    today, tomorrow = TODAY.isoformat(), (TODAY + dt.timedelta(days=1)).isoformat()
    assert parse_event(received(received_on=today), today=TODAY).on == today
    err = refused(received(received_on=tomorrow))
    assert err.field == "received_on" and tomorrow in err.reason and "将来" in err.reason
    # every date saying something happened: request dates, document dates, budgets, reports, instants
    base = {"event_id": "e-3", "request_id": "r-1", "on": tomorrow}
    for type_, extra in [
        ("request.replied", {"outcome": "granted"}),
        ("request.answered_on_the_spot", {"outcome": "granted"}),
        ("request.correction_requested", {"respond_by": (TODAY + dt.timedelta(days=20)).isoformat()}),
        ("request.corrected", {}),
        ("request.consultation_started", {"with": "agency"}),
        ("request.consultation_ended", {}),
        ("request.extended", {"working_days": 5, "approved_by": "x", "reason": "y", "notified_on": today}),
        ("request.withdrawn", {}),
        ("review.filed", {}),
        ("review.decided", {"result": "upheld"}),
        ("litigation.filed", {}),
        ("litigation.decided", {"result": "upheld"}),
    ]:
        assert refused({**base, "type": type_, **extra}).field == "on", type_
    # the consulted party's receipt of the letter is a fact too
    started = {**base, "type": "request.consultation_started", "on": today, "with": "agency"}
    assert refused({**started, "delivered_on": tomorrow}).field == "delivered_on"
    assert refused(signed(signed_on=tomorrow)).field == "signed_on"
    for type_, field, extra in [
        ("document.published", "published_on", {"document_id": "d-1", "url": "u"}),
        ("document.repealed", "repealed_on", {"document_id": "d-1"}),
        ("interpretation.published", "published_on", {"document_id": "d-1", "url": "u"}),
        ("budget.approved", "approved_on", {"item_id": "b-1", "department": "qz-czj", "kind": "budget"}),
        ("budget.published", "published_on", {"item_id": "b-1", "url": "u"}),
        ("annual_report.published", "published_on", {"department": "qz-czj", "year": 2026, "url": "u"}),
    ]:
        assert refused({"event_id": "e-9", "type": type_, field: tomorrow, **extra}).field == field, type_
    detected = {"event_id": "e-4", "type": "opinion.detected", "case_id": "c-1", "department": "qz-fgw"}
    detected["severity"] = "major"
    assert refused({**detected, "detected_at": f"{tomorrow}T00:30"}).field == "detected_at"
    # an instant is judged by its Shanghai date: 2026-11-26T20:00-05:00 is 11-27 09:00 in Shanghai
    assert refused({**detected, "detected_at": f"{today}T20:00-05:00"}).field == "detected_at"
    assert parse_event({**detected, "detected_at": f"{today}T23:59"}, today=TODAY).on.startswith(today)
    responded = {"event_id": "e-5", "type": "opinion.responded", "case_id": "c-1", "at": f"{tomorrow}T08:00"}
    assert refused(responded).field == "at"
    # the default "today" is this process's clock (Asia/Shanghai)
    from domain.shanghai import today as shanghai_today

    with pytest.raises(EventError):
        parse_event(received(received_on=(shanghai_today() + dt.timedelta(days=1)).isoformat()))
    assert parse_event(received(received_on=shanghai_today().isoformat())).data["received_on"]


def test_the_engines_own_events_are_not_judged_by_the_clock():
    abandoned = {"event_id": "r-1#abandoned", "type": "request.abandoned", "request_id": "r-1"}
    ahead = (TODAY + dt.timedelta(days=3)).isoformat()
    assert parse_event({**abandoned, "on": ahead}, internal=True, today=TODAY).on == ahead


def test_a_period_given_to_the_applicant_is_bounded_but_may_lie_ahead():
    ev = {"event_id": "e-5", "type": "request.correction_requested", "request_id": "r-1", "on": "2026-11-03"}
    # a deadline set by the agency may lie ahead of today, up to 366 days after the notice
    assert parse_event({**ev, "respond_by": "2027-11-04"}, today=TODAY).data["respond_by"] == "2027-11-04"
    err = refused({**ev, "respond_by": "2027-11-05"})
    assert err.field == "respond_by" and "366" in err.reason
    assert refused({**ev, "respond_by": "9999-01-01"}).field == "respond_by"


@pytest.mark.parametrize("value", ["9999-12-31T23:00:00-10:00", "0001-01-01T00:00:00+14:00", "1900-01-01T08:00"])
def test_instants_are_bounded_and_never_overflow(value):
    err = refused(
        {
            "event_id": "e-6",
            "type": "opinion.detected",
            "case_id": "c-1",
            "department": "qz-fgw",
            "detected_at": value,
            "severity": "general",
        }
    )
    assert err.field == "detected_at" and "范围" in err.reason


@pytest.mark.parametrize("value", [1700000000, "2026-11-02T00:00:00", "20261102", "2026-W45-1"])
def test_dates_are_strict_iso_days(value):
    err = refused(received(received_on=value))
    assert err.field == "received_on" and "YYYY-MM-DD" in err.reason


# ---------------------------------------------------------------------------------- ids


@pytest.mark.parametrize(
    "good", ["钦政办〔2026〕12号", "annual-report:qz-zfb:2026", "A(1)（二）", "二〇二六_1.v2", "x" * 128]
)
def test_ids_of_the_documented_pattern_are_accepted(good):
    assert parse_event(received(request_id=good, event_id=good), today=TODAY).item_id == good


@pytest.mark.parametrize(
    "bad", ["", "   ", "a/b", "..", "a..b", "../etc", "x" * 129, "a b", "a#b", "a\x00b", "a\x07", "a\\b", "<script>"]
)
@pytest.mark.parametrize("field", ["event_id", "request_id", "department", "recorded_by"])
def test_ids_outside_the_pattern_are_refused(field, bad):
    err = refused(received(**{field: bad}))
    assert err.field == field and "编号" in err.reason and "1–128" in err.reason


def test_the_engines_own_events_are_not_judged_against_the_wall_clock():
    # an abandonment is dated respond_by, which may lie ahead of the real date (time-skipped workflows)
    ev = {"event_id": "r-1#abandoned", "type": "request.abandoned", "request_id": "r-1", "on": "2028-06-30"}
    assert parse_event(ev, internal=True, today=TODAY).on == "2028-06-30"
    assert refused({**ev, "on": "9999-01-01"}, internal=True).field == "on"


def test_engine_ids_with_hash_are_only_accepted_from_the_engine():
    ev = {
        "event_id": "annual-report:qz-zfb:2026#open",
        "type": "annual_report.year_closed",
        "department": "qz-zfb",
        "year": 2026,
        "recorded_by": "system",
    }
    assert parse_event(ev, internal=True).event_id == ev["event_id"]
    assert refused(signed(event_id="d-1#open")).field == "event_id"


# ---------------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    "field,limit,make",
    [
        ("title", 500, signed),
        ("subject", 2000, received),
        ("disclosure_reason", 1000, lambda **kw: signed(kind="policy", disclosure="withheld", **kw)),
        (
            "reason",
            1000,
            lambda **kw: {
                "event_id": "e-7",
                "type": "request.extended",
                "request_id": "r-1",
                "on": "2026-11-20",
                "working_days": 10,
                "approved_by": "局长",
                "notified_on": "2026-11-20",
                **kw,
            },
        ),
        (
            "url",
            2048,
            lambda **kw: {
                "event_id": "e-8",
                "type": "document.published",
                "document_id": "d-1",
                "published_on": "2026-11-20",
                **kw,
            },
        ),
    ],
)
def test_text_fields_have_length_limits(field, limit, make):
    base = "http://x.gov.cn/" if field == "url" else ""
    ok = base + "字" * (limit - len(base))
    assert parse_event(make(**{field: ok}), today=TODAY).data[field] == ok
    err = refused(make(**{field: ok + "字"}))
    assert err.field == field and f"最多 {limit} 个" in err.reason


def test_a_five_megabyte_title_is_refused_quickly_without_echoing_it():
    import time

    t0 = time.monotonic()
    err = refused(signed(title="长" * 5_000_000))
    assert time.monotonic() - t0 < 2
    assert err.field == "title" and len(err.reason) < 100


@pytest.mark.parametrize("ch", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\ud800"])
def test_control_characters_are_refused_in_every_text_field(ch):
    assert refused(signed(title=f"通知{ch}")).field == "title"
    assert refused(received(subject=f"申请{ch}")).field == "subject"
    assert refused(received(applicant={"name": f"张{ch}三"})).field == "applicant.name"
    assert (
        refused(
            {
                "event_id": "e-9",
                "type": "document.published",
                "document_id": "d-1",
                "published_on": "2026-11-20",
                "url": f"http://x.gov.cn/{ch}",
            }
        ).field
        == "url"
    )
    assert (
        refused(
            {
                "event_id": "e-10",
                "type": "request.extended",
                "request_id": "r-1",
                "on": "2026-11-20",
                "working_days": 5,
                "approved_by": f"局长{ch}",
                "notified_on": "2026-11-20",
                "reason": "x",
            }
        ).field
        == "approved_by"
    )


def test_line_breaks_are_text_in_long_fields_only():
    assert parse_event(received(subject="第一项\n第二项\t附件"), today=TODAY).data["subject"] == "第一项\n第二项\t附件"
    err = refused(signed(title="第一行\n第二行"))
    assert err.field == "title" and "U+000A" in err.reason


# ---------------------------------------------------------------------------------- CLI


def run(*args, stdin=None):
    return subprocess.run([SHIXIAN, *args], input=stdin, capture_output=True, text=True, env={**os.environ}, timeout=60)


@pytest.mark.parametrize("start", ["9999-12-31", "1900-01-01", "2101-01-01", "9999-12-31T23:00-10:00"])
def test_cli_deadline_refuses_impossible_dates_in_chinese_with_exit_2(start):
    r = run("deadline", "request_reply", start)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert r.stderr.startswith("错误：起算日 START") and "超出可受理范围" in r.stderr


def test_cli_deadline_accepts_the_bounds():
    assert run("deadline", "request_reply", "1990-01-02").returncode == 0
    r = run("deadline", "request_reply", "2100-12-31")
    assert r.returncode == 0 and r.stdout.startswith("2101-")


def test_cli_deadline_batch_names_the_bad_line():
    csv_in = "rule,start,region\nrequest_reply,2026-11-02,\nrequest_reply,9999-01-01,\n"
    r = run("deadline", "--batch", "-", stdin=csv_in)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "第 3 行" in r.stderr and "9999-01-01" in r.stderr and r.stdout == ""


def test_cli_as_of_and_period_are_bounded(tmp_data_dir):
    r = run("overdue", "--as-of", "9999-12-31")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "超出可受理范围" in r.stderr
    r = run("export", "scores", "--period", "9999", "--format", "csv", "--out", str(tmp_data_dir / "x.csv"))
    assert r.returncode == 1 and "Traceback" not in r.stderr and "超出可受理范围" in r.stderr


# ---------------------------------------------------------------------------------- activity


async def test_a_domain_error_in_the_clock_activity_is_not_retried():
    from temporalio.exceptions import ApplicationError
    from temporalio.testing import ActivityEnvironment

    from activities.clocks import ClockJob, ClockSpec, ComputeRequest, PlanRequest, compute_clocks, plan_steps

    env = ActivityEnvironment()
    req = ComputeRequest(
        now="2026-11-26T09:00:00+08:00", clocks=[ClockJob(spec=ClockSpec(rule="request_reply", start="9999-12-30"))]
    )
    with pytest.raises(ApplicationError) as exc:
        env.run(compute_clocks, req)
    assert exc.value.non_retryable and exc.value.type == "DomainError"
    assert "无法计算期限" in exc.value.message and "9999-12-30" in exc.value.message
    with pytest.raises(ApplicationError) as exc:
        env.run(plan_steps, PlanRequest(rule="request_reply", due="9999-12-31", now="2026-11-26T09:00:00+08:00"))
    assert exc.value.non_retryable
