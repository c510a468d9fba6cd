"""Prometheus metrics on one port (`SHIXIAN_METRICS=host:port`; unset: off).

- The Temporal SDK's own metrics (Runtime telemetry: workflow/activity task latencies, slots, polls...),
  exported by the SDK's Prometheus exporter on an internal loopback port and appended to every scrape.
- The product's:
  `shixian_events_total{result}`            events applied / duplicate / rejected by this process's ingest path
  `shixian_notices_total{channel,result}`   channel attempts from the delivery log (all processes, from the store),
                                            summed per channel scheme (json, mailto…) and result (sent, failed)
  `shixian_open_clocks{department}`, `shixian_overdue_clocks{department}`   from the read model at scrape time
  `shixian_late_entries_held{department}`   late entries (补录) held for a supervisor's review
Labels never carry applicant data (departments and channel schemes only).
"""

from __future__ import annotations

import logging
import socket
import threading
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

log = logging.getLogger("shixian.metrics")

REGISTRY = CollectorRegistry()
EVENTS = PromCounter("shixian_events", "Events by ingest result (this process)", ["result"], registry=REGISTRY)
for _r in ("applied", "duplicate", "rejected"):
    EVENTS.labels(_r)

_sdk_port: int | None = None
_runtime = None


def metrics_bind() -> tuple[str, int] | None:
    from domain.settings import get_settings

    text = (get_settings().metrics or "").strip()
    if not text:
        return None
    host, _, port = text.rpartition(":")
    try:
        return (host.strip("[]") or "127.0.0.1"), int(port)
    except ValueError:
        raise ValueError(f"SHIXIAN_METRICS=“{text}” 无效：应为 主机:端口，如 127.0.0.1:9464") from None


def count_results(results) -> None:
    for r in results:
        EVENTS.labels(r.status).inc()


def _count_ingest_results() -> None:
    """The ingest use case (services, below worker) reports its results to observers; this is the counter.
    Every process that talks to Temporal imports this module (worker.client), so every ingest is counted."""
    from services import ingest

    if count_results not in ingest.OBSERVERS:
        ingest.OBSERVERS.append(count_results)


_count_ingest_results()


def temporal_runtime():
    """A Temporal Runtime exporting SDK metrics (None when metrics are off); one per process."""
    global _runtime, _sdk_port
    if _runtime is not None or metrics_bind() is None:
        return _runtime
    from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        _sdk_port = s.getsockname()[1]
    _runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{_sdk_port}")))
    return _runtime


class StoreCollector:
    """Gauges and totals read from the store at scrape time (right across replicas and CLI imports)."""

    def collect(self):
        from store.clock_rows import open_clock_counts, overdue_clock_counts
        from store.db import session
        from store.deliveries import attempt_counts
        from store.items import held_late_entry_counts

        notices = CounterMetricFamily(
            "shixian_notices", "Notice channel attempts by channel and result", labels=["channel", "result"]
        )
        open_ = GaugeMetricFamily("shixian_open_clocks", "Open clocks per department", labels=["department"])
        overdue = GaugeMetricFamily(
            "shixian_overdue_clocks", "Open clocks past their due instant per department", labels=["department"]
        )
        held = GaugeMetricFamily(
            "shixian_late_entries_held", "Late entries (补录) held for review per department", labels=["department"]
        )
        # One sample per label set (Prometheus refuses a scrape with two): the store's rows are finer than the
        # labels (a channel URL per person, several statuses per result), so they are summed here first.
        sums: dict[str, Counter[tuple[str, ...]]] = {"notices": Counter(), "open": Counter(), "overdue": Counter()}
        sums["held"] = Counter()
        try:
            with session() as s:
                for channel, status, n in attempt_counts(s):
                    scheme = channel.split("://", 1)[0] if "://" in (channel or "") else "none"
                    result = "sent" if status == "ok" else ("skipped" if status == "skipped" else "failed")
                    sums["notices"][(scheme, result)] += n  # skipped: older rows, an SMS passed over at night
                from domain.engine import engine
                from domain.standing import can_be_overdue

                # An appeal window (audience = "supervisor") is the applicant's time, not a department's open duty.
                windows = [r.id for r in engine().rules.values() if r.audience == "supervisor"]
                for dept, n in open_clock_counts(s, windows):
                    sums["open"][(dept or "",)] += n

                lapsing = [r.id for r in engine().rules.values() if not can_be_overdue(r)]  # windows: never overdue
                for dept, n in overdue_clock_counts(s, datetime.now(UTC), lapsing):
                    sums["overdue"][(dept or "",)] += n
                for held_dept, n in held_late_entry_counts(s):
                    sums["held"][(held_dept or "",)] += n
        except Exception as exc:  # a scrape never fails the process; the gap shows in the graphs
            log.warning("store metrics unavailable: %s", type(exc).__name__)
        else:
            for family, key in ((notices, "notices"), (open_, "open"), (overdue, "overdue"), (held, "held")):
                for labels, n in sorted(sums[key].items()):
                    family.add_metric(list(labels), n)
        yield from (notices, open_, overdue, held)


REGISTRY.register(StoreCollector())


def render() -> bytes:
    body = generate_latest(REGISTRY)
    if _sdk_port is not None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{_sdk_port}/metrics", timeout=3) as r:
                body += r.read()
        except OSError as exc:
            log.warning("temporal sdk metrics unavailable: %s", exc)
    return body


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.split("?")[0] not in ("/metrics", "/"):
            self.send_error(404)
            return
        body = render()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # scrapes are not news
        pass


def start_metrics_server() -> str | None:
    """Serve /metrics on $SHIXIAN_METRICS in a thread; returns the URL (None when off)."""
    bind = metrics_bind()
    if bind is None:
        return None
    temporal_runtime()
    try:
        server = ThreadingHTTPServer(bind, _Handler)
    except OSError as exc:
        raise RuntimeError(f"指标服务无法监听 {bind[0]}:{bind[1]}：{exc.strerror}（SHIXIAN_METRICS）") from None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return f"http://{bind[0]}:{server.server_address[1]}/metrics"
