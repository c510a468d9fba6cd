"""Notifications against real receivers on 127.0.0.1: aiosmtpd SMTP server and an HTTP webhook."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session
from temporalio.testing import ActivityEnvironment

from activities.notify import NotificationRequest, deliver, send_notification, send_test
from activities.notify_templates import render
from domain.digests import build_digests
from domain.directory import load_directory
from domain.model import ClockSnapshot, ItemSnapshot
from domain.secrets import mask_url
from store import deliveries as store
from tests.receivers import SmtpReceiver, WebhookReceiver, closed_port

SMTP_PASSWORD = "Pa55:w0rd-sekret"
SMTP_PASSWORD_Q = "Pa55%3Aw0rd-sekret"  # as written inside a URL
HOOK_TOKEN = "tok-3b7f9d2e11aa"

DEPARTMENTS = """
[[department]]
id = "qz-fgw"
name = "钦州市发展和改革委员会"
region = "guangxi"
head = "head-fgw"

[[department]]
id = "qz-czj"
name = "钦州市财政局"
region = "guangxi"

[[person]]
id = "liaison-fgw"
name = "发改委联络员"
department = "qz-fgw"
roles = ["liaison"]
notify = ["{mailto}", "{hook}/liaison"]

[[person]]
id = "head-fgw"
name = "发改委负责人"
department = "qz-fgw"
roles = ["head"]
notify = ["{hook}/head?+X-Token={token}"]

[[person]]
id = "liaison-czj"
name = "财政局联络员"
department = "qz-czj"
roles = ["liaison"]
notify = ["json://127.0.0.1:{closed}/refused", "{mailto}"]

[[person]]
id = "nochannel-czj"
name = "无渠道联络员"
department = "qz-czj"
roles = ["liaison"]
notify = []

[[person]]
id = "dead-czj"
name = "全失败联络员"
department = "qz-czj"
roles = ["liaison"]
notify = ["json://127.0.0.1:{closed}/a", "json://127.0.0.1:{closed}/b"]

[[person]]
id = "fallback-czj"
name = "备用渠道联络员"
department = "qz-czj"
roles = ["head"]
notify = ["json://127.0.0.1:{closed}/refused", "{hook}/fallback"]

[[person]]
id = "sup"
name = "政务公开办督办员"
roles = ["supervisor"]
notify = ["{hook}/supervisor"]
"""

CONTEXT = {
    "item_title": "关于印发《钦州市优化营商环境若干措施》的通知",
    "department": "qz-fgw",
    "due": "2025-05-20",
    "working_days_left": 1,
}


@pytest.fixture
def receivers():
    with SmtpReceiver("shixian", SMTP_PASSWORD) as smtp, WebhookReceiver() as hook:
        yield smtp, hook


@pytest.fixture
def env(tmp_path, monkeypatch, receivers):
    smtp, hook = receivers
    cfg = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parent.parent / "config", cfg)  # the real rules, ladders, templates
    (cfg / "departments.toml").write_text(
        DEPARTMENTS.replace(
            "{mailto}", smtp.mailto_url("liaison-fgw@example.org").replace(SMTP_PASSWORD_Q, "${SMTP_PW}")
        )
        .replace("{hook}", hook.url(""))
        .replace("{token}", HOOK_TOKEN)
        .replace("{closed}", str(closed_port())),
        encoding="utf-8",
    )
    monkeypatch.setenv("SMTP_PW", SMTP_PASSWORD_Q)  # the secret lives in the environment, not the file
    assert SMTP_PASSWORD_Q not in (cfg / "departments.toml").read_text(encoding="utf-8")
    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(cfg))
    monkeypatch.setenv("SHIXIAN_PUBLIC_URL", "https://gk.qinzhou.example")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("SHIXIAN_DATA_DIR", str(tmp_path / "data"))
    from store.db import database_url, get_engine

    return smtp, hook, get_engine(database_url())


def _req(person: str, step: str = "t_minus_1", item: str | None = None, context=None, **kw) -> NotificationRequest:
    return NotificationRequest(
        item_id=item or f"doc-{uuid.uuid4().hex[:8]}",
        rule="policy_publication",
        step=step,
        person_id=person,
        context=dict(context or CONTEXT),
        **kw,
    )


def _attempts(engine, key):
    with Session(engine) as s:
        return store.attempts_for(s, key)


# ---------------------------------------------------------------------------------------------- pure
def test_mask_url():
    assert (
        mask_url("mailto://user:secret@smtp.example.org:587?to=a@b.org")
        == "mailto://user:****@smtp.example.org:587?to=a@b.org"
    )
    assert mask_url("json://127.0.0.1:9000/hook?+X-Token=abc123") == "json://127.0.0.1:9000/hook?+X-Token=****"
    masked = mask_url("wecombot://0c9e4b2f-1234-4d6e-9f00-aa11bb22cc33")
    assert "1234-4d6e" not in masked and masked.startswith("wecombot://0c9e****")
    masked = mask_url("dingtalk://secretkey123@abcdef0123456789abcdef/")
    assert "abcdef0123456789" not in masked and "secretkey123" not in masked
    assert "123456789" not in mask_url("feishu://tok-xyz-123456789")


def test_templates_render_every_step():
    ctx = {
        **CONTEXT,
        "department_name": "钦州市发展和改革委员会",
        "rule_name": "政策文件主动公开",
        "due_text": "2025年5月20日",
        "link": "http://x/items/1",
        "person_name": "甲",
        "overdue_working_days": 2,
        "old_due": "2025-05-20",
        "new_due": "2025-05-22",
        "reason": "调休",
        "failed_person_name": "乙",
        "failed_step_name": "逾期通知",
        "failed_channels": ["json://x"],
        "items": [],
        "departments": [],
        "total": 0,
        "overdue": [],
        "due_soon": [],
        "date_text": "2025年5月20日",
        "channel_index": 0,
        "channel_count": 1,
        "sent_at_text": "now",
    }
    from activities.notify import STEPS

    for step in STEPS:
        title, body = render(step, ctx)
        assert title and body, step
        assert "{{" not in body
    assert render("due_today", ctx)[0].startswith("【今日到期】")
    assert render("overdue_1", ctx)[0].startswith("【已逾期】")
    assert render("overdue_repeat", ctx)[0].startswith("【督办】")
    assert render("t_minus_3", ctx)[0].startswith("【提醒】")
    assert render("due_date_changed", ctx)[0].startswith("【期限变更】")


# -------------------------------------------------------------------------------------- real sending
async def test_t_minus_1_by_email_and_webhook(env):
    smtp, hook, engine = env
    aenv = ActivityEnvironment()
    r1 = await aenv.run(send_notification, _req("liaison-fgw", item="doc-2025-001"))
    r2 = await aenv.run(send_notification, _req("head-fgw", item="doc-2025-001", step="due_today"))
    assert r1.status == "sent" and r1.channel_index == 0
    assert r2.status == "sent"

    mail = smtp.wait_for(1)[0]
    assert mail.rcpt_tos == ["liaison-fgw@example.org"]
    assert mail.auth_user == "shixian"
    assert mail.subject.startswith("【提醒】政策文件主动公开将于下一个工作日（2025年5月20日）到期")
    assert "关于印发《钦州市优化营商环境若干措施》的通知" in mail.body
    assert "钦州市发展和改革委员会" in mail.body
    assert "到期日：2025年5月20日" in mail.body
    assert "https://gk.qinzhou.example/items/doc-2025-001" in mail.body
    assert "下一步：" in mail.body

    post = hook.wait_for(1)[0]
    assert post.path == "/head"
    assert post.headers.get("X-Token") == HOOK_TOKEN
    assert post.json["title"].startswith("【今日到期】政策文件主动公开")
    assert "今天（2025年5月20日）到期" in post.json["message"]
    assert "发改委负责人，您好" in post.json["message"]

    # the log, with secrets masked
    for r in (r1, r2):
        (a,) = _attempts(engine, r.key)
        assert a.status == "ok"
        assert SMTP_PASSWORD not in a.channel and HOOK_TOKEN not in a.channel
    assert _attempts(engine, r1.key)[0].channel.startswith("mailto://shixian:****@127.0.0.1:")
    assert _attempts(engine, r2.key)[0].channel.endswith("/head?+X-Token=****")
    with Session(engine) as s:
        d = store.get_delivery(s, r1.key)
        assert d.state == "sent" and d.sent_at is not None and SMTP_PASSWORD not in d.channel_used
    # shown with `pytest -s`: what the receivers actually got (raw, then decoded)
    print("\nSMTP received (raw):\n" + mail.raw.decode())
    print(f"SMTP decoded: RCPT TO {mail.rcpt_tos}  Subject: {mail.subject}\n{mail.body}")
    print(f"webhook received: POST {post.path}\n" + json.dumps(post.json, ensure_ascii=False, indent=2))


async def test_refused_channel_falls_back_and_log_shows_both(env):
    smtp, hook, engine = env
    r = await deliver(_req("liaison-czj", item="req-7"))
    assert r.status == "sent" and r.channel_index == 1
    assert len(smtp.wait_for(1)) == 1
    a = _attempts(engine, r.key)
    assert [(x.channel_index, x.status) for x in a] == [(0, "failed"), (1, "ok")]
    assert "/refused" in a[0].channel and a[0].error
    assert a[1].channel.startswith("mailto://shixian:****@")
    assert all(SMTP_PASSWORD not in (x.error or "") + x.channel for x in a)


async def test_same_key_twice_delivers_once(env):
    smtp, hook, engine = env
    aenv = ActivityEnvironment()
    first = await aenv.run(send_notification, _req("head-fgw", item="doc-x"))
    second = await aenv.run(send_notification, _req("head-fgw", item="doc-x"))
    assert first.status == "sent" and second.status == "already_sent"
    assert first.key == second.key == "doc-x:policy_publication:t_minus_1:head-fgw"
    hook.wait_for(1)
    import asyncio

    await asyncio.sleep(0.3)
    assert len(hook.posts) == 1
    assert len(_attempts(engine, first.key)) == 1
    assert [d.key for d in store.list_deliveries("sent")] == [first.key]


async def test_single_channel_failure_raises_for_temporal_retry(env):
    from temporalio.exceptions import ApplicationError

    smtp, hook, engine = env
    req = _req("dead-czj", channel_index=0)
    with pytest.raises(ApplicationError) as e:
        await ActivityEnvironment().run(send_notification, req)
    assert e.value.type == "ChannelFailed"
    past = await ActivityEnvironment().run(send_notification, req.model_copy(update={"channel_index": 2}))
    assert past.status == "exhausted" and len(past.tried_channels) == 2
    assert [d.state for d in store.list_deliveries("failed")] == ["failed"]


async def test_no_channel_is_reached_in_the_inbox(env):
    """站内消息: a person with no external channel gets the notice in the inbox, 已送达 via 站内消息; an unknown
    recipient is still a failed delivery."""
    from store import inbox

    smtp, hook, engine = env
    r = await deliver(_req("nochannel-czj", item="doc-ib-1"))
    assert r.status == "sent" and r.channel == "站内消息" and r.inbox_id
    (d,) = store.list_deliveries("sent")
    assert d.person == "nochannel-czj" and d.channel_used == "站内消息"
    with Session(engine) as s:
        (m,) = inbox.messages_for(s, "nochannel-czj")
        assert m.key == r.key and m.kind == "reminder" and m.link == "/items/doc-ib-1" and m.item_id == "doc-ib-1"
        assert m.title.startswith("【提醒】政策文件主动公开将于下一个工作日（2025年5月20日）到期")
        assert "关于印发《钦州市优化营商环境若干措施》的通知" in m.body and "下一步：" in m.body
    again = await deliver(_req("nochannel-czj", item="doc-ib-1"))
    assert again.status == "already_sent"
    with Session(engine) as s:
        assert inbox.count_for(s, "nochannel-czj") == 1  # the same key never writes a second message
    unknown = await deliver(_req("nobody-at-all"))
    assert unknown.status == "no_channels" and "不存在" in unknown.error and unknown.inbox_id is None


async def test_failing_channels_keep_the_inbox_copy(env):
    from store import inbox

    smtp, hook, engine = env
    r = await deliver(_req("dead-czj", item="doc-ib-2"))
    assert r.status == "failed" and r.inbox_id
    assert store.list_deliveries("failed")[0].key == r.key
    with Session(engine) as s:
        (m,) = inbox.messages_for(s, "dead-czj")
        assert m.key == r.key and m.read_at is None and m.title.startswith("【提醒】")
    # a webhook (group channel) never sees a request's title; the person's own inbox does
    req = _req("fallback-czj", item="req-ib-3", context={**CONTEXT, "item_type": "request", "department": "qz-czj"})
    sent = await deliver(req)
    assert sent.status == "sent" and sent.channel_index == 1
    post = hook.wait_for(1)[0]
    assert CONTEXT["item_title"] not in post.json["message"]
    with Session(engine) as s:
        (m,) = inbox.messages_for(s, "fallback-czj")
        assert CONTEXT["item_title"] in m.body


async def test_notify_test_command_each_channel(env):
    smtp, hook, engine = env
    results = await send_test("liaison-czj")
    assert [r.ok for r in results] == [False, True]
    assert "【测试】" in smtp.wait_for(1)[0].subject


# ------------------------------------------------------------------- Temporal: retries and fallback
async def _run_workflow(wenv, req: NotificationRequest, pauses: list | None = None):
    """Run NotifyPersonWorkflow; `pauses` receives the durations of its timers (the retry rounds' pauses)."""
    from activities.notify import NotificationResult
    from tests.workflow_harness import app_worker
    from workflows.notify_steps import NotifyPersonWorkflow

    tq = f"notify-{uuid.uuid4().hex[:6]}"
    wid = f"wf-{uuid.uuid4().hex[:8]}"
    async with app_worker(wenv.client, tq):
        result = await wenv.client.execute_workflow(
            NotifyPersonWorkflow.run, req, id=wid, task_queue=tq, result_type=NotificationResult
        )
    if pauses is not None:
        async for ev in wenv.client.get_workflow_handle(wid).fetch_history_events():
            if ev.HasField("timer_started_event_attributes"):
                pauses.append(ev.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta())
    return result


async def test_workflow_retries_channel_then_falls_back(env, ts_env):
    smtp, hook, engine = env
    req = _req(
        "fallback-czj",
        item="req-9",
        step="overdue_1",
        context={**CONTEXT, "department": "qz-czj", "working_days_left": -2},
    )
    r = await _run_workflow(ts_env, req)
    assert r.status == "sent" and r.channel_index == 1
    post = hook.wait_for(1)[0]
    assert post.path == "/fallback" and post.json["title"].startswith(
        "【已逾期】钦州市财政局·政策文件主动公开已逾期2个工作日"
    )
    a = _attempts(engine, r.key)
    # channel 1 tried 3 times by the retry policy, then channel 2 once
    assert [(x.channel_index, x.attempt, x.status) for x in a] == [
        (0, 1, "failed"),
        (0, 2, "failed"),
        (0, 3, "failed"),
        (1, 1, "ok"),
    ]
    # same request again (worker restarted, step replayed): nothing sent twice
    again = await _run_workflow(ts_env, req)
    assert again.status == "already_sent"
    assert len(hook.posts) == 1


async def test_workflow_all_channels_fail_tells_supervisor(env, ts_env):
    smtp, hook, engine = env
    req = _req("dead-czj", item="req-10", context={**CONTEXT, "department": "qz-czj"})
    pauses: list[timedelta] = []
    r = await _run_workflow(ts_env, req, pauses)
    assert r.status == "exhausted"
    post = hook.wait_for(1)[0]
    assert post.path == "/supervisor"
    assert post.json["title"].startswith("【送达失败】全失败联络员（dead-czj）未能收到“到期前1个工作日提醒”通知")
    assert "/a" in post.json["message"] and "/b" in post.json["message"]
    failed = {d.key for d in store.list_deliveries("failed")}
    assert failed == {r.key}
    sent = store.list_deliveries("sent")
    assert [d.key for d in sent] == ["req-10:policy_publication:delivery_failed[t_minus_1/dead-czj]:sup"]
    # rounds over both channels (3 attempts each) for RETRY_WINDOW: at 0, 1, 3, 7, 15, 31 and 60 minutes
    attempts = _attempts(engine, r.key)
    assert len(attempts) == 6 * 7
    # pauses of 1, 2, 4, 8, 16 minutes, then what is left of the hour (the rounds' own retries took some)
    assert [p.total_seconds() / 60 for p in pauses[:5]] == [1, 2, 4, 8, 16] and len(pauses) == 6
    assert timedelta(minutes=25) < pauses[5] < timedelta(minutes=29)
    # the supervisor's notice is in their inbox as well, and says the liaison still has the notice there
    from store import inbox

    with Session(engine) as s:
        (m,) = inbox.messages_for(s, "sup")
        assert m.kind == "delivery_failed" and m.title.startswith("【送达失败】全失败联络员（dead-czj）")
        assert "已存入其站内消息" in m.body and "60分钟内多次重试" in m.body
        assert inbox.count_for(s, "dead-czj") == 1  # one inbox copy however many rounds


async def test_workflow_channel_recovers_within_the_retry_window(env, ts_env):
    """A webhook that fails for a while, then works: a later round delivers it, nobody is told of a failure."""
    smtp, hook, engine = env
    with WebhookReceiver(fail_first=7) as flaky:  # round 1 (3 tries) and round 2 (3 tries), 1 try of round 3
        deps = Path(os.environ["SHIXIAN_CONFIG_DIR"]) / "departments.toml"
        deps.write_text(
            deps.read_text(encoding="utf-8")
            + f'\n[[person]]\nid = "flaky-czj"\nname = "时好时坏联络员"\ndepartment = "qz-czj"\n'
            f'roles = ["liaison"]\nnotify = ["{flaky.url("/flaky")}"]\n',
            encoding="utf-8",
        )
        pauses: list[timedelta] = []
        req = _req("flaky-czj", item="req-11", context={**CONTEXT, "department": "qz-czj"})
        r = await _run_workflow(ts_env, req, pauses)
        assert r.status == "sent" and r.channel_index == 0
        assert len(flaky.posts) == 8
    attempts = _attempts(engine, r.key)
    assert [a.status for a in attempts] == ["failed"] * 7 + ["ok"]
    assert pauses == [timedelta(minutes=1), timedelta(minutes=2)]  # rounds at 0, 1 and 3 minutes
    assert store.list_deliveries("failed") == []
    assert [p for p in hook.posts if p.path == "/supervisor"] == []


# -------------------------------------------------------------------------------------------- digests
def test_build_digests():
    d = load_directory()
    today = date(2025, 5, 20)

    def left(t, due, region):  # plain weekdays are enough for the grouping logic
        step = 1 if due >= t else -1
        n, x = 0, t
        while x != due:
            x += timedelta(days=step)
            if x.weekday() < 5 and (step > 0 or x != due):
                n += 1
        if step < 0:
            n = sum(1 for i in range(1, (t - due).days + 1) if (due + timedelta(days=i)).weekday() < 5)
        return n * step

    items = [
        ItemSnapshot(
            id="doc-1",
            type="document",
            department="qz-fgw",
            title="文件一",
            clocks=[ClockSnapshot(rule="policy_publication", start="2025-04-20", due="2025-05-22")],
        ),
        ItemSnapshot(
            id="doc-2",
            type="document",
            department="qz-fgw",
            title="文件二",
            clocks=[ClockSnapshot(rule="policy_publication", start="2025-04-01", due="2025-05-16")],
        ),
        ItemSnapshot(
            id="req-3",
            type="request",
            department="qz-czj",
            title="申请三",
            clocks=[ClockSnapshot(rule="request_reply", start="2025-04-01", due="2025-05-19")],
        ),
        ItemSnapshot(
            id="doc-4",
            type="document",
            department="qz-jyj",
            title="远期",
            clocks=[ClockSnapshot(rule="policy_publication", start="2025-05-19", due="2025-06-16")],
        ),
        ItemSnapshot(
            id="doc-5",
            type="document",
            department="qz-jyj",
            title="已办结",
            state="closed",
            clocks=[ClockSnapshot(rule="policy_publication", start="2025-04-01", due="2025-05-01", state="met")],
        ),
    ]
    out = build_digests(items, d, today, left)
    by = {(p, s): c for p, s, c in out}
    assert set(by) == {
        ("liaison-fgw", "digest_liaison"),
        ("head-fgw", "digest_head"),
        ("head-czj", "digest_head"),
        ("liaison-czj", "digest_liaison"),  # only an overdue item: a digest all the same (issue 19)
        ("supervisor-zwgk", "digest_supervisor"),
    }
    assert [i["item_id"] for i in by["liaison-fgw", "digest_liaison"]["items"]] == ["doc-1"]
    assert [i["item_id"] for i in by["liaison-fgw", "digest_liaison"]["overdue"]] == ["doc-2"]
    assert [i["item_id"] for i in by["liaison-czj", "digest_liaison"]["overdue"]] == ["req-3"]
    assert by["liaison-czj", "digest_liaison"]["items"] == []
    head = by["head-fgw", "digest_head"]
    assert [i["item_id"] for i in head["overdue"]] == ["doc-2"] and head["overdue"][0]["overdue_working_days"] == 2
    sup = by["supervisor-zwgk", "digest_supervisor"]
    assert sup["total"] == 2 and {g["department"] for g in sup["departments"]} == {"qz-fgw", "qz-czj"}
    title, body = render("digest_supervisor", sup)
    assert title == "【逾期汇总】2025年5月20日：2个部门共2项事项逾期"
    assert "钦州市财政局（1项）" in body and "已逾期2个工作日" in body
    title, body = render("digest_liaison", by["liaison-fgw", "digest_liaison"])
    assert "文件一" in body and "剩余2个工作日" in body


# ---------------------------------------------------------------------------------------------- store
def test_claim_is_insert_or_get(db_session):
    """On SQLite and PostgreSQL: the second claim of a key returns the first row."""
    a = store.claim(db_session, "i:r:s:p", item_id="i", rule="r", step="s", person="p")
    b = store.claim(db_session, "i:r:s:p", item_id="i", rule="r", step="s", person="p")
    assert a.id == b.id and a.state == "intent"
    store.mark_sent(db_session, "i:r:s:p", "json://127.0.0.1:1/x")
    assert store.claim(db_session, "i:r:s:p", item_id="i").state == "sent"
    store.add_attempt(db_session, "i:r:s:p", item_id="i", step="s", person="p", channel="json://x", status="ok")
    assert [x.status for x in store.attempts_for(db_session, "i:r:s:p")] == ["ok"]
    assert [d.key for d in store.list_deliveries("sent", session=db_session)] == ["i:r:s:p"]
    assert store.list_deliveries("failed", session=db_session) == []


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_notify_test_and_deliveries(env):
    from typer.testing import CliRunner

    from app.cli import app

    smtp, hook, engine = env
    runner = CliRunner()
    res = runner.invoke(app, ["notify", "test", "liaison-czj"])
    assert res.exit_code == 1, res.output
    assert "渠道1 json://127.0.0.1:" in res.output and "失败" in res.output
    assert "渠道2 mailto://shixian:****@127.0.0.1:" in res.output and "成功" in res.output
    assert SMTP_PASSWORD_Q not in res.output
    assert smtp.wait_for(1)[0].subject == "【测试】时限系统通知渠道测试"

    res = runner.invoke(app, ["notify", "test", "head-fgw"])
    assert res.exit_code == 0, res.output and "全部渠道发送成功" in res.output

    res = runner.invoke(app, ["deliveries", "--status", "failed", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert [d["person"] for d in data] == ["liaison-czj"]
    assert [a["status"] for a in data[0]["attempts"]] == ["failed", "ok"]
    res = runner.invoke(app, ["deliveries"])
    assert "送达失败" in res.output and "已送达" in res.output
    assert runner.invoke(app, ["notify", "test", "nobody"]).exit_code == 2


async def test_start_notice_is_one_workflow_per_key(env, ts_env):
    """services.deliveries.start_notice (for the 督办 page): retried delivery in its own workflow; starting the
    same notice twice sends it once."""
    from activities.notify import NotificationResult
    from services.deliveries import start_notice
    from store import inbox
    from tests.workflow_harness import app_worker

    smtp, hook, engine = env
    req = _req("head-fgw", item="doc-urge-1", step="due_today")
    tq = f"notify-{uuid.uuid4().hex[:6]}"
    async with app_worker(ts_env.client, tq):
        h1 = await start_notice(ts_env.client, req, task_queue=tq)
        h2 = await start_notice(ts_env.client, req, task_queue=tq)
        assert h1.id == h2.id == f"notice:{req.key}"
        r = await ts_env.client.get_workflow_handle(h1.id, result_type=NotificationResult).result()
    assert r.status == "sent" and r.inbox_id
    hook.wait_for(1)
    assert len(hook.posts) == 1
    with Session(engine) as s:
        assert inbox.count_for(s, "head-fgw") == 1
