"""SMS (短信) through Aliyun and Tencent Cloud: the signatures against the providers' documented examples, and
the product's real sending path (Apprise plugin, delivery log, quiet hours) against a local receiver on
127.0.0.1 that checks the request format and verifies the signature the way the provider does."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from activities import notify
from activities.notify import NotificationRequest, deliver, send_notification, send_via
from domain import channels, sms
from domain.secrets import mask_url
from domain.shanghai import SHANGHAI
from store import deliveries as store
from tests.receivers import WebhookReceiver
from tests.sms_provider import ALIYUN_ID, ALIYUN_SECRET, APP_ID, TENCENT_KEY, SmsProvider

PHONE = "13912345678"
PHONE2 = "13787654321"


# ------------------------------------------------------------------------ documented examples (pure)
def test_aliyun_signature_matches_the_sms_documentation_example():
    """短信服务 API 文档 签名示例: testId / testSecret, GET → zJDF+Lrzhj/ThnlvIToysFRq6t4=."""
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    to_sign = sms.aliyun_string_to_sign("GET", params)
    assert to_sign.startswith("GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123")
    assert "SignName%3D%25E9%2598%25BF%25E9%2587%258C" in to_sign  # UTF-8, then encoded twice
    assert "TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D" in to_sign
    assert sms.aliyun_signature(params, "testSecret", "GET") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert sms.aliyun_signature({**params, "Signature": "old"}, "testSecret", "GET") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_aliyun_signature_matches_the_rpc_documentation_example():
    """RPC 签名机制 文档示例 (DescribeRegions, testid / testsecret) → OLeaidS1JvxuMvnyHOwuJ+uX5qY=."""
    params = {
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Version": "2014-05-26",
        "Timestamp": "2016-02-23T12:46:24Z",
    }
    assert sms.aliyun_signature(params, "testsecret", "GET") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_percent_encoding_follows_the_rpc_rules():
    assert sms.percent_encode("a b*~-_.") == "a%20b%2A~-_."
    assert sms.percent_encode("/=&+") == "%2F%3D%26%2B"
    assert sms.percent_encode("时") == "%E6%97%B6"


def test_tc3_signature_matches_the_tencent_documentation_example():
    """签名方法 v3 文档示例: POST DescribeInstances to cvm at 1551113065 with the documented payload."""
    payload = '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    assert hashlib.sha256(payload.encode()).hexdigest() == (
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    canonical = sms.tc3_canonical_request("cvm.tencentcloudapi.com", payload)
    assert canonical == (
        "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n"
        "content-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    to_sign = sms.tc3_string_to_sign(1551113065, "cvm", canonical)
    assert to_sign == (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    )  # the UTC date (2019-02-25), not Beijing's (2019-02-26 00:44)
    assert sms.tc3_signature("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", 1551113065, "cvm", to_sign) == (
        "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )


def test_sms_quiet_hours_are_the_sms_kinds_in_channels_toml(monkeypatch, tmp_path):
    """[kind.sms] quiet_hours is the one value; SHIXIAN_SMS_QUIET_HOURS, when set, takes its place."""
    from domain import engine as engine_mod
    from domain.channel_policy import quiet_until
    from domain.config import REPO_CONFIG

    monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(REPO_CONFIG))
    monkeypatch.delenv("SHIXIAN_SMS_QUIET_HOURS", raising=False)
    engine_mod.reset()
    at = lambda d, h, m=0: datetime(2026, 12, d, h, m, tzinfo=SHANGHAI)  # noqa: E731
    policy = engine_mod.engine().channels.for_url(f"smsaliyun://{PHONE}")
    assert policy.kind == "sms" and policy.quiet_hours is not None and policy.quiet_hours.text() == "22:00–07:30"
    assert quiet_until(policy, at(3, 23)) == at(4, 7, 30) and quiet_until(policy, at(4, 6, 59)) == at(4, 7, 30)
    assert quiet_until(policy, at(3, 21, 59)) is None and quiet_until(policy, at(4, 7, 30)) is None
    monkeypatch.setenv("SHIXIAN_SMS_QUIET_HOURS", "12:00-13:30")
    noon = engine_mod.engine().channels.for_scheme("smstencent")
    assert quiet_until(noon, at(3, 13, 29)) == at(3, 13, 30) and quiet_until(noon, at(3, 23)) is None
    assert engine_mod.engine().channels.for_scheme("wecombot").quiet_hours.text() == "22:00–07:30"  # untouched
    for off in ("", "off"):
        monkeypatch.setenv("SHIXIAN_SMS_QUIET_HOURS", off)
        assert engine_mod.engine().channels.for_scheme("smsaliyun").quiet_hours is None
    engine_mod.reset()


def test_phones_are_hidden_and_sms_is_personal():
    url = f"smsaliyun://{PHONE}?sign=钦州市政务公开&template=SMS_1"
    assert PHONE not in mask_url(url) and PHONE not in mask_url(f"smstencent://+86{PHONE}")
    assert channels.default_privacy(url) == "personal"
    assert channels.default_privacy(f"smstencent://{PHONE}/{PHONE2}") == "group"
    assert channels.problem(f"smsaliyun://{PHONE}/{PHONE2}", "personal")
    assert channels.problem(f"smsaliyun://{PHONE}", "personal") is None
    bad = channels.problem("smsaliyun://1391234567", "personal")  # ten digits
    assert bad and "有效的手机号码" in bad and "1391234567" not in bad
    assert sms.mask_phone(PHONE) == "尾号5678"
    assert sms.e164(PHONE) == f"+86{PHONE}" and sms.domestic(f"+86{PHONE}") == PHONE
    assert sms.template_values("标题", "一 二\n三" + "长" * 40, 10) == ("标题", "一 二 三长长长长…")
    assert sms.template_values("t", "甲，您好：\n\n以下事项到期", 35) == ("t", "以下事项到期")


DEPARTMENTS = """
[[department]]
id = "qz-fgw"
name = "钦州市发展和改革委员会"
region = "guangxi"

[[person]]
id = "liaison-sms"
name = "短信联络员"
department = "qz-fgw"
roles = ["liaison"]
notify = ["smsaliyun://{phone}"]

[[person]]
id = "mixed-sms"
name = "短信加群机器人联络员"
department = "qz-fgw"
roles = ["head"]
notify = ["smsaliyun://{phone2}", "json://127.0.0.1:{hookport}/hook/mixed"]

[[person]]
id = "sup-sms"
name = "督办员"
roles = ["supervisor"]
notify = ["json://127.0.0.1:{hookport}/hook/supervisor"]

[[person]]
id = "liaison-tx"
name = "腾讯短信联络员"
department = "qz-fgw"
roles = ["liaison"]
notify = ["smstencent://{phone2}?template=1234567"]
"""


@pytest.fixture
def provider(tmp_path, monkeypatch):
    with SmsProvider() as p, WebhookReceiver() as hook:
        p.hook = hook  # type: ignore[attr-defined]
        cfg = tmp_path / "config"
        shutil.copytree(Path(__file__).resolve().parent.parent / "config", cfg)
        text = DEPARTMENTS.replace("{phone}", PHONE).replace("{phone2}", PHONE2).replace("{hookport}", str(hook.port))
        (cfg / "departments.toml").write_text(text, encoding="utf-8")
        env = {
            "SHIXIAN_CONFIG_DIR": str(cfg),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
            "SHIXIAN_DATA_DIR": str(tmp_path / "data"),
            **p.env(),
        }
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        yield p


def _at(monkeypatch, hour: int, minute: int = 0) -> None:
    """Pin the sending path's clock to a Beijing hour (quiet hours are tested on every day of the year)."""
    instant = datetime(2026, 12, 3, hour, minute, tzinfo=SHANGHAI)
    monkeypatch.setattr(notify, "shanghai_now", lambda: instant)


def _req(
    person: str, rule: str = "policy_publication", step: str = "t_minus_1", context=None, **kw
) -> NotificationRequest:
    return NotificationRequest(
        item_id=f"doc-{uuid.uuid4().hex[:8]}",
        rule=rule,
        step=step,
        person_id=person,
        context={
            "item_title": "关于印发《钦州市优化营商环境若干措施》的通知",
            "department": "qz-fgw",
            "due": "2026-12-07",
            "working_days_left": 1,
            **(context or {}),
        },
        **kw,
    )


def _attempts(key: str):
    from store.db import database_url, get_engine

    with Session(get_engine(database_url())) as s:
        return store.attempts_for(s, key)


# ------------------------------------------------------------------------ the real path, local far end
async def test_aliyun_request_format_and_signature(provider, caplog):
    caplog.set_level(logging.DEBUG)
    ok, err = await send_via(f"smsaliyun://{PHONE}", "【提醒】政策文件主动公开将于明天到期", "钦州市发改委：关于印发……")
    assert ok and err is None
    (got,) = provider.requests
    assert got.signature_ok
    assert got.path == "/aliyun/" and got.headers["content-type"].startswith("application/x-www-form-urlencoded")
    p = got.params
    assert p["Action"] == "SendSms" and p["Version"] == "2017-05-25" and p["Format"] == "JSON"
    assert p["SignatureMethod"] == "HMAC-SHA1" and p["SignatureVersion"] == "1.0" and p["RegionId"] == "cn-hangzhou"
    assert p["AccessKeyId"] == ALIYUN_ID and p["PhoneNumbers"] == PHONE
    assert p["SignName"] == "钦州市政务公开" and p["TemplateCode"] == "SMS_465900001"
    assert json.loads(p["TemplateParam"]) == {
        "title": "【提醒】政策文件主动公开将于明天到期",
        "content": "钦州市发改委：关于印发……",
    }
    sent = datetime.strptime(p["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - sent) < timedelta(minutes=5)  # the provider refuses a stale timestamp
    assert len(p["SignatureNonce"]) >= 16 and b"+" not in got.body  # spaces as %20, as signed
    # Nothing of ours logs the phone number or a key (Apprise's DEBUG lines included).
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert PHONE not in logged and ALIYUN_SECRET not in logged


async def test_tencent_request_format_and_signature(provider, caplog):
    caplog.set_level(logging.DEBUG)
    ok, err = await send_via(f"smstencent://{PHONE2}?sign=钦州发改&template=2233445", "标题", "正文" * 30)
    assert ok and err is None
    (got,) = provider.requests
    assert got.signature_ok
    h = got.headers
    assert h["x-tc-action"] == "SendSms" and h["x-tc-version"] == "2021-01-11" and h["x-tc-region"] == "ap-guangzhou"
    assert h["content-type"] == "application/json; charset=utf-8" and h["host"] == f"127.0.0.1:{provider.port}"
    assert abs(int(h["x-tc-timestamp"]) - datetime.now(UTC).timestamp()) < 300
    assert got.payload == {
        "PhoneNumberSet": [f"+86{PHONE2}"],
        "SmsSdkAppId": APP_ID,
        "SignName": "钦州发改",  # the URL's sign= wins over the setting
        "TemplateId": "2233445",
        "TemplateParamSet": ["标题", "正文" * 17 + "…"],  # cut to SHIXIAN_SMS_VAR_MAX (35)
    }
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert PHONE2 not in logged and TENCENT_KEY not in logged


async def test_wrong_key_and_provider_refusals_are_failures_without_the_phone(provider, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SHIXIAN_SMS_ALIYUN_ACCESS_KEY_SECRET", "not-the-secret")
    ok, err = await send_via(f"smsaliyun://{PHONE}", "t", "b")
    assert not ok and "SignatureDoesNotMatch" in err and not provider.requests[-1].signature_ok
    assert "HTTP 400" in err and "string to sign" not in err and "PhoneNumbers" not in err
    monkeypatch.setenv("SHIXIAN_SMS_ALIYUN_ACCESS_KEY_SECRET", ALIYUN_SECRET)
    provider.fail_with = "isv.BUSINESS_LIMIT_CONTROL"
    ok, err = await send_via(f"smsaliyun://{PHONE}", "t", "b")
    assert not ok and err.startswith("阿里云短信发送失败：isv.BUSINESS_LIMIT_CONTROL") and "尾号5678" in err
    provider.fail_with = "LimitExceeded.PhoneNumberDailyLimit"
    ok, err = await send_via(f"smstencent://{PHONE2}?template=1", "t", "b")
    assert not ok and "LimitExceeded.PhoneNumberDailyLimit" in err
    ok, err = await send_via("smsaliyun://12ab", "t", "b")
    assert not ok and "格式有误" in err
    monkeypatch.delenv("SHIXIAN_SMS_TENCENT_SECRET_KEY")
    ok, err = await send_via(f"smstencent://{PHONE2}?template=1", "t", "b")
    assert not ok and "SHIXIAN_SMS_TENCENT_SECRET_ID" in err
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert PHONE not in logged and PHONE2 not in logged
    for e in (err,):
        assert PHONE not in e and PHONE2 not in e


async def test_daytime_reminder_goes_by_sms_and_the_log_hides_the_phone(provider, monkeypatch):
    _at(monkeypatch, 9)
    r = await deliver(_req("liaison-sms"))
    assert r.status == "sent" and r.channel_index == 0 and PHONE not in (r.channel or "")
    (got,) = provider.requests
    assert got.signature_ok and got.params["PhoneNumbers"] == PHONE
    content = json.loads(got.params["TemplateParam"])["content"]
    assert content.startswith("以下事项将于2026年12月7日到期，仅剩1个工作日") and "您好" not in content
    title = json.loads(got.params["TemplateParam"])["title"]
    assert title.startswith("【提醒】政策文件主动公开将于下一个工作日") and len(title) == 35
    (a,) = _attempts(r.key)
    assert a.status == "ok" and PHONE not in a.channel and a.channel.startswith("smsaliyun://")


async def test_sms_at_night_is_held_until_the_quiet_hours_end_unless_an_hour_rule(provider, monkeypatch):
    night = datetime(2026, 12, 3, 23, 30, tzinfo=SHANGHAI)
    morning = datetime(2026, 12, 4, 7, 30, tzinfo=SHANGHAI)
    # Temporal path: the SMS is held (deferred to 07:30, no attempt, no failure); the inbox copy is written now.
    req = _req("liaison-sms", channel_index=0, at=night)
    held = await ActivityEnvironment().run(send_notification, req)
    assert held.status == "deferred" and held.not_before == morning and held.inbox_id
    assert provider.requests == [] and _attempts(held.key) == []
    later = await ActivityEnvironment().run(send_notification, req.model_copy(update={"at": morning}))
    assert later.status == "sent" and later.channel_index == 0 and len(provider.requests) == 1
    # The 5-hour public-opinion response is an hour rule: its warning goes by SMS at night.
    urgent = _req("liaison-tx", rule="opinion_response_info", channel_index=0, at=night)
    sent = await ActivityEnvironment().run(send_notification, urgent)
    assert sent.status == "sent" and sent.channel_index == 0 and provider.requests[-1].signature_ok
    # Quiet hours off: the ordinary reminder goes out at night too (two minutes on: one SMS a minute a phone).
    monkeypatch.setenv("SHIXIAN_SMS_QUIET_HOURS", "off")
    late_req = _req("liaison-tx", channel_index=0, at=night + timedelta(minutes=2))
    late = await ActivityEnvironment().run(send_notification, late_req)
    assert late.status == "sent" and len(provider.requests) == 3


# ------------------------------------------------------------------------ the admin page's channel form
def test_sms_channel_as_form_fields():
    assert channels.build_url("sms_aliyun", {"phone": "139 1234-5678"}) == f"smsaliyun://{PHONE}"
    assert channels.build_url("sms_tencent", {"phone": f"+86{PHONE}"}) == f"smstencent://+86{PHONE}"
    assert channels.parse_url(f"smsaliyun://{PHONE}") == ("sms_aliyun", {"phone": PHONE})
    assert channels.parse_url(f"smstencent://+86{PHONE}") == ("sms_tencent", {"phone": f"+86{PHONE}"})
    assert channels.parse_url(f"smsaliyun://{PHONE}?template=SMS_1") == (None, {})  # kept as it is
    for bad in ("", "1391234567a", "12"):
        with pytest.raises(channels.ChannelFormError, match="有效的手机号码") as e:
            channels.build_url("sms_aliyun", {"phone": bad})
        assert e.value.field == "phone"
    assert channels.form_kind_name(f"smsaliyun://{PHONE}") == "短信（阿里云）"


def test_a_malformed_phone_in_departments_toml_is_refused_without_the_number(tmp_path):
    from domain.directory import DirectoryError, load_directory

    cfg = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parent.parent / "config", cfg)
    text = DEPARTMENTS.replace("{phone}", "1391234").replace("{phone2}", PHONE2).replace("{hookport}", "9")
    (cfg / "departments.toml").write_text(text)
    with pytest.raises(DirectoryError) as e:
        load_directory(cfg)
    assert "liaison-sms" in str(e.value) and "notify #1" in str(e.value) and "1391234" not in str(e.value)


async def test_an_invite_link_never_goes_by_sms(provider, monkeypatch):
    _at(monkeypatch, 10)
    r = await deliver(_req("liaison-sms", step="invite", context={"invite_link": "https://gk.example/invite/abc"}))
    assert r.status == "failed" and "不经短信发送" in (r.error or "") and provider.requests == []


# ------------------------------------------------------------------------ the vendors' SDKs, same receiver
def _tencent_sdk_send(port: int, secret_key: str) -> None:
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.sms.v20210111 import models, sms_client

    from tests.sms_provider import TENCENT_ID

    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=f"127.0.0.1:{port}"))
    client = sms_client.SmsClient(credential.Credential(TENCENT_ID, secret_key), "ap-guangzhou", profile)
    req = models.SendSmsRequest()
    req.PhoneNumberSet, req.SmsSdkAppId, req.SignName = [f"+86{PHONE}"], APP_ID, "钦州市政务公开"
    req.TemplateId, req.TemplateParamSet = "2233445", ["【提醒】标题 *~", "内容"]
    client.SendSms(req)


def _aliyun_sdk_send(port: int, secret: str) -> None:
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.request import CommonRequest

    req = CommonRequest(domain=f"127.0.0.1:{port}", version="2017-05-25", action_name="SendSms")
    req.set_method("POST")
    req.set_protocol_type("http")
    req.set_accept_format("json")
    for k, v in {
        "PhoneNumbers": PHONE,
        "SignName": "钦州市政务公开",
        "TemplateCode": "SMS_465900001",
        "TemplateParam": json.dumps({"title": "【提醒】标题 *~", "content": "内容"}, ensure_ascii=False),
    }.items():
        req.add_query_param(k, v)
    AcsClient(ALIYUN_ID, secret, "cn-hangzhou").do_action_with_exception(req)


def test_the_local_provider_accepts_the_vendors_own_sdks_and_refuses_a_wrong_key():
    """The receiver's signature check is the providers' algorithm, not a copy of ours: requests signed by
    Tencent's and Aliyun's own SDKs (tencentcloud-sdk-python-sms, aliyun-python-sdk-core, RPC signature) pass
    it, the same requests signed with a wrong key fail it, and the product's requests (above) pass it."""
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

    with SmsProvider() as p:
        _tencent_sdk_send(p.port, TENCENT_KEY)
        _aliyun_sdk_send(p.port, ALIYUN_SECRET)
        assert [r.signature_ok for r in p.requests] == [True, True]
        assert p.requests[0].payload["PhoneNumberSet"] == [f"+86{PHONE}"]
        assert p.requests[1].params["Action"] == "SendSms" and p.requests[1].params["SignatureMethod"] == "HMAC-SHA1"
        with pytest.raises(TencentCloudSDKException, match="AuthFailure.SignatureFailure"):
            _tencent_sdk_send(p.port, "wrong-key")
        with pytest.raises(ServerException, match="SignatureDoesNotMatch|InvalidAccessKeySecret"):
            _aliyun_sdk_send(p.port, "wrong-secret")
        assert [r.signature_ok for r in p.requests[2:]] == [False, False]


# ------------------------------------------------------------------------ Temporal: the workflow side
async def _notify_workflow(wenv, req: NotificationRequest):
    from activities.notify import NotificationResult
    from tests.workflow_harness import app_worker
    from workflows.notify_steps import NotifyPersonWorkflow

    tq = f"sms-{uuid.uuid4().hex[:6]}"
    async with app_worker(wenv.client, tq):
        return await wenv.client.execute_workflow(
            NotifyPersonWorkflow.run,
            req,
            id=f"wf-{uuid.uuid4().hex[:8]}",
            task_queue=tq,
            result_type=NotificationResult,
        )


async def test_an_sms_escalation_at_23_goes_out_at_0730_exactly_once(provider, wf_env):
    """An overdue notice to the head at 23:00 (time-skipping server): held in the quiet hours, sent by SMS at
    07:30 the next morning, once; the inbox has it at once and no supervisor is alarmed."""
    from store.inbox import InboxMessage
    from store.outbox import OutboxMessage

    now = (await wf_env.get_current_time()).astimezone(SHANGHAI)
    at23 = now.replace(hour=23, minute=0, second=0, microsecond=0)
    at23 += timedelta(days=1) if at23 <= now else timedelta(0)
    await wf_env.sleep(at23 - now)
    req = _req("mixed-sms", step="overdue_1", context={"working_days_left": -1})
    result = await _notify_workflow(wf_env, req)
    assert result.status == "sent" and result.channel_index == 0
    assert len(provider.requests) == 1 and provider.requests[0].params["PhoneNumbers"] == PHONE2
    from store.db import database_url, get_engine

    with Session(get_engine(database_url())) as s:
        (row,) = s.exec(select(OutboxMessage).where(OutboxMessage.person == "mixed-sms")).all()
        (inbox,) = s.exec(select(InboxMessage).where(InboxMessage.person == "mixed-sms")).all()
    sent_at = row.claimed_at.replace(tzinfo=row.claimed_at.tzinfo or UTC).astimezone(SHANGHAI)
    morning = (at23 + timedelta(days=1)).replace(hour=7, minute=30)
    assert morning <= sent_at < morning + timedelta(minutes=1)
    assert inbox.item_id == req.item_id  # written by the first (held) try, once
    assert [(a.channel_index, a.status) for a in _attempts(result.key)] == [(0, "ok")]
    assert provider.hook.posts == []  # neither the bot (channel 2) nor a supervisor heard of it


def test_bad_quiet_hours_are_refused_by_the_settings(monkeypatch):
    from domain.settings import SettingsError, get_settings

    monkeypatch.setenv("SHIXIAN_SMS_QUIET_HOURS", "晚上九点")
    with pytest.raises(SettingsError, match="SHIXIAN_SMS_QUIET_HOURS: quiet_hours 须写成"):
        get_settings()
