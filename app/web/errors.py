"""What an unexpected exception becomes in an HTTP answer (JSON or a page, Chinese, no internals).

A dependency that is down, busy or out of space is not a 500: the caller gets 503 (with Retry-After) or 507
and words saying what to do; only the log has the exception."""

from __future__ import annotations

import logging

log = logging.getLogger("shixian.web")

# Seconds a caller should wait before retrying, per code (Retry-After): a lock clears in seconds, a restart
# of the database or the workflow service takes longer.
RETRY_AFTER = {
    "database_busy": 5,
    "database_unavailable": 15,
    "temporal_unavailable": 15,
    "no_worker": 30,
    "read_model_behind": 30,
}


def _unavailable(exc: BaseException) -> str | None:
    from temporalio.service import RPCError

    from store.db import database_problem
    from store.disk import is_disk_full

    if is_disk_full(exc):
        return "disk_full"
    seen = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:  # look through wrapping exceptions
        seen.add(id(cur))
        if problem := database_problem(cur):
            return problem
        if isinstance(cur, RPCError):
            return "temporal_unavailable"
        if isinstance(cur, (ConnectionError, TimeoutError)):
            return "temporal_unavailable"
        if isinstance(cur, RuntimeError) and str(cur).startswith("Failed client connect"):  # temporalio bridge
            return "temporal_unavailable"
        cur = cur.__cause__ or cur.__context__
    return None


DETAILS = {
    "disk_full": "磁盘空间不足，本次写入未完成；请联系管理员清理服务器磁盘后重试（可原样重试：已生效的部分不会重复登记）",
    "database_busy": "数据库忙（正被其他操作锁定），本次请求未完成，请稍后重试",
    "database_unavailable": "数据库暂不可用，本次请求未完成，请稍后重试",
    "temporal_unavailable": "工作流服务暂不可用，本次请求未完成（已登记的事件不受影响），请稍后重试",
}


def unexpected_error(exc: Exception) -> tuple[int, dict]:
    from services.ingest import ReadModelBehind

    if isinstance(exc, ReadModelBehind):  # the events are applied; only the read model lags (database down?)
        log.error("read model behind: %d applied events not yet written", exc.missing)
        return 503, {"code": "read_model_behind", "detail": str(exc)}
    kind = _unavailable(exc)
    if kind == "disk_full":
        log.error("disk full: %s", type(exc).__name__)
        return 507, {"code": kind, "detail": DETAILS[kind]}
    if kind == "temporal_unavailable":
        log.error("workflow service unavailable: %s: %s", type(exc).__name__, exc)
        return 503, {"code": kind, "detail": DETAILS[kind]}
    if kind in ("database_unavailable", "database_busy"):
        log.error("%s: %s", kind.replace("_", " "), type(exc).__name__)  # no message: it may hold the URL
        return 503, {"code": kind, "detail": DETAILS[kind]}
    log.exception("unexpected error: %s", type(exc).__name__, exc_info=exc)
    return 500, {"code": "internal_error", "detail": "服务器内部错误，本次请求未完成；详情见服务器日志"}


def retry_headers(status: int, body: dict) -> dict[str, str] | None:
    """Retry-After for an answer that will succeed later (503)."""
    if status != 503:
        return None
    return {"Retry-After": str(RETRY_AFTER.get(body.get("code", ""), 15))}
