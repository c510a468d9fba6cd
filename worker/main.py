"""The Temporal worker process: every workflow and activity of Shixian on task queue "shixian"."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from worker.client import task_queue_name
from workflows import workflow_runner

log = logging.getLogger("shixian.worker")


def _is_async(fn: Callable) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004  (an activity object)


def build_worker(
    client: Client,
    *,
    task_queue: str | None = None,
    workflows: Sequence[type],
    activities: Sequence[Callable],
    executor: ThreadPoolExecutor | None = None,
    **kwargs,
) -> Worker:
    """A Worker for the given workflows and activities (the lists come from the composition root,
    app/composition.py). Sync activities need `executor` (a ThreadPoolExecutor); pass one you shut down yourself.
    """
    if executor is None and any(not _is_async(a) for a in activities):
        raise ValueError("sync activities need a ThreadPoolExecutor (executor=...)")
    kwargs.setdefault("workflow_runner", workflow_runner())
    return Worker(
        client,
        task_queue=task_queue or task_queue_name(),
        workflows=list(workflows),
        activities=list(activities),
        activity_executor=executor,
        **kwargs,
    )


async def run_worker(
    client: Client,
    stop_event: asyncio.Event,
    *,
    workflows: Sequence[type],
    activities: Sequence[Callable],
    task_queue: str | None = None,
) -> None:
    """Run the worker until `stop_event` is set, then shut it down gracefully."""
    wfs, acts, task_queue = list(workflows), list(activities), task_queue or task_queue_name()
    if not wfs and not acts:
        log.warning("no workflows or activities registered: worker idle / 未注册任何工作流或活动")
        await stop_event.wait()
        return
    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="shixian-activity") as executor:
        worker = build_worker(client, task_queue=task_queue, workflows=wfs, activities=acts, executor=executor)
        async with worker:
            log.info("worker running on task queue %s (%d workflows, %d activities)", task_queue, len(wfs), len(acts))
            await stop_event.wait()
