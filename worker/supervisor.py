"""`shixian up`: database, embedded Temporal dev server, worker and extra tasks (web) in one process.

What runs is given by the caller as a `Wiring` (the composition root, app/composition.py, builds it):
the workflows, the activities (built once the client is connected) and the extra tasks beside the worker::

    async def serve_web(ctx: UpContext) -> None:
        ...start the server...
        ctx.announce("网页 / Web", "http://127.0.0.1:8000")   # shown in the ready line
        await ctx.stop_event.wait()
        ...shut the server down...

    Task(serve_web, "web", needs_http=True)

A task that needs_http is skipped with --no-http. A task announces itself (or returns) before the
ready line is printed (at most `READY_WAIT` seconds). If any task or the worker fails, everything
stops and `up` exits non-zero.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client

from domain.settings import get_settings

log = logging.getLogger("shixian.up")

READY_WAIT = 60.0


@dataclass
class UpContext:
    client: Client
    stop_event: asyncio.Event
    demo: bool | str  # False, "city" or "province" (services/demo.py)
    http: bool
    data_dir: Path
    temporal_address: str
    temporal_ui: str | None
    addresses: list[tuple[str, str]] = field(default_factory=list)
    _announced: asyncio.Event | None = None

    def announce(self, label: str, address: str) -> None:
        """Add an address to the ready line and mark the calling task as ready."""
        self.addresses.append((label, address))
        if self._announced is not None:
            self._announced.set()


TaskFn = Callable[[UpContext], Awaitable[None]]


@dataclass(frozen=True)
class Task:
    """A coroutine run beside the worker in `shixian up`."""

    fn: TaskFn
    name: str
    needs_http: bool = False


@dataclass(frozen=True)
class Wiring:
    """Everything `up` runs, listed explicitly by the composition root (no registration on import)."""

    workflows: Sequence[type]
    activities: Callable[[Client], Sequence[Callable]]  # built with the connected client
    tasks: Sequence[Task] = ()


def _say(msg: str) -> None:
    print(msg, flush=True)


async def _run(demo: bool | str, http: bool, wiring: Wiring) -> int:
    from domain.config_check import check_config

    problems = check_config()
    if problems:  # refuse to start on a configuration that would fail later, one item at a time
        for p in problems:
            _say(f"配置错误 / config error: {p}")
        return 2
    from store.db import data_dir, database_url, init_db
    from worker.client import connect, task_queue_name, temporal_address
    from worker.main import run_worker
    from worker.server import DevServer, DevServerError

    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop_event.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-main thread / Windows
            pass

    from worker.guard import DataDirLock, FaultError, LockedError, watch_database, watch_process, watch_temporal

    data = data_dir()
    (data / "logs").mkdir(parents=True, exist_ok=True)
    try:
        lock = DataDirLock(data).acquire()
    except LockedError as exc:
        _say(f"错误 / error: {exc}")
        return 3
    server: DevServer | None = None
    tasks: list[asyncio.Task] = []
    code = 0
    try:
        init_db()
        settings = get_settings()
        if settings.temporal_address:
            address, ui_url = temporal_address(), None
        else:
            server = DevServer(
                data, port=settings.temporal_port, ui=settings.temporal_ui, ui_port=settings.temporal_ui_port
            )
            _say(f"正在启动 Temporal 开发服务器 / starting Temporal dev server on {server.address} ...")
            try:
                await server.start(timeout=settings.temporal_timeout)
            except DevServerError as exc:
                _say(f"错误 / error: {exc}")
                return 1
            address, ui_url = server.address, server.ui_url

        from worker.metrics import start_metrics_server

        client = await connect(address)
        ctx = UpContext(client, stop_event, demo, http, data, address, ui_url)
        metrics_url = start_metrics_server()
        if metrics_url:
            ctx.addresses.append(("指标 / metrics", metrics_url))

        worker_task = asyncio.create_task(
            run_worker(client, stop_event, workflows=wiring.workflows, activities=wiring.activities(client)),
            name="worker",
        )
        tasks.append(worker_task)
        # Dependencies that can vanish under us: without these the worker retries forever (a zombie).
        if server is not None and server.proc is not None:
            tasks.append(
                asyncio.create_task(watch_process(server.proc, server.log_file, stop_event), name="temporal-watch")
            )
        else:
            tasks.append(asyncio.create_task(watch_temporal(client, stop_event), name="temporal-watch"))
        tasks.append(asyncio.create_task(watch_database(stop_event), name="database-watch"))
        announced: list[asyncio.Event] = []
        for spec in wiring.tasks:
            if spec.needs_http and not http:
                continue
            ev = asyncio.Event()
            announced.append(ev)
            task_ctx = dataclasses.replace(ctx, _announced=ev)  # shares addresses and stop_event
            task = asyncio.create_task(_announce_on_return(spec.fn, task_ctx, ev), name=spec.name)
            tasks.append(task)

        # Ready when every task announced itself (or a task/worker failed, or a stop came).
        waiters = [asyncio.create_task(ev.wait()) for ev in announced]
        stop_waiter = asyncio.create_task(stop_event.wait())
        try:
            pending = set(waiters)
            deadline = loop.time() + READY_WAIT
            while pending and not stop_event.is_set():
                done, _ = await asyncio.wait(
                    pending | set(tasks) | {stop_waiter},
                    timeout=max(0.0, deadline - loop.time()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                pending -= done
                failed = [t for t in tasks if t.done() and (t.cancelled() or t.exception())]
                if failed or not done:
                    break
        finally:
            for w in waiters + [stop_waiter]:
                w.cancel()

        if not stop_event.is_set() and not any(t.done() and (t.cancelled() or t.exception()) for t in tasks):
            parts = [f"Temporal {address}"]
            if ui_url:
                parts.append(f"Temporal UI {ui_url}")
            parts += [f"{label} {addr}" for label, addr in ctx.addresses]
            parts.append(f"任务队列/task queue {task_queue_name()}")
            parts.append(f"数据/data {data}")
            db = database_url()
            parts.append(f"数据库/database {db.split('@')[-1] if '@' in db else db}")
            _say("时限已就绪 / Shixian ready — " + " · ".join(parts))
            _say("按 Ctrl-C 停止 / press Ctrl-C to stop")

        # Run until a stop is asked for, the worker ends, or a task fails. An extra task that simply
        # finishes (e.g. demo seeding with nothing to do) does not stop the others.
        stop_waiter = asyncio.create_task(stop_event.wait())
        watching = set(tasks)
        while True:
            done, _ = await asyncio.wait(watching | {stop_waiter}, return_when=asyncio.FIRST_COMPLETED)
            if stop_waiter in done or worker_task in done:
                break
            if any(t.cancelled() or t.exception() is not None for t in done):
                break
            watching -= done
        stop_waiter.cancel()
        for t in tasks:
            if t.done() and not t.cancelled() and t.exception() is not None:
                failure = t.exception()
                if isinstance(failure, FaultError):
                    _say(f"错误 / error: {failure}")
                else:
                    _say(f"错误 / error: {t.get_name()} failed: {type(failure).__name__}: {failure}")
                code = 1
        if not stop_event.is_set() and code == 0 and worker_task.done():
            code = 1
        _say("正在停止 / stopping ...")
    finally:
        stop_event.set()
        if tasks:
            # tasks end on stop_event; give them a moment, then cancel what is left
            _, still = await asyncio.wait(tasks, timeout=20)
            for t in still:
                t.cancel()
            if still:
                await asyncio.wait(still, timeout=5)
        if server is not None:
            server.stop()
        lock.release()
    _say("已停止 / stopped")
    return code


async def _announce_on_return(fn: TaskFn, ctx: UpContext, ev: asyncio.Event) -> None:
    try:
        await fn(ctx)
    finally:
        ev.set()


def up(wiring: Wiring, demo: bool | str = False, http: bool = True) -> None:
    """Run everything until Ctrl-C / SIGTERM; never returns (ends the process with os._exit)."""
    from worker.logs import setup_logging

    setup_logging()
    try:
        code = asyncio.run(_run(demo, http, wiring))
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:
        print(f"错误 / error: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # temporalio's Rust core may crash in PyGILState_Release at interpreter exit (sdk-python#300):
    # everything is shut down by now, so leave without running interpreter finalisation.
    os._exit(code)
