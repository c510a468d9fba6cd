"""A real stack for workflow tests: Temporal (time-skipping or dev server), the worker with every
workflow and activity, a temporary SQLite store, a config copy whose channels point at a real
webhook receiver on 127.0.0.1, and the production ingest path."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker, WorkflowRunner

from activities.notify import NotificationRequest, NotificationResult
from app import composition
from domain import shanghai
from domain.config import config_dir
from domain.engine import engine
from domain.ladder import sweep_instant, sweep_time
from domain.shanghai import SHANGHAI
from services.ingest import Ingestor
from store.items import get_item
from tests.receivers import WebhookReceiver, hook_every_person
from worker.client import task_queue_name
from worker.supervisor import UpContext
from workflows import workflow_runner
from workflows.sweep import SweepSummary

# The session's configuration: the repository's, or a pinned run's copy (tests/pins.py).
REPO_CONFIG = config_dir()


def config_copy(dst: Path, receiver: WebhookReceiver) -> Path:
    shutil.copytree(REPO_CONFIG, dst)
    deps = dst / "departments.toml"
    text = deps.read_text(encoding="utf-8")
    # Every person's channel goes to the receiver, path = /hook/<person>.
    text = hook_every_person(text, receiver.port)
    deps.write_text(text, encoding="utf-8")
    return dst


def store_env(tmp_path: Path, receiver: WebhookReceiver, monkeypatch) -> Path:
    """A test's own config copy (every channel to `receiver`) and data directory, in this process's environment,
    on SQLite (no DATABASE_URL); returns the config copy."""
    cfg = config_copy(tmp_path / "config", receiver)
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(cfg))
    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(data))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return cfg


@asynccontextmanager
async def up_task(
    fn: Callable[[UpContext], Awaitable[None]], client: Client, data_dir: Path
) -> AsyncIterator[UpContext]:
    """One of `shixian up`'s tasks (worker/supervisor.py) run as the supervisor runs it (no demo, no web):
    yields its context once it has announced itself; on exit, stops it and waits for its end."""
    stop, announced = asyncio.Event(), asyncio.Event()
    ctx = UpContext(
        client,
        stop,
        demo=False,
        http=False,
        data_dir=data_dir,
        temporal_address="",
        temporal_ui=None,
        _announced=announced,
    )
    task = asyncio.create_task(fn(ctx))
    try:
        await asyncio.wait_for(announced.wait(), 30)
        yield ctx
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


class Stack:
    def __init__(self, env, receiver: WebhookReceiver, config: Path, tag: str):
        self.env, self.client, self.receiver, self.config, self.tag = env, env.client, receiver, config, tag
        self.ingestor = Ingestor(self.client)
        self._n = 0
        self._sweeps = 0
        self.started: set[str] = set()  # workflow ids this test created, terminated at teardown

    def id(self, name: str) -> str:
        return f"{name}-{self.tag}"

    async def now(self) -> dt.datetime:
        return (await self.env.get_current_time()).astimezone(SHANGHAI)

    async def today(self) -> dt.date:
        return (await self.now()).date()

    async def sync_clock(self) -> None:
        """This process's clock agrees with the server's (as NTP keeps a real host's): what the ingest path
        and the read side call today is the server's today, also after the test skipped time."""
        server = await self.env.get_current_time()
        shanghai.set_offset(server - dt.datetime.now(dt.UTC))

    def ladder_sweep(self, on: bool) -> None:
        """reminders.toml `sweep` in this stack's config copy (on by default; off: one timer per item)."""
        reminders = self.config / "reminders.toml"
        text = reminders.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^sweep = (true|false)$", f"sweep = {'true' if on else 'false'}", text)
        reminders.write_text(text, encoding="utf-8")
        assert engine().ladders.sweep is on

    async def sweep(self, instant: dt.datetime) -> SweepSummary:
        """The daily ladder sweep at `instant` as its Schedule runs it (worker/sweep.py; the time-skipping
        server runs no Schedules): the server is advanced to the instant and `LadderSweepWorkflow` started
        with the Schedule's input, `SweepInput()`, so that the run takes its instant from its clock. An
        instant already past runs as a caught-up Schedule run does, for its own instant (which a Schedule's
        run reads from TemporalScheduledStartTime, a search attribute this server does not define)."""
        from workflows.sweep import SWEEP_SCHEDULE_ID, LadderSweepWorkflow, SweepInput

        now = await self.now()
        if instant > now:
            await self.env.sleep(instant - now)
            now = await self.now()
        late = now - instant >= dt.timedelta(minutes=1)
        self._sweeps += 1
        # Time is skipped only while the run waits on a timer (a notice retried in rounds), a minute at a time:
        # skipped while its activities run, it would let the items' timers run on for months.
        with self.env.auto_time_skipping_disabled():
            handle = await self.client.start_workflow(
                LadderSweepWorkflow.run,
                SweepInput(instant=instant.isoformat()) if late else SweepInput(),
                id=f"{SWEEP_SCHEDULE_ID}-{instant.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}-{self.tag}-{self._sweeps}",
                task_queue=task_queue_name(),
                result_type=SweepSummary,
            )
            while True:
                raw = (await handle.describe()).raw_description
                if raw.workflow_execution_info.HasField("close_time"):
                    return await handle.result()
                if raw.pending_activities or raw.HasField("pending_workflow_task") or raw.pending_children:
                    await asyncio.sleep(0.02)
                else:
                    await asyncio.sleep(0.1)  # (a task may be about to be scheduled)
                    raw = (await handle.describe()).raw_description
                    idle = not (raw.pending_activities or raw.HasField("pending_workflow_task") or raw.pending_children)
                    if idle and not raw.workflow_execution_info.HasField("close_time"):
                        await self.env.sleep(dt.timedelta(minutes=1))

    async def sleep(self, delta: dt.timedelta) -> list[SweepSummary]:
        """`env.sleep(delta)`, running the daily sweep at each sweep time on the way as its Schedule would
        (every day at the default ladder's fire time; none when reminders.toml turns the sweep off)."""
        now = await self.now()
        end = now + delta
        out = []
        at = sweep_time(engine().ladders)
        if at is not None:
            instant = sweep_instant(now, at) + dt.timedelta(days=1)
            while instant <= end:
                out.append(await self.sweep(instant))
                instant += dt.timedelta(days=1)
        rest = end - await self.now()
        if rest > dt.timedelta(0):
            await self.env.sleep(rest)
        return out

    async def sleep_until(self, moment: dt.datetime) -> list[SweepSummary]:
        """`sleep` to `moment` (the daily sweeps on the way included)."""
        return await self.sleep(moment - await self.now())

    async def ingest(self, *events: dict):
        await self.sync_clock()
        objs = []
        for ev in events:
            self._n += 1
            objs.append((self._n, {"event_id": f"{self.tag}-{self._n}", **ev}))
        return self._track(await self.ingestor.ingest(objs))

    def _track(self, results):
        from domain.events import ITEM_TYPE

        for r in results:
            if r.item_id and r.type:
                self.started.add(f"{ITEM_TYPE[r.type.split('.')[0]]}:{r.item_id}")
        return results

    async def wait_for(self, get, ok, timeout: float = 15.0):
        """Poll `get()` in real time until `ok(value)`: activities run in real time, not skipped time."""
        import asyncio
        import time

        deadline = time.monotonic() + timeout
        while True:
            value = get()
            if ok(value) or time.monotonic() > deadline:
                assert ok(value), f"timed out waiting, last value: {value!r}"
                return value
            await asyncio.sleep(0.05)

    async def settle(self, wid: str, timeout: float = 10.0) -> None:
        """Wait until the workflow has no pending activity or workflow task (real time)."""
        import asyncio
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                raw = (await self.client.get_workflow_handle(wid).describe()).raw_description
            except Exception:
                return
            if not raw.pending_activities and not raw.HasField("pending_workflow_task"):
                return
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        # Terminating a workflow mid-tick can leave the time-skipping server's clock locked.
        for wid in self.started:
            await self.settle(wid)
        for wid in self.started:
            try:
                await self.client.get_workflow_handle(wid).terminate("test finished")
            except Exception:  # already completed
                pass

    async def ok(self, *events: dict):
        results = await self.ingest(*events)
        bad = [r for r in results if r.status != "applied"]
        assert not bad, [r.text() for r in bad]
        return results

    def item(self, item_id: str):
        from store.db import session

        with session() as s:
            return get_item(s, item_id)

    def clock(self, item_id: str, rule: str):
        snap = self.item(item_id)
        return next(c for c in snap.clocks if c.rule == rule)

    async def query(self, item_type: str, item_id: str):
        from workflows.items import ItemWorkflow

        return await self.client.get_workflow_handle(f"{item_type}:{item_id}").query(ItemWorkflow.snapshot)

    async def result(self, item_type: str, item_id: str):
        from domain.model import ItemSnapshot

        return await self.client.get_workflow_handle(f"{item_type}:{item_id}", result_type=ItemSnapshot).result()

    def posts_for(self, item_id: str) -> list:
        return [p for p in self.receiver.posts if p.json and item_id in (p.json.get("message") or "")]


@asynccontextmanager
async def app_worker(
    client: Client,
    task_queue: str | None = None,
    *,
    mocks: Sequence[Callable] = (),
    max_workers: int = 8,
    runner: WorkflowRunner | None = None,
) -> AsyncIterator[Worker]:
    """The production worker (app.composition's workflows and activities, production's workflow runner
    unless `runner` says otherwise, e.g. the strict sandbox of tests/test_sandbox.py) for tests.

    `mocks` replace the real activity of the same name (samples-python style): a test about workflow
    behaviour registers e.g. `NotificationRecorder().activity` instead of the real Apprise delivery.
    Activity names equal the function names in app.composition, so the replacement is by name."""
    real = composition.worker_activities(client)
    names = {m.__name__ for m in mocks}
    unknown = names - {a.__name__ for a in real}
    assert not unknown, f"no such activity to mock: {unknown}"
    acts = [a for a in real if a.__name__ not in names] + list(mocks)
    with ThreadPoolExecutor(max_workers) as pool:
        # Graceful shutdown lets in-flight activities finish: an abandoned one would hold the
        # time-skipping server's clock until its timeout.
        async with Worker(
            client,
            task_queue=task_queue or task_queue_name(),
            workflows=composition.worker_workflows(),
            activities=acts,
            activity_executor=pool,
            workflow_runner=runner or workflow_runner(),
            graceful_shutdown_timeout=dt.timedelta(seconds=10),
        ) as w:
            yield w


class NotificationRecorder:
    """A stand-in `send_notification` activity that records each request and reports it sent on the
    first channel, for workflow tests where delivery itself is not under test."""

    def __init__(self) -> None:
        self.requests: list[NotificationRequest] = []

        @activity.defn(name="send_notification")
        async def send_notification(req: NotificationRequest) -> NotificationResult:
            self.requests.append(req)
            return NotificationResult(
                key=req.key, status="sent", person_id=req.person_id, channel_index=req.channel_index, channel_count=1
            )

        self.activity = send_notification

    def people(self) -> list[str]:
        return sorted(r.person_id for r in self.requests)


@asynccontextmanager
async def stack(env, tmp_path: Path, monkeypatch, mocks: Sequence[Callable] = (), runner: WorkflowRunner | None = None):
    """The shared stack; `mocks` replace real activities by name, `runner` the workflow runner (see app_worker)."""
    with WebhookReceiver() as receiver:
        cfg = store_env(tmp_path, receiver, monkeypatch)
        monkeypatch.setenv("SHIXIAN_PUBLIC_URL", "http://127.0.0.1:8000")
        async with app_worker(env.client, mocks=mocks, runner=runner):
            st = Stack(env, receiver, cfg, uuid.uuid4().hex[:6])
            previous = shanghai.set_offset(dt.timedelta(0))  # restored at the end: the pinned day, if any
            await st.sync_clock()
            try:
                yield st
            finally:
                await st.close()
                shanghai.set_offset(previous)
