"""The whole annual report draft: the 2016 seed (tests/seed_2016.py) as .docx, HTML and PDF, the
government scope, the entered figures and the CLI."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from datetime import date
from pathlib import Path

import pytest

from domain import report as R
from domain.annual_document import (
    SECTION_HEADINGS,
    EnteredFiguresError,
    build_document,
    department_scope,
    filter_events,
    government_scope,
    government_units,
    split_entered,
)
from services.annual import resolve_scope
from services.annual_render import docx_text, render_docx, render_html
from tests import seed_2016 as S

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
AS_OF = date(2017, 1, 20)


@pytest.fixture(scope="module")
def seed():
    evs = S.events()
    return evs, S.clock_records(evs)


def _city_doc(seed, entered=S.ENTERED):
    from domain.directory import load_directory
    from domain.rules import load_rules
    from domain.scoring import load_scoring, rule_labels

    evs, clocks = seed
    directory = load_directory()
    return build_document(
        evs,
        2016,
        resolve_scope(None, True, directory),
        entered=entered,
        clocks=clocks,
        as_of=AS_OF,
        rule_labels=rule_labels(load_rules(), load_scoring()),
        dept_names={d.id: d.name for d in directory.departments.values()},
    )


def _table3_from_docx(tables: list) -> dict[str, list[int]]:
    """Row label -> the 7 numbers of table 三 as read back from the .docx."""
    t3 = next(t for t in tables if "勾稽关系" in t[0][0])
    return {row[2]: [int(x) for x in row[3:]] for row in t3[3:]}


def test_2016_seed_report_docx(seed):
    doc = _city_doc(seed)
    data = render_docx(doc)
    content = docx_text(data)
    paras = content["paragraphs"]

    assert paras[0] == ("Title", "钦州市2016年政府信息公开工作年度报告")
    assert [t for s, t in paras if s == "Heading 1"] == SECTION_HEADINGS
    assert [t for s, t in paras if s == "Heading 2"][:5] == [
        "（一）主动公开",
        "（二）依申请公开",
        "（三）回应社会关切",
        "（四）工作机构和人员",
        "（五）平台建设和监督保障",
    ]
    text = "\n".join(t for _, t in paras)

    # table 三: the seed's figures (48 received, 41 answered: 33 + 3 + 2 + 3, 7 carried over)
    t3 = _table3_from_docx(content["tables"])
    total = -1  # the 总计 column
    assert t3["一、本年新收政府信息公开申请数量"][total] == 48
    assert t3["二、上年结转政府信息公开申请数量"][total] == 0
    assert t3["（一）予以公开"][total] == 33
    assert t3["（二）部分公开（区分处理的，只计这一情形，不计其他情形）"][total] == 3
    assert t3["1.属于国家秘密"][total] == 2
    assert t3["1.本机关不掌握相关政府信息"][total] == 3
    assert t3["（七）总计"][total] == 41
    assert t3["四、结转下年度继续办理"][total] == 7
    # the identity, in every column of the document as written
    for col in range(7):
        assert (
            t3["一、本年新收政府信息公开申请数量"][col] + t3["二、上年结转政府信息公开申请数量"][col]
            == t3["（七）总计"][col] + t3["四、结转下年度继续办理"][col]
        )
    assert doc["checks"] == []
    # table 三's header as the format lays it out (merged cells read back as repeated text)
    t3_rows = next(t for t in content["tables"] if "勾稽关系" in t[0][0])
    assert t3_rows[0][3:] == ["申请人情况"] * 7
    assert t3_rows[1][4:9] == ["法人或其他组织"] * 5 and t3_rows[1][3] == t3_rows[2][3] == "自然人"
    assert t3_rows[5][0] == t3_rows[20][0] == "三、本年度办理结果"
    # table 四: one row of 15 numbers under 行政复议 / 行政诉讼
    t4 = next(t for t in content["tables"] if t[0][0] == "行政复议")
    assert len(t4) == 4 and len(t4[3]) == 15 and t4[3] == ["0"] * 15
    assert t4[0][5:] == ["行政诉讼"] * 10 and t4[1][5] == "未经复议直接起诉" and t4[1][10] == "复议后起诉"
    # table 二: the document block from events, the entered blocks left to fill
    t2 = next(t for t in content["tables"] if t[0][0] == "第二十条第（一）项")
    rows = {r[0]: r[1:] for r in t2}
    assert rows["规章"] == ["2", "0", "2"] and rows["行政规范性文件"] == ["38", "1", "38"]
    assert rows["行政许可"] == ["【待填】"] * 3 and rows["行政事业性收费"] == ["【待填】"] * 3

    # section 一 from the events and clocks
    assert "新收政府信息公开申请48件（当面申请12件、网络申请22件、信函申请（挂号）14件）" in text
    assert "本年办结41件" in text and "结转下年度继续办理7件" in text
    assert "纳入答复时限管理的41件中，在法定期限内答复39件，按时答复率95.1%" in text
    assert "经批准延长答复期限1件，一次性告知申请人补正1件，征求意见1件（征求第三方意见1件）" in text
    assert "发布政策解读585篇（文字解读500篇、图文解读70篇、视频解读15篇）" in text
    assert "按时公开582件" in text
    assert "监测处置政务舆情136起（重大舆情59起、一般舆情77起）" in text and "召开新闻发布会回应59起" in text
    assert "专职人员35人、兼职人员1081人" in text and "查阅点16个" in text
    # section 五: the missed clocks by rule and department
    assert "有11件未按时履行" in text
    assert "“依申请公开答复”逾期2件" in text and "钦州市发展和改革委员会1件（逾期办结1件）" in text
    # placeholders: visible and named, never invented
    for label in ("其他需要报告的事项（文字）", "上年度问题的改进情况（文字）", "政务公开业务培训次数（次）"):
        assert f"【待填：{label}】" in text
    assert set(doc["placeholders"]) >= {
        "表二 行政许可 本年处理决定数量",
        "表二 行政事业性收费 本年收费金额（万元）",
        "其他需要报告的事项（文字）",
    }
    assert "本年收取信息处理费0元" in text
    # applicant data never reaches the document
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = "".join(z.read(n).decode("utf-8", "ignore") for n in z.namelist() if n.endswith(".xml"))
    assert "李四" not in xml and "0777-1234567" not in xml


def test_docx_styles_fonts_and_page(seed):
    from docx import Document
    from docx.oxml.ns import qn

    d = Document(io.BytesIO(render_docx(_city_doc(seed))))
    fonts = {}
    for name in ("Normal", "Title", "Heading 1", "Heading 2"):
        rfonts = d.styles[name].element.rPr.find(qn("w:rFonts"))
        fonts[name] = (rfonts.get(qn("w:eastAsia")), rfonts.get(qn("w:ascii")), rfonts.get(qn("w:asciiTheme")))
    assert fonts == {
        "Normal": ("仿宋_GB2312", "仿宋_GB2312", None),
        "Title": ("方正小标宋简体", "方正小标宋简体", None),
        "Heading 1": ("黑体", "黑体", None),
        "Heading 2": ("楷体_GB2312", "楷体_GB2312", None),
    }
    assert d.styles["Normal"].font.size.pt == 16 and d.styles["Title"].font.size.pt == 22
    s = d.sections[0]
    assert (round(s.page_width.mm), round(s.page_height.mm)) == (210, 297)  # A4 (stored in twips)
    assert [round(x.mm) for x in (s.top_margin, s.bottom_margin, s.left_margin, s.right_margin)] == [37, 35, 28, 26]
    # placeholders are highlighted runs
    marked = [r.text for p in d.paragraphs for r in p.runs if r.font.highlight_color is not None]
    assert "【待填：其他需要报告的事项（文字）】" in marked
    assert "PAGE" in s.footer.paragraphs[0]._p.xml


def test_html_prints_on_a4_with_the_same_tables(seed):
    doc = _city_doc(seed)
    h = render_html(doc)
    assert "@page { size: A4; margin: 37mm 26mm 35mm 28mm;" in h
    assert '<th rowspan="3" colspan="3">（本列数据的勾稽关系为' in h and '<th colspan="7">申请人情况</th>' in h
    assert '<th rowspan="2" colspan="5">行政复议</th>' in h
    assert '<mark class="todo">【待填：其他需要报告的事项（文字）】</mark>' in h
    assert all(head in h for head in SECTION_HEADINGS)
    assert "李四" not in h
    from domain.annual_document import department_scope

    evil = render_html(build_document([], 2016, department_scope("<script>x</script>", "<script>x</script>")))
    assert "<script>x" not in evil and "&lt;script&gt;x" in evil


def test_government_covers_its_units_and_sums_table3(seed):
    evs, clocks = seed
    parents = {"qz-zfb": None, "qz-fgw": "qz-zfb", "qz-czj": "qz-zfb", "qz-jyj": "qz-fgw", "qz-zrzyj": None}
    assert government_units(parents, "qz-zfb") == ["qz-czj", "qz-fgw", "qz-jyj", "qz-zfb"]  # transitively
    scope = government_scope("qz-zfb", "钦州市人民政府办公室", parents)
    assert (scope.issuer, scope.title_name) == ("钦州市人民政府", "钦州市")
    gov = build_document(evs, 2016, scope, clocks=clocks, as_of=AS_OF)
    assert R.check_table3(gov["table3"]) == []
    units = [R.annual_report(evs, 2016, d)["table3"] for d in scope.departments]
    for row in R.ROWS:
        for col in R.COLUMNS:
            assert gov["table3"][row][col] == sum(u[row][col] for u in units)
    outside = R.annual_report(evs, 2016, "qz-zrzyj")["table3"]
    assert outside["new"]["total"] > 0
    assert gov["table3"]["new"]["total"] == 48 - outside["new"]["total"]
    # follow-up events go with their item (attributed by id), other units' items do not
    kept = filter_events(evs, frozenset({"qz-czj"}))
    ids = {e.get("request_id") for e in kept if e["type"] == "request.received"}
    assert all(e.get("request_id") in ids for e in kept if e["type"] == "request.replied")
    # section 五 only lists the scope's units
    assert all(m["department"] in scope.departments for m in gov["missed"])


def test_government_scope_from_the_directory():
    scope = resolve_scope(None, True)
    assert scope.kind == "government" and scope.department == "qz-zfb"
    assert set(scope.departments) == {"qz-zfb", "qz-fgw", "qz-czj", "qz-jyj", "qz-zrzyj"}
    from services.annual import AnnualReportError

    with pytest.raises(AnnualReportError, match="qz-fgw 不是编制政府年度报告的单位"):
        resolve_scope("qz-fgw", True)


def test_entered_figures_are_checked_and_used():
    t2, nar = split_entered({"licensing": 3, "staff_full_time": 2, "other_matters": "无。"}, "f.toml")
    assert t2 == {"licensing": 3} and nar == {"staff_full_time": 2, "other_matters": "无。"}
    with pytest.raises(EnteredFiguresError, match=r"f.toml: staff: 无法识别的填报项"):
        split_entered({"staff": 3}, "f.toml")
    with pytest.raises(EnteredFiguresError, match=r"f.toml: staff_full_time: 应为非负整数"):
        split_entered({"staff_full_time": -1}, "f.toml")
    doc = build_document([], 2016, entered={"licensing": 3, "other_matters": "本年无其他事项。"})
    assert doc["table2"]["licensing"] == {"decisions": 3}
    assert "表二 行政许可 本年处理决定数量" not in doc["placeholders"]
    assert "其他需要报告的事项（文字）" not in doc["placeholders"]
    assert doc["sections"][5]["blocks"][1]["text"] == "本年无其他事项。"


@pytest.fixture
def cli(tmp_data_dir, seed):
    """The CLI over a store holding the 2016 seed: its events and the items' clock snapshots."""
    from sqlmodel import Session
    from typer.testing import CliRunner

    from app.cli import app
    from domain.model import ClockSnapshot, ItemSnapshot
    from store.db import init_db
    from store.events import add_event, event_record_from
    from store.items import save_snapshot

    evs, clocks = seed
    engine = init_db()
    items: dict[str, ItemSnapshot] = {}
    for c in clocks:
        snap = items.setdefault(
            c.item_id,
            ItemSnapshot(
                id=c.item_id, type=c.item_type, department=c.department, title=c.item_id, version=1, clocks=[]
            ),
        )
        snap.clocks.append(
            ClockSnapshot(rule=c.rule, start=c.due, due=c.due, state=c.state, met_on=c.met_on, region="guangxi")
        )
    with Session(engine) as s:
        for snap in items.values():
            save_snapshot(s, snap)
        for ev in evs:
            add_event(s, event_record_from(ev))
        s.commit()
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), catch_exceptions=False)


def test_cli_docx_government_and_entered_file(cli, tmp_path: Path):
    entered = tmp_path / "2016.toml"
    entered.write_text(
        'staff_full_time = 35\nfees = 1.5\nother_matters = "本年无其他需要报告的事项。"\n', encoding="utf-8"
    )
    out = tmp_path / "r.docx"
    r = cli(
        "annual-report",
        "--year",
        "2016",
        "--government",
        "--format",
        "docx",
        "--out",
        str(out),
        "--entered",
        str(entered),
        "--as-of",
        "2017-01-20",
    )
    assert r.exit_code == 0, r.output
    assert "《钦州市2016年政府信息公开工作年度报告》：新收申请 48 件" in r.output and "待填" in r.output
    content = docx_text(out.read_bytes())
    text = "\n".join(t for _, t in content["paragraphs"])
    assert "专职人员35人" in text and "本年无其他需要报告的事项。" in text
    assert "在法定期限内答复39件" in text and "“依申请公开答复”逾期2件" in text  # from the stored clocks
    t3 = _table3_from_docx(content["tables"])
    assert t3["（七）总计"][-1] == 41 and t3["四、结转下年度继续办理"][-1] == 7
    t2 = {r[0]: r[1:] for r in next(t for t in content["tables"] if t[0][0] == "第二十条第（一）项")}
    assert t2["行政事业性收费"] == ["1.5"] * 3

    r = cli(
        "annual-report",
        "--year",
        "2016",
        "--department",
        "qz-czj",
        "--format",
        "html",
        "--out",
        str(tmp_path / "czj.html"),
    )
    assert r.exit_code == 0, r.output
    assert "钦州市财政局2016年政府信息公开工作年度报告" in (tmp_path / "czj.html").read_text(encoding="utf-8")
    r = cli(
        "annual-report",
        "--year",
        "2016",
        "--department",
        "qz-czj",
        "--format",
        "xlsx",
        "--out",
        str(tmp_path / "czj.xlsx"),
    )
    assert r.exit_code == 0 and (tmp_path / "czj.xlsx").stat().st_size > 0

    r = cli("annual-report", "--year", "2016", "--government", "--department", "qz-czj")
    assert r.exit_code == 1 and "qz-czj 不是编制政府年度报告的单位" in r.output
    entered.write_text("staff = 4\n", encoding="utf-8")
    r = cli("annual-report", "--year", "2016", "--entered", str(entered))
    assert r.exit_code == 1 and f"{entered}: staff: 无法识别的填报项" in r.output
    r = cli("annual-report", "--year", "2016", "--department", "qz-czj")
    data = json.loads(r.stdout)
    assert data["title"] == "钦州市财政局2016年政府信息公开工作年度报告"
    assert data["table3"]["new"]["total"] == R.annual_report(S.events(), 2016, "qz-czj")["table3"]["new"]["total"]
    assert "李四" not in r.output


# ---------------------------------------------------------------------------------- rendering


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        msg = f"{tool} not installed (Debian: libreoffice-writer-nogui / poppler-utils; ./scripts/test installs them)"
        if os.environ.get("SHIXIAN_REQUIRE_RENDER") == "1":
            pytest.fail(f"SHIXIAN_REQUIRE_RENDER=1: {msg}")
        pytest.skip(msg)
    return path


def test_docx_renders_in_libreoffice(seed, tmp_path: Path):
    """The .docx opens in LibreOffice: converted to PDF, page 1 rasterised (docs/annual-report.png)."""
    soffice, pdftoppm, pdftotext = _require("soffice"), _require("pdftoppm"), _require("pdftotext")
    src = tmp_path / "report.docx"
    src.write_bytes(render_docx(_city_doc(seed)))
    env = {**os.environ, "HOME": str(tmp_path), "FONTCONFIG_FILE": str(ROOT / "tests" / "fontconfig" / "fonts.conf")}
    subprocess.run(
        [
            soffice,
            "--headless",
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(src),
        ],
        env=env,
        check=True,
        timeout=180,
        capture_output=True,
    )
    pdf = tmp_path / "report.pdf"
    assert pdf.exists()
    page1 = subprocess.run(
        [pdftotext, "-f", "1", "-l", "1", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "钦州市2016年政府信息公开工作年度报告" in page1.replace(" ", "")
    assert "一、总体情况" in page1.replace(" ", "") and "—1—" in page1.replace(" ", "")
    whole = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = whole.replace(" ", "")
    assert all(h in flat for h in SECTION_HEADINGS)
    assert "【待填：其他需要报告的事项（文字）】" in flat
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(
        [pdftoppm, "-f", "1", "-l", "1", "-r", "80", "-png", "-singlefile", str(pdf), str(ARTIFACTS / "annual-report")],
        check=True,
        timeout=60,
    )
    png = ARTIFACTS / "annual-report.png"
    assert png.stat().st_size > 20_000  # a page of text, not a blank one
    shot = ROOT / "docs" / "annual-report.png"
    if not shot.exists() or os.environ.get("SHIXIAN_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(png, shot)


def _request(rid: str, received_on: str) -> dict:
    return {
        "type": "request.received",
        "event_id": f"{rid}-r",
        "request_id": rid,
        "department": "qz-czj",
        "channel": "online",
        "received_on": received_on,
        "applicant_type": "legal.business",
    }


def test_a_locked_report_keeps_its_tables_and_lists_the_changes():
    """Issue 17 §6: the counted cells of a locked year are the locked ones, each cell counted otherwise now is
    an amendment; table 二's entered blocks are the file's (they are not counted); the next year's carry-in is
    the published 结转下年度 with a note, and its balance is checked on the counted carry-in."""
    scope = department_scope("qz-czj", "钦州市财政局")
    published = build_document([_request("A", "2016-12-01"), _request("B", "2016-12-02")], 2016, scope)
    lock = {
        "tables": {k: published[k] for k in ("table2", "table3", "table4")},
        "locked_at": "2017-01-31T10:00:00+08:00",
        "locked_by": None,
        "basis": "published",
        "published_on": "2017-01-31",
    }
    reply = {"type": "request.replied", "event_id": "A-rep", "request_id": "A", "on": "2016-12-30"}
    events = [_request("A", "2016-12-01"), _request("B", "2016-12-02"), reply | {"outcome": "granted"}]
    doc = build_document(events, 2016, scope, lock=lock, entered={"licensing": 3})
    assert doc["table3"] == published["table3"] and doc["table3"]["carried_out"]["total"] == 2
    assert doc["table2"]["licensing"] == {"decisions": 3}
    assert [(a["row"], a["column"], a["published"], a["current"]) for a in doc["amendments"]] == [
        (R.ROW_LABELS["granted"], "商业企业", 0, 1),
        (R.ROW_LABELS["granted"], "总计", 0, 1),
        (R.ROW_LABELS["total"], "商业企业", 0, 1),
        (R.ROW_LABELS["total"], "总计", 0, 1),
        (R.ROW_LABELS["carried_out"], "商业企业", 2, 1),
        (R.ROW_LABELS["carried_out"], "总计", 2, 1),
    ]
    assert doc["sections"][-1]["heading"] == "附：更正说明"
    assert "表三“四、结转下年度继续办理”行“总计”列：公布数 2，按现有记录为 1（-1）" in doc["amendments"][-1]["text"]
    # unlocked, the same events rewrite the table
    assert build_document(events, 2016, scope)["table3"]["carried_out"]["total"] == 1

    nxt = build_document(events, 2017, scope, previous_carried_out=published["table3"]["carried_out"])
    t3 = nxt["table3"]
    assert (t3["carried_in"]["total"], t3[R.CARRIED_IN_COUNTED]["total"]) == (2, 1)
    assert nxt["checks"] == [] and nxt["carry_in"]["note"] in nxt["notes"] and "少1件" in nxt["carry_in"]["note"]
    # without the counted carry-in beside it the table would not balance: the check reads it
    unbalanced = {k: v for k, v in t3.items() if k != R.CARRIED_IN_COUNTED}
    assert R.check_table3(unbalanced)
    # when the records agree with the published figure nothing is kept or noted
    same = build_document(events, 2017, scope, previous_carried_out=t3[R.CARRIED_IN_COUNTED])
    assert same["carry_in"] is None and R.CARRIED_IN_COUNTED not in same["table3"] and same["notes"] == []
    # an unlocked year has no amendment part
    assert all(s["heading"] != "附：更正说明" for s in nxt["sections"]) and nxt["lock"] is None
    # recorded on its day, the note names one date; recorded weeks later, the supervisor sees both
    part = next(s for s in doc["sections"] if s["heading"] == "附：更正说明")
    assert "本报告于2017-01-31公布，表二至表四" in str(part) and "登记公布并锁定" not in str(part)
    late_lock = lock | {"locked_at": "2017-02-27T02:00:00+00:00"}
    part = next(
        s for s in build_document(events, 2016, scope, lock=late_lock)["sections"] if s["heading"] == "附：更正说明"
    )
    assert "本报告于2017-01-31公布，2017-02-27登记公布并锁定（表中为登记时的数据）" in str(part)
