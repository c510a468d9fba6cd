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


def test_a_fact_may_be_dated_at_most_a_year_ahead_of_today():
    last = TODAY + dt.timedelta(days=366)
    assert parse_event(received(received_on=last.isoformat()), today=TODAY).on == last.isoformat()
    err = refused(received(received_on=(last + dt.timedelta(days=1)).isoformat()))
    assert err.field == "received_on" and "晚于今天一年以后" in err.reason
    # the event's own date of every kind: request dates, document dates, instants
    on = (last + dt.timedelta(days=1)).isoformat()
    assert (
        refused(
            {"event_id": "e-3", "type": "request.replied", "request_id": "r-1", "on": on, "outcome": "granted"}
        ).field
        == "on"
    )
    assert refused(signed(signed_on=on)).field == "signed_on"
    assert (
        refused(
            {
                "event_id": "e-4",
                "type": "opinion.detected",
                "case_id": "c-1",
                "department": "qz-fgw",
                "detected_at": f"{on}T09:00",
                "severity": "major",
            }
        ).field
        == "detected_at"
    )
    # the default "today" is the real date in Asia/Shanghai
    with pytest.raises(EventError):
        parse_event(received(received_on=(dt.date.today() + dt.timedelta(days=400)).isoformat()))


def test_a_period_given_to_the_applicant_is_bounded_but_may_lie_ahead():
    ev = {"event_id": "e-5", "type": "request.correction_requested", "request_id": "r-1", "on": "2026-11-03"}
    assert parse_event({**ev, "respond_by": "2028-06-30"}, today=TODAY).data["respond_by"] == "2028-06-30"
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
        ("withheld_reason", 1000, lambda **kw: signed(disclosure="withheld", **kw)),
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
