"""Reminders on time in a burst.

`--items N` (issue 22 §2, the 09:00 ladder): N open documents in `--departments` departments (300) whose
day-rule reminders (t_minus_3, t_minus_1, due_today) fall due at the same instant, sent by the daily sweep
(reminders.toml `sweep = true`, the real Temporal Schedule `shixian-ladder-sweep` on the embedded dev server,
the product's worker) as one consolidated message per person, delivered for real to a webhook receiver on
127.0.0.1. The ladder's fire time is set to a whole minute just after the import ends (the benchmark cannot
wait for 09:00; the instant plays 09:00); the day must be a working day. Prints messages sent, items covered,
duplicates, early messages, p50/p99/max lateness after the instant and the dev server's error lines.
Goal: every (item step, person) delivered exactly once, the last message within 60 s of the instant.

    .venv/bin/python benchmarks/bench_burst.py --items 10000 [--departments 300]

`--cases N` (default mode): N public-opinion cases whose 1-hour warnings fall due at the same instant.

Each case is a major 政务舆情 detected at T − 4 h (rule opinion_response_info: 5 hours), so its `t_minus_1h`
step fires at T for the department's liaison and head: 2 × N notices, delivered for real through Apprise to a
webhook receiver on 127.0.0.1, on the embedded dev server with the product's own worker.

Baseline measured in the same run: the same number of notices sent straight through Apprise to the same
receiver (16 at a time, no Temporal, no store) — what the channel alone costs.

Prints received count, duplicates, and delivery lateness after T (p50 / p99 / max).
Goal on a 2-core machine: 600 notices, each exactly once, the last within 60 s of T.

    .venv/bin/python benchmarks/bench_burst.py [--cases 300]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Receiver:
    """Webhook receiver: (arrival time, path, title) of every POST (and the message text, in `texts`)."""

    def __init__(self) -> None:
        self.posts: list[tuple[float, str, str]] = []
        self.texts: list[str] = []
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    data = json.loads(body.decode("utf-8"))
                    title, text = data.get("title", ""), data.get("message", "")
                except ValueError:
                    title = text = ""
                with lock:
                    owner.posts.append((time.time(), self.path, title))
                    owner.texts.append(text)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count_since(self, t0: float) -> int:
        return sum(1 for p in list(self.posts) if p[0] >= t0)


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=300, help="opinion cases (2 notices each)")
    ap.add_argument("--items", type=int, default=0, help="the 09:00 ladder: open documents (issue 22 §2)")
    ap.add_argument("--departments", type=int, default=300, help="with --items: departments they belong to")
    ap.add_argument(
        "--seed",
        choices=("workflows", "store"),
        default="workflows",
        help="with --items: import through the item workflows (real path, ~5-10 items/s here) or write the items'"
        " snapshots straight to the store (the sweep reads only the store; no item timers exist then)",
    )
    args = ap.parse_args()
    if args.items:
        return await ladder_burst(args.items, args.departments, args.seed)
    n_notices = 2 * args.cases

    tmp = Path(tempfile.mkdtemp(prefix="shixian-burst-"))
    receiver = Receiver()
    cfg = tmp / "config"
    shutil.copytree(ROOT / "config", cfg)
    from tests.receivers import hook_every_person

    deps = (cfg / "departments.toml").read_text(encoding="utf-8")
    (cfg / "departments.toml").write_text(hook_every_person(deps, receiver.port), encoding="utf-8")
    os.environ.update(SHIXIAN_DATA_DIR=str(tmp / "data"), SHIXIAN_CONFIG_DIR=str(cfg))
    os.environ.pop("DATABASE_URL", None)

    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from activities.notify import send_via
    from app import composition
    from domain.engine import engine
    from services.ingest import Ingestor
    from worker.main import build_worker

    directory = engine().directory
    departments = [
        d for d in directory.departments if directory.people_for(d, "liaison") and directory.people_for(d, "head")
    ]

    # ---- baseline: the channel alone
    urls = [p.notify[0] for p in directory.people.values() if p.notify]
    sem = asyncio.Semaphore(16)

    async def direct(i: int) -> None:
        async with sem:
            ok, err = await send_via(urls[i % len(urls)], f"基线 {i}", "基线消息")
            if not ok:
                raise RuntimeError(err)

    t0 = time.time()
    await asyncio.gather(*(direct(i) for i in range(n_notices)))
    baseline = time.time() - t0
    receiver.posts.clear()

    # ---- the burst through the product
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).with_name("temporal")),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
        dev_server_extra_args=["--db-filename", str(tmp / "temporal.db")],
    )
    try:
        with ThreadPoolExecutor(16) as pool:
            async with build_worker(
                env.client,
                executor=pool,
                workflows=composition.worker_workflows(),
                activities=composition.worker_activities(env.client),
            ):
                # Calibrate: the import rate on this machine now (general cases: their warnings fall 47 h
                # later, outside the measurement), so the burst instant is set after the import ends.
                warm = [
                    {
                        "event_id": f"warm-{i}",
                        "type": "opinion.detected",
                        "case_id": f"WARM-{i:03d}",
                        "department": departments[i % len(departments)],
                        "detected_at": dt.datetime.now(dt.UTC).isoformat(),
                        "severity": "general",
                    }
                    for i in range(20)
                ]
                t_warm = time.time()
                await Ingestor(env.client, internal=True).ingest(list(enumerate(warm, start=1)))
                rate = len(warm) / (time.time() - t_warm)
                lead = 20 + 2 * args.cases / rate  # seconds for the import to finish before the instant
                fire = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=lead)
                from domain.shanghai import SHANGHAI_OFFSET

                detected = (fire - dt.timedelta(hours=4)).astimezone(SHANGHAI_OFFSET)
                events = [
                    {
                        "event_id": f"burst-{i}",
                        "type": "opinion.detected",
                        "case_id": f"BURST-{i:05d}",
                        "department": departments[i % len(departments)],
                        "detected_at": detected.isoformat(),
                        "severity": "major",
                    }
                    for i in range(args.cases)
                ]
                t_import = time.time()
                results = await Ingestor(env.client, internal=True).ingest(list(enumerate(events, start=1)))
                import_s = time.time() - t_import
                bad = [r for r in results if r.status != "applied"]
                if bad:
                    print(f"import refused {len(bad)} events, e.g. {bad[0].text()}")
                    return 1
                if time.time() >= fire.timestamp():
                    print(f"import took {import_s:.0f} s and ran past the instant; raise the lead time")
                    return 1
                deadline = fire.timestamp() + max(180, n_notices / 5)  # a 10,000-notice ladder takes minutes
                while time.time() < deadline and receiver.count_since(0) < n_notices:
                    await asyncio.sleep(0.5)
                await asyncio.sleep(3)  # late duplicates, if any
    finally:
        await env.shutdown()

    posts = [p for p in receiver.posts if "1小时" in p[2] or "1 小时" in p[2] or p[1].startswith("/hook/")]
    lateness = [max(0.0, p[0] - fire.timestamp()) for p in posts]
    dupes = sum(c - 1 for c in Counter((p[1], p[2]) for p in posts).values() if c > 1)
    print(f"cases: {args.cases}  notices expected: {n_notices}  import: {import_s:.1f} s")
    print(f"baseline (Apprise straight to the receiver, 16 at a time): {n_notices} in {baseline:.1f} s")
    print(f"received: {len(posts)}  duplicates: {dupes}  missing: {max(0, n_notices - len(posts) + dupes)}")
    if lateness:
        p50, p99, worst = percentile(lateness, 0.5), percentile(lateness, 0.99), max(lateness)
        print(
            f"lateness after the due instant: p50 {p50:.1f} s  p99 {p99:.1f} s  max {worst:.1f} s"
            f"  (max / baseline: {worst / baseline:.1f}x)"
        )
        print(
            "goal: all delivered once, last within 60 s:",
            "met" if len(posts) == n_notices and not dupes and worst <= 60 else "NOT met",
        )
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if len(posts) == n_notices and not dupes else 1


def bench_departments(n: int, port: int) -> str:
    """[[department]] and [[person]] blocks for `n` departments of node qinzhou: liaison and head each with a
    webhook channel (path /hook/<person id>)."""
    out = []
    for i in range(n):
        d = f"bd-{i:03d}"
        out.append(f'\n[[department]]\nid = "{d}"\nname = "基准部门{i:03d}"\nnode = "qinzhou"\nhead = "bh-{i:03d}"\n')
        for role, pid in (("liaison", f"bl-{i:03d}"), ("head", f"bh-{i:03d}")):
            out.append(
                f'\n[[person]]\nid = "{pid}"\nname = "基准{role}{i:03d}"\ndepartment = "{d}"\nroles = ["{role}"]\n'
                f'notify = ["json://127.0.0.1:{port}/hook/{pid}"]\n'
            )
    return "".join(out)


def seed_store(events: list[dict], length: int, region: str, cal) -> None:
    """The open items as their workflows would have saved them (item and its publication clock), in one
    transaction per 500 (`--seed store`)."""
    from domain.model import ClockSnapshot, ItemSnapshot
    from store.db import session
    from store.items import save_snapshot

    for i in range(0, len(events), 500):
        with session() as s:
            for ev in events[i : i + 500]:
                signed = dt.date.fromisoformat(ev["signed_on"])
                due = cal.add_working_days(signed, length, region)
                snap = ItemSnapshot(
                    id=ev["document_id"],
                    type="document",
                    department=ev["department"],
                    title=ev["title"],
                    version=1,
                    data={"kind": ev["kind"], "disclosure": ev["disclosure"]},
                    clocks=[
                        ClockSnapshot(
                            rule="policy_publication", start=ev["signed_on"], due=due.isoformat(), region=region
                        )
                    ],
                )
                save_snapshot(s, snap, commit=False)
            s.commit()


async def ladder_burst(n_items: int, n_departments: int, seed: str = "workflows") -> int:
    import re

    tmp = Path(tempfile.mkdtemp(prefix="shixian-ladder-"))
    receiver = Receiver()
    cfg = tmp / "config"
    shutil.copytree(ROOT / "config", cfg)
    deps = cfg / "departments.toml"
    deps.write_text(deps.read_text(encoding="utf-8") + bench_departments(n_departments, receiver.port), "utf-8")
    reminders = cfg / "reminders.toml"
    ladder_text = reminders.read_text(encoding="utf-8")  # sweep = true: the default
    os.environ.update(SHIXIAN_DATA_DIR=str(tmp / "data"), SHIXIAN_CONFIG_DIR=str(cfg))
    os.environ.pop("DATABASE_URL", None)

    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter

    from activities.notify import send_via
    from app import composition
    from domain.engine import engine
    from domain.shanghai import SHANGHAI
    from services.ingest import Ingestor
    from store.db import session
    from store.items import get_item
    from worker.main import build_worker
    from worker.server import DevServer, port_is_free
    from worker.sweep import ensure_sweep_schedule

    cal = engine().calendar
    today = dt.datetime.now(SHANGHAI).date()
    if not cal.is_workday(today, "national"):
        print(f"{today} is not a working day: the ladder fires on working days only; run it on one")
        return 2
    people = [f"bl-{i:03d}" for i in range(n_departments)] + [f"bh-{i:03d}" for i in range(n_departments)]
    directory = engine().directory
    urls = [directory.person(p).notify[0] for p in people]

    # ---- baseline: the channel alone, one message per person, 16 at a time
    sem = asyncio.Semaphore(16)

    async def direct(i: int) -> None:
        async with sem:
            ok, err = await send_via(urls[i], f"基线 {i}", "基线消息")
            if not ok:
                raise RuntimeError(err)

    t0 = time.time()
    await asyncio.gather(*(direct(i) for i in range(len(urls))))
    baseline = time.time() - t0
    receiver.posts.clear()
    receiver.texts.clear()

    port = next(p for p in range(17233, 17333) if port_is_free("127.0.0.1", p))
    server = DevServer(tmp / "data", port=port, ui=False, log_level="warn")
    await server.start()
    log_start = server.log_file.stat().st_size
    client = await Client.connect(server.address, data_converter=pydantic_data_converter)
    try:
        with ThreadPoolExecutor(16) as pool:
            async with build_worker(
                client,
                executor=pool,
                workflows=composition.worker_workflows(),
                activities=composition.worker_activities(client),
            ):
                ingestor = Ingestor(client, internal=True)

                def signed(i: int, dept: str, on: dt.date) -> dict:
                    return {
                        "event_id": f"bi-{i}",
                        "type": "document.signed",
                        "document_id": f"BI-{i:05d}",
                        "department": dept,
                        "title": f"基准文件BI-{i:05d}",
                        "kind": "normative",
                        "signed_on": on.isoformat(),
                        "disclosure": "public",
                    }

                # Calibrate: one document signed today (its due date's distance in working days) and the import
                # rate now, so that the instant is set after the import ends.
                warm = [signed(100000 + i, "qz-fgw", today) for i in range(20)]
                t_warm = time.time()
                await ingestor.ingest(list(enumerate(warm, start=1)))
                rate = len(warm) / (time.time() - t_warm)
                with session() as s:
                    snap = get_item(s, "BI-100000")
                assert snap is not None
                region = snap.clocks[0].region
                length = cal.working_days_between(today, dt.date.fromisoformat(snap.clocks[0].due), region)
                targets = [  # due today: due_today (liaison, head); +1 wd: t_minus_1; +3 wd: t_minus_3 (liaison)
                    (today, ("bl", "bh")),
                    (cal.add_working_days(today, 1, region), ("bl",)),
                    (cal.add_working_days(today, 3, region), ("bl",)),
                ]
                events, expected = [], set()
                for i in range(n_items):
                    d = i % n_departments
                    due, roles = targets[(i // n_departments) % 3]  # every department gets all three
                    on = cal.subtract_working_days(due, length, region)
                    events.append(signed(i, f"bd-{d:03d}", on))
                    expected |= {(f"BI-{i:05d}", f"/hook/{r}-{d:03d}") for r in roles}
                lead = 30 + (1.3 * n_items / rate if seed == "workflows" else 10)  # the warm-up rate is optimistic
                fire = (dt.datetime.now(SHANGHAI) + dt.timedelta(seconds=lead + 60)).replace(second=0, microsecond=0)
                if fire.date() != today:
                    print("the instant would fall on the next day: run the benchmark earlier in the day")
                    return 2
                reminders.write_text(
                    re.sub(r'^fire_at = "09:00"', f'fire_at = "{fire:%H:%M}"', ladder_text, count=1, flags=re.M),
                    encoding="utf-8",
                )
                assert engine().ladders.default.fire_at == fire.time() and engine().ladders.sweep
                print(f"import {n_items} items (~{n_items / rate:.0f} s at {rate:.1f}/s); instant {fire:%H:%M:%S}")
                t_import = time.time()
                if seed == "store":
                    results = []
                    await asyncio.to_thread(seed_store, events, length, region, cal)
                else:
                    results = await ingestor.ingest(list(enumerate(events, start=1)))
                import_s = time.time() - t_import
                bad = [r for r in results if r.status not in ("applied", "duplicate")]  # duplicate: a retried send
                if bad:
                    print(f"import refused {len(bad)} events, e.g. {bad[0].text()}")
                    return 1
                if time.time() + 20 >= fire.timestamp():
                    # The import ran past the instant: move it (the sweep plans from the store at its instant;
                    # the items skipped the earlier one, as the receiver's count of early messages shows).
                    fire = (dt.datetime.now(SHANGHAI) + dt.timedelta(seconds=80)).replace(second=0, microsecond=0)
                    if fire.date() != today:
                        print("the instant would fall on the next day: run the benchmark earlier in the day")
                        return 2
                    reminders.write_text(
                        re.sub(r'^fire_at = "09:00"', f'fire_at = "{fire:%H:%M}"', ladder_text, count=1, flags=re.M),
                        encoding="utf-8",
                    )
                    print(f"import took {import_s:.0f} s, past the instant: moved to {fire:%H:%M:%S}")
                await ensure_sweep_schedule(client)
                print(f"imported in {import_s:.0f} s; waiting for the sweep at {fire:%H:%M:%S}")
                deadline = fire.timestamp() + 600
                people_due = {path for _, path in expected}
                while time.time() < deadline and {p[1] for p in receiver.posts} < people_due:
                    await asyncio.sleep(0.5)
                await asyncio.sleep(10)  # late duplicates (item timers, a second sweep), if any
                summary = None
                async for wf in client.list_workflows("WorkflowType = 'ladder_sweep'"):
                    summary = wf
                print(f"sweep run: {summary.id if summary else 'none'} {summary.status if summary else ''}")
    finally:
        server.stop()

    errors = [
        line
        for line in server.log_file.read_bytes()[log_start:].decode("utf-8", "replace").splitlines()
        if '"level":"error"' in line or "level=error" in line or " ERROR " in line
    ]
    seen: Counter[tuple[str, str]] = Counter()
    for (_, path, _), text in zip(receiver.posts, receiver.texts, strict=True):
        for item in set(re.findall(r"BI-\d{5}", text)):
            seen[(item, path)] += 1
    covered = set(seen) & expected
    dupes = sum(c - 1 for c in seen.values() if c > 1)
    stray = set(seen) - expected
    lateness = [p[0] - fire.timestamp() for p in receiver.posts]
    early = sum(1 for x in lateness if x < 0)
    print(f"items: {n_items} in {n_departments} departments; (item step, person) expected: {len(expected)}")
    print(f"baseline (Apprise straight to the receiver, {len(urls)} messages, 16 at a time): {baseline:.1f} s")
    print(
        f"messages sent: {len(receiver.posts)}  items covered: {len(covered)} of {len(expected)}"
        f"  duplicates: {dupes}  unexpected: {len(stray)}  early: {early}"
    )
    if lateness:
        p50, p99, worst = percentile(lateness, 0.5), percentile(lateness, 0.99), max(lateness)
        print(f"lateness after the instant: p50 {p50:.1f} s  p99 {p99:.1f} s  max {worst:.1f} s")
    print(f"dev server error lines: {len(errors)}" + (f", e.g. {errors[0][:200]}" if errors else ""))
    ok = covered == expected and not dupes and not stray and not early and lateness and max(lateness) <= 60
    print("goal: every item step once per person, the last within 60 s:", "met" if ok else "NOT met")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    code = asyncio.run(main())
    sys.stdout.flush()
    os._exit(code)  # sdk-python#300: skip the interpreter-exit crash
