"""The admin page's node scope (issue 20's security review): a node-scoped admin manages the departments and
people of their subtree only, on every route, and cannot widen anyone's scope (their own included).

Real parts: the three-level tree of tests/province.py in a copied config directory, a temporary SQLite store,
real password sign-in and bearer tokens, httpx against the FastAPI app (tests/test_authz_matrix.py's Env).
No Temporal here: none of these routes starts a workflow.
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlmodel import Session

from tests import workflow_harness
from tests.province import write_province
from tests.test_authz_matrix import PW, Env

pytestmark = pytest.mark.asyncio(loop_scope="session")

ADMINS = ["adm-gx", "adm-qz", "adm-ls"]
SIGNED_IN = [*ADMINS, "li-ls-jyj", "li-hp-jyj"]


def _csrf(text: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert m, text[:500]
    return m.group(1)


async def _sign_in(e: Env, who: str) -> httpx.Cookies:
    async with e.browser() as b:
        page = await b.get("/login")
        r = await b.post("/login", data={"person": who, "password": PW, "csrf_token": _csrf(page.text)})
        assert r.status_code == 303, r.text[:500]
        return b.cookies


class Admin:
    """A signed-in admin's browser: GET a page, POST a form with the session's CSRF token."""

    def __init__(self, e: Env, who: str):
        self.e, self.who = e, who

    async def get(self, path: str) -> httpx.Response:
        async with self.e.browser() as b:
            b.cookies = self.e.cookies[self.who]
            return await b.get(path)

    async def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        async with self.e.browser() as b:
            b.cookies = self.e.cookies[self.who]
            token = _csrf((await b.get("/admin/directory")).text)
            return await b.post(path, data={"csrf_token": token, **data})


def _prepare(config: Path, data: Path, mp: pytest.MonkeyPatch):
    from domain import engine as engine_mod
    from store.db import database_url, get_engine, init_db
    from store.tokens import ensure_table

    shutil.copytree(workflow_harness.REPO_CONFIG, config)
    province = write_province(config)
    mp.setenv("SHIXIAN_DATA_DIR", str(data))
    mp.setenv("SHIXIAN_CONFIG_DIR", str(config))
    mp.delenv("DATABASE_URL", raising=False)
    mp.delenv("SHIXIAN_WEB_ANONYMOUS", raising=False)
    engine_mod.reset()
    get_engine.cache_clear()
    eng = get_engine(database_url())
    init_db(eng)
    ensure_table(eng)
    return province, eng


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(tmp_path_factory):
    from app.web.server import create_app
    from domain import engine as engine_mod
    from services import directory as svc
    from services.accounts import set_password
    from store.db import get_engine
    from store.tokens import create_token

    mp = pytest.MonkeyPatch()
    try:
        config = tmp_path_factory.mktemp("admin-config") / "config"
        province, eng = _prepare(config, tmp_path_factory.mktemp("admin-data"), mp)
        svc.import_toml((config / "departments.toml").read_text(encoding="utf-8"), "test")  # the admin page's store
        tokens = {}
        with Session(eng) as s:
            for who in ADMINS:
                tokens[who], _ = create_token(s, "admin", None, person=who)
            tokens["sup-ls"], _ = create_token(s, "supervisor", None, person="sup-ls")
            tokens["admin-role"], _ = create_token(s, "admin")  # the operator's role token: no person
        for who in SIGNED_IN:
            set_password(who, PW)
        e = Env(create_app(None, host="127.0.0.1"), province, tokens, uuid.uuid4().hex[:6], "")
        for who in SIGNED_IN:
            e.cookies[who] = await _sign_in(e, who)
        yield e
    finally:
        mp.undo()
        engine_mod.reset()
        get_engine.cache_clear()


def _person(pid: str):
    from domain.engine import engine

    return engine().directory.people[pid]


# ---------------------------------------------------------------------------------- 1. no widening
async def test_a_county_admin_cannot_make_anyone_wider_than_the_county(env):
    adm = Admin(env, "adm-ls")
    # themselves, given a department of their county and no node: that would be the whole province
    r = await adm.post(
        "/admin/people/adm-ls", {"name": "灵山县管理员", "department": "ls-jyj", "node": "", "role_admin": "1"}
    )
    assert r.status_code == 422, r.text[:500]
    assert "管理员的权限限于灵山县及其下级单位：督查、考评和管理员角色须选择所辖地区（灵山县或其下级）" in r.text
    assert _person("adm-ls").node == "ls" and not _person("adm-ls").department
    # a liaison of their county made a province-wide supervisor (department inside, node outside)
    r = await adm.post(
        "/admin/people/li-ls-jyj",
        {
            "name": "灵山县教育局联络员",
            "department": "ls-jyj",
            "node": "gx",
            "role_supervisor": "1",
            "role_liaison": "1",
        },
    )
    assert r.status_code == 422 and "所辖地区不能是广西壮族自治区" in r.text
    assert _person("li-ls-jyj").roles == ("liaison",) and _person("li-ls-jyj").node is None
    # a new person in their county's department with an admin role and no node
    r = await adm.post(
        "/admin/people", {"id": "adm-ls-2", "name": "新管理员", "department": "ls-jyj", "node": "", "role_admin": "1"}
    )
    assert r.status_code == 422 and "须选择所辖地区" in r.text
    # a person of another area's department, with a node of theirs
    r = await adm.post(
        "/admin/people",
        {"id": "sup-ls-2", "name": "新督办", "department": "pb-jyj", "node": "ls", "role_supervisor": "1"},
    )
    assert r.status_code == 422 and "不能把人员放到其他地区的部门" in r.text
    from domain.engine import engine

    assert {"adm-ls-2", "sup-ls-2"}.isdisjoint(engine().directory.people)
    # inside the county: allowed
    r = await adm.post(
        "/admin/people", {"id": "sup-ls-3", "name": "灵山县督办二", "node": "ls", "role_supervisor": "1"}
    )
    assert r.status_code == 303, r.text[:1000]
    assert _person("sup-ls-3").node == "ls"


async def test_only_a_top_admin_creates_an_unscoped_person(env):
    r = await Admin(env, "adm-qz").post(
        "/admin/people", {"id": "sup-all-1", "name": "全区督办", "role_supervisor": "1"}
    )
    assert r.status_code == 422 and "管理员的权限限于钦州市及其下级单位" in r.text
    r = await Admin(env, "adm-gx").post(
        "/admin/people", {"id": "sup-all-2", "name": "全区督办", "role_supervisor": "1"}
    )
    assert r.status_code == 303, r.text[:1000]
    assert _person("sup-all-2").node is None
    from domain.engine import engine

    assert "sup-all-1" not in engine().directory.people


# ---------------------------------------------------------------------------------- 2. every route
async def test_another_areas_forms_and_person_actions_are_refused_naming_the_node(env):
    from services.accounts import account_states

    adm = Admin(env, "adm-qz")
    for path, where in [
        ("/admin/departments/hp-jyj", "合浦县"),
        ("/admin/people/li-hp-jyj", "合浦县"),
        ("/admin/people/sup-gx", "广西壮族自治区"),
        ("/admin/people/adm-gx", "广西壮族自治区"),
    ]:
        r = await adm.get(path)
        assert r.status_code == 403, (path, r.text[:500])
        assert "管理员的权限限于钦州市及其下级单位" in r.text and f"属于{where}" in r.text, path
    for action in ("invite", "test", "disable"):
        r = await adm.post(f"/admin/people/li-hp-jyj/{action}", {})
        assert r.status_code == 403, (action, r.text[:500])
        assert "属于合浦县" in r.text and "/invite/" not in r.text  # no one-time link of theirs shown
    assert account_states(["li-hp-jyj"])["li-hp-jyj"] == "password"  # not disabled
    async with env.browser() as b:  # the liaison still signs in: the session was not ended
        b.cookies = env.cookies["li-hp-jyj"]
        assert (await b.get("/liaison")).status_code == 200
    # inside the city: the form opens
    assert (await adm.get("/admin/people/li-ls-jyj")).status_code == 200
    assert (await adm.get("/admin/departments/pb-jyj")).status_code == 200


async def test_the_export_and_the_history_are_the_admins_subtree(env):
    from domain.directory import parse_directory

    r = await Admin(env, "adm-gx").post(
        "/admin/people/li-hp-jyj",
        {"name": "合浦县教育局联络员甲", "department": "hp-jyj", "role_liaison": "1"},
    )
    assert r.status_code == 303, r.text[:1000]
    adm = Admin(env, "adm-qz")
    r = await adm.post(
        "/admin/people/li-pb-jyj",
        {"name": "浦北县教育局联络员乙", "department": "pb-jyj", "role_liaison": "1"},
    )
    assert r.status_code == 303, r.text[:1000]
    export = await adm.get("/admin/directory/export")
    assert export.status_code == 200
    text = export.content.decode("utf-8")
    ids = set(re.findall(r'^id = "([^"]+)"', text, re.M))
    assert {"qz-zfb", "ls-jyj", "pb-jyj", "li-ls-jyj", "sup-qz", "adm-ls"} <= ids
    assert ids.isdisjoint({"hp-jyj", "bh-zfb", "gx-fgw", "li-hp-jyj", "sup-gx", "adm-gx", "sup-all-2", "sup-bh"})
    parse_directory(text, source="export")  # still a file the parser accepts
    page = await adm.get("/admin/directory")
    assert "浦北县教育局联络员乙" in page.text
    assert "合浦县教育局联络员甲" not in page.text  # another city's change
    assert "名人员（来源" not in page.text  # the import of the whole directory
    top = await Admin(env, "adm-gx").get("/admin/directory")
    assert "合浦县教育局联络员甲" in top.text and "浦北县教育局联络员乙" in top.text and "名人员（来源" in top.text


async def test_the_history_names_the_node_in_chinese(env):
    adm = Admin(env, "adm-qz")
    r = await adm.post("/admin/people/ass-ls", {"name": "灵山县绩效考评办", "node": "pb", "role_assessor": "1"})
    assert r.status_code == 303, r.text[:1000]
    page = await adm.get("/admin/people/ass-ls")
    assert "所属地区：灵山县 → 浦北县" in page.text
    assert "node：" not in page.text


# ---------------------------------------------------------------------------------- 4. reload, tokens
async def test_only_a_top_admin_reloads_the_calendar(env):
    async with env.api("adm-qz") as c:
        r = await c.post("/api/calendar/reload")
    assert r.status_code == 403
    assert r.json()["detail"] == "无权重新载入日历：权限限于钦州市及其下级单位，此操作影响全部地区，须由上级管理员执行"
    for who in ("adm-gx", "admin-role"):  # the root's admin, the operator's role token of no person
        async with env.api(who) as c:
            r = await c.post("/api/calendar/reload")
        assert r.status_code == 503 and r.json()["code"] == "temporal_unavailable", (who, r.text)


# ---------------------------------------------------------------------------------- 3. the store's directory
def _cut_node(config: Path, node: str) -> None:
    """jurisdictions.toml without `node` (the stored departments and people of it no longer parse)."""
    text = (config / "jurisdictions.toml").read_text(encoding="utf-8")
    blocks = [b for b in text.split("\n\n") if f'id = "{node}"' not in b]
    (config / "jurisdictions.toml").write_text("\n\n".join(blocks), encoding="utf-8")


def _rename_node(config: Path, node: str, name: str) -> None:
    import os

    path = config / "jurisdictions.toml"
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    blocks = [re.sub(r'name = "[^"]+"', f'name = "{name}"', b) if f'id = "{node}"' in b else b for b in blocks]
    st = path.stat()
    path.write_text("\n\n".join(blocks), encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # a new mtime even on a coarse clock


@pytest.fixture
def store_dir(tmp_path):
    from domain import engine as engine_mod
    from services import directory as svc
    from store.db import get_engine

    mp = pytest.MonkeyPatch()
    try:
        config = tmp_path / "config"
        _prepare(config, tmp_path / "data", mp)
        svc.import_toml((config / "departments.toml").read_text(encoding="utf-8"), "test")
        yield config
    finally:
        mp.undo()
        engine_mod.reset()
        get_engine.cache_clear()


async def test_the_store_directory_follows_an_edited_tree(store_dir):
    from services.directory import StoreDirectory

    source = StoreDirectory(check_every=0)
    assert source().tree.name("ls") == "灵山县"
    _rename_node(store_dir, "ls", "灵山县（新）")
    assert source().tree.name("ls") == "灵山县（新）"  # the store did not change; the tree did


async def test_stored_entries_that_stop_parsing_keep_the_last_good_directory(store_dir):
    from domain.directory import DirectoryError
    from domain.engine import config_problem
    from services.directory import StoreDirectory

    source = StoreDirectory(check_every=0)
    good = source()
    assert good is not None and good.people["sup-hp"].node == "hp"
    assert config_problem() is None
    _cut_node(store_dir, "hp")  # hp's departments and people name a node the tree no longer has
    assert source() is good  # never the file, never None
    problem = config_problem()
    assert problem and "继续使用上一版人员名录" in problem and '"hp"' in problem
    with pytest.raises(DirectoryError, match="未改用 departments.toml"):
        StoreDirectory(check_every=0)()  # a fresh process: nothing good yet, and no fallback to the file


async def test_a_token_whose_scope_cannot_be_read_is_refused(store_dir):
    from app.web.server import create_app
    from services.directory import _source
    from store.db import database_url, get_engine
    from store.tokens import create_token

    with Session(get_engine(database_url())) as s:
        token, _ = create_token(s, "supervisor", None, person="sup-ls")
    app = create_app(None, host="127.0.0.1")
    _cut_node(store_dir, "hp")
    _source.forget()  # as a process started after the edit: no good directory yet
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {token}"},
    ) as c:
        r = await c.get("/api/items", params={"department": "qz-fgw"})
    assert r.status_code == 401, r.text
    assert "人员名录暂不可用" in r.json()["detail"]


# ---------------------------------------------------------------------------------- 0013_dir_parent
async def test_0013_maps_a_stored_parent_to_its_node(tmp_path):
    import json

    from alembic import command
    from sqlalchemy import text

    from store.db import alembic_config, create_db_engine

    eng = create_db_engine(f"sqlite:///{tmp_path / 'old.db'}")
    stored = {
        "ls-zfb": {
            "id": "ls-zfb",
            "name": "灵山县政府办",
            "node": "ls",
            "annual_reports": ["department", "government"],
        },
        "ls-jyj": {"id": "ls-jyj", "name": "灵山县教育局", "parent": "ls-zfb"},  # the node's government unit
        "pb-jyj": {"id": "pb-jyj", "name": "浦北县教育局", "node": "pb", "parent": "ls-zfb"},  # has a node: kept
        "x-old": {"id": "x-old", "name": "某局", "parent": "no-such"},  # names no government unit: dropped
        "y-old": {"id": "y-old", "name": "某办", "parent": "ls-jyj"},  # a unit that compiles no government report
    }
    try:
        with eng.begin() as conn:
            command.upgrade(alembic_config(conn), "0012_scale")
        with eng.begin() as conn:
            for i, (did, data) in enumerate(stored.items()):
                conn.execute(
                    text(
                        "insert into directory_department (id, position, data, updated_at)"
                        " values (:id, :pos, :data, '2026-01-01 00:00:00+00:00')"
                    ),
                    {"id": did, "pos": i, "data": json.dumps(data, ensure_ascii=False)},
                )
        with eng.begin() as conn:
            command.upgrade(alembic_config(conn), "0013_dir_parent")
        with eng.connect() as conn:
            got = {r[0]: json.loads(r[1]) for r in conn.execute(text("select id, data from directory_department"))}
    finally:
        eng.dispose()
    assert got["ls-zfb"] == stored["ls-zfb"]
    assert got["ls-jyj"] == {"id": "ls-jyj", "name": "灵山县教育局", "node": "ls"}
    assert got["pb-jyj"] == {"id": "pb-jyj", "name": "浦北县教育局", "node": "pb"}
    assert got["x-old"] == {"id": "x-old", "name": "某局"}
    assert got["y-old"] == {"id": "y-old", "name": "某办"}
