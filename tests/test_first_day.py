"""Issue 19's "Done when", in Debian's headless Chromium: a new department's first day on `shixian up --demo`.

The admin creates the department (上线日期 = today, Beijing time) and its liaison and sends the invite; the
liaison sets a password from the one-time link (no personal channel: the admin page shows it once, the inbox
holds the invite), fills a year of history into the downloaded ledger templates and uploads them as one
onboarding batch; the supervisor approves it in one action and the board shows no false overdue item; a 督办
reaches the liaison's 站内消息 with no external channel; the assessor's export names departments in Chinese;
/docs renders with every request off 127.0.0.1 aborted. History dates come from the working-day calendar, so
the test holds on any day. Screenshots: test-artifacts/ always, docs/first-day-*.png when missing (or with
SHIXIAN_UPDATE_SCREENSHOT=1)."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import urlsplit

import pytest

from tests.test_browser import ARTIFACTS, VIEWPORTS, _browser, _pw, _shot, sign_in, stack  # noqa: F401 (the fixture)

pytestmark = pytest.mark.browser

REGION = "guangxi"
PASSWORD = "Qinzhou#Sfj2026"  # 15 characters, four classes, no login name, no run, not a weak word


def _history(vp: str):
    """A year of history before go-live (= today): (request rows, document rows, keys by role)."""
    from domain.engine import engine
    from domain.shanghai import today

    cal, go_live = engine().calendar, today()
    back = lambda n: cal.subtract_working_days(go_live, n, REGION)  # noqa: E731
    fwd = lambda d, n: cal.add_working_days(d, n, REGION)  # noqa: E731
    k = lambda i: f"sfj-{vp}-ysq-{i}"  # noqa: E731
    requests = [  # (受理编号, 收到申请日期, 答复日期, 申请内容)
        (k(1), back(240), fwd(back(240), 8), "申请公开2025年度法律援助案件统计"),
        (k(2), back(200), fwd(back(200), 31), "申请公开人民调解委员会名单"),  # answered late
        (k(3), back(160), fwd(back(160), 15), "申请公开公证机构收费标准"),
        (k(4), back(120), fwd(back(120), 27), "申请公开社区矫正工作经费"),  # answered late
        (k(5), back(80), fwd(back(80), 20), "申请公开律师事务所年度考核结果"),  # the last day: on time
        (k(6), back(40), fwd(back(40), 3), "申请公开普法宣传经费使用情况"),
        (k(7), back(4), None, "申请公开行政复议案件办理流程"),  # open: due in the future
    ]
    d = lambda i: f"钦司发〔{vp}〕{i}号"  # noqa: E731
    documents = [  # (文件编号, 标题, 成文日期, 公开日期)
        (d(1), "钦州市法律援助工作实施办法", back(220), fwd(back(220), 6)),
        (d(2), "钦州市人民调解工作规范", back(130), fwd(back(130), 12)),
        (d(3), "钦州市公共法律服务体系建设方案", back(30), fwd(back(30), 4)),
    ]
    return requests, documents, {"late": [k(2), k(4)], "open": k(7)}


def _fill(template: bytes, rows: list[dict]) -> bytes:
    """The downloaded template with its example row replaced by `rows` (header -> value)."""
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(template))
    ws = wb.worksheets[0]
    header = [c.value for c in ws[1]]
    ws.delete_rows(2, ws.max_row)
    for n, row in enumerate(rows, start=2):
        for col, value in row.items():
            ws.cell(row=n, column=header.index(col) + 1, value=value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _upload(page, base: str, filename: str, data: bytes, expected: int, shot=None) -> None:
    page.goto(base + "/import", wait_until="networkidle")
    page.set_input_files(
        "#upload-form input[name=file]",
        files=[{"name": filename, "mimeType": "application/octet-stream", "buffer": data}],
    )
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#import-rows")
    rows = page.locator("#import-rows tbody tr")
    assert rows.count() == expected, page.inner_text("#import-rows")
    results = page.locator("#import-rows tbody td[data-label=结果]").all_inner_texts()
    assert results == ["纳入历史台账"] * expected, results
    body = page.inner_text("body")
    assert "预览，尚未导入" in body and "补录待审核" not in body
    assert f"{expected} 行早于本部门上线日期" in page.inner_text("#onboarding-rows-note")
    if shot is not None:
        shot(page, "import")
    page.click("#confirm-form button[type=submit]")
    page.wait_for_selector("#import-summary:has-text('已导入')")
    results = page.locator("#import-rows tbody td[data-label=结果]").all_inner_texts()
    assert results == ["纳入历史台账"] * expected, results
    assert "补录待审核" not in page.inner_text("body")


def _reload_until(page, url: str, selector: str, text: str, seconds: float = 60) -> None:
    """Reload `url` until `selector` contains `text` (a workflow delivers it a moment later)."""
    import time

    end = time.monotonic() + seconds
    while True:
        page.goto(url, wait_until="networkidle")
        loc = page.locator(selector, has_text=text)
        if loc.count() or time.monotonic() > end:
            break
        page.wait_for_timeout(500)
    assert loc.count(), page.inner_text("body")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_new_departments_first_day(stack, viewport):
    from playwright.sync_api import sync_playwright

    from domain.shanghai import today

    base = stack[0]
    vp = viewport
    desk = vp == "desktop"
    dept_id, person_id = f"qz-sfj-{vp}", f"liaison-sfj-{vp}"
    name = f"钦州市司法局（{'电脑' if desk else '手机'}验收）"
    liaison_name = f"司法局联络员{'甲' if desk else '乙'}"
    requests, documents, keys = _history(vp)

    def shot(page, what: str) -> None:
        # docs/: the desktop pages and one phone page (the inbox); every one in test-artifacts/
        if desk:
            _shot(page, f"first-day-{what}.png")
        elif what == "inbox":
            _shot(page, "first-day-inbox-phone.png")
        else:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"first-day-{what}-phone.png"), full_page=True)

    with sync_playwright() as p:
        browser = _browser(p)
        try:
            # 1. the admin: the department with its go-live, its liaison, the invite
            admin = browser.new_context(viewport=VIEWPORTS[vp], locale="zh-CN").new_page()
            sign_in(admin, base, "admin", _pw(stack, "admin"))
            assert urlsplit(admin.url).path == "/admin", admin.url
            admin.goto(base + "/admin/departments/new", wait_until="networkidle")
            admin.fill("#name", name)
            admin.fill("#short_name", "市司法局")
            admin.select_option("#region", REGION)
            admin.select_option("#node", "qinzhou")
            admin.fill("#go_live", today().isoformat())
            admin.click("#department-form details summary")
            admin.fill("#id", dept_id)
            admin.click("#department-form button[type=submit]")
            admin.wait_for_load_state("networkidle")
            assert f"已保存部门“{name}”" in admin.inner_text("body")
            assert name in admin.inner_text("#departments")
            admin.goto(base + "/admin/people/new", wait_until="networkidle")
            admin.fill("#name", liaison_name)
            admin.fill("#title", "办公室科员")
            admin.select_option("#department", label=name)
            assert admin.is_checked("input[name=role_liaison]")
            admin.click("#person-form details summary")
            admin.fill("#id", person_id)
            admin.click("#person-form button[type=submit]")
            admin.wait_for_url(base + f"/admin/people/{person_id}")
            assert f"已保存人员“{liaison_name}”" in admin.inner_text("body")
            assert "未设置密码" in admin.inner_text("body")
            admin.click("#invite-form button[type=submit]")
            admin.wait_for_selector("#invite-link")
            link = admin.inner_text("#invite-link code").strip()
            # the link is built on SHIXIAN_PUBLIC_URL (default http://127.0.0.1:8000), not on the port this
            # stack listens on: the admin hands over its path, opened here on the stack's own address
            found = re.fullmatch(r"https?://[^/]+(/invite/[A-Za-z0-9_\-]+)", link)
            assert found, link
            link = base + found.group(1)
            shot(admin, "admin")

            # the liaison: a password from the link, by the rules shown; the invite is in the inbox
            liaison = browser.new_context(viewport=VIEWPORTS[vp], locale="zh-CN").new_page()
            liaison.goto(link, wait_until="networkidle")
            assert "至少 10 个字符" in liaison.inner_text("#password-rules")
            liaison.fill("#password", "short1A")
            liaison.fill("#password2", "short1A")
            liaison.evaluate(
                "document.querySelectorAll('input[minlength]').forEach(e => e.removeAttribute('minlength'))"
            )
            liaison.click("form[action^='/invite/'] button[type=submit]")
            liaison.wait_for_selector("p.error[role=alert]")
            assert "10" in liaison.inner_text("p.error[role=alert]")  # the rule refused is quoted
            liaison.fill("#password", PASSWORD)
            liaison.fill("#password2", PASSWORD)
            liaison.click("form[action^='/invite/'] button[type=submit]")
            liaison.wait_for_url(re.compile(r".*/login.*"))
            assert f"密码已设置，请用人员编号 {person_id}" in liaison.inner_text("body")
            sign_in(liaison, base, person_id, PASSWORD)
            assert urlsplit(liaison.url).path == "/liaison" and name in liaison.inner_text("body")
            liaison.goto(base + "/inbox", wait_until="networkidle")
            assert "设置登录密码" in liaison.inner_text("#inbox-messages")
            gone = browser.new_page(viewport=VIEWPORTS[vp], locale="zh-CN")
            gone.goto(link, wait_until="networkidle")
            assert "无效、已使用或已过期" in gone.inner_text("body")
            gone.close()

            # 2. a year of history in the downloaded templates, uploaded as the onboarding batch
            got = liaison.request.get(base + "/import/template/requests.xlsx")
            assert got.ok and got.headers["content-type"].startswith("application/vnd.openxmlformats")
            req_rows = [
                {
                    "受理编号": key,
                    "收到申请日期": received,
                    "申请方式": "网上",
                    "申请人类型": "自然人",
                    "申请内容": subject,
                    **({"答复日期": replied, "答复结果": "予以公开"} if replied else {}),
                }
                for key, received, replied, subject in requests
            ]
            _upload(liaison, base, "依申请公开台账.xlsx", _fill(got.body(), req_rows), len(requests), shot)
            got = liaison.request.get(base + "/import/template/documents.xlsx")
            assert got.ok
            doc_rows = [
                {
                    "文件编号": key,
                    "文件标题": title,
                    "文件类型": "行政规范性文件",
                    "成文日期": signed,
                    "公开属性": "主动公开",
                    "公开日期": published,
                    "公开网址": f"https://www.qinzhou.gov.cn/sfj/{vp}/{n}.html",
                    "是否需要解读": "否",
                }
                for n, (key, title, signed, published) in enumerate(documents, start=1)
            ]
            _upload(liaison, base, "政策文件台账.xlsx", _fill(got.body(), doc_rows), len(documents))
            total = len(requests) + len(documents)

            # 3. the supervisor: the batch on the board, its summary, approved in one action
            sup = browser.new_context(viewport=VIEWPORTS[vp], locale="zh-CN").new_page()
            sign_in(sup, base, "supervisor-zwgk", _pw(stack, "supervisor-zwgk"))
            assert "历史台账待审核" in sup.inner_text("#onboarding")
            batch_row = sup.locator("#onboarding-batches tr", has_text=name)
            assert batch_row.count() == 1, sup.inner_text("#onboarding-batches")
            batch_row.locator("a:has-text('查看并审核')").click()
            sup.wait_for_selector("#onboarding-summary")
            summary = sup.inner_text("#onboarding-summary")
            n_late, n_open = len(keys["late"]), 1
            n_on_time = total - n_late - n_open
            assert f"共 {total} 行、{total} 个事项" in summary, summary
            assert f"按时办结 {n_on_time}，逾期办结 {n_late}，办理中 {n_open}" in summary, summary
            assert sup.locator("#onboarding-rows tbody tr").count() == total
            for key in keys["late"]:
                late_row = sup.locator("#onboarding-rows tbody tr", has_text=key)
                assert "逾期" in late_row.inner_text(), late_row.inner_text()
            assert sup.locator("#onboarding-approve button").inner_text() == f"整批批准（{total} 行）"
            shot(sup, "onboarding")
            sup.fill("#onboarding-approve input[name=reason]", "历史台账与纸质台账核对一致")
            sup.click("#onboarding-approve button")
            sup.wait_for_load_state("networkidle")
            sup.goto(base + "/onboarding?status=approved", wait_until="networkidle")
            assert sup.locator("#onboarding-batches tr", has_text=name).count() == 1
            # the board: nothing of the new department is overdue or held; its open item is on record
            _reload_until(sup, base + f"/items/{keys['open']}", "body", "办理中")
            for late_item in keys["late"]:  # closed late in its history, not overdue
                _reload_until(sup, base + f"/items/{late_item}", "body", "逾期履行")
                assert "已办结" in sup.inner_text("body")
            sup.goto(base + "/", wait_until="networkidle")
            assert sup.locator("#overdue tbody tr", has_text=name).count() == 0
            assert sup.locator("#by-department tbody tr", has_text=name).count() == 0
            assert sup.locator("#onboarding-batches tr", has_text=name).count() == 0
            shot(sup, "board")

            # 4. a 督办 of the open history row reaches the liaison's inbox (no external channel)
            note = f"请按期答复（{vp}）"
            sup.goto(base + f"/items/{keys['open']}", wait_until="networkidle")
            sup.fill("#note", note)
            sup.click("#urge-form button[type=submit]")
            sup.locator(".urge-card", has_text=f"督办意见：{note}").wait_for()
            assert "已督办" in sup.inner_text("p.flash")
            _reload_until(liaison, base + "/inbox", "#inbox-messages tr.unread", "督办")
            unread = int(liaison.inner_text("#inbox-unread"))
            assert unread >= 1
            message = liaison.locator("#inbox-messages tr.unread", has_text="督办").first
            assert "已送达" in message.inner_text()
            shot(liaison, "inbox")
            message.locator("td[data-label=标题] a").first.click()
            liaison.wait_for_selector("#message-body")
            assert note in liaison.inner_text("#message-body")
            assert liaison.locator("main p.muted .badge").first.inner_text() == "已读"
            liaison.goto(base + "/inbox", wait_until="networkidle")
            assert liaison.locator("#inbox-messages tr.unread", has_text="督办").count() == 0
            assert "已读" in liaison.locator("#inbox-messages tr", has_text="督办").first.inner_text()

            # 5. the assessor: the scores page, an export naming departments in Chinese
            assessor = browser.new_context(viewport=VIEWPORTS[vp], locale="zh-CN").new_page()
            sign_in(assessor, base, "assessor-zwgk", _pw(stack, "assessor-zwgk"))
            assert urlsplit(assessor.url).path == "/scores", assessor.url
            href = assessor.locator("#exports a:has-text('CSV')").get_attribute("href")
            got = assessor.request.get(base + href)
            assert got.ok, got.text()
            table = list(csv.reader(io.StringIO(got.body().decode("utf-8-sig"))))
            header, rows = table[0], table[1:]
            assert header[-1] == "部门编号" and "部门" in header[0], header
            ours = [r for r in rows if r and r[-1] == dept_id]
            assert ours and ours[0][0] == name, (header, ours)
            assert all(dept_id not in cell for r in rows for cell in r[:-1])  # the id only in its column
            assert "钦州市教育局" in {r[0] for r in rows}

            # 6. /docs with no network: everything off 127.0.0.1 is aborted
            left: list[str] = []

            def only_loopback(route):
                url = route.request.url
                if urlsplit(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
                    route.continue_()
                else:
                    left.append(url)
                    route.abort()

            docs = browser.new_page(viewport=VIEWPORTS[vp], locale="zh-CN")
            docs.route("**/*", only_loopback)
            docs.goto(base + "/docs", wait_until="networkidle")
            docs.wait_for_selector(".opblock", timeout=30_000)
            assert docs.locator(".opblock").count() >= 10
            assert "/api/inbox" in docs.inner_text("#swagger-ui")
            assert left == []
        finally:
            browser.close()
