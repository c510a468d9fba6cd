"""The daily digest Schedule: created or updated at every `shixian up` (task "digest-schedule").

Schedule `shixian-daily-digest`: every day at 09:00:00 Asia/Shanghai start `DigestWorkflow` (workflow id
`shixian-daily-digest-<scheduled time>`, as Temporal names scheduled runs) on the worker's task queue.
The workflow itself decides whether the day is a working day (make-up Saturdays included, rest days
skipped), so the schedule fires every day. Policy:

- overlap SKIP: never two digest runs at once (a run is capped at `RUN_TIMEOUT`, so a stuck run cannot
  block the next day's);
- catch-up window 1 day: a server that was down at 09:00 runs the missed digest when it comes back (the
  workflow sends it if it is still the same day in Asia/Shanghai and reports `stale` otherwise);
- a paused schedule stays paused across updates (the state is kept, only spec/action/policy change).

Manual run (also what a `shixian digest run --date` command would call): `await run_digest(client, "2026-10-10")`.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
)

from activities.digests import DigestInput, DigestSummary
from domain.shanghai import TZ_NAME
from worker.client import task_queue_name
from worker.schedules import upsert_schedule
from worker.supervisor import UpContext
from workflows.digests import DIGEST_SCHEDULE_ID, DigestWorkflow

log = logging.getLogger("shixian.digests")

HOUR, MINUTE = 9, 0
CATCHUP_WINDOW = timedelta(days=1)
RUN_TIMEOUT = timedelta(hours=20)
NOTE = "时限每日汇总：每天09:00（北京时间）运行，仅在工作日发送（调休上班日发送，法定节假日不发送）"


def digest_schedule(task_queue: str | None = None) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DigestWorkflow.run,
            DigestInput(),
            id=DIGEST_SCHEDULE_ID,
            task_queue=task_queue or task_queue_name(),
            execution_timeout=RUN_TIMEOUT,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    second=[ScheduleRange(0)],
                    minute=[ScheduleRange(MINUTE)],
                    hour=[ScheduleRange(HOUR)],
                    comment="每天09:00（Asia/Shanghai）",
                )
            ],
            time_zone_name=TZ_NAME,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
    )


async def ensure_schedule(
    client: Client, *, task_queue: str | None = None, schedule_id: str = DIGEST_SCHEDULE_ID
) -> str:
    """Create the digest schedule, or update it to the current definition. Returns "created" / "updated"."""
    return await upsert_schedule(client, schedule_id, digest_schedule(task_queue), NOTE)


async def run_digest(client: Client, for_date: str | None = None, *, task_queue: str | None = None) -> DigestSummary:
    """Run one day's digests now (manual run); repeats for the same day send nothing new."""
    day = for_date or "today"
    return await client.execute_workflow(
        DigestWorkflow.run,
        DigestInput(for_date=for_date),
        id=f"shixian-digest-manual-{day}-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue or task_queue_name(),
        execution_timeout=RUN_TIMEOUT,
    )


async def digest_schedule_task(ctx: UpContext) -> None:
    """`shixian up` task: make sure the schedule exists and matches this version, then wait for stop."""
    result = await ensure_schedule(ctx.client)
    done = "已创建" if result == "created" else "已更新"
    ctx.announce("每日汇总 / daily digest", f"{DIGEST_SCHEDULE_ID} 每天{HOUR:02d}:{MINUTE:02d} {TZ_NAME}（{done}）")
    await ctx.stop_event.wait()
