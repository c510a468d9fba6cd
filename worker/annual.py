"""The yearly Schedule that opens annual-report clocks on January 1 (Asia/Shanghai)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
)

from domain.shanghai import TZ_NAME
from worker.client import task_queue_name
from worker.schedules import upsert_schedule
from worker.supervisor import UpContext
from workflows.annual import ANNUAL_SCHEDULE_ID, AnnualReportKickoffWorkflow, KickoffInput

NOTE = "时限：每年1月1日0时5分（北京时间）为各部门开启上一年度政府信息公开工作年度报告时限"


def annual_schedule(task_queue: str | None = None) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            AnnualReportKickoffWorkflow.run,
            KickoffInput(),
            id=ANNUAL_SCHEDULE_ID,
            task_queue=task_queue or task_queue_name(),
            execution_timeout=timedelta(hours=6),
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    second=[ScheduleRange(0)],
                    minute=[ScheduleRange(5)],
                    hour=[ScheduleRange(0)],
                    day_of_month=[ScheduleRange(1)],
                    month=[ScheduleRange(1)],
                    comment="每年1月1日00:05",
                )
            ],
            time_zone_name=TZ_NAME,
        ),
        # A server down over New Year still opens the clocks when it returns (the ids make it idempotent).
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=30)),
    )


async def annual_schedule_task(ctx: UpContext) -> None:
    result = await upsert_schedule(ctx.client, ANNUAL_SCHEDULE_ID, annual_schedule(), NOTE)
    ctx.announce(
        "年报时限 / annual reports",
        f"{ANNUAL_SCHEDULE_ID} 每年1月1日（{'已创建' if result == 'created' else '已更新'}）",
    )
