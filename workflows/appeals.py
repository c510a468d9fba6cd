"""An item's appeal windows after its own run has ended (review finding 6).

An appeal window (a rule with audience = "supervisor": 行政复议法第二十条 60 日, 行政诉讼法第四十六条 六个月) is the
applicant's time, not the department's duty, so the request is done, and its workflow ends, at its reply. This
small workflow (`appeals:<item id>`, started by the item's last run, left running when it ends) keeps the
windows' timers: it sends their reminders (to the supervisor only: config/reminders.toml) and closes each
window in the store once it lapses. A review or suit recorded meanwhile closes its window in the store
(activities.store.record_fact); each wake asks the store which windows are still open first.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    import domain.transitions as tr
    from activities.store import WindowsRequest, appeal_windows_open, lapse_appeal_windows
    from domain.item_state import ClockData
    from workflows.notify_steps import notify_roles

TIMEOUT = timedelta(seconds=60)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


class AppealWindowsInput(BaseModel):
    item_id: str
    department: str
    title: str = ""
    windows: list[ClockData]  # the open windows as the item's run left them (due instant, reminder plan)
    names: dict[str, str] = {}  # rule id -> its name, for the notices


@workflow.defn(name="appeal_windows")
class AppealWindowsWorkflow:
    @workflow.run
    async def run(self, inp: AppealWindowsInput) -> list[str]:
        """Returns the rules it closed as lapsed."""
        windows = {c.rule: c for c in inp.windows if c.state == "open" and c.due_instant}
        for c in windows.values():
            c.plan = [s for s in c.plan if s.key not in c.fired]
        lapsed: list[str] = []
        while windows:
            moments = [tr.lapse_at(c) for c in windows.values()]
            moments += [datetime.fromisoformat(s.fire_at) for c in windows.values() for s in c.plan]
            wait = (min(moments) - workflow.now()).total_seconds()
            if wait > 0:
                await workflow.sleep(timedelta(seconds=wait))
            now = workflow.now()
            still = await workflow.execute_activity(
                appeal_windows_open,
                WindowsRequest(item_id=inp.item_id, rules=sorted(windows)),
                start_to_close_timeout=TIMEOUT,
                retry_policy=RETRY,
            )
            windows = {r: c for r, c in windows.items() if r in still}  # closed by a filing meanwhile
            ended = [r for r, c in windows.items() if tr.lapse_at(c) <= now]
            if ended:
                # A window lapsed (or imported already past): closed, and no reminder of it is sent.
                lapsed += await workflow.execute_activity(
                    lapse_appeal_windows,
                    WindowsRequest(item_id=inp.item_id, rules=ended),
                    start_to_close_timeout=TIMEOUT,
                    retry_policy=RETRY,
                )
                for r in ended:
                    windows.pop(r)
            for c in windows.values():
                due_steps = [s for s in c.plan if datetime.fromisoformat(s.fire_at) <= now]
                c.plan = [s for s in c.plan if s not in due_steps]  # each step once (repeat_every = 0)
                for s in due_steps:
                    context = {
                        "item_title": inp.title,
                        "rule_name": inp.names.get(c.rule, c.rule),
                        "due": c.due,
                        "due_key": s.key,
                        "working_days_left": s.working_days_left,
                        "overdue_working_days": s.overdue_working_days,
                        "provisional": c.provisional,
                        "explanation": c.explanation.get("summary", ""),
                    }
                    try:
                        await notify_roles(inp.item_id, c.rule, s.step, inp.department, s.to, context, occurrence=s.key)
                    except ActivityError as exc:  # logged and escalated inside; the window still lapses
                        workflow.logger.error("notification %s failed: %s", s.key, exc)
        return lapsed
