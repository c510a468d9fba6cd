"""The admin page (issue 19 §3) on real parts: the FastAPI app over httpx (ASGI, cookies like a browser), a
temporary SQLite store, real argon2 hashes, a real SMTP receiver for the invite e-mail and a real webhook
receiver for the test message. No Temporal is needed: invites and test messages are sent directly."""

from __future__ import annotations

import re
import shutil
import time
import tomllib
from urllib.parse import urlsplit

import httpx
import pytest

from tests import workflow_harness
from tests.receivers import SmtpReceiver, WebhookReceiver, hook_every_person

pytestmark = pytest.mark.asyncio(loop_scope="session")

ADMIN_PW = "Adm1n-Directory-pw"
SUP_PW = "Sup3rvisor-pw-ok"


class Env:
    def __init__(self, app, smtp, hook, config):
        self.app, self.smtp, self.hook, self.config = app, smtp, hook, config

    def browser(self, address: str = "10.9.0.1") -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=(address, 40000)), base_url="http://127.0.0.1"
        )


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from domain import engine as engine_mod
    from services.accounts import set_password
    from store.db import get_engine

    data = tmp_path_factory.mktemp("admin-data")
    config = tmp_path_factory.mktemp("admin-config") / "config"
    shutil.copytree(workflow_harness.REPO_CONFIG, config)
    mp = pytest.MonkeyPatch()
    with SmtpReceiver() as smtp, WebhookReceiver() as hook:
        deps = config / "departments.toml"
        deps.write_text(hook_every_person(deps.read_text(encoding="utf-8"), hook.port), encoding="utf-8")
        mp.setenv("SHIXIAN_DATA_DIR", str(data))
        mp.setenv("SHIXIAN_CONFIG_DIR", str(config))
        mp.setenv("SHIXIAN_SMTP_HOST", f"127.0.0.1:{smtp.port}")
        mp.setenv("SHIXIAN_SMTP_FROM", "shixian@example.gov.cn")
        mp.setenv("SHIXIAN_SMTP_MODE", "insecure")
        mp.delenv("DATABASE_URL", raising=False)
        mp.delenv("SHIXIAN_WEB_ANONYMOUS", raising=False)
        engine_mod.reset()
        try:
            set_password("admin", ADMIN_PW)
            set_password("supervisor-zwgk", SUP_PW)
            from app.web.server import create_app

            yield Env(create_app(None, host="127.0.0.1"), smtp, hook, config)
        finally:
            mp.undo()
            engine_mod.reset()
            get_engine.cache_clear()


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, html[:2000]
    return m.group(1)


async def sign_in(c: httpx.AsyncClient, person: str, password: str) -> None:
    page = await c.get("/login")
    r = await c.post("/login", data={"person": person, "password": password, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303, r.text[:2000]


async def post_form(c: httpx.AsyncClient, page_path: str, action: str, data: dict[str, str]) -> httpx.Response:
    page = await c.get(page_path)
    assert page.status_code == 200, page.text[:2000]
    return await c.post(action, data={"csrf_token": csrf_of(page.text), **data})


async def test_non_admins_get_403(env):
    async with env.browser() as c:
        await sign_in(c, "supervisor-zwgk", SUP_PW)
        for path in ("/admin/directory", "/admin/people/new", "/admin/departments/new", "/admin/directory/export"):
            assert (await c.get(path)).status_code == 403, path
        page = await c.get("/")
        r = await c.post("/admin/departments", data={"csrf_token": csrf_of(page.text), "name": "x"})
        assert r.status_code == 403
    async with env.browser() as c:  # not signed in: to the sign-in page
        r = await c.get("/admin/directory")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


async def test_a_new_department_and_liaison_from_the_page(env):
    """Admin creates a department (上线日期) and a liaison with an e-mail channel; the invite reaches the
    e-mail and the inbox; the liaison sets a password obeying the rules; the engine sees both at once."""
    from activities.notify import recipients
    from domain.engine import engine
    from services import inbox
    from services.directory import StoreDirectory

    watcher = StoreDirectory(check_every=0.2)  # another process's view: re-reads on the version
    assert watcher() is None  # not seeded yet: the TOML file is the directory
    assert "qz-sfj" not in engine().directory.departments

    async with env.browser() as c:
        await sign_in(c, "admin", ADMIN_PW)
        page = await c.get("/admin/directory")
        assert page.status_code == 200 and "departments.toml" in page.text and "钦州市发展和改革委员会" in page.text
        # a bad form names the field, in Chinese
        r = await post_form(
            c,
            "/admin/departments/new",
            "/admin/departments",
            {"name": "", "region": "guangxi", "go_live": "2026-13-01"},
        )
        assert r.status_code == 422 and "请填写名称" in r.text and "上线日期格式" in r.text
        form = await c.get("/admin/departments/new")
        assert "广西壮族自治区" in form.text and "guangxi" not in re.sub(r'value="guangxi"', "", form.text)
        r = await post_form(
            c,
            "/admin/departments/new",
            "/admin/departments",
            {
                "id": "qz-sfj",
                "name": "钦州市司法局",
                "short_name": "市司法局",
                "region": "guangxi",
                "node": "qinzhou",
                "go_live": "2026-12-01",
            },
        )
        assert r.status_code == 303, r.text[:3000]
        d = engine().directory.departments["qz-sfj"]
        assert d.name == "钦州市司法局" and d.go_live.isoformat() == "2026-12-01" and d.region == "guangxi"
        assert d.node == "qinzhou" and d.parent == "qz-zfb"  # the node's government unit, derived
        assert "liaison-fgw" in engine().directory.people  # the file was seeded first: nothing lost

        # a weak channel field: the field is named
        r = await post_form(
            c,
            "/admin/people/new",
            "/admin/people",
            {
                "id": "liaison-sfj",
                "name": "司法局联络员",
                "department": "qz-sfj",
                "role_liaison": "1",
                "channel_kind": "email",
                "ch_email_address": "not-an-address",
            },
        )
        assert r.status_code == 422 and "有效的邮箱地址" in r.text
        r = await post_form(
            c,
            "/admin/people/new",
            "/admin/people",
            {
                "id": "liaison-sfj",
                "name": "司法局联络员",
                "department": "qz-sfj",
                "role_liaison": "1",
                "channel_kind": "email",
                "ch_email_address": "sfj@example.gov.cn",
            },
        )
        assert r.status_code == 303, r.text[:3000]
        p = engine().directory.people["liaison-sfj"]
        assert p.roles == ("liaison",) and p.department == "qz-sfj" and p.channel_privacy(0) == "personal"
        assert recipients(engine().directory, "qz-sfj", ["liaison"]) == ["liaison-sfj"]
        time.sleep(0.25)
        seen = watcher()
        assert seen is not None and "liaison-sfj" in seen.people and "qz-sfj" in seen.departments

        person_page = await c.get("/admin/people/liaison-sfj")
        assert "电子邮箱" in person_page.text and "sfj@example.gov.cn" in person_page.text
        assert "登录名 liaison-sfj" in person_page.text and "未设置密码" in person_page.text

        # the invite: by e-mail (a personal channel) and in the inbox; the link is not shown on the page
        before = len(env.smtp.messages)
        r = await post_form(c, "/admin/people/liaison-sfj", "/admin/people/liaison-sfj/invite", {})
        assert r.status_code == 303
        mail = env.smtp.wait_for(before + 1)[-1]
        assert mail.rcpt_tos == ["sfj@example.gov.cn"]
        link = re.search(r"https?://\S+/invite/[A-Za-z0-9_\-]+", mail.body).group(0)
        msgs = inbox.messages("liaison-sfj")["messages"]
        # the inbox says an invite was made; the working link only went to the e-mail (tokens are kept hashed)
        assert msgs and msgs[0]["kind"] == "invite" and link not in msgs[0]["body"] and "/invite/" not in str(msgs)

    path = urlsplit(link).path
    async with env.browser("10.9.0.2") as c:
        page = await c.get(path)
        assert page.status_code == 200 and "不能与最近 5 次" in page.text and "GB/T 22239-2019" in page.text
        for weak, rule in (
            ("Short1!", "至少 10 个字符"),
            ("alllowercase-letters", "至少三类"),
            ("Liaison-sfj-2026", "不能包含人员编号"),
        ):
            r = await c.post(path, data={"csrf_token": csrf_of(page.text), "password": weak, "password2": weak})
            assert r.status_code == 422 and rule in r.text, weak
        good = "Sfj-Liaison#2026x"
        r = await c.post(path, data={"csrf_token": csrf_of(page.text), "password": good, "password2": good})
        assert r.status_code == 303
        await sign_in(c, "liaison-sfj", good)

    # a reset: the same password again is refused, naming the history rule
    from services.accounts import set_password
    from store.accounts import PasswordError

    with pytest.raises(PasswordError, match="最近 5 次"):
        set_password("liaison-sfj", good)
    set_password("liaison-sfj", "Another-Pass#2027")
    with pytest.raises(PasswordError, match="最近 5 次"):
        set_password("liaison-sfj", good)


async def test_history_lists_each_change_and_export_round_trips(env):
    from domain.directory import parse_directory
    from domain.engine import engine

    async with env.browser() as c:
        await sign_in(c, "admin", ADMIN_PW)
        # make a head of the new department and name it on the department form
        r = await post_form(
            c,
            "/admin/people/new",
            "/admin/people",
            {"id": "head-sfj", "name": "司法局负责人", "department": "qz-sfj", "role_head": "1"},
        )
        assert r.status_code == 303, r.text[:3000]
        r = await post_form(
            c,
            "/admin/departments/qz-sfj",
            "/admin/departments/qz-sfj",
            {
                "name": "钦州市司法局",
                "region": "guangxi",
                "node": "qinzhou",
                "go_live": "2026-12-01",
                "head": "head-sfj",
            },
        )
        assert r.status_code == 303, r.text[:3000]
        assert engine().directory.departments["qz-sfj"].head == "head-sfj"
        # a head that is no head: refused, naming the field
        r = await post_form(
            c,
            "/admin/departments/qz-fgw",
            "/admin/departments/qz-fgw",
            {"name": "钦州市发展和改革委员会", "region": "guangxi", "head": "liaison-fgw"},
        )
        assert r.status_code == 422 and "负责人须是本部门" in r.text

        page = await c.get("/admin/directory")
        history = page.text[page.text.index('id="history"') :]
        assert "整体导入" in history and "departments.toml（首次编辑时导入）" in history
        assert "新增部门 钦州市司法局" in history and "新增人员 司法局联络员" in history
        assert "修改部门 钦州市司法局" in history and "负责人：（空） → 司法局负责人" in history
        assert "上线日期：（空） → 2026-12-01" in history and "系统管理员" in history

        r = await c.get("/admin/directory/export")
        assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    text = r.text
    parsed = parse_directory(text)
    current = engine().directory
    assert parsed.departments == current.departments and parsed.people == current.people
    assert tomllib.loads(text)["department"][-1]["go_live"].isoformat() == "2026-12-01"


async def test_the_test_button_reports_each_channel(env):
    async with env.browser() as c:
        await sign_in(c, "admin", ADMIN_PW)
        # liaison-fgw: its webhook channel (the receiver) and a second, dead webhook
        r = await post_form(
            c,
            "/admin/people/liaison-fgw",
            "/admin/people/liaison-fgw",
            {
                "name": "发改委联络员",
                "department": "qz-fgw",
                "role_liaison": "1",
                "channel_kind": "webhook",
                "ch_webhook_address": "http://127.0.0.1:9/nobody",
            },
        )
        assert r.status_code == 303, r.text[:3000]
        before = len(env.hook.posts)
        r = await post_form(c, "/admin/people/liaison-fgw", "/admin/people/liaison-fgw/test", {})
        assert r.status_code == 200
        results = r.text[r.text.index('id="test-results"') :]
        assert "渠道1 Webhook" in results and "发送成功" in results
        assert "渠道2 Webhook" in results and "发送失败" in results
        assert any(p.path == "/hook/liaison-fgw" for p in env.hook.posts[before:])
        # an invite to a person with group channels only: the link is shown once, for the admin to hand over
        r = await post_form(c, "/admin/people/liaison-fgw", "/admin/people/liaison-fgw/invite", {})
        assert r.status_code == 200 and 'id="invite-link"' in r.text and "/invite/" in r.text
        assert r.headers["cache-control"] == "no-store"
        audit = await c.get("/admin/audit?action=account.invite")
        assert "/invite/" not in audit.text


def test_cli_export_and_import_round_trip(env, tmp_path):
    from typer.testing import CliRunner

    from app.cli import app as cli
    from domain.directory import parse_directory
    from domain.engine import engine
    from services.directory import history, version

    res = CliRunner().invoke(cli, ["directory", "export"])
    assert res.exit_code == 0, res.output
    exported = parse_directory(res.output)
    assert "qz-sfj" in exported.departments and exported.people == engine().directory.people
    path = tmp_path / "departments.toml"
    path.write_text(res.output, encoding="utf-8")
    before = version()
    res = CliRunner().invoke(cli, ["directory", "import", str(path)])
    assert res.exit_code == 0 and "个部门" in res.output, res.output
    assert version() > before and history(1)[0].kind == "import"
    assert engine().directory.departments == exported.departments
    bad = tmp_path / "bad.toml"
    bad.write_text('[[person]]\nid = "x"\nname = "某人"\nroles = ["liaison"]\n', encoding="utf-8")
    res = CliRunner().invoke(cli, ["directory", "import", str(bad)])
    assert res.exit_code == 2 and "needs a department" in res.output
    assert version() == before + 1  # refused: nothing changed


async def test_a_head_cannot_lose_the_role_while_named_head(env):
    async with env.browser() as c:
        await sign_in(c, "admin", ADMIN_PW)
        r = await post_form(
            c,
            "/admin/people/head-fgw",
            "/admin/people/head-fgw",
            {"name": "发改委负责人", "department": "qz-fgw", "role_liaison": "1"},
        )
        assert r.status_code == 422 and "钦州市发展和改革委员会”的负责人" in r.text


def test_the_worker_and_the_cli_serve_the_directory_from_the_store():
    from app import composition
    from domain import engine as engine_mod
    from services import directory

    engine_mod.set_directory_source(None)
    composition.worker_activities(None)  # type: ignore[arg-type]  (the client is only captured)
    assert engine_mod.directory_source() is directory._source
    engine_mod.set_directory_source(None)
    composition.register_sources()
    assert engine_mod.directory_source() is directory._source


async def test_an_sms_channel_from_the_page_and_its_test_message(env, monkeypatch):
    """短信 on the admin page: the phone is asked in a plain field and shown by its last digits; the test
    button sends a real, signed SendSms to a local provider."""
    from tests.sms_provider import SmsProvider

    phone = "13912340017"
    with SmsProvider() as provider:
        for k, v in provider.env().items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("SHIXIAN_SMS_QUIET_HOURS", "")  # the test button is an admin's act, at any hour
        async with env.browser() as c:
            await sign_in(c, "admin", ADMIN_PW)
            base = {"id": "assessor-sms", "name": "短信考核员", "role_assessor": "1", "channel_kind": "sms_aliyun"}
            r = await post_form(c, "/admin/people/new", "/admin/people", {**base, "ch_sms_aliyun_phone": "139-12"})
            assert r.status_code == 422 and "有效的手机号码" in r.text
            r = await post_form(c, "/admin/people/new", "/admin/people", {**base, "ch_sms_aliyun_phone": phone})
            assert r.status_code == 303, r.text[:3000]
            page = await c.get("/admin/people/assessor-sms")
            assert "短信（阿里云）" in page.text and "尾号0017" in page.text and phone not in page.text
            assert "（个人）" in page.text
            r = await post_form(c, "/admin/people/assessor-sms", "/admin/people/assessor-sms/test", {})
            assert r.status_code == 200
            results = r.text[r.text.index('id="test-results"') :]
            assert "发送成功" in results and phone not in results
    (got,) = provider.requests
    assert got.signature_ok and got.params["PhoneNumbers"] == phone and got.params["Action"] == "SendSms"
