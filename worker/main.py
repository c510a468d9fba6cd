"""The Temporal worker process: every workflow and activity of Shixian on task queue "shixian"."""
from __future__ import annotations

import asyncio
import inspect
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

from temporalio.client import Client
from temporalio.worker import Worker

from worker.client import TASK_QUEUE

log = logging.getLogger("shixian.worker")


def _registered() -> tuple[list[type], list[Callable]]:
    import activities
    import workflows

    return list(getattr(workflows, "WORKFLOWS", [])), list(getattr(activities, "ACTIVITIES", []))


def _is_async(fn: Callable) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))


def build_worker(
    client: Client,
    *,
    task_queue: str = TASK_QUEUE,
    workflows: Sequence[type] | None = None,
    activities: Sequence[Callable] | None = None,
    executor: ThreadPoolExecutor | None = None,
    **kwargs,
) -> Worker:
    """A Worker for the given (default: registered) workflows and activities.

    Sync activities need `executor` (a ThreadPoolExecutor); pass one you shut down yourself.
    """
    if workflows is None or activities is None:
        reg_wf, reg_act = _registered()
        workflows = reg_wf if workflows is None else workflows
        activities = reg_act if activities is None else activities
    if executor is None and any(not _is_async(a) for a in activities):
        raise ValueError("sync activities need a ThreadPoolExecutor (executor=...)")
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(workflows),
        activities=list(activities),
        activity_executor=executor,
        **kwargs,
    )


async def run_worker(client: Client, stop_event: asyncio.Event, *, task_queue: str = TASK_QUEUE) -> None:
    """Run the worker until `stop_event` is set, then shut it down gracefully."""
    wfs, acts = _registered()
    if not wfs and not acts:
        log.warning("no workflows or activities registered: worker idle / 未注册任何工作流或活动")
        await stop_event.wait()
        return
    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="shixian-activity") as executor:
        worker = build_worker(client, task_queue=task_queue, workflows=wfs, activities=acts, executor=executor)
        async with worker:
            log.info("worker running on task queue %s (%d workflows, %d activities)", task_queue, len(wfs), len(acts))
            await stop_event.wait()
