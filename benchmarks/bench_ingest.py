"""Import throughput of the whole `shixian events ingest` process against Temporal's own speed.

One run, one embedded dev server, one worker (the product's build_worker: every Shixian workflow and
activity, plus a no-op workflow): first the baseline, N no-op workflow executions started and awaited with the same
concurrency as the ingest path (services.ingest.CONCURRENCY); then `shixian events ingest --json`
of N items' events, timed as a whole process (start-up, connection, validation, one update-with-start
per item carrying all its events (`apply_many`), due dates, one store write per item, streaming output, the
wait until the read model holds every applied event). The default shape is a realistic ledger backfill
(~2.5 events per item: requests received and replied, documents signed, published and interpreted);
`--shape one` is one request received per item. Prints both rates (events/s against no-op executions/s),
the ratio (goal of issue 22 §3: >= 2.0x, done when >= 1.0x) and what a province's 500,000-event backfill
would take at that rate.

    .venv/bin/python benchmarks/bench_ingest.py [--items 1000] [--runs 1] [--shape ledger|one] [--baseline N]

`--baseline N`: N no-op executions before and after the ingest (their mean is the baseline), for long runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from temporalio import workflow  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402


@workflow.defn(name="bench_noop", sandboxed=False)  # defined in __main__
class NoopWorkflow:
    @workflow.run
    async def run(self) -> str:
        return "ok"


DEPARTMENTS = ["qz-fgw", "qz-czj", "qz-jyj"]
EAGER = os.environ.get("BENCH_EAGER", "").split() and [
    "--dynamic-config-value",
    "system.enableActivityEagerExecution=true",
]


def events(n: int, tag: str, shape: str = "ledger") -> list[dict]:
    """`n` items' events. `ledger`: a realistic backfill, about 2.5 events per item: half of the items are
    requests received and replied (2), half policy documents signed, published and interpreted (3), each
    item's events together as a ledger row gives them. `one`: one request received per item."""
    from domain.engine import engine
    from domain.shanghai import today

    cal, day0 = engine().calendar, today()
    out: list[dict] = []
    for i in range(n):
        department = DEPARTMENTS[i % len(DEPARTMENTS)]
        if shape == "one" or i % 2 == 0:
            rid = f"BR-{tag}-{i}"
            received = cal.subtract_working_days(day0, 25 + i % 200)
            out.append(
                {
                    "event_id": f"b-{tag}-{i}",
                    "type": "request.received",
                    "request_id": rid,
                    "department": department,
                    "channel": "online",
                    "received_on": received.isoformat(),
                    "applicant_type": "natural_person",
                    "subject": "压测",
                }
            )
            if shape == "one":
                continue
            out.append(
                {
                    "event_id": f"b-{tag}-{i}-r",
                    "type": "request.replied",
                    "request_id": rid,
                    "on": cal.add_working_days(received, 5 + i % 15).isoformat(),
                    "outcome": "granted",
                }
            )
            continue
        did = f"BD-{tag}-{i}"
        signed = cal.subtract_working_days(day0, 40 + i % 200)
        published = cal.add_working_days(signed, 3 + i % 15)
        out += [
            {
                "event_id": f"b-{tag}-{i}-s",
                "type": "document.signed",
                "document_id": did,
                "department": department,
                "title": f"压测政策文件{i}",
                "kind": "policy",
                "signed_on": signed.isoformat(),
                "disclosure": "public",
            },
            {
                "event_id": f"b-{tag}-{i}-p",
                "type": "document.published",
                "document_id": did,
                "published_on": published.isoformat(),
                "url": f"https://www.qinzhou.gov.cn/zc/{did}",
                "channel": "website",
            },
            {
                "event_id": f"b-{tag}-{i}-i",
                "type": "interpretation.published",
                "document_id": did,
                "published_on": cal.add_working_days(published, 1 + i % 3).isoformat(),
                "url": f"https://www.qinzhou.gov.cn/jd/{did}",
                "form": "text",
            },
        ]
    return out


def _server_cpu() -> float:
    """CPU seconds of this process's `temporal` children (the dev server), from /proc."""
    total, me, tick = 0.0, os.getpid(), os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and "temporal" in stat.read_text().split("(", 1)[1].split(")", 1)[0]:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _cpu() -> tuple[float, float, float]:
    """(dev server, this process: the worker, finished children: the CLI) CPU seconds so far."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return _server_cpu(), own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def _per(before: tuple[float, float, float], n: int) -> str:
    now = _cpu()
    server, worker, cli = (1000 * (a - b) / n for a, b in zip(now, before, strict=True))
    return f"CPU per unit: server {server:.1f} ms, worker {worker:.1f} ms, CLI {cli:.1f} ms"


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=1, help="baseline + ingest pairs in this one run")
    ap.add_argument(
        "--baseline", type=int, default=0, help="no-op executions per baseline (default: --items), before and after"
    )
    ap.add_argument(
        "--shape", choices=["ledger", "one"], default="ledger", help="ledger: ~2.5 events per item; one: 1 per item"
    )
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="shixian-bench-")
    os.environ["SHIXIAN_DATA_DIR"] = tmp
    os.environ.pop("DATABASE_URL", None)

    import activities
    import workflows
    from services.ingest import CONCURRENCY
    from worker.main import build_worker

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).with_name("temporal")),
        data_converter=pydantic_data_converter,
        dev_server_extra_args=["--db-filename", f"{tmp}/temporal.db", *EAGER],
    )
    target = env.client.service_client.config.target_host
    # The CLI of this checkout (not whatever the virtualenv has installed).
    child_env = {**os.environ, "TEMPORAL_ADDRESS": target, "SHIXIAN_DATA_DIR": tmp, "PYTHONPATH": str(ROOT)}
    figures = []
    failed = 0
    try:
        with ThreadPoolExecutor(16) as pool:
            # The product's worker (worker.main.build_worker: its workflow runner and thread pool size).
            async with build_worker(
                env.client,
                workflows=[*workflows.WORKFLOWS, NoopWorkflow],
                activities=activities.ACTIVITIES,
                executor=pool,
            ):
                sem = asyncio.Semaphore(CONCURRENCY)

                async def noop() -> None:
                    async with sem:
                        await env.client.execute_workflow(
                            NoopWorkflow.run, id=f"noop-{uuid.uuid4()}", task_queue="shixian"
                        )

                for run in range(args.runs):

                    async def baseline(n_base: int = args.baseline or args.items) -> float:
                        t0, cpu0 = time.perf_counter(), _cpu()
                        await asyncio.gather(*(noop() for _ in range(n_base)))
                        rate = n_base / (time.perf_counter() - t0)
                        print(f"  baseline: {rate:.1f}/s, {_per(cpu0, n_base)} (per no-op execution)", flush=True)
                        return rate

                    base = await baseline()

                    path = Path(tmp) / f"events-{run}.jsonl"
                    batch = events(args.items, f"{run}-{uuid.uuid4().hex[:6]}", args.shape)
                    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in batch), encoding="utf-8")
                    t0, cpu0 = time.perf_counter(), _cpu()
                    proc = await asyncio.create_subprocess_exec(
                        str(Path(sys.executable).with_name("shixian")),
                        "events",
                        "ingest",
                        "--json",
                        str(path),
                        env=child_env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                    )
                    out, err = await proc.communicate()
                    took = time.perf_counter() - t0
                    print(f"  ingest:   {_per(cpu0, len(batch))} (per event)", flush=True)
                    rate = len(batch) / took
                    if args.baseline:  # a long ingest: the baseline again after it, the two averaged
                        base = (base + await baseline()) / 2
                    statuses = [json.loads(line)["status"] for line in out.decode().splitlines()]
                    # "duplicate": a send whose answer was lost took effect and the resend found it (every id is new)
                    bad = len(batch) - statuses.count("applied") - statuses.count("duplicate")
                    if bad or proc.returncode:
                        failed += 1
                        print(err.decode()[-2000:], file=sys.stderr)
                    figures.append((base, rate, len(batch), took))
                    print(
                        f"run {run + 1}: baseline {base:6.1f} executions/s  ingest {len(batch)} events of"
                        f" {args.items} items in {took:.1f} s = {rate:6.1f} events/s  ratio {rate / base:.2f}x"
                        f"  (not applied: {bad}; applied by a send whose answer was lost: {statuses.count('duplicate')})",
                        flush=True,
                    )
    finally:
        await env.shutdown()
    best = max(figures, key=lambda f: f[1] / f[0])
    ratios = [f[1] / f[0] for f in figures]
    print(f"items per run: {args.items} ({best[2]} events, shape {args.shape}), concurrency {CONCURRENCY}")
    print(f"workflow runner: {type(workflows.workflow_runner()).__name__} (SHIXIAN_WORKFLOW_SANDBOX)")
    print(f"baseline (no-op workflow executions): {best[0]:7.1f} /s")
    print(f"shixian events ingest (whole process): {best[1]:7.1f} events/s")
    print(f"ratio: {best[1] / best[0]:.2f}x (best); spread {min(ratios):.2f}-{max(ratios):.2f}x")
    print(f"500,000 events at this rate: ~{500_000 / best[1] / 3600:.2f} h (extrapolated from {best[2]} events)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
