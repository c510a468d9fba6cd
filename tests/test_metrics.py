"""The product's Prometheus metrics: one sample per (name, label set), as Prometheus requires. Notices are
sent through the real delivery path (activities.notify.deliver) to a real webhook receiver and to a port
where nothing listens; then the real /metrics endpoint (SHIXIAN_METRICS) is scraped and parsed with
prometheus_client's own parser."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import workflow_harness
from tests.conftest import free_port
from tests.receivers import WebhookReceiver, hook_every_person

pytestmark = pytest.mark.asyncio(loop_scope="session")

PEOPLE = ("liaison-fgw", "head-fgw", "liaison-czj", "supervisor-zwgk")


async def test_every_metric_has_one_sample_per_label_set(tmp_path, monkeypatch):
    from activities.notify import NotificationRequest, deliver
    from domain.directory import parse_directory
    from store.db import database_url, get_engine, init_db
    from worker import metrics

    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SHIXIAN_METRICS", f"127.0.0.1:{free_port()}")
    # the endpoint's Temporal runtime (SDK metrics, appended to the scrape) is this test's: later tests get none
    monkeypatch.setattr(metrics, "_runtime", None)
    monkeypatch.setattr(metrics, "_sdk_port", None)
    get_engine.cache_clear()
    try:
        init_db(get_engine(database_url()))
        with WebhookReceiver() as hook:
            config = workflow_harness.config_copy(tmp_path / "config", hook)
            monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(config))
            # every person's channel on a port where nothing listens: failed attempts
            shipped = (workflow_harness.REPO_CONFIG / "departments.toml").read_text(encoding="utf-8")
            dead = parse_directory(hook_every_person(shipped, free_port()))
            stamp = dt.datetime.now(dt.UTC).strftime("%H%M%S%f")
            for n, person in enumerate(PEOPLE):
                for directory in (None, dead):
                    req = NotificationRequest(
                        item_id=f"M-{n}-{stamp}-{directory is None}",
                        rule="policy_publication",
                        step="t_minus_1",
                        person_id=person,
                        context={
                            "item_title": "关于印发《钦州市优化营商环境若干措施》的通知",
                            "department": "qz-fgw",
                            "due": "2025-05-20",
                            "working_days_left": 1,
                        },
                    )
                    await deliver(req, directory)
            hook.wait_for(len(PEOPLE))
        url = metrics.start_metrics_server()
        assert url is not None
        r = httpx.get(url, timeout=10, trust_env=False)
    finally:
        get_engine.cache_clear()
    assert r.status_code == 200
    seen: dict[tuple[str, frozenset], float] = {}
    dupes = []
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            if key in seen:
                dupes.append(key)
            seen[key] = sample.value
    assert dupes == []
    notices = {dict(k[1])["result"]: v for k, v in seen.items() if k[0] == "shixian_notices_total"}
    # several people's URLs of one scheme (json) are one series per result, their attempts summed
    sent = seen[("shixian_notices_total", frozenset({"channel": "json", "result": "sent"}.items()))]
    failed = seen[("shixian_notices_total", frozenset({"channel": "json", "result": "failed"}.items()))]
    assert sent >= len(PEOPLE) and failed >= len(PEOPLE), notices
    assert ("shixian_events_total", frozenset({"result": "applied"}.items())) in seen
