"""The daily ladder sweep Schedule (issue 22 §2): created or updated at every `shixian up` (task "ladder-sweep")
and by `shixian schedules`, when reminders.toml says `sweep = true` (the default); with `sweep = false` each
item's timer sends its reminders (and an existing schedule is paused, so that no step is sent twice over; that
pause is lifted when the sweep is on again).

Schedule `shixian-ladder-sweep`: every day at the default ladder's fire time (09:00) Asia/Shanghai start
`LadderSweepWorkflow`. Overlap BUFFER_ONE (a slow day's run is followed, not skipped); catch-up window 1 day: a
server down at 09:00 runs the missed sweep for its own instant when it is back (late, never early).
"""

from __future__ import annotations

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

from domain.engine import engine
from domain.ladder import sweep_time
from domain.shanghai import TZ_NAME
from worker.client import task_queue_name
from worker.schedules import upsert_schedule
from worker.supervisor import UpContext
from workflows.sweep import SWEEP_SCHEDULE_ID, LadderSweepWorkflow, SweepInput

OFF_NOTE = "reminders.toml: sweep = false"  # the pause ensure_sweep_schedule sets, and lifts when it is on again
CATCHUP_WINDOW = timedelta(days=1)
RUN_TIMEOUT = timedelta(hours=6)
NOTE = "时限每日提醒：每天提醒时刻（北京时间）按部门汇总发送当日到期的提醒（每人每渠道一条消息）"


def sweep_schedule(task_queue: str | None = None) -> Schedule | None:
    """The schedule, or None when the sweep is off (reminders.toml)."""
    at = sweep_time(engine().ladders)
    if at is None:
        return None
    return Schedule(
        action=ScheduleActionStartWorkflow(
            LadderSweepWorkflow.run,
            SweepInput(),
            id=SWEEP_SCHEDULE_ID,
            task_queue=task_queue or task_queue_name(),
            execution_timeout=RUN_TIMEOUT,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    second=[ScheduleRange(0)],
                    minute=[ScheduleRange(at.minute)],
                    hour=[ScheduleRange(at.hour)],
                    comment=f"每天{at:%H:%M}（Asia/Shanghai）",
                )
            ],
            time_zone_name=TZ_NAME,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE, catchup_window=CATCHUP_WINDOW),
    )


async def ensure_sweep_schedule(client: Client, *, task_queue: str | None = None) -> str:
    """ "created" / "updated", or "off" (the sweep is off: an existing schedule is paused)."""
    sched = sweep_schedule(task_queue)
    handle = client.get_schedule_handle(SWEEP_SCHEDULE_ID)
    if sched is None:
        try:
            await handle.pause(note=OFF_NOTE)
        except Exception:  # no such schedule: nothing to pause
            pass
        return "off"
    result = await upsert_schedule(client, SWEEP_SCHEDULE_ID, sched, NOTE)
    # An operator's pause is kept; ours (the sweep was off) is lifted, or no 09:00 step would go out at all.
    state = (await handle.describe()).schedule.state
    if state.paused and state.note == OFF_NOTE:
        await handle.unpause(note=NOTE)
    return result


async def sweep_schedule_task(ctx: UpContext) -> None:
    """`shixian up` task: the schedule as reminders.toml says, then wait for stop."""
    result = await ensure_sweep_schedule(ctx.client)
    text = {"created": "已创建", "updated": "已更新", "off": "未启用：各事项按自身定时提醒"}[result]
    ctx.announce("每日提醒汇总 / ladder sweep", f"{SWEEP_SCHEDULE_ID}（{text}）")
    await ctx.stop_event.wait()
