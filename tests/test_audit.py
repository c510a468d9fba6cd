"""The audit trail (issue 16 §2): append-only in the database itself (SQLite and PostgreSQL), a retention purge
that is the only deletion, a hash chain that shows tampering, and what the product records — a sign-in (success
and failure, with the address), an export and a review approval with who and when — found by the admin's page
and the CLI over real HTTP, a real Temporal stack and real subprocesses."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import getpass
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session

from store import audit as A

SHIXIAN = str(Path(sys.executable).parent / "shixian")


def _append(s: Session, age_days: float, action: str = "auth.sign_in", actor: str = "liaison-fgw") -> A.AuditRecord:
    return A.append(
        s,
        actor=actor,
        role="liaison",
        channel="web",
        action=action,
        client="10.0.0.1",
        at=A.utcnow() - dt.timedelta(days=age_days),
    )


def _refused(engine, sql: str) -> str:
    with pytest.raises(Exception) as info:  # the driver's own error class differs per dialect
        with engine.begin() as conn:
            conn.execute(text(sql))
    return str(info.value)


# ---------------------------------------------------------------------------------- the database refuses


def test_update_and_delete_are_refused_by_the_database(engine):
    with Session(engine) as s:
        old = _append(s, 400)
        young = _append(s, 1, actor="supervisor-zwgk")
    for sql in (
        f"UPDATE audit_record SET actor = 'someone-else' WHERE id = {young.id}",
        "UPDATE audit_record SET detail = '{}'",
        f"DELETE FROM audit_record WHERE id = {young.id}",
        f"DELETE FROM audit_record WHERE id = {old.id}",  # old enough, but not the purge's transaction
        "DELETE FROM audit_record",
    ):
        assert "只能追加" in _refused(engine, sql), sql
    if engine.dialect.name == "postgresql":
        assert "只能追加" in _refused(engine, "TRUNCATE audit_record")
        # the purge's flag alone does not let a young record go: the database's own clock decides
        with pytest.raises(Exception, match="只能追加"):
            with engine.begin() as conn:
                conn.execute(text("SELECT set_config('shixian.audit_purge', 'on', true)"))
                conn.execute(text(f"DELETE FROM audit_record WHERE id = {young.id}"))
    with Session(engine) as s:
        rows = A.search(s, A.Filter())
        assert [(r.id, r.actor) for r in rows] == [(young.id, "supervisor-zwgk"), (old.id, "liaison-fgw")]
        assert A.verify(s).problems == []


def test_a_database_adopted_from_before_migrations_gets_the_guard(tmp_path):
    """create_all (how databases were made before migrations) makes the table without triggers; migrating adds them."""
    from sqlmodel import SQLModel

    from store.db import _import_table_modules, create_db_engine, init_db

    _import_table_modules()
    eng = create_db_engine(f"sqlite:///{tmp_path / 'old.db'}")
    SQLModel.metadata.create_all(eng)
    init_db(eng)
    with Session(eng) as s:
        _append(s, 1)
    assert "只能追加" in _refused(eng, "UPDATE audit_record SET actor = 'x'")
    assert "只能追加" in _refused(eng, "DELETE FROM audit_record")
    eng.dispose()


def test_sqlite_refuses_deletion_from_a_connection_outside_the_product(tmp_path):
    """A plain sqlite3 connection (no shixian_audit_purge function) cannot delete even an old record."""
    import sqlite3

    from store.db import create_db_engine, init_db

    path = tmp_path / "a.db"
    eng = init_db(create_db_engine(f"sqlite:///{path}"))
    with Session(eng) as s:
        _append(s, 400)
    eng.dispose()
    con = sqlite3.connect(path)
    with pytest.raises(sqlite3.OperationalError, match="shixian_audit_purge"):
        con.execute("DELETE FROM audit_record")
    with pytest.raises(sqlite3.IntegrityError, match="只能追加"):
        con.execute("UPDATE audit_record SET actor = 'x'")
    assert con.execute("SELECT count(*) FROM audit_record").fetchone() == (1,)
    con.close()


# ---------------------------------------------------------------------------------- retention


def test_retention_purge_keeps_records_younger_than_the_retention(engine):
    with Session(engine) as s:
        ages = {400: _append(s, 400), 200: _append(s, 200), 179: _append(s, 179), 10: _append(s, 10)}
        with pytest.raises(ValueError, match="第二十一条"):
            A.purge(s, 90)
        first = A.purge(s, 365)
        assert first is not None and first.detail["deleted"] == 1 and first.detail["through_id"] == ages[400].id
        kept = {r.id for r in A.search(s, A.Filter())}
        assert kept == {ages[200].id, ages[179].id, ages[10].id, first.id}
        row = A.purge(s, 180)
        assert row is not None and row.action == "audit.purge" and row.actor == "system"
        kept = {r.id for r in A.search(s, A.Filter())}
        assert kept == {ages[179].id, ages[10].id, first.id, row.id}  # younger than 180 days: kept
        assert A.verify(s).problems == []  # the chain starts where the purge record says
        assert A.purge(s, 180) is None  # nothing more is old enough
        # A purge whose own clock is wrong (100 days ahead) asks to delete young records: the database refuses
        # and nothing is deleted.
        with pytest.raises(Exception, match="只能追加"):
            A.purge(s, 180, now=A.utcnow() + dt.timedelta(days=100))
    with Session(engine) as s:
        assert {r.id for r in A.search(s, A.Filter())} == kept


def test_retention_setting_below_180_days_is_refused(monkeypatch):
    from domain.settings import SettingsError, get_settings

    monkeypatch.delenv("SHIXIAN_AUDIT_RETENTION_DAYS", raising=False)
    assert get_settings().audit_retention_days == 180
    monkeypatch.setenv("SHIXIAN_AUDIT_RETENTION_DAYS", "400")
    assert get_settings().audit_retention_days == 400
    monkeypatch.setenv("SHIXIAN_AUDIT_RETENTION_DAYS", "90")
    with pytest.raises(SettingsError) as info:
        get_settings()
    assert "SHIXIAN_AUDIT_RETENTION_DAYS=90" in str(info.value) and "网络安全法》第二十一条" in str(info.value)
    out = subprocess.run([SHIXIAN, "audit", "purge"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "错误：SHIXIAN_AUDIT_RETENTION_DAYS=90 过短" in out.stderr, out.stderr


# ---------------------------------------------------------------------------------- tampering


def test_verify_finds_edited_and_removed_records(engine):
    with Session(engine) as s:
        rows = [_append(s, 300 - i, actor=f"p{i}") for i in range(4)]
        assert A.verify(s).problems == []
    # someone with the database owner's rights switches the guard off and edits / deletes behind the product
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_record DISABLE TRIGGER audit_record_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_record_no_update"))
            conn.execute(text("DROP TRIGGER audit_record_no_delete"))
        conn.execute(text(f"UPDATE audit_record SET actor = 'nobody' WHERE id = {rows[1].id}"))
        conn.execute(text(f"DELETE FROM audit_record WHERE id = {rows[2].id}"))
    with Session(engine) as s:
        problems = A.verify(s).problems
    assert any(f"第 {rows[1].id} 条：内容与其哈希不符" in p for p in problems), problems
    assert any(f"缺少第 {rows[2].id}–{rows[2].id} 条" in p for p in problems), problems
    with engine.begin() as conn:  # the oldest one removed outside the purge
        conn.execute(text(f"DELETE FROM audit_record WHERE id = {rows[0].id}"))
    with Session(engine) as s:
        assert any("没有对应的过期清理记录" in p for p in A.verify(s).problems)


def test_concurrent_writers_keep_one_unbroken_chain(engine):
    """Web replicas, workers and the CLI append at once: every record lands, ids stay consecutive, the chain
    links each to the one before."""
    from concurrent.futures import ThreadPoolExecutor

    def writer(n: int) -> list[int]:
        with Session(engine) as s:
            return [_append(s, 0, actor=f"w{n}").id for _ in range(15)]

    with ThreadPoolExecutor(4) as pool:
        ids = [i for chunk in pool.map(writer, range(4)) for i in chunk]
    assert sorted(ids) == list(range(1, 61))
    with Session(engine) as s:
        v = A.verify(s)
    assert (v.checked, v.first_id, v.last_id, v.problems) == (60, 1, 60, [])


def test_secrets_never_reach_a_record(engine):
    with Session(engine) as s:
        for detail in ({"password": "x"}, {"nested": {"token": "x"}}):
            with pytest.raises(ValueError, match="审计记录"):
                A.append(s, actor="a", role="admin", channel="cli", action="token.create", detail=detail)
        assert A.search(s, A.Filter()) == []
        # A token pasted into a reason is blanked out; the decision is still recorded (it has happened).
        pasted = "sx_0123456789_" + "a" * 43
        A.append(s, actor="a", role="supervisor", channel="web", action="review.reject", object=pasted,
                 detail={"reason": f"见 {pasted}", "steps": [pasted]})  # fmt: skip
        (row,) = A.search(s, A.Filter())
        assert pasted not in repr((row.object, row.detail)) and A.TOKEN_BLANKED in str(row.detail)


# ---------------------------------------------------------------------------------- the product over HTTP


PASSWORDS = {"supervisor-zwgk": "sup-password-1", "assessor-zwgk": "assess-password-1", "admin": "root-password-1"}


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, html[:1000]
    return m.group(1)


async def _sign_in(c: httpx.AsyncClient, person: str, password: str) -> httpx.Response:
    page = await c.get("/login")
    return await c.post(
        "/login", data={"person": person, "password": password, "csrf_token": _csrf(page.text), "next": "/"}
    )


def _browser(base: str, address: str) -> httpx.AsyncClient:
    # uvicorn trusts X-Forwarded-For from 127.0.0.1, as behind the reverse proxy that adds it to every request
    return httpx.AsyncClient(base_url=base, headers={"X-Forwarded-For": address}, timeout=120)


def _table_rows(html: str) -> list[list[str]]:
    body = re.search(r'<table id="audit">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        rows.append([re.sub(r"<[^>]+>", "", td).strip() for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)])
    return rows


def _recent(at: str) -> bool:
    from domain.shanghai import SHANGHAI

    when = dt.datetime.strptime(at, "%Y年%m月%d日 %H:%M:%S").replace(tzinfo=SHANGHAI)
    return abs(dt.datetime.now(SHANGHAI) - when) < dt.timedelta(minutes=10)


@pytest.fixture
def product_db(db_url):
    """The product's own DATABASE_URL: None (SQLite under the data directory) or a fresh PostgreSQL schema that
    every part — worker activities, web app, CLI subprocesses — reaches through the URL."""
    if db_url.startswith("sqlite"):
        yield None
        return
    import uuid

    from sqlalchemy import create_engine

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(db_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{db_url}?options=-csearch_path%3D{schema}"
    finally:
        from store.db import get_engine

        get_engine.cache_clear()  # its pooled connections go with the schema
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.asyncio(loop_scope="session")
async def test_sign_in_export_and_approval_are_listed_with_who_and_when(
    ts_env, tmp_path, monkeypatch, free_port, product_db
):
    import uvicorn

    from app.web.server import create_app
    from domain.engine import engine as config_engine
    from domain.shanghai import today as wall_today
    from services.ingest import Ingestor
    from store.accounts import set_password
    from store.db import get_engine, init_db
    from store.tokens import create_token
    from tests.workflow_harness import stack

    async with stack(ts_env, tmp_path, monkeypatch) as st:
        if product_db:
            monkeypatch.setenv("DATABASE_URL", product_db)
        eng = init_db(get_engine())
        assert eng.dialect.name == ("postgresql" if product_db else "sqlite")
        with Session(eng) as s:
            for person, pw in PASSWORDS.items():
                set_password(s, person, pw)
            admin_token, _ = create_token(s, "admin", person="admin")
        # a liaison's reply recorded 8 working days after it happened: held for review (补录)
        cal, today = config_engine().calendar, await st.today()
        rid = st.id("AUD-1")
        st.started.add(f"request:{rid}")
        liaison = Ingestor(st.client, recorded_by="liaison-fgw", db_engine=eng, role="liaison")
        received = {
            "event_id": f"{rid}-r",
            "type": "request.received",
            "request_id": rid,
            "department": "qz-fgw",
            "received_on": cal.subtract_working_days(today, 30, "guangxi").isoformat(),
            "channel": "online",
            "applicant_type": "natural_person",
            "subject": "审计测试",
        }
        reply = {
            "event_id": f"{rid}-reply",
            "type": "request.replied",
            "request_id": rid,
            "on": cal.subtract_working_days(today, 8, "guangxi").isoformat(),
            "outcome": "granted",
        }
        res = await liaison.ingest([(1, received), (2, reply)])
        assert [r.status for r in res] == ["applied", "held"], [r.text() for r in res]

        server = uvicorn.Server(
            uvicorn.Config(
                create_app(st.client, open_pages=False),
                host="127.0.0.1",
                port=free_port,
                log_level="warning",
                lifespan="off",
            )
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        base = f"http://127.0.0.1:{free_port}"
        try:
            async with _browser(base, "203.0.113.7") as c:
                r = await _sign_in(c, "supervisor-zwgk", "wrong-password-9")
                assert r.status_code == 401
                r = await _sign_in(c, "my-secret-password-1", "x")  # a password typed into the name field
                assert r.status_code == 401
                r = await _sign_in(c, "supervisor-zwgk", PASSWORDS["supervisor-zwgk"])
                assert r.status_code == 303
                board = await c.get("/")
                r = await c.post(f"/review/{reply['event_id']}/approve", data={"csrf_token": _csrf(board.text)})
                assert r.status_code == 303
                item = await c.get(f"/items/{rid}")
                r = await c.post(f"/items/{rid}/urge", data={"csrf_token": _csrf(item.text), "note": "请尽快核实"})
                assert r.status_code == 303
                r = await c.get("/admin/audit")  # a supervisor is not the audit administrator
                assert r.status_code == 403 and "需要管理员角色" in r.text
                assert (await c.post("/logout", data={"csrf_token": _csrf(item.text)})).status_code == 303
            async with _browser(base, "198.51.100.9") as c:
                assert (await _sign_in(c, "assessor-zwgk", PASSWORDS["assessor-zwgk"])).status_code == 303
                xlsx = await c.get(f"/api/scores?period={today.year}&format=xlsx")
                assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
                last_year = str(wall_today().year - 1)
                scores = await c.get(f"/scores?period={last_year}")
                r = await c.post("/scores/lock", data={"csrf_token": _csrf(scores.text), "period": last_year})
                assert r.status_code == 303
                report = await c.get(f"/api/annual-report?year={last_year}&government=true&format=xlsx")
                assert report.status_code == 200 and report.content[:2] == b"PK"
                for path in ("/admin/audit", "/admin/audit/export?format=csv"):
                    r = await c.get(path)
                    assert r.status_code == 403 and "当前角色为绩效考评" in r.text and "序号" not in r.text
            async with _browser(base, "192.0.2.1") as c:
                r = await c.post("/api/calendar/reload", headers={"Authorization": f"Bearer {admin_token}"})
                assert r.status_code == 200, r.text
                assert (await _sign_in(c, "admin", PASSWORDS["admin"])).status_code == 303
                page = await c.get("/admin/audit")
                assert page.status_code == 200
                rows = _table_rows(page.text)
                # 序号 时间 人员 角色 途径 操作 对象 部门 结果 地址 说明
                got = {(r[2].split()[0], r[5], r[8], r[9]) for r in rows}
                assert {
                    ("supervisor-zwgk", "登录", "失败", "203.0.113.7"),
                    ("supervisor-zwgk", "登录", "成功", "203.0.113.7"),
                    ("supervisor-zwgk", "批准补录", "成功", "203.0.113.7"),
                    ("supervisor-zwgk", "越权访问被拒绝", "失败", "203.0.113.7"),
                    ("assessor-zwgk", "登录", "成功", "198.51.100.9"),
                    ("assessor-zwgk", "导出考评得分", "成功", "198.51.100.9"),
                    ("supervisor-zwgk", "督办", "成功", "203.0.113.7"),
                    ("supervisor-zwgk", "退出登录", "成功", "203.0.113.7"),
                    ("assessor-zwgk", "锁定考评期间", "成功", "198.51.100.9"),
                    ("assessor-zwgk", "下载年度报告", "成功", "198.51.100.9"),
                    ("assessor-zwgk", "越权访问被拒绝", "失败", "198.51.100.9"),
                    ("admin", "重新载入日历", "成功", "192.0.2.1"),
                    ("admin", "登录", "成功", "192.0.2.1"),
                } <= got, got
                urge = next(r for r in rows if r[5] == "督办")
                assert (urge[6], urge[7]) == (rid, "钦州市发展和改革委员会") and urge[4] == "网页"
                reload_ = next(r for r in rows if r[5] == "重新载入日历")
                assert reload_[4] == "接口" and "通知事项数：" in reload_[10]
                approval = next(r for r in rows if r[5] == "批准补录")
                assert approval[6] == reply["event_id"] and approval[3] == "督查" and "事项：" + rid in approval[10]
                export = next(r for r in rows if r[5] == "导出考评得分")
                assert export[6] == f"{today.year} xlsx" and export[4] == "网页"
                assert all(_recent(r[1]) for r in rows), [r[1] for r in rows]
                shown = " ".join(" ".join(r) for r in rows)
                assert not {"auth.sign_in", "review.approve", "success", "supervisor", "web"} & set(shown.split())

                failures = _table_rows((await c.get("/admin/audit?action=auth.sign_in&outcome=failure")).text)
                assert sorted(r[2] for r in failures) == ["supervisor-zwgk 政务公开办督办员", "（未知人员）"]
                assert "my-secret-password-1" not in page.text
                assert all(r[10] == "原因：人员编号或密码不正确" for r in failures)
                mine = _table_rows((await c.get("/admin/audit?person=assessor-zwgk")).text)
                assert {r[5] for r in mine} == {
                    "登录",
                    "导出考评得分",
                    "锁定考评期间",
                    "下载年度报告",
                    "越权访问被拒绝",
                }
                refused = sorted(r[6] for r in mine if r[5] == "越权访问被拒绝")
                assert refused == ["/admin/audit", "/admin/audit/export"]
                report_row = next(r for r in mine if r[5] == "下载年度报告")
                assert (report_row[6], report_row[10]) == (f"{last_year} xlsx", "范围：政府")
                # dates are days of Beijing time (the records carry the real clock's instant)
                near = (
                    (wall_today() - dt.timedelta(days=1)).isoformat(),
                    (wall_today() + dt.timedelta(days=1)).isoformat(),
                )
                assert len(_table_rows((await c.get(f"/admin/audit?since={near[0]}&until={near[1]}")).text)) == len(
                    rows
                )
                past = (
                    (wall_today() - dt.timedelta(days=400)).isoformat(),
                    (wall_today() - dt.timedelta(days=399)).isoformat(),
                )
                assert _table_rows((await c.get(f"/admin/audit?since={past[0]}&until={past[1]}")).text) == [
                    ["没有符合条件的审计记录。"]
                ]
                bad = await c.get("/admin/audit?since=2026-02-30")
                assert bad.status_code == 422 and "起始日期" in bad.text

                out = await c.get("/admin/audit/export?format=csv&action=auth.sign_in&outcome=failure")
                assert out.status_code == 200 and out.content.startswith("\ufeff".encode())
                table = list(csv.reader(io.StringIO(out.content.decode("utf-8-sig"))))
                assert table[0][:3] == ["序号", "时间（北京时间）", "人员"] and len(table) == 3
                assert {t[2] for t in table[1:]} == {"supervisor-zwgk", "（未知人员）"}
                assert {t[6] for t in table[1:]} == {"登录"} and {t[9] for t in table[1:]} == {"失败"}
                xlsx = await c.get("/admin/audit/export?format=xlsx")
                assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
                with Session(eng) as s:  # text that would start a formula leaves the export as plain text
                    A.append(s, actor="=HYPERLINK(1)", role="operator", channel="cli", action="token.create")
                out = await c.get("/admin/audit/export?format=csv&action=token.create")
                (_, row) = list(csv.reader(io.StringIO(out.content.decode("utf-8-sig"))))
                assert (row[2], row[6], row[5]) == ("'=HYPERLINK(1)", "生成接口令牌", "命令行")
                with Session(eng) as s:  # paging: 50 a page, newest first, then the older ones
                    for _ in range(60):
                        A.append(s, actor="os:ops", role="operator", channel="cli", action="token.revoke")
                first = await c.get("/admin/audit?action=token.revoke")
                older = re.search(r'<a href="([^"]+)" id="audit-next">', first.text).group(1).replace("&amp;", "&")
                second = await c.get(older)
                ids = [int(r[0]) for r in _table_rows(first.text)] + [int(r[0]) for r in _table_rows(second.text)]
                assert len(_table_rows(first.text)) == 50 and ids == sorted(ids, reverse=True) and len(set(ids)) == 60
                assert 'id="audit-next"' not in second.text and "共 60 条" in second.text
        finally:
            server.should_exit = True
            await serving

        # the CLI finds the same records, and records its own export
        env = {**os.environ}
        listed = subprocess.run(
            [SHIXIAN, "audit", "list", "--action", "review.approve", "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert listed.returncode == 0, listed.stderr
        (line,) = [json.loads(x) for x in listed.stdout.splitlines()]
        assert (line["actor"], line["action"], line["object"], line["client"]) == (
            "supervisor-zwgk",
            "批准补录",
            reply["event_id"],
            "203.0.113.7",
        )
        assert _recent(line["at"])
        text_out = subprocess.run(
            [SHIXIAN, "audit", "list", "--person", "assessor-zwgk"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert "导出考评得分" in text_out.stdout and "地址 198.51.100.9" in text_out.stdout, text_out.stdout
        target = tmp_path / "audit.xlsx"
        exported = subprocess.run(
            [SHIXIAN, "audit", "export", "--format", "xlsx", "--out", str(target), "--since", near[0]],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert exported.returncode == 0, exported.stderr
        from openpyxl import load_workbook

        sheet = load_workbook(target).active
        values = [[c.value for c in row] for row in sheet.iter_rows()]
        assert values[0][6] == "操作" and "批准补录" in {v[6] for v in values[1:]}
        verified = subprocess.run([SHIXIAN, "audit", "verify"], capture_output=True, text=True, env=env, timeout=120)
        assert verified.returncode == 0 and "哈希链一致" in verified.stdout, verified.stderr
        with Session(eng) as s:
            (own,) = A.search(s, A.Filter(action="export.audit", actor=f"os:{getpass.getuser()}"))
        assert (own.channel, own.role, own.detail["rows"]) == ("cli", "operator", len(values) - 1)


def test_cli_account_and_token_changes_are_recorded(tmp_data_dir):
    from store.db import get_engine

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        out = subprocess.run([SHIXIAN, *args], capture_output=True, text=True, input=stdin, timeout=120)
        assert out.returncode == 0, out.stderr
        return out

    run("user", "set-password", "liaison-fgw", "--password-stdin", stdin="a-long-password-1\n")
    token = run("token", "create", "--role", "supervisor", "--person", "supervisor-zwgk").stdout.splitlines()[-1]
    token_id = token[3:].split("_", 1)[0]
    run("token", "revoke", token_id)
    run("user", "disable", "liaison-fgw")
    with Session(get_engine()) as s:
        rows = list(reversed(A.search(s, A.Filter())))
    assert [(r.action, r.object) for r in rows] == [
        ("account.password_set", "liaison-fgw"),
        ("token.create", token_id),
        ("token.revoke", token_id),
        ("account.disable", "liaison-fgw"),
    ]
    assert {(r.actor, r.role, r.channel) for r in rows} == {(f"os:{getpass.getuser()}", "operator", "cli")}
    assert rows[1].detail == {"role": "supervisor", "person": "supervisor-zwgk"}
    assert all(token not in json.dumps(r.detail) and token[-20:] not in json.dumps(r.detail) for r in rows)


@pytest.mark.asyncio(loop_scope="session")
async def test_the_worker_purges_daily_what_is_past_the_retention(tmp_data_dir, monkeypatch):
    from store.db import get_engine, init_db
    from worker.audit_purge import purge_daily

    monkeypatch.setenv("SHIXIAN_AUDIT_RETENTION_DAYS", "200")
    eng = init_db(get_engine())
    with Session(eng) as s:
        old, kept = _append(s, 250), _append(s, 190)  # 190 days: past the legal minimum, within the setting
    stop = asyncio.Event()
    task = asyncio.create_task(purge_daily(stop, every=3600))
    with Session(eng) as s:
        for _ in range(200):
            if A.search(s, A.Filter(action="audit.purge")):
                break
            await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 10)  # ends on stop, not after the day's wait
    with Session(eng) as s:
        rows = A.search(s, A.Filter())
    assert [r.action for r in rows] == ["audit.purge", "auth.sign_in"] and rows[1].id == kept.id
    assert rows[0].detail["through_id"] == old.id and rows[0].detail["retention_days"] == 200


def test_every_action_the_code_records_has_its_chinese_word():
    """A hook's action code that the labels do not know would fail at run time (services.audit.record refuses
    it): check every literal code in the hooks, also of the paths no other test walks (CLI invite, reject ...)."""
    from domain.labels import AUDIT_ACTIONS

    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"""(?:\baudit|cli_audit|record)\((?:[^()"]*?,\s*)?"([a-z_]+(?:\.[a-z_]+)?)\"""")
    used: set[str] = set()
    for pkg in ("app", "services", "worker"):
        for f in (root / pkg).rglob("*.py"):
            used |= set(pattern.findall(f.read_text(encoding="utf-8")))
    used |= {"review.approve", "review.reject", "audit.purge"}  # built by review_action() / store.audit.purge
    used |= {"onboarding.approve", "onboarding.reject"}  # built by services.onboarding.onboarding_action()
    assert len(used) >= 15, used
    assert used <= set(AUDIT_ACTIONS), used - set(AUDIT_ACTIONS)
    assert set(AUDIT_ACTIONS) <= used, set(AUDIT_ACTIONS) - used  # no word for an action nobody records
