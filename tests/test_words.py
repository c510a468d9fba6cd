"""Issue 19 §4: words for people, not machines. The main pages of a populated store (the demo scenario through
the production ingest path, a 督办 with its reply), the annual report draft and every notice template show
no rule id, event type code, outcome code, region id, department id or raw event id where a person reads;
ids stay only in the grey `.ids` detail. Exports name departments in Chinese (id in the last column), times
read in Beijing time as an office writes them, Apprise's English errors get a Chinese explanation."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
import uuid
from html.parser import HTMLParser

import httpx
import pytest
import pytest_asyncio
from sqlmodel import Session

from tests import workflow_harness
from tests.workflow_harness import app_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")

REPO_CONFIG = workflow_harness.REPO_CONFIG


class _Text(HTMLParser):
    """The text a person reads: no tags, attributes, scripts, styles, nor anything inside a `.ids` element."""

    VOID = {"br", "img", "input", "meta", "link", "hr", "col", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []  # per open element: hidden?
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        self.stack.append("ids" in classes or tag in ("script", "style"))

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not any(self.stack):
            self.parts.append(data)


def visible_text(html: str) -> str:
    p = _Text()
    p.feed(html)
    return " ".join(p.parts)


def known_codes() -> dict[str, set[str]]:
    from domain.engine import engine
    from domain.events import CHOICE_LABELS
    from domain.labels import EVENT_TYPES

    e = engine()
    return {
        "rule": set(e.rules),
        "event type": set(EVENT_TYPES),
        "outcome": set(CHOICE_LABELS["outcome"]),
        "region": set(e.calendar.regions) | set(e.calendar.region_rules),
        "department": set(e.directory.departments),
    }


def codes_in(text: str) -> list[str]:
    """Every known code standing alone in `text` (an item number such as qz-fgw-ysq-2026-106 contains a
    department id followed by "-": that is the office's own number, not a code; a raw event id such as
    ledger:qz-fgw:requests:… is caught by its department id between colons)."""
    found = []
    for kind, codes in known_codes().items():
        for code in codes:
            if m := re.search(rf"(?<![\w.\-/]){re.escape(code)}(?![\w\-/]|\.[a-z])", text):
                found.append(f"{kind} {code}: …{text[max(0, m.start() - 30) : m.end() + 30]}…")
    return sorted(found)


class Env:
    def __init__(self, client, app, tokens):
        self.temporal, self.app, self.tokens = client, app, tokens

    def http(self, role: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://127.0.0.1", headers=headers, timeout=120
        )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(ts_env, tmp_path_factory):
    from services.demo import seed
    from store.db import database_url, get_engine, init_db
    from store.tokens import create_token, ensure_table

    data = tmp_path_factory.mktemp("words-data")
    config = tmp_path_factory.mktemp("words-config") / "config"
    shutil.copytree(REPO_CONFIG, config)
    mp = pytest.MonkeyPatch()
    mp.setenv("SHIXIAN_DATA_DIR", str(data))
    mp.setenv("SHIXIAN_CONFIG_DIR", str(config))
    mp.delenv("DATABASE_URL", raising=False)
    try:
        eng = get_engine(database_url())
        init_db(eng)
        ensure_table(eng)
        async with app_worker(ts_env.client):
            results = await seed(ts_env.client)
            assert [r.text() for r in results if r.status != "applied"] == []
            tokens = {}
            with Session(eng) as s:
                tokens["supervisor"], _ = create_token(s, "supervisor", person="supervisor-zwgk")
                tokens["admin"], _ = create_token(s, "admin", person="admin")
                tokens["liaison"], _ = create_token(s, "liaison", "qz-fgw", person="liaison-fgw")
            from app.web.server import create_app

            yield Env(ts_env.client, create_app(ts_env.client, open_pages=False), tokens)
            from services.queries import open_item_ids

            for n in range(1, 6):  # urge deliveries still retrying (nobody listens on the demo's channels)
                try:
                    await ts_env.client.get_workflow_handle(f"urge-delivery-{n}").terminate("test finished")
                except Exception:
                    pass
            for wid, _ in open_item_ids():
                try:
                    await ts_env.client.get_workflow_handle(wid).terminate("test finished")
                except Exception:
                    pass
    finally:
        mp.undo()
        get_engine.cache_clear()


def overdue_item() -> str:
    from services.views import overdue_views, today

    rows = [r for r in overdue_views(today(), None) if r.department == "qz-fgw"]
    return rows[0].id if rows else "qz-fgw-ysq-2026-106"  # open, its reply still due (the liaison's department)


async def test_the_main_pages_show_no_codes(env):
    item = overdue_item()
    async with env.http("supervisor") as c:
        r = await c.post(f"/items/{item}/urge", data={"note": "请于本周五前答复并报送答复书"})
        assert r.status_code == 303, r.text[:500]
    async with env.http("liaison") as c:
        page = (await c.get(f"/items/{item}")).text
        m = re.search(r'action="(/items/[^"]+/urges/\d+/reply)"', page)
        assert m, "the liaison answers the urge on the item page"
        r = await c.post(m.group(1), data={"reply": "已于今日答复申请人"})
        assert r.status_code == 303
        liaison_pages = {p: (await c.get(p)).text for p in ("/liaison", f"/items/{item}")}
    year = dt.date.today().year
    ledger = (
        "\ufeff受理编号,收到申请日期,申请方式,申请人类型,答复日期,答复结果\n"
        f"W-{uuid.uuid4().hex[:6]},{year}-03-02,网上申请,自然人,{year}-03-20,予以公开\n"
        f"W-{uuid.uuid4().hex[:6]},{year}-03-02,网上申请,火星人,,\n"
    )
    pages: dict[str, str] = {}
    async with env.http("supervisor") as c:
        for path in (
            "/",
            f"/items/{item}",
            "/items/qz-zrzyj-ysq-2026-105",
            "/departments/qz-fgw",
            "/scores",
            f"/scores?period={year - 1}",
            "/calendar",
            "/liaison?department=qz-zrzyj",
        ):
            r = await c.get(path)
            assert r.status_code == 200, path
            pages[path] = r.text
        r = await c.post(
            "/import",
            files={"file": ("台账.csv", ledger.encode("utf-8"), "text/csv")},
            data={"department": "qz-fgw"},
        )
        assert r.status_code == 200, r.text[:1000]
        pages["/import (preview)"] = r.text
        for dept in ("qz-zrzyj", "qz-fgw"):
            r = await c.get(f"/api/annual-report?year={year - 1}&department={dept}&format=html")
            assert r.status_code == 200, r.text[:500]
            pages[f"annual report {dept}"] = r.text
    async with env.http("admin") as c:
        r = await c.get("/admin/audit")
        assert r.status_code == 200
        pages["/admin/audit"] = r.text
    pages.update({f"liaison {k}": v for k, v in liaison_pages.items()})

    board = visible_text(pages["/"])
    assert "督办〔" in board and "已于今日答复申请人" in board  # the board's 督办 list: number and reply
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", board)
    item_text = visible_text(pages[f"/items/{item}"])
    assert re.search(r"督办〔\d{4}〕第\d+号", item_text) and "办理情况：已于今日答复申请人" in item_text
    assert any(c in item_text for c in ("蓝色督办", "橙色督办", "红色督办"))
    offenders = {name: codes_in(visible_text(html)) for name, html in pages.items()}
    bad = {k: v for k, v in offenders.items() if v}
    assert not bad, "\n".join(f"{k}: {x}" for k, v in bad.items() for x in v)
    # the ids are still there for the operator, in the grey detail line
    assert 'class="ids"' in pages[f"/items/{item}"]


async def test_every_notice_template_shows_no_codes(env):
    from activities.digests import plan_for
    from activities.notify import STEPS, NotificationRequest, build_context
    from activities.notify_templates import render
    from domain.engine import engine
    from services.views import today
    from store.db import session
    from store.items import list_items

    e = engine()
    directory = e.directory
    with session() as s:
        items = list_items(s, state="open")
    day = today()
    while not e.calendar.is_workday(day, "national"):
        day += dt.timedelta(days=1)
    contexts: list[tuple[str, NotificationRequest]] = []
    for m in plan_for(day, items, directory, e.calendar).messages:
        contexts.append(
            (
                m.step,
                NotificationRequest(
                    item_id="digest", rule="digest", step=m.step, person_id=m.person_id, context=m.context
                ),
            )
        )
    clock_items = [(i, c) for i in items for c in i.clocks if c.due]
    assert clock_items
    i, c = clock_items[0]
    base = {
        "item_title": i.title,
        "department": i.department,
        "due": c.due,
        "working_days_left": -2,
        "overdue_working_days": 2,
        "explanation": (c.explanation or {}).get("summary", ""),
        "old_due": c.due,
        "new_due": c.due,
        "reason": "日历更新",
        "note": "请尽快办理",
        "by_name": "督办员",
        "urge_number": "督办〔2026〕第1号",
        "urge_colour": "橙色督办",
        "failed_channels": ["json://127.0.0.1:9/hook"],
        "last_error": "无法连接到接收方",
        "link_url": "http://127.0.0.1/invite/x",
        "channel_index": 0,
        "channel_count": 1,
        "sent_at_text": "2026年12月2日 15:30",
        "valid_until_text": "2026年12月3日 15:30",
    }
    person = next(p for p in directory.people.values() if p.department == i.department)
    for step in STEPS:
        if step.startswith("digest_"):
            continue
        contexts.append(
            (
                step,
                NotificationRequest(
                    item_id=i.id,
                    rule=c.rule,
                    step=step,
                    person_id=person.id,
                    context=base,
                    about_step="overdue_1",
                    about_person=person.id,
                ),
            )
        )
    assert {s for s, _ in contexts} >= {"digest_supervisor", "urge", "overdue_1"}
    bad = {}
    for step, req in contexts:
        title, body = render(step, build_context(req, directory.people.get(req.person_id), directory))
        text = re.sub(r"https?://\S+", "", f"{title}\n{body}")  # links carry ids by design
        if found := codes_in(text):
            bad[f"{step} → {req.person_id}"] = found
    assert not bad, "\n".join(f"{k}: {x}" for k, v in bad.items() for x in v)


async def test_exports_name_departments_in_chinese_with_the_id_last(env):
    from domain.engine import engine

    names = {k: d.name for k, d in engine().directory.departments.items()}
    year = dt.date.today().year
    async with env.http("supervisor") as c:
        r = await c.get(f"/api/scores?period={year}&format=csv")
        assert r.status_code == 200
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    head = next(row for row in rows if row and row[0] == "部门")
    assert head[-1] == "部门编号"
    body = [row for row in rows[rows.index(head) + 1 :] if row and row[-1] in names]
    assert body and all(row[0] == names[row[-1]] for row in body)


def test_times_read_as_an_office_writes_them():
    from domain.notice_text import beijing_text

    assert beijing_text("2026-12-02T07:30:00+00:00") == "2026年12月2日 15:30"
    assert beijing_text(dt.datetime(2026, 12, 2, 7, 30)) == "2026年12月2日 15:30"  # naive: UTC (SQLite)
    assert beijing_text("2026-12-02T23:59:59+08:00") == "2026年12月2日 23:59"
    assert beijing_text("2026-12-02") == beijing_text(dt.date(2026, 12, 2)) == "2026年12月2日"
    assert beijing_text(None) == "" and beijing_text("not a time") == "not a time"


def test_apprise_errors_get_a_chinese_explanation():
    from domain.channels import explain_error, split_error

    cases = {
        "A Connection error occurred sending JSON notification to 127.0.0.1.": "无法连接到接收方",
        "Failed to send JSON POST notification: Internal Server Error, error=500.": "HTTP 5xx",
        "Failed to send JSON POST notification: Not Found, error=404.": "接收地址不存在",
        "SMTPAuthenticationError: (535, b'Authentication failed')": "邮件服务器认证失败",
        "ConnectTimeout: timed out": "连接超时",
    }
    for english, words in cases.items():
        stored = explain_error(english)
        lead, detail = split_error(stored)
        assert words in lead and detail == english and not re.search(r"[A-Za-z]", re.sub(r"HTTP \d(xx|\d\d)", "", lead))
    assert explain_error("未知人员“x”") == "未知人员“x”"
    assert split_error("无法连接（A Connection error occurred.）") == ("无法连接", "A Connection error occurred.")


def test_urge_colours_and_numbers_follow_the_config():
    from pathlib import Path

    from domain.urge import UrgeConfig, load_urge_config

    cfg = load_urge_config(Path(REPO_CONFIG))
    assert cfg.source and cfg.colour(0) == "blue" and cfg.colour(cfg.orange_from) == "orange"
    assert cfg.colour(cfg.red_from) == "red" and cfg.colour(0, previous="blue") == "orange"
    assert cfg.colour(0, previous="red") == "red"
    assert UrgeConfig(escalate_repeat=False).colour(0, previous="orange") == "blue"
    assert cfg.number_text("qz-zfb", 2026, 12) == "督办〔2026〕第12号"
    assert UrgeConfig(prefixes={"qz-zfb": "钦政督"}).number_text("qz-zfb", 2026, 3) == "钦政督〔2026〕第3号"
    assert cfg.number_text(None, None, None) == ""
