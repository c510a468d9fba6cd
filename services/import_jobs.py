"""Durable import jobs (issue 22 §3): a confirmed ledger upload of more than JOB_ROWS rows runs as a job
(workflows/import_job.py in the worker), not inside the web request: it survives a restart of the web
process, and the page (`/import/jobs/<id>`) and `GET /api/import-jobs/<id>` show its progress and, when
done, its result, both read from the store (store/import_jobs.py). The CLI imports in its own process with
its progress bar (app/cli/ledger.py) and needs no job."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from domain.settings import get_settings
from store import import_jobs as store_jobs
from store.db import database_url, get_engine, session
from workflows.import_job import ImportJobWorkflow, job_workflow_id

# "More than a few hundred rows": a bigger upload would hold the web request for minutes (and be lost with
# the web process); a smaller one answers within the request as before.
JOB_ROWS = 300


def wants_job(rows: int) -> bool:
    return rows > JOB_ROWS


async def submit_ledger(client, who, carried: dict[str, Any], department: str, events: int) -> str:
    """Store the confirmed preview as a job and start its workflow; the job's id (for its page)."""
    job_id = uuid.uuid4().hex[:16]
    job = store_jobs.ImportJob(
        id=job_id,
        kind="ledger",
        department=department,
        filename=str(carried.get("filename", ""))[:200],
        created_by=who.actor,
        role=who.record_role,
        request=carried,
        total=events,
    )
    with session(get_engine(database_url())) as s:
        store_jobs.create_job(s, job)
    await client.start_workflow(
        ImportJobWorkflow.run, job_id, id=job_workflow_id(job_id), task_queue=get_settings().task_queue
    )
    return job_id


def _who(who) -> dict[str, Any]:
    """The principal as the job keeps it (services.access.Principal's fields; the worker acts as them)."""
    return {
        "role": who.role,
        "department": who.department,
        "person": who.person,
        "token_id": who.token_id,
        "roles": list(who.roles),
        "node": who.node,
    }


async def submit_events(client, who, events: list[tuple[int, dict[str, Any]]]) -> str:
    """An API batch (`POST /api/events` with `Prefer: respond-async`) as a job: each event is recorded as
    `who`, with the same department and node rules as a direct call."""
    job_id = uuid.uuid4().hex[:16]
    job = store_jobs.ImportJob(
        id=job_id,
        kind="events",
        department=who.write_scope,
        created_by=who.actor,
        role=who.record_role,
        request={"who": _who(who), "events": [[n, obj] for n, obj in events]},
        total=len(events),
    )
    with session(get_engine(database_url())) as s:
        store_jobs.create_job(s, job)
    await client.start_workflow(
        ImportJobWorkflow.run, job_id, id=job_workflow_id(job_id), task_queue=get_settings().task_queue
    )
    return job_id


async def _run_events(client, request: dict[str, Any], progress: Callable[[int, int], None]) -> dict[str, Any]:
    from services.access import Principal
    from services.ingest import ingestor_for

    who = Principal(**{**request["who"], "roles": tuple(request["who"].get("roles") or ())})
    events = [(int(n), obj) for n, obj in request["events"]]
    done = [0]
    progress(0, len(events))

    def tick() -> None:
        done[0] += 1
        progress(min(done[0], len(events)), len(events))

    # A job has no one waiting on it: events the service did not answer are sent again (on_wait heartbeats).
    ing = ingestor_for(who, client, retry_seconds=get_settings().import_retry_seconds)
    results = await ing.ingest(events, progress=tick, on_wait=lambda *_: progress(done[0], len(events)))
    return {
        "summary": {s: sum(r.status == s for r in results) for s in ("applied", "held", "duplicate", "rejected")},
        "results": [{**r.model_dump(), "index": r.line, "message": r.text()} for r in results],
    }


async def run(client, job_id: str, progress: Callable[[int, int], None]) -> dict[str, Any]:
    """The job's work, in the worker (activities/import_jobs.py): the same ledger apply as a small upload,
    or the same ingest as a direct API call."""
    from services.ledger_import import apply, plan_from_preview, summary

    db = get_engine(database_url())
    with session(db) as s:
        job = store_jobs.get_job(s, job_id)
        if job is None:
            raise LookupError(f"导入任务 {job_id} 不存在")
        carried, department, by, role = dict(job.request), job.department or "", job.created_by, job.role
        kind = job.kind
    if kind == "events":
        return await _run_events(client, carried, progress)
    p = plan_from_preview(carried, department)
    total = sum(len(r.events) for r in p.rows if not r.problems and r.duplicate_of is None)
    done = [0]
    progress(0, total)

    def tick() -> None:
        done[0] += 1
        progress(min(done[0], total), total)

    outcomes = await apply(
        p,
        client,
        recorded_by=by,
        db_engine=db,
        role=role,
        progress=tick,
        retry_seconds=get_settings().import_retry_seconds,
        on_wait=lambda *_: progress(done[0], total),
    )
    return {
        "summary": summary(outcomes),
        "kind": p.table.kind,
        "outcomes": [o.as_json() for o in outcomes],
    }


class ImportJobView(BaseModel):
    """An import job as the API returns it (`GET /api/import-jobs/{id}`)."""

    id: str
    status: str = Field(description="queued / running / done / failed")
    department: str | None = None
    filename: str | None = None
    created_at: str
    finished_at: str | None = None
    done: int = Field(description="已处理的事件数")
    total: int = Field(description="要处理的事件数")
    percent: int
    summary: Any = None
    outcomes: Any = None
    results: Any = Field(None, description="API 批量提交时每个事件的结果")
    error: str | None = None


def job_view(who, job_id: str) -> dict[str, Any] | None:
    """The job as its page and the API show it; None when it does not exist or `who` may not see it (the
    uploader, or whoever may read its department)."""
    with session(get_engine(database_url())) as s:
        job = store_jobs.get_job(s, job_id)
    if job is None or not (job.created_by == who.actor or (job.department and who.may_see(job.department))):
        return None
    result = job.result or {}
    return {
        "id": job.id,
        "status": job.status,
        "department": job.department,
        "filename": job.filename,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "done": job.done,
        "total": job.total,
        "percent": 100 if job.status == "done" else (100 * job.done // job.total if job.total else 0),
        "summary": result.get("summary"),
        "outcomes": result.get("outcomes"),
        "results": result.get("results"),  # an API batch's per-event results
        "error": job.error,
    }
