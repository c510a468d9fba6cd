"""Ledger import on the real stack: `shixian import` (a real subprocess) and the /import page against the
time-skipping Temporal server, the real worker, the production ingest path and a temporary store."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from openpyxl import Workbook
from sqlmodel import Session, select

from domain.engine import engine

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.date_sensitive]
BIN = Path(sys.executable).parent
PII = {
    "申请人姓名": "欧阳测试",
    "身份证号": "450702199001011234",
    "联系电话": "13912345678",
    "地址": "钦州市测试路88号",
    "邮箱": "ouyang@example.cn",
}
HEAD = ["受理编号", "收到申请日期", "申请方式", "申请人类型", *PII, "申请内容", "答复日期", "答复结果"]


def xlsx(path: Path, rows: list[list]) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(HEAD)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


async def run_cli(st, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "TEMPORAL_ADDRESS": st.client.service_client.config.target_host, "PYTHONUNBUFFERED": "1"}
    # The CLI's clock agrees with the test server's (as the ingest host's would with NTP).
    offset = (await st.env.get_current_time() - dt.datetime.now(dt.UTC)).total_seconds()
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "python"),
        "-m",
        "tests.clocked",
        str(offset),
        *args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(BIN.parents[1]) if (BIN.parents[1] / "tests").is_dir() else None,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    return subprocess.CompletedProcess(args, proc.returncode, out.decode(), err.decode())


def rows_of(res) -> dict[str, dict]:
    return {o["key"]: o for o in map(json.loads, res.stdout.splitlines())}


def store_dump() -> str:
    from services.queries import db
    from store.models import EventRecord, Item

    with Session(db()) as s:
        items = [i.model_dump() for i in s.exec(select(Item)).all()]
        events = [e.model_dump() for e in s.exec(select(EventRecord)).all()]
    return json.dumps([items, events], ensure_ascii=False, default=str)


async def history_dump(st, wid: str) -> str:
    hist = await st.client.get_workflow_handle(wid).fetch_history()
    return hist.to_json()


async def test_cli_import_idempotent_later_version_conflict_and_no_pii(st, tmp_path):
    cal = engine().calendar
    today = await st.today()
    r1, r2, r3 = st.id("YSQ-1"), st.id("YSQ-2"), st.id("YSQ-3")
    st.started |= {f"request:{r}" for r in (r1, r2, r3)}
    got1 = cal.subtract_working_days(today, 5, "guangxi")
    got2 = cal.subtract_working_days(today, 30, "guangxi")
    replied2 = cal.add_working_days(got2, 25, "guangxi")  # late by 5 working days
    pii = list(PII.values())
    v1 = xlsx(
        tmp_path / "v1.xlsx",
        [
            [r1, got1, "网上申请", "公民", *pii, "学区划分方案", None, None],
            [
                r2,
                got2.strftime("%Y/%-m/%-d"),
                "当面",
                "自然人",
                *pii,
                "",
                replied2.strftime("%Y年%-m月%-d日"),
                "部分公开",
            ],
            [r3, got1.isoformat(), "飞鸽传书", "自然人", *pii, "", None, None],
        ],
    )

    # Preview: every row with its events and due dates, nothing applied.
    res = await run_cli(st, "import", str(v1), "--department", "qz-jyj", "--dry-run", "--json")
    assert res.returncode == 1, res.stderr
    pre = rows_of(res)
    assert [e["status"] for e in pre[r1]["events"]] == ["new"]
    due1 = cal.add_working_days(got1, 20, "guangxi").isoformat()
    assert pre[r1]["due"][0]["due"] == due1
    assert pre[r2]["due"][0]["late"] is True
    assert pre[r3]["status"] == "rejected" and pre[r3]["problems"][0]["column"] == "申请方式"
    assert "已丢弃申请人个人信息列" in res.stderr and "申请人姓名" in res.stderr
    assert st.item(r1) is None

    res = await run_cli(st, "import", str(v1), "--department", "qz-jyj", "--json")
    assert res.returncode == 1, res.stderr  # row 4 refused
    out = rows_of(res)
    assert [(o["row"], o["status"]) for o in out.values()] == [(2, "applied"), (3, "applied"), (4, "rejected")]
    assert [(e["type"], e["status"]) for e in out[r2]["events"]] == [
        ("request.received", "applied"),
        ("request.replied", "applied"),
    ]
    assert out[r1]["due"][0]["due"] == due1 and out[r1]["due"][0]["state"] == "open"
    assert st.item(r2).state != "open" and st.item(r3) is None
    assert st.clock(r2, "request_reply").lateness_working_days == 5

    # The same ledger again: nothing new.
    res = await run_cli(st, "import", str(v1), "--department", "qz-jyj", "--json")
    again = rows_of(res)
    assert again[r1]["status"] == "nothing_new" and again[r2]["status"] == "nothing_new"
    assert [e["status"] for e in again[r2]["events"]] == ["duplicate", "duplicate"]

    # A later version fills in R1's reply and fixes R3: just those apply.
    reply1 = cal.add_working_days(got1, 2, "guangxi")
    v2 = xlsx(
        tmp_path / "v2.xlsx",
        [
            [r1, got1, "网上申请", "公民", *pii, "学区划分方案", reply1, "本机关不掌握相关政府信息"],
            [
                r2,
                got2.strftime("%Y/%-m/%-d"),
                "当面",
                "自然人",
                *pii,
                "",
                replied2.strftime("%Y年%-m月%-d日"),
                "部分公开",
            ],
            [r3, got1.isoformat(), "电子邮件", "自然人", *pii, "", None, None],
        ],
    )
    res = await run_cli(st, "import", str(v2), "--department", "qz-jyj", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    later = rows_of(res)
    assert [(e["type"], e["status"]) for e in later[r1]["events"]] == [
        ("request.received", "duplicate"),
        ("request.replied", "applied"),
    ]
    assert later[r1]["status"] == "applied" and later[r2]["status"] == "nothing_new"
    assert later[r3]["status"] == "applied"
    c1 = st.clock(r1, "request_reply")
    assert c1.state == "met" and c1.met_on == reply1.isoformat()

    # A changed earlier value is a conflict for that row, not applied.
    v3 = xlsx(
        tmp_path / "v3.xlsx",
        [
            [r2, got2.isoformat(), "当面", "自然人", *pii, "", replied2.isoformat(), "予以公开"],
        ],
    )
    res = await run_cli(st, "import", str(v3), "--department", "qz-jyj")
    assert res.returncode == 1
    assert re.search(rf"第 2 行 {r2}: 拒绝", res.stdout), res.stdout
    assert f"第 2 行 {r2} [答复结果]" in res.stdout and "冲突" in res.stdout
    from store.db import session
    from store.events import find_event

    with session() as s:
        ev = find_event(s, f"ledger:qz-jyj:requests:{r2}:replied")
        assert ev.payload["outcome"] == "partially_granted"

    # Applicant data reached neither the store nor any workflow history.
    dumps = store_dump() + "".join([await history_dump(st, f"request:{r}") for r in (r1, r2, r3)])
    assert r1 in dumps
    for value in pii:
        assert value not in dumps


async def test_a_row_dated_after_today_is_a_refused_row(st, tmp_path):
    """issue 16 A7: a ledger row whose receipt or reply is dated tomorrow (Asia/Shanghai) is refused with
    its column; the row beside it applies."""
    today = await st.today()
    tomorrow = today + dt.timedelta(days=1)
    ok, fut_recv, fut_reply = st.id("L-OK"), st.id("L-FUT1"), st.id("L-FUT2")
    st.started |= {f"request:{r}" for r in (ok, fut_recv, fut_reply)}
    path = xlsx(
        tmp_path / "future.xlsx",
        [
            [ok, today, "网上申请", "自然人", *[""] * len(PII), "", None, None],
            [fut_recv, tomorrow, "网上申请", "自然人", *[""] * len(PII), "", None, None],
            [fut_reply, today, "网上申请", "自然人", *[""] * len(PII), "", tomorrow, "予以公开"],
        ],
    )
    res = await run_cli(st, "import", str(path), "--department", "qz-jyj", "--json")
    assert res.returncode == 1, res.stderr
    out = rows_of(res)
    assert out[ok]["status"] == "applied", out[ok]
    for key, column in ((fut_recv, "收到申请日期"), (fut_reply, "答复日期")):
        assert out[key]["status"] == "rejected", out[key]
        problem = out[key]["problems"][0]
        assert problem["column"] == column and tomorrow.isoformat() in problem["reason"], problem
        assert st.item(key) is None
    assert st.item(ok) is not None


async def test_missing_required_column_applies_nothing(st, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("受理编号,收到申请日期,申请人类型\nX-1,2026-03-02,自然人\n", encoding="gb18030")
    res = await run_cli(st, "import", str(path), "--department", "qz-jyj")
    assert res.returncode == 2 and "申请方式" in res.stderr and "bad.csv" in res.stderr
    assert st.item("X-1") is None


# ------------------------------------------------------------------------------ upload page
async def test_upload_page_preview_confirm_scope(st, tmp_path):
    from app.web.server import create_app
    from store.db import get_engine, init_db
    from store.tokens import create_token, ensure_table

    eng = init_db(get_engine())
    ensure_table(eng)
    with Session(eng) as s:
        liaison, _ = create_token(s, "liaison", "qz-jyj", person="liaison-jyj")
        supervisor, _ = create_token(s, "supervisor", person="supervisor-zwgk")
        assessor, _ = create_token(s, "assessor", person="assessor-zwgk")
    app = create_app(st.client, open_pages=False)

    def browser(token: str | None) -> httpx.AsyncClient:  # pages also take a machine's bearer token
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://127.0.0.1",
            headers={"Authorization": f"Bearer {token}"} if token else None,
        )

    cal = engine().calendar
    today = await st.today()
    key = st.id("WEB-1")
    st.started.add(f"request:{key}")
    got = cal.subtract_working_days(today, 3, "guangxi")
    csv_text = (
        "\ufeff受理编号,收到日期,渠道,申请人类型,姓名,联系电话,申请内容\n"
        f"{key},{got:%Y.%-m.%-d},网络,自然人,{PII['申请人姓名']},{PII['联系电话']},招生简章\n"
        f"{key}-bad,{got},网络,火星人,{PII['申请人姓名']},,\n"
    )
    files = {"file": ("台账.csv", csv_text.encode("utf-8"), "text/csv")}

    async with browser(liaison) as c:
        page = await c.get("/import")
        assert page.status_code == 200 and "/import/template/requests.xlsx" in page.text
        tpl = await c.get("/import/template/documents.xlsx")
        assert tpl.status_code == 200 and tpl.content[:2] == b"PK"

        # Another department's ledger is refused for a liaison.
        r = await c.post("/import", files=files, data={"department": "qz-fgw"})
        assert r.status_code == 403
        # A post from another site is refused.
        r = await c.post(
            "/import", files=files, data={"department": "qz-jyj"}, headers={"Origin": "https://evil.example"}
        )
        assert r.status_code == 403

        r = await c.post("/import", files=files, data={"department": "qz-jyj"})
        assert r.status_code == 200, r.text
        html = r.text
        assert "预览，尚未导入" in html and "已丢弃申请人个人信息列" in html and "姓名、联系电话" in html
        assert cal.add_working_days(got, 20, "guangxi").isoformat() in html
        assert "[申请人类型]" in html and "火星人" in html
        for value in PII.values():
            assert value not in html  # the preview never sends the applicant data back
        assert st.item(key) is None
        payload = re.search(r'name="payload" value="([^"]*)"', html).group(1)
        import html as H

        payload = H.unescape(payload)

        r = await c.post("/import/confirm", data={"payload": payload})
        assert r.status_code == 200, r.text
        assert "已导入" in r.text
    snap = st.item(key)
    assert snap is not None and snap.department == "qz-jyj"
    with Session(eng) as s:
        from store.models import EventRecord

        ev = s.get(EventRecord, f"ledger:qz-jyj:requests:{key}:received")
        assert ev.recorded_by == "liaison-jyj"
        # the audit trail: who imported which file for which department, and the refusals; no applicant data
        from store.audit import AuditRecord, Filter, search

        (imp,) = search(s, Filter(action="ledger.import"))
        assert (imp.actor, imp.role, imp.channel, imp.object, imp.department) == (
            "liaison-jyj",
            "liaison",
            "api",
            "台账.csv",
            "qz-jyj",
        )
        assert (imp.detail["applied"], imp.detail["rejected"]) == (1, 1)
        assert len(search(s, Filter(action="access.denied", actor="liaison-jyj"))) == 2
        everything = json.dumps([r.model_dump(mode="json") for r in s.exec(select(AuditRecord))], ensure_ascii=False)
        assert not [v for v in PII.values() if v in everything]

    # A liaison cannot redirect a carried preview to another department.
    forged = json.loads(payload)
    forged["department"] = "qz-fgw"
    async with browser(liaison) as c:
        r = await c.post("/import/confirm", data={"payload": json.dumps(forged, ensure_ascii=False)})
        assert r.status_code == 403
    async with browser(assessor) as c:
        assert (await c.get("/import")).status_code == 403
    async with browser(None) as c:
        r = await c.get("/import")
        assert r.status_code == 303 and "/login" in r.headers["location"]
    # A supervisor may import for any department; the same rows again are nothing new.
    async with browser(supervisor) as c:
        r = await c.post("/import", files=files, data={"department": "qz-jyj"})
        assert r.status_code == 200 and "无新内容" in r.text


# ------------------------------------------------------------------------------ browser
@pytest.mark.browser
async def test_upload_page_in_headless_chromium(st, tmp_path, free_port):
    """The upload page in Debian's Chromium (desktop and phone): choose a file, preview, confirm.
    Writes docs/import-preview.png when missing (SHIXIAN_UPDATE_SCREENSHOT=1 rewrites it)."""
    import shutil

    import uvicorn

    from app.web.server import create_app
    from store.accounts import set_password
    from store.db import get_engine, init_db
    from tests.test_browser import ARTIFACTS, ROOT, _browser, _has_cjk_font, sign_in

    eng = init_db(get_engine())
    with Session(eng) as s:
        set_password(s, "liaison-jyj", "jyj-password-1")
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
    cal = engine().calendar
    today = await st.today()
    keys = [st.id(f"YSQ-{n}") for n in (11, 12, 13)]
    st.started |= {f"request:{k}" for k in keys}
    got = cal.subtract_working_days(today, 30, "guangxi")
    path = xlsx(
        tmp_path / "依申请公开台账.xlsx",
        [
            [
                keys[0],
                got,
                "网上申请",
                "自然人",
                *PII.values(),
                "学区划分方案",
                cal.add_working_days(got, 12, "guangxi"),
                "予以公开",
            ],
            [
                keys[1],
                cal.subtract_working_days(today, 4, "guangxi"),
                "当面",
                "商业企业",
                *PII.values(),
                "校车采购合同",
                None,
                None,
            ],
            [keys[2], got, "飞鸽传书", "自然人", *PII.values(), "", None, None],
        ],
    )
    ARTIFACTS.mkdir(exist_ok=True)

    def drive() -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = _browser(p)
            try:
                for name, viewport in (
                    ("import-preview", {"width": 1280, "height": 900}),
                    ("import-preview-phone", {"width": 390, "height": 844}),
                ):
                    ctx = browser.new_context(viewport=viewport, locale="zh-CN")
                    page = ctx.new_page()
                    sign_in(page, base, "liaison-jyj", "jyj-password-1")
                    page.goto(base + "/import", wait_until="networkidle")
                    page.set_input_files("input[name=file]", str(path))
                    page.click("#upload-form button[type=submit]")
                    page.wait_for_selector("#import-rows")
                    assert "已丢弃申请人个人信息列" in page.inner_text("#pii-dropped")
                    rows = page.locator("#import-rows tbody tr")
                    assert rows.count() == 3
                    assert "[申请方式]" in rows.nth(2).inner_text()
                    body = page.inner_text("body")
                    assert all(v not in body for v in PII.values())
                    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
                    if name == "import-preview":
                        page.click("#confirm-form button[type=submit]")
                        page.wait_for_selector("text=已导入")
                        # the reply dated 18 working days before this liaison's upload waits for review (补录)
                        assert page.locator("#import-rows tbody tr.status-applied").count() == 1
                        held = page.locator("#import-rows tbody tr.status-held")
                        assert held.count() == 1 and "补录待审核" in held.inner_text()
                    ctx.close()
            finally:
                browser.close()

    try:
        await asyncio.to_thread(drive)
    finally:
        server.should_exit = True
        await serving
    assert st.clock(keys[0], "request_reply").state == "open"  # held until a supervisor approves
    assert [e.status for e in st.item(keys[0]).late_entries] == ["held"]
    assert st.item(keys[1]) is not None and st.item(keys[2]) is None
    shot = ROOT / "docs" / "import-preview.png"
    if _has_cjk_font() and (not shot.exists() or os.environ.get("SHIXIAN_UPDATE_SCREENSHOT") == "1"):
        shutil.copyfile(ARTIFACTS / "import-preview.png", shot)


async def test_preview_due_dates_agree_with_the_engine_and_documents_ledger(st, tmp_path):
    """Corrections, consultations and extensions: the preview's due date is the one the workflow computes.
    The documents ledger arrives as a GB18030 CSV; a later version fills in the publication."""
    cal = engine().calendar
    today = await st.today()
    r = st.id("YSQ-21")
    d = st.id("钦教发〔2026〕")
    st.started |= {f"request:{r}", f"document:{d}"}
    got = cal.subtract_working_days(today, 25, "guangxi")
    asked, corrected = cal.add_working_days(got, 2, "guangxi"), cal.add_working_days(got, 5, "guangxi")
    c_from, c_to = cal.add_working_days(got, 8, "guangxi"), cal.add_working_days(got, 12, "guangxi")
    ext = cal.add_working_days(got, 15, "guangxi")
    head = "受理编号,收到申请日期,申请方式,申请人类型,补正告知日期,补正期限,补正收到日期,征求意见对象,征求意见日期,意见收到日期,延期日期,延期工作日,延期批准人,延期告知日期,延期理由\n"
    row = (
        f"{r},{got},当面,自然人,{asked},{cal.add_working_days(asked, 10, 'guangxi')},{corrected},第三方,"
        f"{c_from},{c_to},{ext},15,head-jyj,{ext},需征求多方意见\n"
    )
    # A second request extended after its due date: the engine refuses the extension, the receipt stays.
    late = st.id("YSQ-22")
    st.started.add(f"request:{late}")
    too_late = cal.add_working_days(got, 22, "guangxi")
    row += f"{late},{got},当面,自然人,,,,,,,{too_late},10,head-jyj,{too_late},材料较多\n"
    path = tmp_path / "req.csv"
    path.write_bytes((head + row).encode("utf-8-sig"))
    pre = rows_of(await run_cli(st, "import", str(path), "-d", "qz-jyj", "--dry-run", "--json"))[r]
    assert [e["type"].split(".")[1] for e in pre["events"]] == [
        "received",
        "correction_requested",
        "corrected",
        "consultation_started",
        "consultation_ended",
        "extended",
    ]
    res = await run_cli(st, "import", str(path), "-d", "qz-jyj", "--json")
    assert res.returncode == 1, res.stdout + res.stderr
    out = rows_of(res)
    assert out[r]["status"] == "applied"
    assert out[late]["status"] == "partial"
    assert [(e["type"], e["status"]) for e in out[late]["events"]] == [
        ("request.received", "applied"),
        ("request.extended", "rejected"),
    ]
    assert out[late]["problems"][0]["column"] in ("延期日期", "延期工作日") and out[late]["problems"][0]["reason"]
    assert pre["due"][0]["due"] == st.clock(r, "request_reply").due

    signed = cal.subtract_working_days(today, 10, "guangxi")
    doc_head = "文件编号,文件标题,文件类型,成文日期,公开属性,公开日期,公开网址,部门\n"
    v1 = tmp_path / "docs-v1.csv"
    v1.write_bytes(
        (doc_head + f"{d},关于学区划分的通知,规范性文件,{signed:%Y年%-m月%-d日},主动公开,,,钦州市教育局\n").encode(
            "gb18030"
        )
    )
    res = await run_cli(st, "import", str(v1), "-d", "qz-jyj", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "GB18030" in res.stderr
    assert st.clock(d, "policy_publication").due == cal.add_working_days(signed, 20, "guangxi").isoformat()
    published = cal.add_working_days(signed, 3, "guangxi")
    v2 = tmp_path / "docs-v2.csv"
    v2.write_bytes(
        (
            doc_head + f"{d},关于学区划分的通知,规范性文件,{signed:%Y年%-m月%-d日},主动公开,{published:%Y/%-m/%-d},"
            f"https://jyj.qinzhou.gov.cn/1.html,钦州市教育局\n"
        ).encode("gb18030")
    )
    out = rows_of(await run_cli(st, "import", str(v2), "-d", "qz-jyj", "--json"))[d]
    assert [(e["type"], e["status"]) for e in out["events"]] == [
        ("document.signed", "duplicate"),
        ("document.published", "applied"),
    ]
    assert st.clock(d, "policy_publication").state == "met"
    interp = next(x for x in out["due"] if x["rule"] == "policy_interpretation")
    assert interp["due"] == cal.add_working_days(published, 3, "guangxi").isoformat()
    # The same file for another department's import is refused row by row (部门 column).
    res = await run_cli(st, "import", str(v2), "-d", "qz-czj", "--json")
    assert res.returncode == 1 and rows_of(res)[d]["problems"][0]["column"] == "部门"


async def test_preview_status_is_the_import_result_for_every_row(st):
    """The preview feeds each row through the item's own checks and transitions (domain.transitions): for a
    varied ledger (a re-import, a changed value, an extension after the due date, a parser refusal, a new
    row) each row's and each event's preview status is the one the import then gives."""
    from services.ledger_import import apply, plan, preview
    from store.db import get_engine

    cal, today = engine().calendar, await st.today()
    keys = [st.id(f"AGREE-{i}") for i in range(5)]
    st.started |= {f"request:{k}" for k in keys}
    got = cal.subtract_working_days(today, 25, "guangxi")
    replied = cal.add_working_days(got, 10, "guangxi")
    too_late = cal.add_working_days(got, 22, "guangxi")
    head = "受理编号,收到申请日期,申请方式,申请人类型,延期日期,延期工作日,延期批准人,延期告知日期,延期理由,答复日期,答复结果\n"

    def ledger(*rows: str) -> bytes:
        return (head + "".join(r + "\n" for r in rows)).encode("utf-8-sig")

    first = ledger(f"{keys[0]},{got},当面,自然人,,,,,,,", f"{keys[1]},{got},当面,自然人,,,,,,{replied},部分公开")
    await apply(plan(first, "v1.csv", "qz-jyj"), st.client, recorded_by=None)
    second = ledger(
        f"{keys[0]},{got},当面,自然人,,,,,,,",  # nothing new
        f"{keys[1]},{got},当面,自然人,,,,,,{replied},予以公开",  # a changed reply result: conflict
        f"{keys[2]},{got},当面,自然人,{too_late},10,head-jyj,{too_late},材料较多,,",  # extension refused
        f"{keys[3]},{got},飞鸽传书,自然人,,,,,,,",  # refused by the parser
        f"{keys[4]},{got},当面,自然人,,,,,,{replied},予以公开",  # new, met
    )
    p = plan(second, "v2.csv", "qz-jyj")
    pre = preview(p, get_engine())
    res = await apply(p, st.client, recorded_by=None)
    seen = {"new": "applied"}
    assert [(o.key, o.status) for o in pre] == [(o.key, o.status) for o in res], [o.text() for o in res]
    for a, b in zip(pre, res, strict=True):
        assert [seen.get(e["status"], e["status"]) for e in a.events] == [e["status"] for e in b.events], b.text()
    assert [o.status for o in res] == ["nothing_new", "rejected", "partial", "rejected", "applied"]
    assert pre[4].due[0]["due"] == st.clock(keys[4], "request_reply").due


async def test_a_complex_proposal_without_its_approval_is_refused_by_its_columns():
    """The preview's refusal names the row and the missing approval columns in Chinese, nothing is sent."""
    from services.ledger_import import plan

    head = "建议提案编号,类别,交办日期,涉及面广、处理难度大,延长理由\n"
    p = plan((head + "P-9,政协提案,2026-03-02,是,涉及多个部门\n").encode(), "提案.csv", "qz-jyj")
    (row,) = p.rows
    assert not row.ok and not row.events
    assert [(x.column, x.reason) for x in row.problems] == [
        ("延长批准日期", "“涉及面广、处理难度大”为“是”（延长办理期限须经交办机关同意）时必须填写“延长批准日期”"),
        ("延长批准人", "“涉及面广、处理难度大”为“是”（延长办理期限须经交办机关同意）时必须填写“延长批准人”"),
    ]
