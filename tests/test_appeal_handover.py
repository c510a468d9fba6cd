"""Issue 22 §3 (s24-current): a request's run ends closing its appeal windows already past in its own last write,
hands only the open ones to `appeals:<item>`, and records one version marker instead of one per patch."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.worker import Replayer

import workflows
from domain.engine import engine
from tests.test_proposals import _replied_request, months_later

DAY = dt.timedelta(days=1)


def cal():
    return engine().calendar


def _workday_before(day: dt.date, region: str) -> dt.date:
    while not cal().is_workday(day, region):
        day -= DAY
    return day


def _patches(history: WorkflowHistory) -> list[str]:
    out = []
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            attrs = e.marker_recorded_event_attributes
            if attrs.marker_name == "core_patch":
                out += re.findall(r"s\d\d-[a-z-]+", str(attrs.details))
    return out


async def _no_workflow(st, wid: str) -> None:
    with pytest.raises(RPCError):
        await st.client.get_workflow_handle(wid).describe()


async def test_a_backfilled_reply_closes_its_past_windows_itself_and_a_filing_within_still_meets_one(st):
    today = await st.today()
    region = engine().directory.region_of("qz-fgw")
    replied = _workday_before(months_later(today, -8), region)  # both windows (60 日, 六个月) ran out
    rid = await _replied_request(st, replied, region)
    await st.result("request", rid)
    for rule in ("appeal_review", "appeal_litigation"):
        c = st.clock(rid, rule)
        assert c.state == "closed" and c.met_on is None and "期限届满" in str(c.explanation), c
    await _no_workflow(st, f"appeals:{rid}")  # no timer workflow for windows already over
    history = await st.client.get_workflow_handle(f"request:{rid}").fetch_history()
    assert _patches(history) == ["s24-current"]  # one marker for every patch this run took
    replayer = Replayer(
        workflows=workflows.WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=workflows.workflow_runner(),
    )
    got = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert got.replay_failure is None, got.replay_failure
    # the ledger's next line: a review filed within its window (recorded now) makes the window met
    review_due = dt.date.fromisoformat(st.clock(rid, "appeal_review").due)
    filed = _workday_before(review_due - 10 * DAY, region)
    await st.ok({"type": "review.filed", "request_id": rid, "on": filed.isoformat()})
    review = st.clock(rid, "appeal_review")
    assert review.state == "closed" and review.met_on == filed.isoformat()
    assert "期限届满" not in str(review.explanation)
    # a suit filed after its window: recorded, and the window stays lapsed
    await st.ok({"type": "litigation.filed", "request_id": rid, "on": today.isoformat()})
    suit = st.clock(rid, "appeal_litigation")
    assert suit.state == "closed" and suit.met_on is None and "期限届满" in str(suit.explanation)


async def test_only_the_open_window_is_handed_over_and_reminds_the_supervisor_once(st):
    from domain.shanghai import SHANGHAI

    today = await st.today()
    region = engine().directory.region_of("qz-fgw")
    replied = _workday_before(months_later(today, -6) + 12 * DAY, region)  # the review window over, the suit's not
    rid = await _replied_request(st, replied, region)
    await st.result("request", rid)
    review = st.clock(rid, "appeal_review")
    assert review.state == "closed" and review.met_on is None  # at once, not an hour after the import
    assert st.clock(rid, "appeal_litigation").state == "open"
    child = await st.client.get_workflow_handle(f"appeals:{rid}").fetch_history()
    started = child.events[0].workflow_execution_started_event_attributes.input.payloads[0].data.decode()
    assert "appeal_litigation" in started and "appeal_review" not in started

    async def sleep_until(day: dt.date, hour: int) -> None:
        await st.env.sleep(dt.datetime.combine(day, dt.time(hour), SHANGHAI) - await st.now())

    due = dt.date.fromisoformat(st.clock(rid, "appeal_litigation").due)
    await sleep_until(due - DAY, 18)  # its t_minus_3 has fired
    await st.wait_for(lambda: st.posts_for(rid), bool)
    await sleep_until(due, 23)  # the last hour of the window: still open, and no second notice
    posts = st.posts_for(rid)
    assert [p.path for p in posts] == ["/hook/supervisor-zwgk"], [p.path for p in posts]  # once, the suit's
    assert "行政诉讼" in posts[0].json["message"], posts[0].json["message"]
    assert st.clock(rid, "appeal_litigation").state == "open"
    # Its lapse (the child's last step) closes it in the store as test_proposals' finding-6 test shows; the
    # time-skipping test server does not return from a sleep across an abandoned child's completion.
