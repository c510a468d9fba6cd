"""The composition root: the one place that lists what the worker and `shixian up` run.

Workflows, activities (constructed here when they need a dependency from a higher layer, e.g. the
annual kickoff gets the ingest use case injected) and the tasks beside the worker in `shixian up`. Nothing
registers itself on import; tests and production processes build their workers from these lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio.client import Client

import activities as _activities
import workflows as _workflows
from activities.annual import AnnualActivities
from activities.import_jobs import ImportJobActivities
from worker.supervisor import Task, Wiring


def register_sources() -> None:
    """What domain.engine serves from the store: the directory (services/directory.py), once seeded, and the
    catalogue duties' rules (services/catalogue.py). Called by every process that reads the directory or the
    rules: the web app, the CLI, the worker (worker_activities)."""
    from services.catalogue import register as register_catalogue
    from services.directory import register

    register()
    register_catalogue()


def worker_workflows() -> list[type]:
    return list(_workflows.WORKFLOWS)


def worker_activities(client: Client) -> list[Callable]:
    """Every activity of the task queue; `client` is the worker's (the annual kickoff ingests through it)."""
    register_sources()  # a person added on the admin page is reminded without a restart

    async def ingest_events(events: list[Any]) -> list[str]:
        from services.ingest import Ingestor

        results = await Ingestor(client, internal=True).ingest(list(enumerate(events, start=1)))
        return [r.text() for r in results]

    async def run_import_job(job_id: str, progress: Callable[[int, int], None]) -> dict[str, Any]:
        from services.import_jobs import run

        return await run(client, job_id, progress)

    return [
        *_activities.ACTIVITIES,
        AnnualActivities(ingest_events).open_annual_report_clocks,
        ImportJobActivities(run_import_job).run_import_job,
    ]


def up_tasks() -> list[Task]:
    """The tasks beside the worker in `shixian up`, in start order."""
    from app.web.server import serve_web
    from services.demo import seed_demo
    from worker.annual import annual_schedule_task
    from worker.audit_purge import audit_purge_task
    from worker.digests import digest_schedule_task
    from worker.sweep import sweep_schedule_task
    from worker.tasks import calendar_watch

    return [
        Task(calendar_watch, "calendar-watch"),
        Task(serve_web, "web", needs_http=True),
        Task(seed_demo, "demo"),
        Task(digest_schedule_task, "digest-schedule"),
        Task(sweep_schedule_task, "ladder-sweep"),
        Task(annual_schedule_task, "annual-report-schedule"),
        Task(audit_purge_task, "audit-purge"),
    ]


def up_wiring(tasks: list[Task] | None = None) -> Wiring:
    """What `shixian up` runs (`tasks` replaces the extra tasks, e.g. a test's stand-in web server)."""
    return Wiring(
        workflows=worker_workflows(), activities=worker_activities, tasks=up_tasks() if tasks is None else tasks
    )
