"""`GET /healthz` (the process answers) and `GET /readyz` (Temporal, database and configuration usable).

Unauthenticated, for load balancers and orchestrators; bodies say only ok / failing per dependency, never
addresses, versions or errors (those go to the log)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.schemas import Health, Readiness

log = logging.getLogger("shixian.health")
router = APIRouter(tags=["运维"])


@router.get("/healthz", summary="进程存活", response_model=Health)
async def healthz() -> dict:
    return {"status": "ok"}


def _config_ok() -> bool:
    try:
        from domain.directory import load_directory
        from domain.engine import engine

        engine()  # the data in use (a refused calendar notice keeps the last good one: still ready)
        load_directory()
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
    from worker.guard import database_ok, temporal_ok

    client = request.app.state.client
    temporal, database, config = await asyncio.gather(
        temporal_ok(client, timeout=3) if client is not None else _false(),
        asyncio.to_thread(database_ok),
        asyncio.to_thread(_config_ok),
    )
    checks = {"temporal": temporal, "database": database, "config": config}
    ready = all(checks.values())
    return JSONResponse(
        {
            "status": "ready" if ready else "not_ready",
            "checks": {k: "ok" if v else "failing" for k, v in checks.items()},
        },
        status_code=200 if ready else 503,
    )


async def _false() -> bool:
    return False
