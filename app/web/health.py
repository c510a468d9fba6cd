"""`GET /healthz` (the process answers) and `GET /readyz` (Temporal, database, configuration and disk space usable).

Unauthenticated, for load balancers and orchestrators; bodies say only ok / failing per dependency, never
addresses, versions or errors (those go to the log)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.schemas import Health, Readiness

log = logging.getLogger("shixian.health")
router = APIRouter(tags=["运维"])


@router.get("/healthz", summary="进程存活", response_model=Health)
async def healthz() -> dict:
    return {"status": "ok"}


def _config_ok() -> bool:
    try:
        from domain.engine import engine

        engine()  # the data in use (a refused calendar notice keeps the last good one: still ready)
        _ = engine().directory
        return True
    except Exception as exc:
        log.error("readyz: configuration not usable: %s", exc)
        return False


@router.get(
    "/readyz",
    summary="可以接收请求：工作流服务、数据库与配置均可用",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "某项依赖不可用（checks 中为 failing）"}},
)
async def readyz(request: Request):
    from store.disk import low_space
    from worker.guard import database_ok, temporal_ok

    client = request.app.state.client
    temporal, database, config, space = await asyncio.gather(
        temporal_ok(client, timeout=3) if client is not None else _false(),
        _bounded(asyncio.to_thread(database_ok)),  # a database that stopped answering must not hang the probe
        asyncio.to_thread(_config_ok),
        asyncio.to_thread(low_space),
    )
    checks = {"temporal": temporal, "database": database, "config": config, "disk": space is None}
    ready = all(checks.values())
    if space is not None:
        log.error("readyz: %s", space)
    return JSONResponse(
        {
            "status": "ready" if ready else "not_ready",
            "checks": {k: "ok" if v else "failing" for k, v in checks.items()},
            # what a person reading the probe should know, in Chinese (no addresses, paths or errors)
            "reasons": {k: (space if k == "disk" else REASONS[k]) or REASONS[k] for k, v in checks.items() if not v},
        },
        status_code=200 if ready else 503,
    )


REASONS = {
    "temporal": "工作流服务不可用",
    "database": "数据库不可用",
    "config": "配置文件不可用",
    "disk": "磁盘空间不足",
}


async def _bounded(check, seconds: float = 8.0) -> bool:
    try:
        return await asyncio.wait_for(check, seconds)
    except TimeoutError:
        log.error("readyz: database check did not answer within %.0f s", seconds)
        return False


async def _false() -> bool:
    return False
