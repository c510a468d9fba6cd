"""Supervisors hear about held late entries (补录) once a day, as one line of their digest."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from domain.review import LateEntry
from tests.test_digests import MAKEUP_SATURDAY, OCTOBER_ITEMS, PUBLIC_URL, _doc, _run, _seed, digest_env, hook  # noqa: F401
from tests.workflow_harness import app_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _held(n: int, status: str = "held") -> LateEntry:
    return LateEntry(
        event_id=f"late-{n}-{status}",
        type="request.replied",
        on="2026-09-20",
        recorded_at="2026-10-09T10:00:00+08:00",
        recorded_on="2026-10-09",
        recorded_by="liaison-czj",
        role="liaison",
        reason="晚登记",
        status=status,
    )


async def test_one_digest_line_for_all_held_entries(digest_env, hook, ts_env):
    # Two held entries of one department, one of another, one already reviewed (not counted);
    # nothing overdue: the supervisor still gets one message, with the one line.
    items = [i for i in OCTOBER_ITEMS if i.id != "doc-fgw-2"]
    a = _doc("req-czj-held", "qz-czj", "申请甲", "2026-10-20", rule="request_reply", type="request")
    a.late_entries = [_held(1), _held(2), _held(3, "rejected")]
    b = _doc("req-fgw-held", "qz-fgw", "申请乙", "2026-10-20", rule="request_reply", type="request")
    b.late_entries = [_held(4)]
    _seed(digest_env, items + [a, b])
    tq = f"digest-{uuid.uuid4().hex[:6]}"
    async with app_worker(ts_env.client, tq):
        first = await _run(ts_env.client, tq, MAKEUP_SATURDAY)
        assert first.status == "sent", first
        hook.wait_for(first.sent)
        await asyncio.sleep(0.3)
    sups = [p.json for p in hook.posts if p.path == "/hook/supervisor-zwgk"]
    assert len(sups) == 1
    assert sups[0]["title"] == "【补录待审核】2026年10月10日：3条补录待审核"
    assert sups[0]["message"].count("补录待审核：") == 1
    assert "补录待审核：3条（钦州市财政局 2 条、钦州市发展和改革委员会 1 条）" in sups[0]["message"]
    assert f"{PUBLIC_URL}/#review" in sups[0]["message"]
    assert "逾期未办结" not in sups[0]["message"]
    for p in hook.posts:  # liaisons and heads are not told
        if p.path != "/hook/supervisor-zwgk":
            assert "补录" not in p.json["message"]
