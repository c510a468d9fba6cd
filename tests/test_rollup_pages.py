"""Roll-ups of the jurisdictions tree on the pages and the API (issue 20 §1), on the three-level test tree
(tests/province.py), with requests through the real ingest path on the time-skipping server: the province's
board rolls up its cities (per child node and per own department), `?node=` narrows the board to a subtree,
the compare page and its xlsx set the children side by side, and the government report of a city covers the
city's own departments, not its counties (each county government publishes its own).

Dates are derived from the server's today: the requests received 60 days ago are overdue today whatever the
day; the scores are asked for the year of their due date, which contains every figure asserted."""

from __future__ import annotations

import datetime as dt
import io
import re

import httpx
import pytest

from tests.province import write_province
from tests.test_workflows import received

pytestmark = pytest.mark.asyncio(loop_scope="session")
PASSWORD = "Rollup-Check-2026!"


def _browser(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("10.0.0.7", 40000)), base_url="http://127.0.0.1"
    )


async def _sign_in(c: httpx.AsyncClient, person: str) -> None:
    page = await c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text[:800]
    r = await c.post("/login", data={"person": person, "password": PASSWORD, "csrf_token": token.group(1)})
    assert r.status_code in (302, 303), r.text[:500]


def _row(html: str, attr: str, key: str) -> list[str]:
    """The data-v values of one roll-up row (departments, open, overdue, held, rate, lag, score)."""
    m = re.search(rf'<tr class="rollup-[a-z]+" {attr}="{re.escape(key)}">(.*?)</tr>', html, re.S)
    assert m, f"no roll-up row {attr}={key}"
    return re.findall(r'data-v="([^"]*)"', m.group(1))


async def test_board_scores_compare_and_government_report_by_node(st, tmp_path):
    from openpyxl import load_workbook

    from app.web.server import create_app
    from domain import engine as engine_mod
    from services.accounts import set_password
    from services.annual import annual_document
    from services.scores import period_scores
    from services.views import parse_period_param

    write_province(st.config)
    engine_mod.reset()
    assert engine_mod.engine().directory.tree.root.id == "gx"

    today = await st.today()
    old = today - dt.timedelta(days=60)
    ls_old, ls_new, pb_old, hp_new, qz_done = (st.id(x) for x in ("LS1", "LS2", "PB1", "HP1", "QZ1"))
    await st.ok(
        received(ls_old, "ls-jyj", old),
        received(ls_new, "ls-jyj", today),
        received(pb_old, "pb-jyj", old),
        received(hp_new, "hp-jyj", today),
        received(qz_done, "qz-fgw", old),
    )
    await st.ok(
        {
            "type": "request.replied",
            "request_id": qz_done,
            "on": (old + dt.timedelta(days=3)).isoformat(),
            "outcome": "granted",
        }
    )
    # pb's liaison records now a reply dated 55 days ago: a late entry, held for review (待审核, not 逾期);
    # hp's liaison registers a request received two days ago (a registration lag, not late)
    from tests.test_review import as_role

    held = await as_role(
        st,
        "liaison",
        "li-pb-jyj",
        {"type": "request.replied", "request_id": pb_old, "on": (old + dt.timedelta(days=5)).isoformat()}
        | {"outcome": "granted"},
    )
    assert held[0].status == "held", held[0].text()
    lagged_on = today - dt.timedelta(days=2)
    hp_lag = st.id("HP2")
    lag = await as_role(st, "liaison", "li-hp-jyj", received(hp_lag, "hp-jyj", lagged_on))
    assert lag[0].status == "applied", lag[0].text()
    due = dt.date.fromisoformat(st.clock(ls_old, "request_reply").due[:10])
    assert due < today and st.clock(pb_old, "request_reply").due == st.clock(ls_old, "request_reply").due
    year = str(due.year)  # contains the due date of every old request (one calendar: guangxi)

    await st.sync_clock()
    for person in ("sup-gx", "ass-gx"):
        set_password(person, PASSWORD)
    app = create_app(st.client, host="127.0.0.1")
    async with _browser(app) as c:
        await _sign_in(c, "sup-gx")

        # ---- the province's board: one row per city (its whole subtree), one per own department
        board = await c.get("/")
        assert board.status_code == 200, board.text[:800]
        html = board.text
        assert 'id="node-rollup"' in html and html.index('id="node-rollup"') < html.index('id="overdue"')
        qz = _row(html, "data-node", "qz")
        bh = _row(html, "data-node", "bh")
        assert qz[:4] == ["6", "3", "1", "1"]  # departments, open (ls 2 + pb 1), overdue (ls), held (pb)
        assert bh[:4] == ["4", "2", "0", "0"]
        assert _row(html, "data-department", "gx-fgw")[:4] == ["1", "0", "0", "0"]
        assert 'href="/?node=qz"' in html and 'href="/nodes/gx/compare"' in html
        total = re.search(r'<tr class="rollup-total">(.*?)</tr>', html, re.S)
        assert total and re.findall(r'data-v="([^"]*)"', total.group(1))[:4] == ["12", "5", "1", "1"]
        assert html.count('class="overdue-row"') == 1

        # ---- ?node=ls: the county's board, its lists narrowed to its departments
        county = await c.get("/?node=ls")
        assert county.status_code == 200
        assert "督办看板 · 灵山县" in county.text
        assert county.text.count('class="overdue-row"') == 1 and ls_old in county.text and pb_old not in county.text
        assert 'class="rollup-node"' not in county.text  # a county has no children, only its departments
        assert _row(county.text, "data-department", "ls-jyj")[:3] == ["1", "2", "1"]
        assert 'href="/?node=qz"' in county.text  # the breadcrumb up: 广西 › 钦州市 › 灵山县
        city = await c.get("/?node=qz")
        assert [x[:3] for x in (_row(city.text, "data-node", "ls"), _row(city.text, "data-node", "pb"))] == [
            ["2", "2", "1"],
            ["2", "1", "0"],
        ]
        assert _row(city.text, "data-node", "pb")[3] == "1"  # 待审核
        assert hp_new not in city.text
        assert (await c.get("/?node=nowhere")).status_code == 404

        # ---- scores per child node: the year of the due date
        scores = await c.get(f"/scores?period={year}")
        assert scores.status_code == 200
        res = period_scores(parse_period_param(year), today)
        by_dept = {d.department: d for d in res.summary}
        qz_depts = {"qz-fgw", "ls-jyj", "pb-jyj"} & set(by_dept)
        assert qz_depts == {"qz-fgw", "ls-jyj", "pb-jyj"}
        qz_row = _row(scores.text, "data-node", "qz")
        # on-time rate from the summed counts (1 on time, 1 missed, pb's held one in neither), score the
        # mean over the scored departments
        assert by_dept["pb-jyj"].held == 1 and by_dept["pb-jyj"].overdue == 0
        assert float(qz_row[4]) == 0.5
        assert float(qz_row[6]) == round(sum(by_dept[d].score for d in qz_depts) / 3, 2)

        county_scores = await c.get(f"/scores?period={year}&node=ls")
        assert county_scores.status_code == 200 and "考评得分 · 灵山县" in county_scores.text
        summary = county_scores.text[county_scores.text.index('id="scores"') :]
        summary = summary[: summary.index("</table>")]
        assert "灵山县教育局" in summary and "浦北县教育局" not in summary  # the lists narrowed to the county
        assert '<input type="hidden" name="node" value="ls">' in county_scores.text  # its government's report

        # ---- the compare page: the province's children side by side, sortable, with its xlsx
        cmp_page = await c.get(f"/nodes/gx/compare?period={year}&sort=on_time_rate")
        assert cmp_page.status_code == 200
        assert 'class="sortable" id="compare"' in cmp_page.text
        order = re.findall(r'<tr class="compare-row" data-id="([^"]+)">', cmp_page.text)
        assert order == ["qz", "bh"]  # bh decided nothing: no rate, last
        api = await c.get(f"/api/nodes/gx/compare?period={year}&sort=overdue")
        assert api.status_code == 200, api.text
        body = api.json()
        assert body["compares"] == "children" and [r["id"] for r in body["rows"]] == ["qz", "bh"]
        assert body["rows"][0]["figures"]["overdue"] == 1 and body["rows"][0]["figures"]["missed"] == 1
        assert body["rows"][0]["figures"]["held"] == 1
        assert body["total"]["departments"] == 12
        county_cmp = (await c.get(f"/api/nodes/ls/compare?period={year}")).json()
        assert county_cmp["compares"] == "departments" and {r["id"] for r in county_cmp["rows"]} == {
            "ls-zfb",
            "ls-jyj",
        }
        xlsx = await c.get(f"/api/nodes/gx/compare?period={year}&format=xlsx&sort=overdue")
        assert xlsx.status_code == 200 and xlsx.headers["content-type"].startswith("application/vnd.openxml")
        sheet = load_workbook(io.BytesIO(xlsx.content))["下级对比"]
        rows = [[cell.value for cell in r] for r in sheet.iter_rows(min_row=3)]
        assert [r[0] for r in rows] == ["钦州市", "北海市", "广西壮族自治区合计"]
        assert rows[0][3] == 0.5 and rows[0][4] == 1 and rows[0][5] == 1 and rows[2][2] == 12
        assert (await c.get("/api/nodes/nowhere/rollup")).status_code == 404
        nodes = (await c.get("/api/nodes")).json()
        assert nodes["root"] == "gx" and [n["id"] for n in nodes["nodes"]] == ["gx", "qz", "ls", "pb", "bh", "hp"]
        roll = (await c.get(f"/api/nodes/qz/rollup?period={year}")).json()
        assert [r["id"] for r in roll["children"]] == ["ls", "pb"] and [r["id"] for r in roll["own"]] == [
            "qz-zfb",
            "qz-fgw",
        ]
        assert roll["total"]["open"] == 3 and roll["path"] == ["gx", "qz"]
        # registration lag: Σ working days / starts, from the liaison's own registrations
        hp = (await c.get(f"/api/nodes/hp/rollup?period={lagged_on.year}")).json()
        hp_jyj = next(r for r in hp["own"] if r["id"] == "hp-jyj")["figures"]
        assert hp_jyj["registration_lag_starts"] == 1 and 0 <= hp_jyj["registration_lag_mean"] <= 2
        assert hp["total"]["registration_lag_starts"] == 1 and hp["total"]["registration_late"] == 0

        # ---- the government report of a city vs a county: each covers its own node's departments
        y = old.year
        ls_new_count = 1 + (today.year == y)
        county_gov = annual_document(y, government=True, node="ls", as_of=today)
        city_gov = annual_document(y, government=True, node="qz", as_of=today)
        assert county_gov["issuer"] == "灵山县人民政府" and city_gov["issuer"] == "钦州市人民政府"
        assert county_gov["table3"]["new"]["total"] == ls_new_count
        assert city_gov["table3"]["new"]["total"] == 1  # qz-fgw's request only: not the counties'
        root_gov = annual_document(y, government=True, as_of=today)  # no node: the root's government
        assert root_gov["issuer"] == "广西壮族自治区人民政府" and root_gov["table3"]["new"]["total"] == 0
        r = await c.get(f"/api/annual-report?year={y}&government=true&node=ls")
        assert r.status_code == 200 and r.json()["table3"]["new"]["total"] == ls_new_count
        assert (await c.get(f"/api/annual-report?year={y}&government=true&node=nowhere")).status_code == 404
    # each government's report locks on its own (the lock key names the compiling unit)
    from services.annual import lock_annual_report

    county_lock = lock_annual_report(y, government=True, node="ls", force=True, confirm_pending=True)
    city_lock = lock_annual_report(y, government=True, node="qz", force=True, confirm_pending=True)
    assert (county_lock.scope, city_lock.scope) == ("government:ls-zfb", "government:qz-zfb")
    assert county_lock.tables["table3"]["new"]["total"] == ls_new_count
    assert city_lock.tables["table3"]["new"]["total"] == 1
    # ... and the CLI's --node
    import json

    from tests.test_review import cli

    out = cli("annual-report", "--year", str(y), "--government", "--node", "qz", "--as-of", today.isoformat())
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["issuer"] == "钦州市人民政府"

    # ---- the node rule (interim, services.rollup.node_scope): inside one's subtree only
    from services.access import ApiError, Principal
    from services.rollup import node_scope

    ls_sup = Principal(role="supervisor", person="sup-ls", node="ls")
    assert node_scope(ls_sup, None) == "ls"
    with pytest.raises(ApiError) as refused:
        node_scope(ls_sup, "pb")
    assert refused.value.status == 403 and "浦北县" in refused.value.detail
    assert node_scope(Principal(role="supervisor", node="qz"), "pb") == "pb"
    with pytest.raises(ApiError) as liaison:
        node_scope(Principal(role="liaison", department="ls-jyj"), "ls")
    assert liaison.value.status == 403
    engine_mod.reset()
