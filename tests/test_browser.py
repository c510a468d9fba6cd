"""Browser test: `shixian up --demo` in a subprocess (embedded Temporal dev server, worker, web,
demo city), the pages driven in Debian's headless Chromium by Playwright (no browser download), signed
in with the passwords the demo prints once. Screenshots go to test-artifacts/ (gitignored); docs/board.png
and the form screenshots docs/form-*.png are written when missing (SHIXIAN_UPDATE_SCREENSHOT=1 rewrites them)."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from domain.shanghai import SHANGHAI_OFFSET
from tests.conftest import free_port

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """`shixian up --demo` on free ports; yields (base url, data dir); stopped with SIGTERM."""
    data = tmp_path_factory.mktemp("browser-data")
    http_port, temporal_port = free_port(), free_port()
    env = {
        **os.environ,
        "SHIXIAN_DATA_DIR": str(data),
        "SHIXIAN_TEMPORAL_PORT": str(temporal_port),
        "SHIXIAN_TEMPORAL_UI": "0",
        "SHIXIAN_HTTP": f"127.0.0.1:{http_port}",
        "PYTHONUNBUFFERED": "1",
    }
    for k in ("DATABASE_URL", "TEMPORAL_ADDRESS", "SHIXIAN_CONFIG_DIR", "SHIXIAN_WEB_ANONYMOUS"):
        env.pop(k, None)
    shixian = Path(sys.executable).parent / "shixian"
    proc = subprocess.Popen(
        [str(shixian), "up", "--demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def pump():
        for line in proc.stdout:
            lines.append(line)
            if "时限已就绪" in line:
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + 150
        while not ready.is_set() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if not ready.is_set():
            pytest.fail("shixian up --demo did not become ready:\n" + "".join(lines))
        out = "".join(lines)
        assert f"http://127.0.0.1:{http_port}" in out
        assert "演示数据" in out and "被拒绝" not in out, out
        passwords = dict(re.findall(r"demo-account (\S+) (\S+)", out))
        assert {"liaison-fgw", "supervisor-zwgk", "liaison-zrzyj"} <= set(passwords), out
        yield f"http://127.0.0.1:{http_port}", data, passwords
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _has_cjk_font() -> bool:
    try:
        out = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(out.strip())


def _browser(p):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium not installed (Debian package chromium; ./scripts/test installs it)")
    return p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


def test_board_in_headless_chromium(stack):
    from playwright.sync_api import sync_playwright

    base, data, _ = stack
    ARTIFACTS.mkdir(exist_ok=True)
    # the demo city is there through the API as well (a supervisor token made by the CLI)
    env = {**os.environ, "SHIXIAN_DATA_DIR": str(data)}
    env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "shixian"),
            "token",
            "create",
            "--role",
            "supervisor",
            "--person",
            "supervisor-zwgk",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = out.stdout.strip().splitlines()[-1]
    r = httpx.get(f"{base}/api/overdue", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200 and r.json()["rows"]

    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.goto(base + "/", wait_until="networkidle")
            assert page.url.startswith(base + "/login")  # no anonymous board, even on 127.0.0.1
            sign_in(page, base, "supervisor-zwgk", _pw(stack, "supervisor-zwgk"))
            assert page.title().startswith("督办看板")
            body = page.inner_text("body")
            for name in ("钦州市财政局", "钦州市教育局", "钦州市人民政府办公室"):
                assert name in body
            rows = page.locator("#overdue tbody tr.overdue-row")
            assert rows.count() >= 3
            assert "钦州市市级财政专项资金管理办法" in page.inner_text("#overdue")
            assert "暂定" in body  # the request extended into next year
            # client-side sort by working days overdue: first row has the largest number
            page.click("#overdue th[data-key=overdue]")
            values = [int(v) for v in page.locator("#overdue tbody tr td:nth-child(5)").all_inner_texts()]
            assert values == sorted(values, reverse=True)
            page.screenshot(path=str(ARTIFACTS / "board.png"), full_page=True)

            # item page: explanation and timeline
            page.click("#overdue a:has-text('钦州市市级财政专项资金管理办法')")
            page.wait_for_load_state("networkidle")
            assert "办理经过" in page.inner_text("body") and "文件签发" in page.inner_text("body")

            # scores page with the trend chart
            page.goto(base + "/scores", wait_until="networkidle")
            assert page.locator("#trend svg circle").count() >= 5
            page.screenshot(path=str(ARTIFACTS / "scores.png"), full_page=True)

            # a phone-sized liaison page after signing in with the liaison's password
            phone = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
            sign_in(phone, base, "liaison-zrzyj", _pw(stack, "liaison-zrzyj"))
            phone.wait_for_url(base + "/liaison")
            text = phone.inner_text("body")
            assert "钦州市自然资源局" in text and "暂定" in text and "计算依据" in text
            phone.screenshot(path=str(ARTIFACTS / "liaison-phone.png"), full_page=True)
        finally:
            browser.close()

    readme_shot = ROOT / "docs" / "board.png"
    if not _has_cjk_font():  # a screenshot of boxes is no use in the README
        return
    if not readme_shot.exists() or os.environ.get("SHIXIAN_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(ARTIFACTS / "board.png", readme_shot)


def _pw(stack, person: str) -> str:
    return stack[2][person]


def sign_in(page, base: str, person: str, password: str) -> None:
    page.goto(base + "/login", wait_until="networkidle")
    page.fill("#person", person)
    page.fill("#password", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, page.inner_text("body")


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    doc = ROOT / "docs" / name
    if _has_cjk_font() and (not doc.exists() or os.environ.get("SHIXIAN_UPDATE_SCREENSHOT") == "1"):
        shutil.copyfile(ARTIFACTS / name, doc)


VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_liaison_registers_and_answers_a_request_and_a_document(stack, viewport):
    from playwright.sync_api import sync_playwright

    base, _, passwords = stack
    today = dt.datetime.now(SHANGHAI_OFFSET).date().isoformat()
    rid, did = f"qz-fgw-ysq-ui-{viewport}", f"qz-fgw-wj-ui-{viewport}"
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport=VIEWPORTS[viewport], locale="zh-CN")
            sign_in(page, base, "liaison-fgw", passwords["liaison-fgw"])
            assert page.url == base + "/liaison"
            # a new request, from the liaison page
            page.click("#register a:has-text('登记新申请')")
            page.wait_for_load_state("networkidle")
            page.fill("#f-request_id", rid)
            page.select_option("#f-channel", "online")
            page.fill("#f-received_on", today)
            page.select_option("#f-applicant_type", "legal.business")
            page.fill("#f-subject", "申请公开某项目节能审查意见")
            assert page.locator("#f-department").input_value() == "qz-fgw"
            _shot(page, f"form-request-{viewport}.png")
            page.click("#event-form button[type=submit]")
            page.wait_for_url(base + f"/items/{rid}")
            body = page.inner_text("body")
            assert "已登记“收到申请”" in body and "依申请公开答复 期限" in body and "到期前3个工作日提醒" in body
            # its reply, through the item's action button
            page.click("#actions a:has-text('答复')")
            page.wait_for_load_state("networkidle")
            assert page.locator("#f-request_id").input_value() == rid
            page.fill("#f-on", today)
            page.select_option("#f-outcome", "partially_granted")
            _shot(page, f"form-reply-{viewport}.png")
            page.click("#event-form button[type=submit]")
            page.wait_for_url(base + f"/items/{rid}")
            body = page.inner_text("body")
            assert "已登记“作出答复”" in body and "已履行" in body and "已办结" in body
            # a new document: its publication due date is shown
            page.goto(base + "/liaison", wait_until="networkidle")
            page.click("#register a:has-text('登记新文件')")
            page.wait_for_load_state("networkidle")
            page.fill("#f-document_id", did)
            page.fill("#f-title", "钦州市促进数字经济发展若干措施")
            page.select_option("#f-kind", "normative")
            page.fill("#f-signed_on", today)
            page.select_option("#f-disclosure", "public")
            _shot(page, f"form-document-{viewport}.png")
            page.click("#event-form button[type=submit]")
            page.wait_for_url(base + f"/items/{did}")
            body = page.inner_text("body")
            due = re.search(r"政策文件主动公开 期限 (\d{4})年(\d{1,2})月(\d{1,2})日", body)  # as an office writes it
            assert due and dt.date(*map(int, due.groups())).isoformat() > today, body
            assert page.locator("#actions a:has-text('登记公开')").count() == 1
        finally:
            browser.close()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_supervisor_urges_an_item(stack, viewport):
    from playwright.sync_api import sync_playwright

    base, _, passwords = stack
    item = "qz-jyj-ysq-2026-104"  # the demo's unanswered, overdue request
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport=VIEWPORTS[viewport], locale="zh-CN")
            sign_in(page, base, "supervisor-zwgk", passwords["supervisor-zwgk"])
            page.goto(base + f"/items/{item}", wait_until="networkidle")
            note = f"请于三个工作日内答复（{viewport}）"
            page.fill("#note", note)
            page.click("#urge-form button[type=submit]")
            page.wait_for_url(base + f"/items/{item}")
            body = page.inner_text("body")
            # the timeline names the 督办单 (number and colour, config/urge.toml) before the note
            assert "已督办" in body and re.search(r"督办（督办〔\d{4}〕第\d+号，.色督办）：" + re.escape(note), body)
            assert "督办通知" in body
            _shot(page, f"item-urged-{viewport}.png")
            page.goto(base + "/", wait_until="networkidle")
            row = page.locator("#by-department tr:has-text('钦州市教育局') td").nth(-2)  # 督办次数 (then 待审核)
            assert int(row.inner_text()) >= 1
        finally:
            browser.close()


def test_late_reply_is_held_until_a_supervisor_approves_it(stack):
    """A liaison (phone) records a reply dated 6 working days back: it is held as 补录, the request stays open;
    the supervisor (desktop) approves it on the board and the request is met as of the reply's own date."""
    from playwright.sync_api import sync_playwright

    from domain.calendar import load_calendar
    from domain.shanghai import today

    base, _, passwords = stack
    item = "qz-fgw-ysq-2026-106"  # the demo's open request, received 8 working days ago
    replied_on = load_calendar().subtract_working_days(today(), 6, "guangxi").isoformat()
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            phone = browser.new_page(viewport=VIEWPORTS["phone"], locale="zh-CN")
            sign_in(phone, base, "liaison-fgw", passwords["liaison-fgw"])
            phone.goto(base + f"/items/{item}", wait_until="networkidle")
            phone.click("#actions a:has-text('答复')")
            phone.wait_for_load_state("networkidle")
            phone.fill("#f-on", replied_on)
            phone.select_option("#f-outcome", "granted")
            phone.click("#event-form button[type=submit]")
            phone.wait_for_url(base + f"/items/{item}")
            body = phone.inner_text("body")
            assert "补录待审核" in body and replied_on in body, body
            assert "已办结" not in body  # held: the request is still open

            desk = browser.new_page(viewport=VIEWPORTS["desktop"], locale="zh-CN")
            sign_in(desk, base, "supervisor-zwgk", passwords["supervisor-zwgk"])
            desk.goto(base + "/#review", wait_until="networkidle")
            row = desk.locator("#held tr", has_text=item)
            assert row.count() == 1, desk.inner_text("#held")
            _shot(desk, "review-queue-desktop.png")
            row.locator("form[action$='/approve'] button").click()
            desk.wait_for_load_state("networkidle")
            assert desk.locator("#held tr", has_text=item).count() == 0
            desk.goto(base + f"/items/{item}", wait_until="networkidle")
            body = desk.inner_text("body")
            assert "已履行" in body and "已办结" in body and replied_on in body, body
        finally:
            browser.close()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_admin_adds_a_department_and_its_liaison(stack, viewport):
    """The admin page as an office form (issue 19 §3): a department with its 上线日期, a liaison with a
    webhook channel, then the test message; docs/admin.png is the desktop list."""
    from playwright.sync_api import sync_playwright

    base = stack[0]
    name = f"钦州市司法局（{'电脑' if viewport == 'desktop' else '手机'}）"
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport=VIEWPORTS[viewport], locale="zh-CN")
            sign_in(page, base, "admin", _pw(stack, "admin"))
            page.goto(base + "/admin/departments/new", wait_until="networkidle")
            page.fill("#name", name)
            page.fill("#short_name", "市司法局")
            page.select_option("#region", "guangxi")
            page.select_option("#node", "qinzhou")
            page.fill("#go_live", "2026-12-01")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"admin-department-{viewport}.png"), full_page=True)
            page.click("#department-form button[type=submit]")
            page.wait_for_load_state("networkidle")
            assert name in page.inner_text("#departments")
            page.goto(base + "/admin/people/new", wait_until="networkidle")
            page.fill("#name", f"司法局联络员{viewport}")
            page.select_option("#department", label=name)
            page.select_option("#channel_kind", "sms_aliyun")  # 短信: a phone field and the quiet-hours note
            assert page.is_visible("#ch_sms_aliyun_phone") and page.is_hidden("#ch_webhook_address")
            assert "静默时段（北京时间 22:00–07:30）内的短信留到时段结束后发送" in page.inner_text(
                '.kind[data-kind="sms_aliyun"]'
            )
            _shot(page, f"admin-person-sms-{viewport}.png")
            page.select_option("#channel_kind", "webhook")
            assert page.is_hidden("#ch_wecom_key") and page.is_visible("#ch_webhook_address")
            page.fill("#ch_webhook_address", "http://127.0.0.1:9/hook/sfj")
            page.click("#person-form button[type=submit]")
            page.wait_for_load_state("networkidle")
            body = page.inner_text("body")
            assert f"已保存人员“司法局联络员{viewport}”" in body and "Webhook" in body, body
            page.click("#test-form button[type=submit]")
            page.wait_for_load_state("networkidle")
            assert "渠道1 Webhook" in page.inner_text("#test-results")
            _shot(page, f"admin-person-{viewport}.png")
            page.goto(base + "/admin/directory", wait_until="networkidle")
            assert "新增人员" in page.inner_text("#history")
            if viewport == "desktop":
                _shot(page, "admin.png")
        finally:
            browser.close()
