"""Production processes against an existing Temporal cluster (`TEMPORAL_ADDRESS`) and read model
(`DATABASE_URL`), each replicated and supervised on its own (systemd, compose, Kubernetes):

    shixian worker     every workflow and activity on the task queue (N replicas)
    shixian web        API and pages (M replicas)
    shixian schedules  create or update the Temporal Schedules (once per deployment)

`shixian up` stays the one-machine default (embedded dev server, everything in one process). Each
process exits non-zero when a dependency it needs is gone for good, so the supervisor restarts it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys


def _say(msg: str) -> None:
    print(msg, flush=True)


def _common(need_temporal_address: bool = True) -> int | None:
    from domain.config_check import check_config
    from worker.logs import setup_logging

    setup_logging()
    from domain.settings import get_settings

    if need_temporal_address and not get_settings().temporal_address:
        _say("错误 / error: 未设置 TEMPORAL_ADDRESS（生产部署连接已有的 Temporal 服务；单机试用请用 shixian up）")
        return 2
    if get_settings().applicant_key_secret is None:  # each host would make its own key in its data dir
        _say(
            "警告 / warning: 未设置 SHIXIAN_APPLICANT_KEY_SECRET：各主机须共用同一数据目录，"
            "否则不同主机登记的同一申请人无法关联（撤回后重新申请、同日多件申请）"
        )
    problems = check_config()
    if problems:
        for p in problems:
            _say(f"配置错误 / config error: {p}")
        return 2
    return None


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover
            pass
    return stop


async def _connect():
    from worker.client import connect, temporal_address

    try:
        return await connect()
    except Exception as exc:
        raise SystemExit(_fail(f"无法连接 Temporal（{temporal_address()}）：{exc}")) from None


def _fail(msg: str) -> int:
    _say(f"错误 / error: {msg}")
    return 1


async def _run_until_stop(main: list[asyncio.Task], stop: asyncio.Event) -> int:
    """Run the tasks until stop (0) or until one of them ends or fails (1, with its message)."""
    from worker.guard import FaultError

    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait(set(main) | {waiter}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    for t in main:
        if t in done and not stop.is_set():
            exc = None if t.cancelled() else t.exception()
            _say(
                f"错误 / error: {exc}"
                if isinstance(exc, FaultError)
                else f"错误 / error: {t.get_name()} 意外结束：{type(exc).__name__ if exc else ''} {exc or ''}"
            )
            code = 1
    stop.set()
    _, still = await asyncio.wait(main, timeout=20)
    for t in still:
        t.cancel()
    waiter.cancel()
    return code


async def _worker(watch_calendar: bool) -> int:
    from app.composition import worker_activities, worker_workflows
    from store.db import init_db
    from worker.client import task_queue_name, temporal_address
    from worker.guard import watch_database, watch_temporal
    from worker.main import run_worker
    from worker.metrics import start_metrics_server

    init_db()
    client = await _connect()
    stop = _stop_event()
    worker = run_worker(client, stop, workflows=worker_workflows(), activities=worker_activities(client))
    tasks = [
        asyncio.create_task(worker, name="worker"),
        asyncio.create_task(watch_temporal(client, stop), name="temporal-watch"),
        asyncio.create_task(watch_database(stop), name="database-watch"),
    ]
    if watch_calendar:
        from worker.calendar_watch import watch_calendar as watch

        tasks.append(asyncio.create_task(watch(client, stop), name="calendar-watch"))
        from worker.audit_purge import purge_daily  # one replica: the calendar watcher

        tasks.append(asyncio.create_task(purge_daily(stop), name="audit-purge"))
    metrics = start_metrics_server()
    _say(
        f"时限工作进程已就绪 / Shixian worker ready — Temporal {temporal_address()} · 任务队列/task queue {task_queue_name()}"
        f" · pid {os.getpid()}" + (f" · 指标/metrics {metrics}" if metrics else "")
    )
    code = await _run_until_stop(tasks, stop)
    _say("已停止 / stopped")
    return code


async def _web() -> int:
    from app.web.server import serve_web
    from store.db import data_dir, init_db
    from worker.client import temporal_address
    from worker.metrics import start_metrics_server
    from worker.supervisor import UpContext

    init_db()
    client = await _connect()
    stop = _stop_event()
    ready = asyncio.Event()
    ctx = UpContext(client, stop, False, True, data_dir(), temporal_address(), None, _announced=ready)
    task = asyncio.create_task(serve_web(ctx), name="web")
    w = asyncio.create_task(ready.wait())
    await asyncio.wait({task, w}, return_when=asyncio.FIRST_COMPLETED)
    w.cancel()
    if task.done():
        exc = task.exception()
        return _fail(str(exc))
    metrics = start_metrics_server()
    _say(
        "时限网页已就绪 / Shixian web ready — "
        + " · ".join(f"{a} {b}" for a, b in ctx.addresses)
        + f" · Temporal {temporal_address()}"
        + (f" · 指标/metrics {metrics}" if metrics else "")
    )
    code = await _run_until_stop([task], stop)
    _say("已停止 / stopped")
    return code


async def _schedules() -> int:
    from worker.annual import NOTE as ANNUAL_NOTE
    from worker.annual import annual_schedule
    from worker.client import task_queue_name
    from worker.digests import NOTE as DIGEST_NOTE
    from worker.digests import digest_schedule
    from worker.schedules import upsert_schedule
    from workflows.annual import ANNUAL_SCHEDULE_ID
    from workflows.digests import DIGEST_SCHEDULE_ID

    client = await _connect()
    for sid, sched, note, label in (
        (DIGEST_SCHEDULE_ID, digest_schedule(task_queue_name()), DIGEST_NOTE, "每日汇总"),
        (ANNUAL_SCHEDULE_ID, annual_schedule(task_queue_name()), ANNUAL_NOTE, "年报时限"),
    ):
        result = await upsert_schedule(client, sid, sched, note)
        _say(f"{label} {sid}：{'已创建' if result == 'created' else '已更新'}")
    from worker.sweep import ensure_sweep_schedule
    from workflows.sweep import SWEEP_SCHEDULE_ID

    swept = await ensure_sweep_schedule(client, task_queue=task_queue_name())
    _say(f"每日提醒汇总 {SWEEP_SCHEDULE_ID}：" + {"created": "已创建", "updated": "已更新", "off": "未启用"}[swept])
    return 0


def _main(coro_fn, *args) -> None:
    code = _common()
    if code is None:
        try:
            code = asyncio.run(coro_fn(*args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except KeyboardInterrupt:
            code = 130
        except Exception as exc:
            code = _fail(f"{type(exc).__name__}: {exc}")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # see worker.supervisor.up: skip interpreter finalisation after the SDK's core stopped


def worker_main(watch_calendar: bool = False) -> None:
    _main(_worker, watch_calendar)


def web_main() -> None:
    _main(_web)


def schedules_main() -> None:
    _main(_schedules)
