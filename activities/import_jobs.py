"""The durable import job's activities (workflows/import_job.py): run one job through the ingest use case,
which the composition root injects (app/composition.py), keeping its progress in the store
(store/import_jobs.py) and in the activity's heartbeats."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import activity

from store import import_jobs
from store.db import session

Progress = Callable[[int, int], None]  # (events answered, events to send)
# job id, progress -> the job's result (JSON): services.import_jobs.run
RunJob = Callable[[str, Progress], Awaitable[dict[str, Any]]]
PROGRESS_EVERY = 0.5  # seconds between progress writes (a 5,000-row job: a few dozen small updates)


class ImportJobActivities:
    def __init__(self, run: RunJob) -> None:
        self._run = run

    @activity.defn(name="run_import_job")
    async def run_import_job(self, job_id: str) -> dict[str, Any]:
        """Run the job (a retried attempt sends the same events again: those already applied answer
        duplicate and change nothing) and store its result."""
        last = [0.0]

        def progress(done: int, total: int) -> None:
            activity.heartbeat(done)
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY or done == total:
                last[0] = now
                with session() as s:
                    import_jobs.set_progress(s, job_id, done, total)

        result = await self._run(job_id, progress)
        with session() as s:
            import_jobs.finish_job(s, job_id, result)
        return {k: v for k, v in result.items() if k == "summary"}


@activity.defn(name="fail_import_job")
def fail_import_job(job_id: str, reason: str) -> None:
    """The job could not be run to its end (every attempt failed): the page says so."""
    with session() as s:
        import_jobs.finish_job(s, job_id, None, error=reason)
