"""Bulk import throughput: events ingested per second on the embedded dev server.

Baseline measured in the same run: starting no-op workflows on the same server and worker (what
Temporal alone costs per item). Prints both rates and the ratio; each imported request here is one
workflow start plus an Update that computes its due dates and writes the store.

    .venv/bin/python benchmarks/bench_ingest.py [--items 300]
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio import workflow  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402
from temporalio.worker import Worker  # noqa: E402


@workflow.defn(name="bench_noop", sandboxed=False)  # defined in __main__
class NoopWorkflow:
    @workflow.run
    async def run(self) -> str:
        return "ok"


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=300)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="shixian-bench-")
    os.environ["SHIXIAN_DATA_DIR"] = tmp
    os.environ.pop("DATABASE_URL", None)

    from app import composition
    from services.ingest import Ingestor
    from domain.engine import engine

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).with_name("temporal")),
        data_converter=pydantic_data_converter, dev_server_extra_args=["--db-filename", f"{tmp}/temporal.db"])
    cal = engine().calendar
    today = dt.date.today()
    try:
        with ThreadPoolExecutor(16) as pool:
            async with Worker(env.client, task_queue="shixian", workflows=[*composition.worker_workflows(), NoopWorkflow],
                              activities=composition.worker_activities(env.client), activity_executor=pool):
                # Baseline: Temporal alone, same concurrency as the ingest path.
                sem = asyncio.Semaphore(16)

                async def noop(i):
                    async with sem:
                        await env.client.execute_workflow(NoopWorkflow.run, id=f"noop-{uuid.uuid4()}",
                                                          task_queue="shixian")

                t0 = time.perf_counter()
                await asyncio.gather(*(noop(i) for i in range(args.items)))
                base = args.items / (time.perf_counter() - t0)

                events = []
                for i in range(args.items):
                    day = cal.subtract_working_days(today, 5 + i % 200)
                    events.append({"event_id": f"b-{i}", "type": "request.received", "request_id": f"BR-{i}",
                                   "department": ["qz-fgw", "qz-czj", "qz-jyj"][i % 3], "channel": "online",
                                   "received_on": day.isoformat(), "applicant_type": "natural_person",
                                   "subject": "压测"})
                t0 = time.perf_counter()
                results = await Ingestor(env.client).ingest(list(enumerate(events, start=1)))
                rate = args.items / (time.perf_counter() - t0)
                bad = [r for r in results if r.status != "applied"]
    finally:
        await env.shutdown()
    print(f"items: {args.items}  rejected: {len(bad)}")
    print(f"baseline (no-op workflow starts):        {base:7.1f} /s")
    print(f"ingest (start + update + due dates + db): {rate:7.1f} /s  ratio {rate / base:.2f}x of baseline")
    print(f"a year's import of 5,000 events: ~{5000 / rate:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
