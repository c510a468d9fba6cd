"""Process logging: plain text by default, JSON lines with `SHIXIAN_LOG_FORMAT=json`.

A JSON line carries time, level, logger, message and, when known, `item_id`, `event_id` and the Temporal
workflow / activity ids. Only ids go in: applicant data is dropped at ingest and never logged. Apprise
logs every message it sends (titles included) at DEBUG: its logger stays at WARNING whatever the level."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

_FIELDS = ("item_id", "event_id", "event_type", "status", "field")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k in _FIELDS:
            v = getattr(record, k, None)
            if v is not None:
                out[k] = v
        wf = getattr(record, "temporal_workflow", None) or {}
        act = getattr(record, "temporal_activity", None) or {}
        wid = wf.get("workflow_id") or act.get("workflow_id")
        if wid:
            out["workflow_id"] = wid
            out.setdefault("item_id", wid.split(":", 1)[-1])
        if act.get("activity_type"):
            out["activity"] = act["activity_type"]
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(default_level: str = "WARNING") -> None:
    from domain.settings import get_settings

    settings = get_settings()
    level = (settings.log_level or default_level).upper()
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    apprise_level = max(logging.getLevelNamesMapping().get(level, logging.WARNING), logging.WARNING)
    logging.getLogger("apprise").setLevel(apprise_level)
