"""A durable import job (issue 22 §3): a web upload or API batch of more than a few hundred rows runs here,
in the worker, not in the web request: it survives a web restart, and the page shows its progress from the
store (store/import_jobs.py). Its id is `import-job:<job id>`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.import_jobs import fail_import_job

# A province's upload is bounded by SHIXIAN_LEDGER_MAX_ROWS; hours are plenty. A worker killed mid-job stops
# heartbeating and the attempt is retried on another (the events already applied answer duplicate).
JOB_TIMEOUT = timedelta(hours=6)
HEARTBEAT = timedelta(minutes=2)
ATTEMPTS = 3


def job_workflow_id(job_id: str) -> str:
    return f"import-job:{job_id}"


@workflow.defn(name="import_job")
class ImportJobWorkflow:
    @workflow.run
    async def run(self, job_id: str) -> dict[str, Any]:
        try:
            return await workflow.execute_activity(
                "run_import_job",
                job_id,
                result_type=dict,
                start_to_close_timeout=JOB_TIMEOUT,
                heartbeat_timeout=HEARTBEAT,
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=ATTEMPTS),
            )
        except ActivityError as exc:
            cause = exc.cause
            reason = getattr(cause, "message", None) or str(cause or exc)
            await workflow.execute_activity(
                fail_import_job,
                args=[job_id, f"导入任务未能完成：{reason[:500]}"],
                start_to_close_timeout=timedelta(seconds=60),
            )
            return {"failed": reason[:500]}
