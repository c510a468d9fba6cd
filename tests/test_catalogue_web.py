"""The /catalogue page on real parts: the FastAPI app over httpx (ASGI, cookies like a browser), a temporary
SQLite store, real password hashes; upload -> preview (nothing written) -> confirm -> the node's duties."""

from __future__ import annotations

import shutil

import httpx
import pytest

from tests import workflow_harness
from tests.test_admin import csrf_of, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="session")

SUP_PW = "Sup3rvisor-pw-ok"
LIAISON_PW = "Lia1son-pw-is-ok"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from domain import engine as engine_mod
    from services.accounts import set_password
    from store.db import get_engine

    data = tmp_path_factory.mktemp("catalogue-data")
    config = tmp_path_factory.mktemp("catalogue-config") / "config"
    shutil.copytree(workflow_harness.REPO_CONFIG, config)
    mp = pytest.MonkeyPatch()
    mp.setenv("SHIXIAN_DATA_DIR", str(data))
    mp.setenv("SHIXIAN_CONFIG_DIR", str(config))
    mp.delenv("DATABASE_URL", raising=False)
    mp.delenv("SHIXIAN_WEB_ANONYMOUS", raising=False)
    engine_mod.reset()
    get_engine.cache_clear()
    try:
        set_password("supervisor-zwgk", SUP_PW)
        set_password("liaison-czj", LIAISON_PW)
        from app.web.server import create_app

        yield create_app(None, host="127.0.0.1")
    finally:
        mp.undo()
        engine_mod.reset()
        get_engine.cache_clear()


def browser(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("10.9.0.2", 40000)), base_url="http://127.0.0.1"
    )


async def test_upload_preview_confirm_and_list(app):
    shipped = workflow_harness.REPO_CONFIG / "catalogues" / "重大建设项目.csv"
    async with browser(app) as c:
        await sign_in(c, "supervisor-zwgk", SUP_PW)
        page = await c.get("/catalogue")
        assert page.status_code == 200 and "本地区的目录事项（0 项）" in page.text
        r = await c.post(
            "/catalogue",
            data={"csrf_token": csrf_of(page.text), "area": ""},
            files={"file": (shipped.name, shipped.read_bytes(), "text/csv")},
        )
        assert r.status_code == 200, r.text[:2000]
        assert "预览，尚未导入" in r.text and "新增 3" in r.text and "本地区的目录事项（0 项）" in r.text
        form = {k: v for k, v in _hidden(r.text, "catalogue-confirm").items()}
        done = await c.post("/catalogue/confirm", data=form)
        assert done.status_code == 200, done.text[:2000]
        assert "已导入：新增 3" in done.text and "本地区的目录事项（3 项）" in done.text
        again = await c.post("/catalogue/confirm", data=form)
        assert "新增 0、有变更 0、未变 3" in again.text
        # the registration form offers the node's duties by name
        reg = await c.get("/events/new", params={"type": "duty.formed"})
        assert reg.status_code == 200, reg.text[:2000]
        assert (
            "重大建设项目 第1项 办事指南（当日）" in reg.text
            and "重大建设项目 第3项 招标投标（20个工作日）" in reg.text
        )

        bad = b"\xef\xbb\xbf\xe5\xba\x8f\xe5\x8f\xb7,\xe4\xba\x8c\xe7\xba\xa7\xe4\xba\x8b\xe9\xa1\xb9,\xe5\x85\xac\xe5\xbc\x80\xe4\xbe\x9d\xe6\x8d\xae,\xe5\x85\xac\xe5\xbc\x80\xe6\x97\xb6\xe9\x99\x90\n"
        bad += "1,事项,条例,按规定时限\n".encode()
        r = await c.post(
            "/catalogue",
            data={"csrf_token": csrf_of(done.text), "area": "坏"},
            files={"file": ("bad.csv", bad, "text/csv")},
        )
        assert r.status_code == 422 and "bad.csv: 第 2 行 D 列（公开时限）“按规定时限”" in r.text
        assert "catalogue-confirm" not in r.text


async def test_a_next_year_duty_is_stored_and_offered_as_next_year(app):
    """“次年3月31日前” survives the store (the duty row's length carries the year offset): the form names it 次年,
    a second confirm finds it unchanged, and 每年 beside it stays 每年."""
    csv = "\ufeff序号,二级事项,公开依据,公开时限\n1,年度报告,条例,次年3月31日前\n2,年度统计,条例,每年3月31日前\n"
    async with browser(app) as c:
        await sign_in(c, "supervisor-zwgk", SUP_PW)
        page = await c.get("/catalogue")
        r = await c.post(
            "/catalogue",
            data={"csrf_token": csrf_of(page.text), "area": "年报"},
            files={"file": ("nianbao.csv", csv.encode(), "text/csv")},
        )
        assert r.status_code == 200, r.text[:2000]
        assert "次年3月31日前" in r.text and "新增 2" in r.text
        form = _hidden(r.text, "catalogue-confirm")
        done = await c.post("/catalogue/confirm", data=form)
        assert done.status_code == 200 and "已导入：新增 2" in done.text, done.text[:2000]
        again = await c.post("/catalogue/confirm", data=form)
        assert "新增 0、有变更 0、未变 2" in again.text
        reg = await c.get("/events/new", params={"type": "duty.formed"})
        assert "年报 第1项 年度报告（次年3月31日前）" in reg.text and "年报 第2项 年度统计（每年3月31日前）" in reg.text


async def test_a_liaison_gets_403(app):
    async with browser(app) as c:
        await sign_in(c, "liaison-czj", LIAISON_PW)
        assert (await c.get("/catalogue")).status_code == 403


def _hidden(html: str, form_id: str) -> dict[str, str]:
    import re

    start = html.index(f'id="{form_id}"')
    chunk = html[start : html.index("</form>", start)]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', chunk))
