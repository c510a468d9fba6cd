"""Create-or-update for Temporal Schedules (run at every `shixian up`)."""

from __future__ import annotations

import logging

from temporalio.client import Client, Schedule, ScheduleAlreadyRunningError, ScheduleUpdate, ScheduleUpdateInput

log = logging.getLogger("shixian.schedules")


async def upsert_schedule(client: Client, schedule_id: str, schedule: Schedule, note: str) -> str:
    """Create the schedule, or update it to this definition; a pause or note an operator set is kept.
    Returns "created" or "updated"."""
    schedule.state.note = note
    try:
        await client.create_schedule(schedule_id, schedule)
        log.info("schedule %s created", schedule_id)
        return "created"
    except ScheduleAlreadyRunningError:
        pass

    def updater(inp: ScheduleUpdateInput) -> ScheduleUpdate:
        schedule.state = inp.description.schedule.state
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(schedule_id).update(updater)
    log.info("schedule %s updated", schedule_id)
    return "updated"
