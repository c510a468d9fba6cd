"""Catalogue duties (基层政务公开标准目录): the 公开时限 parser, the file reader, the import (preview, all-or-nothing,
idempotent, history, access) and an item registered against a duty getting the duty's clock."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_

from domain.catalogue import (
    LimitRefused,
    Period,
    chinese_number,
    duty_rule,
    parse_limit,
    read_catalogue,
)
from domain.config import config_dir

CATALOGUES = config_dir() / "catalogues"
HEADER = ["序号", "一级事项", "二级事项", "公开内容（要素）", "公开依据", "公开时限", "公开主体", "公开渠道和载体"]
BASIS = "《中华人民共和国政府信息公开条例》（国务院令第711号）"


# ------------------------------------------------------------------------------------------------ parser
@pytest.mark.parametrize(
    ("text", "unit", "length", "recurring"),
    [
        ("信息形成或变更之日起20个工作日内", "working_days", 20, False),
        ("自信息形成或者变更之日起\n20个工作\n日内予以公开", "working_days", 20, False),
        ("自信息形成或者变更之日起二十个工作日内", "working_days", 20, False),
        ("3个工作日", "working_days", 3, False),
        ("7日", "calendar_days", 7, False),
        ("7天", "calendar_days", 7, False),
        ("本级人民代表大会或其常务委员会批准后20日内", "calendar_days", 20, False),
        ("1个月", "months", 1, False),
        ("3个月", "months", 3, False),
        ("1年内", "years", 1, False),
        ("实时", "working_days", 0, False),
        ("即时公开", "working_days", 0, False),
        ("每季度", "months", 3, True),
        ("每年", "months", 12, True),
        ("每月更新", "months", 1, True),
    ],
)
def test_limit_texts_give_their_periods(text, unit, length, recurring):
    p = parse_limit(text)
    assert (p.kind, p.unit, p.length, p.recurring) == ("clock", unit, length, recurring)


def test_same_day_vague_and_standing_readings_say_how_they_were_read():
    assert parse_limit("实时公开").text == "当日" and "当日" in parse_limit("实时公开").note
    timely = parse_limit("及时公开")
    assert (timely.unit, timely.length) == ("working_days", 20) and "第二十六条" in timely.note
    for text in ("长期公开", "常态化公开"):
        assert parse_limit(text) == Period("standing", note=parse_limit(text).note)
        assert parse_limit(text).unit is None


def test_fixed_dates_map_to_a_yearly_date():
    p = parse_limit("每年3月31日前")
    assert (p.unit, p.month, p.day) == ("fixed_date", 3, 31)
    with pytest.raises(LimitRefused, match="不是有效日期"):
        parse_limit("每年13月1日前")


def test_next_year_dates_carry_a_year_offset():
    """“次年3月31日前” is March 31 of the year after the information is formed, not the next March 31."""
    p = parse_limit("次年3月31日前公开上一年度报告")
    assert (p.unit, p.length, p.recurring, p.month, p.day, p.year_offset) == ("fixed_date", 0, False, 3, 31, 1)
    assert p.text == "次年3月31日前" and p.stored_length == 1
    assert parse_limit("每年3月31日前").year_offset == 0 and parse_limit("每年3月31日前").text == "每年3月31日前"
    from domain.catalogue import period_of

    assert period_of("fixed_date", p.stored_length, False, 3, 31) == p  # the duty row's length carries it back
    assert period_of("fixed_date", 0, False, 3, 31).year_offset == 0


def test_a_next_year_duty_is_due_the_year_after_it_is_formed():
    from domain.clocks import compute
    from domain.engine import engine

    cal = engine().calendar
    values = {"level2": "年度报告", "basis": "条例", "seq": "1", "limit": "次年3月31日前"}
    next_year = duty_rule("qinzhou", 7, "政务公开", values, parse_limit("次年3月31日前"))
    every_year = duty_rule("qinzhou", 8, "政务公开", {**values, "limit": "每年3月31日前"}, parse_limit("每年3月31日前"))
    assert next_year is not None and every_year is not None
    formed = dt.date(2026, 2, 10)
    dl = compute(next_year, formed, cal, "guangxi")
    assert dl.due == dt.date(2027, 3, 31)
    assert compute(every_year, formed, cal, "guangxi").due == dt.date(2026, 3, 31)
    assert dl.explanation is not None and dl.explanation["summary"] == "次年3月31日前：2027-03-31"
    assert next_year.limit_text == "次年3月31日前"
    # Formed in late December: 次年 is still the March 31 of the year after, never the one of the year formed.
    assert compute(next_year, dt.date(2026, 12, 30), cal, "guangxi").due == dt.date(2027, 3, 31)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "为空"),
        ("按规定时限", "无法从公开时限中读出期限"),
        ("法定时限", "无法从公开时限中读出期限"),
        ("5个工作日内公示，公示期7天", "多个期限"),
        ("每月10日前", "按月的固定日期"),
        ("公示期不少于7个自然日", "最短公示期"),
        ("0日", "期限为 0"),
    ],
)
def test_unreadable_limits_are_refused_with_their_reason(text, reason):
    with pytest.raises(LimitRefused, match=reason):
        parse_limit(text)


@pytest.mark.parametrize(
    ("text", "month", "day"),
    [
        ("3月31日前", 3, 31),
        ("每年3月31日之前公开上一年度报告", 3, 31),
        ("每年1月底前", 1, 31),
        ("每年2月底前", 2, 28),
        ("每年十二月三十一日前", 12, 31),
    ],
)
def test_dates_in_a_limit_are_fixed_dates_not_day_counts(text, month, day):
    """ "3月31日前" is March 31 (not 31 calendar days); "每年1月底前" is January 31 (not every 12 months)."""
    p = parse_limit(text)
    assert (p.unit, p.length, p.recurring, p.month, p.day) == ("fixed_date", 0, False, month, day)


@pytest.mark.parametrize(
    ("text", "unit", "length"),
    [
        ("2021年3月1日起实时公开", "working_days", 0),  # the day the duty began, not a 1-day clock
        ("2019年5月15日起，信息形成之日起20个工作日内", "working_days", 20),
        ("自2020年1月1日起7日内", "calendar_days", 7),
    ],
)
def test_a_date_a_duty_began_is_not_read_as_a_period(text, unit, length):
    p = parse_limit(text)
    assert (p.kind, p.unit, p.length, p.recurring) == ("clock", unit, length, False)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("每季度结束后10日内", "从每期结束时起算"),
        ("每月结束后5个工作日内", "从每期结束时起算"),
        ("年度结束后20个工作日内", "从每期结束时起算"),
        ("次月10日前", "按月的固定日期"),
        ("2021年3月31日前", "某一年的日期"),
        ("每年2月29日前", "不是每年都有的日期"),
        ("每年4月31日前", "不是有效日期"),
    ],
)
def test_periods_counted_from_a_period_end_and_one_off_dates_are_refused(text, reason):
    with pytest.raises(LimitRefused, match=reason):
        parse_limit(text)


_ZH = "零一二三四五六七八九"


def _zh(n: int) -> str:
    """n (1..99) as it is written in Chinese: 二十, 十五, 三十七."""
    tens, ones = divmod(n, 10)
    return (("" if tens == 1 else _ZH[tens]) + "十" if tens else "") + (_ZH[ones] if ones else "")


@given(st_.integers(min_value=1, max_value=99))
def test_chinese_numerals_read_back(n):
    assert chinese_number(_zh(n)) == n == chinese_number(str(n))


@settings(max_examples=200)
@given(
    n=st_.integers(min_value=1, max_value=365),
    unit=st_.sampled_from(
        [("个工作日", "working_days"), ("日", "calendar_days"), ("天", "calendar_days"), ("个月", "months")]
    ),
    before=st_.sampled_from(["", "信息形成或变更之日起", "自信息形成或者变更之日起", "批准后", "收到之日起"]),
    after=st_.sampled_from(["", "内", "内公开", "内予以公开", "以内"]),
    zh=st_.booleans(),
)
def test_a_period_is_read_whatever_wraps_it(n, unit, before, after, zh):
    number = _zh(n) if zh and n < 100 else str(n)
    p = parse_limit(f"{before}{number}{unit[0]}{after}")
    assert (p.kind, p.unit, p.length) == ("clock", unit[1], n)


@settings(max_examples=300)
@given(st_.text(max_size=30))
def test_any_text_is_read_or_refused_never_crashes(text):
    try:
        p = parse_limit(text)
    except LimitRefused as exc:
        assert str(exc)
    else:
        assert p.kind in ("clock", "standing")
        assert p.kind == "standing" or p.unit is not None


# ------------------------------------------------------------------------------------------------ reader
def _xlsx(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _published_layout(body: list[list]) -> bytes:
    """As the catalogues print it: a title row, then a two-row header with merged groups and check marks."""
    top = ["序号", "公开事项", None, "公开内容（要素）", "公开依据", "公开时限", "公开主体", "公开渠道和载体"]
    top += ["公开对象", None, "公开方式", None, "公开层级", None]
    sub = [None, "一级事项", "二级事项", None, None, None, None, None, "全社会", "特定群众", "主动", "依申请公开"]
    sub += ["县级", "镇(街)级"]  # a sub-header of its own under the merged 公开层级 is read as its value
    return _xlsx([["政府信息公开领域基层政务公开标准目录"], top, sub, *body])


def test_the_published_two_row_layout_is_read_with_its_check_marks():
    data = _published_layout(
        [
            [
                1,
                "政府文件",
                "政府文件",
                "政府文件。",
                BASIS,
                "信息形成或变更之日起3个工作日内",
                "镇人民政府",
                "■政府网站",
            ]
            + ["√", None, "√", None, None, "√"],
            [
                2,
                "概况信息",
                "乡镇简介",
                "行政区划等",
                BASIS,
                "信息形成或变更之日起20个工作日内",
                "镇人民政府",
                "■政府网站",
            ]
            + ["√", None, "√", None, None, "√"],
        ]
    )
    cat = read_catalogue(data, "目录.xlsx")
    assert cat.ok, [p.message("目录.xlsx") for p in cat.problems]
    assert [(r.line, r.seq, r.period.length) for r in cat.rows] == [(4, "1", 3), (5, "2", 20)]
    first = cat.rows[0].values
    assert (first["level1"], first["level2"], first["audience"], first["mode"], first["tier"]) == (
        "政府文件",
        "政府文件",
        "全社会",
        "主动",
        "镇(街)级",
    )


def test_refused_rows_are_named_by_line_column_and_text():
    data = _xlsx(
        [
            HEADER,
            [1, "政府文件", "政府文件", "", BASIS, "3个工作日", "镇政府", "网站"],
            [2, "概况", "简介", "", BASIS, "按规定时限", "镇政府", "网站"],
            [3, "概况", "机构", "", "", "20个工作日", "镇政府", "网站"],
            [1, "概况", "领导", "", BASIS, "20个工作日", "镇政府", "网站"],
            [5, "概况", "同上的行", "", BASIS, "同上", "镇政府", "网站"],
        ]
    )
    cat = read_catalogue(data, "坏目录.xlsx")
    lines = [p.message("坏目录.xlsx") for p in cat.problems]
    assert lines == [
        "坏目录.xlsx: 第 3 行 F 列（公开时限）“按规定时限”：无法从公开时限中读出期限（应写明如“20个工作日”“7日”“1个月”"
        "“实时”“长期公开”“每季度”）",
        "坏目录.xlsx: 第 4 行 E 列（公开依据）“”：缺少公开依据（每个时限都须注明依据）",
        "坏目录.xlsx: 第 5 行 A 列（序号）“1”：序号与第 2 行重复",
    ]
    # "同上" takes the last row read (row 2's 3 working days), not a refused one
    assert [(r.seq, r.period.length) for r in cat.rows] == [("1", 3), ("5", 3)]


def test_a_file_without_the_catalogue_header_is_refused():
    from domain.ledger import LedgerError

    with pytest.raises(LedgerError, match="公开时限"):
        read_catalogue(_xlsx([["受理编号", "收到申请日期"], ["A1", "2026-01-05"]]), "台账.xlsx")
    with pytest.raises(LedgerError, match="缺少必填列 公开依据"):
        read_catalogue(_xlsx([["序号", "二级事项", "公开时限"], [1, "x", "3个工作日"]]), "缺列.xlsx")


@pytest.mark.parametrize("path", sorted(CATALOGUES.glob("*.csv")), ids=lambda p: p.name)
def test_every_shipped_catalogue_row_parses_and_cites_its_source(path: Path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ") and "来源：" in text and "http" in text.splitlines()[0]
    cat = read_catalogue(path.read_bytes(), path.name)
    assert cat.ok, [p.message(path.name) for p in cat.problems]
    assert cat.rows and not cat.unknown
    for i, row in enumerate(cat.rows, start=1):
        rule = duty_rule("qinzhou", i, path.stem, row.values, row.period)
        assert rule is not None and rule.source.startswith(row.values["basis"]) and rule.quote


def test_config_check_reads_the_shipped_catalogues(tmp_path):
    import shutil

    from domain.config_check import check_catalogues

    assert check_catalogues(config_dir()) == []
    shutil.copytree(CATALOGUES, tmp_path / "catalogues")
    bad = tmp_path / "catalogues" / "坏.csv"
    bad.write_text("序号,二级事项,公开依据,公开时限\n1,事项,条例,按规定时限\n", encoding="utf-8")
    (problem,) = check_catalogues(tmp_path)
    assert problem.startswith("catalogues/坏.csv: 第 2 行 D 列（公开时限）“按规定时限”")


def test_duty_clocks_remind_by_the_default_ladder():
    from domain.ladder import load_ladders

    ladders = load_ladders()
    assert ladders.for_rule("duty_qinzhou_1", "working_days") == ladders.default


def test_the_store_keeps_duties_and_their_history(db_session):
    from sqlalchemy.exc import IntegrityError

    from store import catalogue as store

    assert store.version(db_session) == 0
    duty = store.CatalogueDuty(
        node="qinzhou", area="政府信息公开", seq="1", name="政府文件", values={"limit": "3个工作日"}
    )
    duty.unit, duty.length = "working_days", 3
    store.save_duty(db_session, duty, by="admin", source="a.xlsx", before=None)
    db_session.commit()
    before = store.snapshot(duty)
    duty.length = 5
    store.save_duty(db_session, duty, by="admin", source="a.xlsx", before=before)
    db_session.commit()
    assert store.version(db_session) == 2
    assert [c.action for c in store.changes_of(db_session, duty.id)] == ["create", "update"]
    assert store.duties_of_area(db_session, "qinzhou", "政府信息公开")["1"].length == 5
    assert [d.id for d in store.list_duties(db_session, {"qinzhou"})] == [duty.id]
    assert store.list_duties(db_session, {"elsewhere"}) == []
    db_session.add(store.CatalogueDuty(node="qinzhou", area="政府信息公开", seq="1", name="again", values={}))
    with pytest.raises(IntegrityError):
        db_session.commit()
    db_session.rollback()


# ------------------------------------------------------------------------------------------------ import
@pytest.fixture
def store_dir(tmp_data_dir, monkeypatch):
    from store.db import get_engine

    get_engine.cache_clear()
    yield tmp_data_dir
    get_engine.cache_clear()


def _admin():
    from services.access import Principal

    return Principal(role="admin", person="admin-1")


def _catalogue_bytes(limit_2: str = "信息形成或变更之日起20个工作日内") -> bytes:
    return _xlsx(
        [
            HEADER,
            [
                1,
                "政府文件",
                "政府文件",
                "政府文件。",
                BASIS,
                "信息形成或变更之日起3个工作日内",
                "镇人民政府",
                "政府网站",
            ],
            [2, "概况信息", "乡镇简介", "行政区划等", BASIS, limit_2, "镇人民政府", "政府网站"],
            [3, "机构职能", "机构设置", "内设机构", BASIS, "长期公开", "镇人民政府", "政府网站"],
        ]
    )


def test_import_previews_applies_once_and_records_a_changed_row(store_dir):
    from services import catalogue

    data = _catalogue_bytes()
    preview = catalogue.plan(_admin(), data, "政府信息公开.xlsx", "qinzhou")
    assert [r.status for r in preview.rows] == ["new"] * 3 and not preview.applied
    assert catalogue.list_duties(_admin(), "qinzhou") == []  # a preview writes nothing

    first = catalogue.apply(_admin(), data, "政府信息公开.xlsx", "qinzhou")
    assert first.applied and first.count("new") == 3
    again = catalogue.apply(_admin(), data, "政府信息公开.xlsx", "qinzhou")
    assert [r.status for r in again.rows] == ["unchanged"] * 3
    duties = catalogue.list_duties(_admin(), "qinzhou")
    assert [(d["area"], d["seq"], d["period"]) for d in duties] == [
        ("政府信息公开", "1", "3个工作日"),
        ("政府信息公开", "2", "20个工作日"),
        ("政府信息公开", "3", "长期公开（无时限）"),
    ]
    assert duties[2]["rule"] is None  # a standing duty has no clock
    ids = [d["id"] for d in duties]

    changed = catalogue.apply(
        _admin(), _catalogue_bytes("信息形成或变更之日起10个工作日内"), "政府信息公开.xlsx", "qinzhou"
    )
    assert [(r.status, r.changed) for r in changed.rows] == [
        ("unchanged", ()),
        ("changed", ("limit",)),
        ("unchanged", ()),
    ]
    after = catalogue.list_duties(_admin(), "qinzhou")
    assert [d["id"] for d in after] == ids and after[1]["period"] == "10个工作日"
    hist = catalogue.history(_admin(), ids[1])
    assert [h["action"] for h in hist] == ["create", "update"]
    assert hist[1]["before"]["period"][:2] == ["working_days", 20] and hist[1]["after"]["period"][:2] == [
        "working_days",
        10,
    ]
    # the engine serves the duties' rules: the changed duty's new version counts 10 working days; the version
    # first imported stays (the items formed under it count 20) and starts no new clock
    from domain.engine import engine

    catalogue.register()
    assert after[1]["rule"].startswith(f"duty_qinzhou_{ids[1]}@")
    rule = engine().rules[after[1]["rule"]]
    assert (rule.unit, rule.length, rule.quote) == ("working_days", 10, "信息形成或变更之日起10个工作日内")
    assert rule.applies({"duty": ids[1]})
    first_version = engine().rules[f"duty_qinzhou_{ids[1]}"]
    assert first_version.length == 20 and not first_version.applies({"duty": ids[1]})
    assert after[0]["rule"] == f"duty_qinzhou_{ids[0]}"  # unchanged: still its first version
    assert f"duty_qinzhou_{ids[2]}" not in engine().rules


def test_a_bad_row_imports_nothing(store_dir):
    from services import catalogue

    bad = _catalogue_bytes("按规定时限")
    out = catalogue.apply(_admin(), bad, "政府信息公开.xlsx", "qinzhou")
    assert not out.applied and not out.ok
    assert out.problem_lines() == [
        "政府信息公开.xlsx: 第 3 行 F 列（公开时限）“按规定时限”：无法从公开时限中读出期限（应写明如“20个工作日”“7日”"
        "“1个月”“实时”“长期公开”“每季度”）"
    ]
    assert catalogue.list_duties(_admin(), "qinzhou") == []


def test_only_admins_and_supervisors_of_the_node_import(store_dir):
    from services import catalogue
    from services.access import ApiError, Principal

    with pytest.raises(ApiError, match="无权导入标准目录"):
        catalogue.apply(Principal(role="liaison", department="qz-czj"), _catalogue_bytes(), "a.xlsx", "qinzhou")
    with pytest.raises(ApiError) as unknown:
        catalogue.plan(_admin(), _catalogue_bytes(), "a.xlsx", "nowhere")
    assert unknown.value.status == 404
    out = catalogue.apply(
        Principal(role="supervisor", node="qinzhou", person="s"), _catalogue_bytes(), "a.xlsx", "qinzhou"
    )
    assert out.applied


# ------------------------------------------------------------------------------------------------ items
DAY = dt.timedelta(days=1)


async def test_an_item_registered_against_a_duty_gets_its_clock(st):
    from domain.engine import engine
    from services import catalogue

    catalogue.apply(_admin(), _catalogue_bytes(), "政府信息公开.xlsx", "qinzhou")
    duties = {d["seq"]: d for d in catalogue.list_duties(_admin(), "qinzhou")}
    # the stack's ingest began before the import: it takes the duties' rules anew when it meets one
    today = await st.today()
    cal = engine().calendar
    formed = today - 7 * DAY
    item = st.id("D")
    await st.ok(
        {
            "type": "duty.formed",
            "duty_item_id": item,
            "department": "qz-zfb",
            "duty": duties["2"]["id"],
            "formed_on": formed.isoformat(),
            "title": "乡镇简介更新",
        }
    )
    snap = st.item(item)
    assert snap.type == "duty"
    (c,) = snap.clocks
    assert c.rule == duties["2"]["rule"]
    from domain.clocks import compute

    expected = compute(engine().rules[c.rule], formed, cal, engine().directory.region_of("qz-zfb")).due
    assert c.due == expected.isoformat()
    await st.ok(
        {"type": "duty.published", "duty_item_id": item, "published_on": today.isoformat(), "url": "https://x/d"}
    )
    assert st.clock(item, c.rule).state == "met"  # 20 working days from a week ago: never past today

    standing = await st.ingest(
        {
            "type": "duty.formed",
            "duty_item_id": st.id("S"),
            "department": "qz-zfb",
            "duty": duties["3"]["id"],
            "formed_on": today.isoformat(),
        }
    )
    assert standing[0].status == "rejected" and "长期公开事项" in standing[0].reason
    unknown = await st.ingest(
        {
            "type": "duty.formed",
            "duty_item_id": st.id("U"),
            "department": "qz-zfb",
            "duty": 99999,
            "formed_on": today.isoformat(),
        }
    )
    assert unknown[0].status == "rejected" and unknown[0].field == "duty"


# ------------------------------------------------------------------------------------------------ CLI
def test_the_cli_imports_lists_and_refuses(tmp_path):
    import json
    import os
    import subprocess
    import sys

    shixian = str(Path(sys.executable).with_name("shixian"))
    root = str(Path(__file__).resolve().parents[1])  # this checkout's code, whatever the venv was installed from
    env = {**os.environ, "SHIXIAN_DATA_DIR": str(tmp_path), "PYTHONPATH": root}
    env.pop("DATABASE_URL", None)

    def run(*args):
        return subprocess.run([shixian, *args], capture_output=True, text=True, env=env, timeout=120)

    shipped = str(CATALOGUES / "财政预决算.csv")
    dry = run("catalogue", "import", shipped, "--node", "qinzhou", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "预览：新增 2" in dry.stderr and "[new]" in dry.stdout
    assert run("catalogue", "list", "--node", "qinzhou").stderr.strip() == "共 0 项"
    done = run("catalogue", "import", shipped, "--node", "qinzhou")
    assert done.returncode == 0 and "已导入：新增 2" in done.stderr
    again = run("catalogue", "import", shipped, "--node", "qinzhou")
    assert "新增 0、有变更 0、未变 2" in again.stderr
    listed = [json.loads(line) for line in run("catalogue", "list", "--node", "qinzhou", "--json").stdout.splitlines()]
    assert [(d["area"], d["seq"], d["period"]) for d in listed] == [
        ("财政预决算", "1", "20日"),
        ("财政预决算", "2", "20日"),
    ]
    assert all(d["rule"] == f"duty_qinzhou_{d['id']}" for d in listed)

    bad = tmp_path / "坏目录.csv"
    bad.write_text(
        "序号,二级事项,公开依据,公开时限\n1,事项,条例,20个工作日\n2,事项,条例,按规定时限\n", encoding="utf-8"
    )
    refused = run("catalogue", "import", str(bad), "--node", "qinzhou")
    assert refused.returncode == 1
    assert "拒绝 坏目录.csv: 第 3 行 D 列（公开时限）“按规定时限”" in refused.stdout
    assert "1 行被拒绝，未导入任何内容" in refused.stderr
    assert len(run("catalogue", "list", "--node", "qinzhou").stdout.splitlines()) == 2
    hist = [json.loads(line) for line in run("catalogue", "history", str(listed[0]["id"])).stdout.splitlines()]
    assert [(h["action"], h["source"]) for h in hist] == [("create", "财政预决算.csv")]
    unknown = run("catalogue", "import", shipped, "--node", "nowhere")
    assert unknown.returncode == 2 and "未知地区（节点）：nowhere" in unknown.stderr


# ------------------------------------------------------------------------------------------------ scores
def test_a_late_duty_counts_under_the_catalogue_indicator_with_no_deduction():
    from domain.rules import load_rules
    from domain.scoring import ClockRecord, load_scoring, parse_period, score_period

    rid = "duty_qinzhou_7"
    rule = duty_rule(
        "qinzhou", 7, "政府信息公开", {"seq": "7", "level2": "乡镇简介", "basis": BASIS}, parse_limit("3个工作日")
    )
    assert rule is not None and rule.id == rid
    late = ClockRecord(
        item_id="D1",
        item_type="duty",
        department="qz-zfb",
        title="乡镇简介更新",
        rule=rid,
        due="2026-09-10",
        state="met",
        met_on="2026-09-15",
        lateness_working_days=3,
    )
    res = score_period(
        [late], parse_period("2026-Q3"), dt.date(2026, 10, 16), load_scoring(), rules={**load_rules(), rid: rule}
    )
    (dept,) = res.summary
    assert (dept.items_due, dept.late, dept.deduction, dept.score) == (1, 1, 0, 100)
    ind = dept.indicators["catalogue"]
    assert (ind.weight, ind.raw_deduction, ind.deduction) == (0, 0, 0)
    assert dept.per_rule[rid].late == 1


def test_a_rule_the_source_just_gained_is_found_without_waiting(store_dir):
    """The worker's rule source looks at the store at most once a second; a duty imported by another process
    within that second is still found by the computation that needs it (domain.engine.rule_in_use)."""
    from domain import engine as engine_mod
    from domain.engine import engine, rule_in_use
    from services import catalogue

    source = catalogue.CatalogueRules(check_every=3600)  # as if it had just looked
    engine_mod.set_rule_source(source)
    try:
        assert source()[1] == {}
        catalogue.apply(_admin(), _catalogue_bytes(), "政府信息公开.xlsx", "qinzhou")  # refreshes only its own
        (first, *_) = catalogue.list_duties(_admin(), "qinzhou")
        assert first["rule"] not in engine().rules  # the cached look of the source
        assert rule_in_use(engine(), first["rule"]).length == 3
        with pytest.raises(KeyError):
            rule_in_use(engine(), "duty_qinzhou_999999")
    finally:
        catalogue.register()


# ------------------------------------------------------------------------------------------------ scope, versions
async def test_a_duty_of_a_node_starts_for_departments_of_the_nodes_below_it(st):
    """A city imports its catalogue; a county department (one level below) registers an item against a city
    duty: its clock starts (the duty's rule is not limited to the departments exactly at the city)."""
    from domain.engine import engine
    from services import catalogue
    from tests.province import write_province

    write_province(st.config)
    assert engine().directory.node_of("ls-jyj") == "ls"
    catalogue.apply(_admin(), _catalogue_bytes(), "政府信息公开.xlsx", "qz")
    duty = next(d for d in catalogue.list_duties(_admin(), "qz") if d["seq"] == "1")
    from services.ingest import Ingestor

    st.ingestor = Ingestor(st.client)  # as a server started after the import builds its rule tables
    today = await st.today()
    for dept in ("ls-jyj", "qz-fgw"):  # one level below the node, and at it
        item = st.id(f"D-{dept}")
        await st.ok(
            {
                "type": "duty.formed",
                "duty_item_id": item,
                "department": dept,
                "duty": duty["id"],
                "formed_on": today.isoformat(),
            }
        )
        (c,) = st.item(item).clocks
        assert (c.rule, c.state) == (duty["rule"], "open")
    # a department of another city is still refused by the duty's scope
    other = await st.ingest(
        {
            "type": "duty.formed",
            "duty_item_id": st.id("D-bh"),
            "department": "bh-fgw",
            "duty": duty["id"],
            "formed_on": today.isoformat(),
        }
    )
    assert other[0].status == "rejected" and "不在其范围内" in other[0].reason


async def test_a_reimport_keeps_the_period_and_the_rule_of_items_already_running(st):
    """Duty 1 of 3 working days, duty 2 of 20; items formed under them; the admin re-imports duty 1 as 20
    working days and duty 2 as 长期公开. The running items keep their rules: the first is judged against its
    3-working-day due date (late), the second still closes on its 20-working-day clock (no missing rule). A
    new item of duty 1 counts the new 20 working days."""
    from domain.clocks import compute
    from domain.engine import engine
    from services import catalogue

    catalogue.apply(_admin(), _catalogue_bytes(), "政府信息公开.xlsx", "qinzhou")
    before = {d["seq"]: d for d in catalogue.list_duties(_admin(), "qinzhou")}
    cal = engine().calendar
    region = engine().directory.region_of("qz-zfb")
    today = await st.today()
    formed = today - 60 * DAY  # every due date below lies before today, whatever the holidays

    def due(working_days: int) -> dt.date:
        return cal.add_working_days(formed, working_days, region)

    due3 = due(3)
    rule3 = engine().rules[before["1"]["rule"]]
    assert compute(rule3, formed, cal, region).due == due3  # the clocks count as add_working_days does
    published = cal.add_working_days(due3, 1, region)  # 1 working day late under 3, on time under 20
    short, long_ = st.id("D3"), st.id("D20")
    for item, seq in ((short, "1"), (long_, "2")):
        await st.ok(
            {
                "type": "duty.formed",
                "duty_item_id": item,
                "department": "qz-zfb",
                "duty": before[seq]["id"],
                "formed_on": formed.isoformat(),
            }
        )
    assert st.clock(short, before["1"]["rule"]).due == due3.isoformat()

    changed = _xlsx(
        [
            HEADER,
            [1, "政府文件", "政府文件", "政府文件。", BASIS, "信息形成或变更之日起20个工作日内", "镇人民政府", "网站"],
            [2, "概况信息", "乡镇简介", "行政区划等", BASIS, "长期公开", "镇人民政府", "政府网站"],
            [3, "机构职能", "机构设置", "内设机构", BASIS, "长期公开", "镇人民政府", "政府网站"],
        ]
    )
    out = catalogue.apply(_admin(), changed, "政府信息公开.xlsx", "qinzhou")
    assert [r.status for r in out.rows] == ["changed", "changed", "unchanged"]
    after = {d["seq"]: d for d in catalogue.list_duties(_admin(), "qinzhou")}
    assert after["1"]["rule"] != before["1"]["rule"] and after["2"]["rule"] is None

    for item in (short, long_):
        await st.ok(
            {
                "type": "duty.published",
                "duty_item_id": item,
                "published_on": published.isoformat(),
                "url": "https://x/d",
            }
        )
    c3 = st.clock(short, before["1"]["rule"])
    assert (c3.due, c3.state, c3.lateness_working_days) == (due3.isoformat(), "missed", 1)  # late
    c20 = st.clock(long_, before["2"]["rule"])
    assert (c20.due, c20.state) == (due(20).isoformat(), "met")

    fresh = st.id("D3-new")
    await st.ok(
        {
            "type": "duty.formed",
            "duty_item_id": fresh,
            "department": "qz-zfb",
            "duty": after["1"]["id"],
            "formed_on": formed.isoformat(),
        }
    )
    (c,) = st.item(fresh).clocks
    assert (c.rule, c.due) == (after["1"]["rule"], due(20).isoformat())
