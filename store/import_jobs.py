"""Import jobs (导入任务): a web upload or an API batch too large to wait for in one request runs as a durable
job (workflows/import_job.py). One `import_job` row per job: what to import (the confirmed preview, JSON),
who asked, and its progress and result as the worker writes them, so that any web process (also one started
after the upload) shows the progress bar and the result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, update
from sqlmodel import Field, Session, SQLModel

from store.models import UTCDateTime, utcnow


def _ts(nullable: bool = False) -> Column:
    return Column(UTCDateTime(timezone=True), nullable=nullable)


class ImportJob(SQLModel, table=True):
    __tablename__ = "import_job"

    id: str = Field(primary_key=True)  # also the job workflow's id: import-job:<id>
    kind: str  # "ledger" (a confirmed ledger preview) or "events" (an API batch)
    department: str | None = Field(default=None, index=True)
    filename: str = ""
    created_by: str | None = Field(default=None, index=True)  # the principal's actor
    role: str | None = None  # recorded with this role (Principal.record_role)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    # What to import: the confirmed preview (kind, rows, ...) or the API's event dicts; who may see it.
    request: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="queued")  # queued / running / done / failed
    total: int = 0  # events to send
    done: int = 0  # events answered so far
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    error: str | None = None
    finished_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


def create_job(s: Session, job: ImportJob) -> ImportJob:
    s.add(job)
    s.commit()
    s.refresh(job)
    return job


def get_job(s: Session, job_id: str) -> ImportJob | None:
    return s.get(ImportJob, job_id)


def set_progress(s: Session, job_id: str, done: int, total: int) -> None:
    """The worker's progress: never backwards (a retried attempt counts again from 0: shown from there)."""
    s.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id)  # type: ignore[arg-type]
        .values(status="running", done=done, total=total)
    )
    s.commit()


def finish_job(s: Session, job_id: str, result: dict[str, Any] | None, error: str | None = None) -> None:
    job = s.get(ImportJob, job_id)
    if job is None:
        return
    job.status = "failed" if error else "done"
    job.result, job.error, job.finished_at = result, error, utcnow()
    if not error:
        job.done = job.total
    s.add(job)
    s.commit()
