"""Issue #16, web and tokens: stored links, the script policy, token expiry, a disabled person's tokens,
the head's token role. Same real stack as tests/test_api.py (its module fixture is reused)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
from sqlmodel import Session

from domain.shanghai import SHANGHAI_OFFSET
from tests.test_api import _received, env  # noqa: F401  (fixture)

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _db():
    from store.db import database_url, get_engine

    return Session(get_engine(database_url()))


def _cli(*args: str):
    from typer.testing import CliRunner

    from app.cli import app as cli

    return CliRunner().invoke(cli, list(args))


# ---------------------------------------------------------------------------------- A2: stored XSS


async def test_a_javascript_url_is_refused_with_the_field_named(env):
    r = await env.post(
        "supervisor",
        "/api/events",
        json=[
            {
                "event_id": f"xss-{env.tag}-{n}",
                "type": "document.published",
                "document_id": "qz-zfb-wj-2026-031",
                "published_on": "2026-01-05",
                "url": url,
            }
            for n, url in enumerate(("javascript:alert(document.cookie)", " JavaScript:alert(1)", "data:text/html,x"))
        ],
    )
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["rejected"] * 3, results
    assert {x["field"] for x in results} == {"url"} and all("http" in x["reason"] for x in results)


async def test_a_stored_non_http_link_is_not_rendered_as_a_link_and_inline_script_cannot_run(env):
    """A row written before the check (or by any other path) still holds `javascript:`: the item page shows it
    as text, and the page's policy would not run an injected inline script anyway."""
    from sqlmodel import select

    from store.models import EventRecord

    with _db() as s:
        row = s.exec(select(EventRecord).where(EventRecord.type == "document.published")).first()
        assert row is not None
        item_id = row.item_id
        row.payload = {**row.payload, "url": "javascript:alert(document.cookie)"}
        s.add(row)
        s.commit()
    async with env.http("supervisor") as c:
        page = await c.get(f"/items/{item_id}")
    assert page.status_code == 200
    assert "javascript:alert" in page.text  # shown as text …
    assert not re.search(r"""href\s*=\s*["']?\s*javascript:""", page.text, re.I)  # … never as a link
    csp = page.headers["content-security-policy"]
    script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
    assert script_src.split() == ["script-src", "'self'"], csp
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp


async def test_pages_carry_no_inline_script_or_handler(env):
    """Under script-src 'self' an inline <script> or on* attribute of our own would stop working: none exist."""
    async with env.http("supervisor") as c:
        paths = ["/", "/scores", "/calendar", "/departments/qz-fgw", "/events/new?type=request.received", "/login"]
        item = (await c.get("/api/items", params={"department": "qz-fgw"})).json()["items"][0]["id"]
        paths.append(f"/items/{item}")
        for path in paths:
            r = await c.get(path)
            assert r.status_code == 200, path
            assert "script-src 'self';" in r.headers["content-security-policy"], path
            for tag in re.findall(r"<script\b[^>]*>", r.text, re.I):
                assert "src=" in tag, (path, tag)
            assert not re.search(r"<[^>]+\son[a-z]+\s*=", r.text, re.I), path
            assert "javascript:" not in r.text.lower().replace("javascript:alert", ""), path


async def test_api_docs_run_under_a_hash_policy(env):
    r = await env.get(None, "/docs")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'sha256-" in script_src
    import base64
    import hashlib

    for code in re.findall(r"<script>(.*?)</script>", r.text, re.S):
        digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src


# ---------------------------------------------------------------------------------- A6 and tokens


async def test_disabling_a_person_revokes_their_token(env):
    from store.accounts import disable, set_password
    from store.tokens import create_token

    with _db() as s:
        token, _ = create_token(s, "liaison", "qz-czj", person="liaison-czj")
    async with env.http() as c:
        c.headers["Authorization"] = f"Bearer {token}"
        assert (await c.get("/api/items")).status_code == 200
        with _db() as s:
            disable(s, "liaison-czj")
        r = await c.get("/api/items")
        assert r.status_code == 401 and r.json()["code"] == "unauthorized"
        assert "吊销" in r.json()["detail"]
    with _db() as s:
        set_password(s, "liaison-czj", "Czj-password-1")  # enabled again: the old token stays revoked
    assert (await env.get(None, "/api/items", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_a_disabled_persons_token_is_refused_even_if_nobody_revoked_it(env):
    from store.accounts import Credential, set_password
    from store.models import utcnow
    from store.tokens import create_token

    with _db() as s:
        token, row = create_token(s, "liaison", "qz-jyj", person="liaison-jyj")
        set_password(s, "liaison-jyj", "Jyj-password-1")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await env.get(None, "/api/items", headers=headers)).status_code == 200
    with _db() as s:  # a path that marks the person disabled and forgets the tokens
        cred = s.get(Credential, "liaison-jyj")
        cred.disabled_at = utcnow()
        s.add(cred)
        s.commit()
    r = await env.get(None, "/api/items", headers=headers)
    assert r.status_code == 401 and "停用" in r.json()["detail"]
    with _db() as s:
        set_password(s, "liaison-jyj", "Jyj-password-2")  # a new one: the last 5 may not be reused


async def test_tokens_expire_with_a_chinese_401(env):
    from store.tokens import ApiToken, create_token

    with _db() as s:
        token, row = create_token(s, "supervisor", person="supervisor-zwgk", expires_days=1)
        assert dt.timedelta(hours=23) < row.expires_at - row.created_at <= dt.timedelta(days=1)
        token_id = row.id
        default, drow = create_token(s, "supervisor")
        assert drow.expires_at - drow.created_at == dt.timedelta(days=90)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await env.get(None, "/api/items", headers=headers)).status_code == 200
    with _db() as s:
        r = s.get(ApiToken, token_id)
        r.expires_at = r.created_at - dt.timedelta(seconds=1)
        s.add(r)
        s.commit()
    r = await env.get(None, "/api/items", headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "令牌已过期" in r.json()["detail"] and "shixian token create" in r.json()["detail"]
    with pytest.raises(ValueError, match="1 至 3650"):
        with _db() as s:
            create_token(s, "supervisor", expires_days=0)


async def test_token_cli_expiry_and_head_role(env, monkeypatch):
    monkeypatch.setenv("SHIXIAN_TOKEN_DAYS", "30")
    res = await asyncio.to_thread(_cli, "token", "create", "--role", "supervisor", "--label", "cli-30")
    assert res.exit_code == 0, res.output
    day30 = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).astimezone(SHANGHAI_OFFSET)
    assert f"有效期至 {day30:%Y-%m-%d}" in res.output or f"有效期至 {day30 - dt.timedelta(minutes=1):%Y-%m-%d}" in (
        res.output
    )
    res = await asyncio.to_thread(
        _cli,
        "token",
        "create",
        "--role",
        "head",
        "--department",
        "qz-fgw",
        "--person",
        "head-fgw",
        "--expires-days",
        "7",
    )
    assert res.exit_code == 0, res.output
    assert "部门负责人令牌" in res.output
    res = await asyncio.to_thread(_cli, "token", "create", "--role", "head")
    assert res.exit_code != 0 and "部门负责人令牌必须用 --department" in res.output
    res = await asyncio.to_thread(_cli, "token", "list")
    assert res.exit_code == 0 and re.search(
        r"部门负责人\s+qz-fgw\s+head-fgw\s+\S+\s+有效至 \d{4}-\d\d-\d\d", res.output
    )
    assert re.search(r"已过期 \d{4}-\d\d-\d\d", res.output)  # the one expired by the test above


async def test_a_head_posting_through_the_api_is_recorded_as_head(env):
    from domain.engine import engine
    from store.tokens import create_token

    with _db() as s:
        token, _ = create_token(s, "head", "qz-fgw", person="head-fgw")
    headers = {"Authorization": f"Bearer {token}"}
    cal = engine().calendar
    from services.demo import today_shanghai

    def ago(n: int) -> str:
        return cal.subtract_working_days(today_shanghai(), n, "guangxi").isoformat()

    rid = f"head-{env.tag}"
    r = await env.post(
        None,
        "/api/events",
        headers=headers,
        json=[
            {**_received(rid, "qz-fgw"), "received_on": ago(30)},
            {
                "event_id": rid + "-reply",
                "type": "request.replied",
                "request_id": rid,
                "on": ago(8),
                "outcome": "granted",
            },
        ],
    )
    body = r.json()
    assert r.status_code == 200 and [x["status"] for x in body["results"]] == ["applied", "held"], body
    assert body["recorded_by"] == "head-fgw"
    entries = (await env.get("supervisor", "/api/review")).json()["entries"]
    e = next(x for x in entries if x["event_id"] == rid + "-reply")
    assert (e["role"], e["recorded_by"]) == ("head", "head-fgw")
    assert "部门负责人" in e["reason"]
    # a head is confined to its department like a liaison
    r = await env.get(None, "/api/items", headers=headers, params={"department": "qz-czj"})
    assert r.status_code == 403
    r = await env.post(None, "/api/events", headers=headers, json=_received(f"{rid}-x", "qz-czj"))
    assert r.json()["results"][0]["status"] == "rejected"
