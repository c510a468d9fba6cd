"""What an unexpected exception becomes in an HTTP answer (JSON, Chinese, no internals)."""

from __future__ import annotations

import logging

log = logging.getLogger("shixian.web")


def _unavailable(exc: BaseException) -> str | None:
    from sqlalchemy.exc import DBAPIError, OperationalError
    from temporalio.service import RPCError

    seen = set()
    while exc is not None and id(exc) not in seen:  # look through wrapping exceptions
        seen.add(id(exc))
        if isinstance(exc, RPCError):
            return "temporal_unavailable"
        if isinstance(exc, (OperationalError, DBAPIError)) and getattr(exc, "connection_invalidated", True):
            return "database_unavailable"
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return "temporal_unavailable"
        if isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect"):  # temporalio bridge
            return "temporal_unavailable"
        nxt = exc.__cause__ or exc.__context__
        if nxt is None:
            break
        exc = nxt
    return None


def unexpected_error(exc: Exception) -> tuple[int, dict]:
    from services.ingest import ReadModelBehind

    if isinstance(exc, ReadModelBehind):  # the events are applied; only the read model lags (database down?)
        log.error("read model behind: %d applied events not yet written", exc.missing)
        return 503, {"code": "read_model_behind", "detail": str(exc)}
    kind = _unavailable(exc)
    if kind == "temporal_unavailable":
        log.error("workflow service unavailable: %s: %s", type(exc).__name__, exc)
        return 503, {"code": kind, "detail": "工作流服务暂不可用，本次请求未完成（已登记的事件不受影响），请稍后重试"}
    if kind == "database_unavailable":
        log.error("database unavailable: %s", type(exc).__name__)
        return 503, {"code": kind, "detail": "数据库暂不可用，本次请求未完成，请稍后重试"}
    log.exception("unexpected error: %s", type(exc).__name__, exc_info=exc)
    return 500, {"code": "internal_error", "detail": "服务器内部错误，本次请求未完成；详情见服务器日志"}
