"""The words clerks write in a ledger's coded columns (domain/ledger_vocab.py): exact words, guesses shown
in the preview, refusals that list the accepted words, and the template's drop-down lists and 代码表 sheet."""

from __future__ import annotations

import html as H
import io
import re

import pytest
from openpyxl import load_workbook

from domain import ledger as L
from domain import ledger_vocab as V
from domain.events import CHOICE_LABELS
from domain.settings import get_settings

ALL = [(kind, col, vocab) for kind, vocabs in V.VOCABS.items() for col, vocab in vocabs.items()]


def words(kind_filter=None):
    """(vocab, word, code, guessed) for every word of every term, canonical names included."""
    for _, _, vocab in ALL:
        for t in vocab.terms:
            for w in (t.name, *t.exact):
                yield vocab, w, t.code, False
            for w in t.guess:
                yield vocab, w, t.code, True


@pytest.mark.parametrize(("vocab", "word", "code", "guessed"), list(words()), ids=lambda x: str(x)[:24])
def test_every_word_of_every_column_maps_to_its_code(vocab, word, code, guessed):
    m = vocab.match(word)
    assert m is not None and m.code == code and m.guessed is guessed, (vocab.column, word, m)
    # typed through a Chinese input method (full-width letters and brackets, spaces around): the same
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in word)
    m = vocab.match(f" {wide} ")
    assert m is not None and m.code == code and m.guessed is guessed


@pytest.mark.parametrize(("kind", "col", "vocab"), ALL, ids=[c for _, c, _ in ALL])
def test_no_word_means_two_things_and_every_coded_column_is_a_ledger_column(kind, col, vocab):
    seen: dict[str, object] = {}
    for t in vocab.terms:
        for w in (t.name, *t.exact, *t.guess):
            k = vocab._norm(w)
            assert seen.setdefault(k, t.code) == t.code, f"{col}: “{w}” means both {seen[k]} and {t.code}"
    assert col in L.COLUMNS[kind] and col == vocab.column
    assert len(set(vocab.names())) == len(vocab.names())


# The words clerks write (issue 19; ledger-format.md; the pages cited in domain/ledger_vocab.py).
CLERKS = [
    ("申请方式", "信函", "post_ordinary", True),
    ("申请方式", "信件", "post_ordinary", True),
    ("申请方式", "邮寄", "post_ordinary", True),  # was 平信 silently; never 挂号 without saying so
    ("申请方式", "平信", "post_ordinary", False),
    ("申请方式", "挂号信", "post_registered", False),
    ("申请方式", "邮寄（挂号/EMS）", "post_registered", False),
    ("申请方式", "EMS", "post_registered", False),
    ("申请方式", "网上", "online", False),
    ("申请方式", "网络", "online", False),
    ("申请方式", "政府网站", "online", False),
    ("申请方式", "在线", "online", False),
    ("申请方式", "网上申请", "online", False),
    ("申请方式", "当面", "in_person", False),
    ("申请方式", "现场", "in_person", False),
    ("申请方式", "传真", "fax", False),
    ("申请方式", "电子邮件", "email", False),
    ("申请方式", "email", "email", False),
    ("申请方式", "邮件", "email", True),
    ("申请人类型", "公民", "natural_person", False),
    ("申请人类型", "企业", "legal.business", False),
    ("申请人类型", "其他组织", "legal.other", False),
    ("答复结果", "过程性信息", "withheld.process_information", False),
    ("答复结果", "属于过程性信息", "withheld.process_information", False),
    ("答复结果", "不予公开（过程性信息）", "withheld.process_information", False),
    ("答复结果", "不予公开-属于国家秘密", "withheld.state_secret", False),
    ("答复结果", "（三）不予公开 6.属于四类过程性信息", "withheld.process_information", False),
    ("答复结果", "因属于过程性信息不予公开", "withheld.process_information", True),
    ("答复结果", "同意公开", "granted", False),
    ("答复结果", "部分公开", "partially_granted", False),
    ("答复结果", "同意部分公开", "partially_granted", False),
    ("答复结果", "部分公开，其余不予公开", "partially_granted", True),
    ("答复结果", "信息不存在", "unavailable.not_held", False),
    ("答复结果", "无此信息", "unavailable.not_held", False),
    ("答复结果", "本机关不掌握", "unavailable.not_held", False),
    ("答复结果", "不属于本机关", "unavailable.not_held", True),
    ("答复结果", "非本机关", "unavailable.not_held", True),
    ("答复结果", "已主动公开", "granted", True),
    ("答复结果", "逾期不补正", "other.no_correction", False),
    ("答复结果", "信访", "not_processed.petition", False),
    ("答复结果", "granted", "granted", False),  # the code itself (an export of this system)
    ("文件类型", "规范性文件", "normative", False),
    ("公开属性", "不公开", "withheld", False),
    ("公开属性", "公开", "public", True),
    ("是否需要解读", "不需要", False, False),
    ("是否需要解读", "无需解读", False, False),
    ("解读形式", "一图读懂", "graphic", False),
    ("公开方式", "微信公众号", "wechat", False),
]


@pytest.mark.parametrize(("col", "value", "code", "guessed"), CLERKS, ids=[f"{c}-{v}" for c, v, _, _ in CLERKS])
def test_clerks_words(col, value, code, guessed):
    vocab = next(v for _, c, v in ALL if c == col)
    m = vocab.match(value)
    assert m is not None and (m.code, m.guessed) == (code, guessed), m


@pytest.mark.parametrize(
    ("col", "value"),
    [
        ("申请方式", "飞鸽传书"),
        ("申请人类型", "火星人"),
        ("答复结果", "办好了"),
        ("答复结果", "不同意公开"),  # a refusal, of which kind?
        ("答复结果", "不予公开"),
        ("公开属性", "不予主动公开"),
    ],
)
def test_what_means_nothing_or_denies_is_not_guessed(col, value):
    vocab = next(v for _, c, v in ALL if c == col)
    assert vocab.match(value) is None


def test_the_labels_pages_show_read_back_as_their_codes():
    """A ledger written with the words this system's own pages and exports use imports as the same codes."""
    fields = {
        "申请方式": "channel",
        "申请人类型": "applicant_type",
        "征求意见对象": "with",
        "答复结果": "outcome",
        "文件类型": "kind",
        "公开属性": "disclosure",
        "解读形式": "form",
        "公开方式": "channel",
    }
    for _, col, vocab in ALL:
        if col not in fields:
            continue
        codes = {t.code for t in vocab.terms}
        for code, label in CHOICE_LABELS[fields[col]].items():
            if code in codes:
                m = vocab.match(label)
                assert m is not None and m.code == code and not m.guessed, (col, label, m)


def csv_bytes(rows: list[list[str]]) -> bytes:
    return "\n".join(",".join(r) for r in rows).encode("utf-8")


REQUEST_HEAD = ["受理编号", "收到申请日期", "申请方式", "申请人类型", "答复日期", "答复结果"]


def test_a_guessed_cell_is_noted_on_its_row_and_still_applied():
    data = csv_bytes(
        [
            REQUEST_HEAD,
            ["A-1", "2026-03-02", "邮寄", "公民", "2026-03-20", "不属于本机关"],
            ["A-2", "2026-03-02", "平信", "自然人", "2026-03-20", "过程性信息"],
        ]
    )
    guessed, exact = L.map_rows(L.read_table(data, "t.csv"), "qz-jyj")
    assert guessed.ok and exact.ok
    received, replied = guessed.events
    assert received["channel"] == "post_ordinary" and replied["outcome"] == "unavailable.not_held"
    assert [n.column for n in guessed.notes] == ["申请方式", "答复结果"]
    assert guessed.notes[0].text.startswith("申请方式“邮寄”按“邮寄（平信）”理解（未写明挂号还是平信")
    assert guessed.notes[1].as_json() == {
        "column": "答复结果",
        "note": "答复结果“不属于本机关”按“本机关不掌握相关政府信息”理解（" + V._NOT_HELD_WHY + "）",
    }
    assert exact.notes == [] and exact.events[1]["outcome"] == "withheld.process_information"
    # the same events as the exact words give: a guess changes nothing but the note
    again = L.map_rows(
        L.read_table(
            csv_bytes(
                [
                    REQUEST_HEAD,
                    ["A-1", "2026-03-02", "邮寄（平信）", "自然人", "2026-03-20", "本机关不掌握相关政府信息"],
                ]
            ),
            "t.csv",
        ),
        "qz-jyj",
    )
    assert again[0].events == guessed.events and again[0].notes == []


def test_an_unknown_value_is_a_refused_cell_naming_column_and_accepted_words():
    data = csv_bytes(
        [
            REQUEST_HEAD,
            ["A-1", "2026-03-02", "飞鸽传书", "自然人", "", ""],
            ["A-2", "2026-03-02", "当面", "自然人", "2026-03-20", "不予公开"],
        ]
    )
    bad_channel, heading_only = L.map_rows(L.read_table(data, "t.csv"), "qz-jyj")
    assert (bad_channel.row, [p.column for p in bad_channel.problems]) == (2, ["申请方式"])
    reason = bad_channel.problems[0].reason
    assert "“飞鸽传书”" in reason and "“申请方式”" in reason and "代码表" in reason
    assert "可填 " + "、".join(V.CHANNEL.names()) in reason
    assert bad_channel.events == [] and heading_only.events == []
    (p,) = heading_only.problems
    assert p.column == "答复结果" and "须写明哪一种情形" in p.reason
    assert all(n in p.reason for n in ("属于国家秘密", "属于四类过程性信息", "属于行政查询事项"))


def test_publication_channel_column_is_optional_and_coded():
    head = ["文件编号", "文件标题", "文件类型", "成文日期", "公开属性", "公开日期", "公开网址"]
    row = ["钦教发〔2026〕3号", "某通知", "规范性文件", "2026-03-02", "主动公开", "2026-03-10", "https://x.cn/1"]
    (plain,) = L.map_rows(L.read_table(csv_bytes([head, row]), "t.csv"), "qz-jyj")
    assert "channel" not in plain.events[1]  # a ledger without the column gives the events it gave before
    (wechat,) = L.map_rows(L.read_table(csv_bytes([[*head, "公开渠道"], [*row, "公众号"]]), "t.csv"), "qz-jyj")
    assert wechat.ok and wechat.events[1]["channel"] == "wechat"
    (bad,) = L.map_rows(L.read_table(csv_bytes([[*head, "公开方式"], [*row, "广播"]]), "t.csv"), "qz-jyj")
    assert [p.column for p in bad.problems] == ["公开方式"]


# ------------------------------------------------------------------------------------ template
def _range_values(wb, formula: str) -> list:
    m = re.fullmatch(r"'?([^'!]+)'?!(\$?[A-Z]+\$?\d+:\$?[A-Z]+\$?\d+)", formula)
    assert m, formula
    ws = wb[m.group(1)]
    return [c.value for row in ws[m.group(2).replace("$", "")] for c in row]


@pytest.mark.parametrize("kind", [L.REQUESTS, L.DOCUMENTS])
def test_template_drop_downs_cover_every_coded_column_and_list_its_names(kind):
    wb = load_workbook(io.BytesIO(L.template_xlsx(kind)))
    assert wb.sheetnames == [L.KIND_LABELS[kind], "代码表"]
    ws = wb.worksheets[0]
    header = [c.value for c in ws[1]]
    assert header == [c for c in L.COLUMNS[kind] if c != "部门"]  # the headers of ledger-format.md
    last = get_settings().ledger_max_rows + 1
    by_col: dict[str, list] = {}
    for dv in ws.data_validations.dataValidation:
        assert dv.type == "list" and dv.allow_blank and not dv.showDropDown  # (True would hide the arrow)
        for rng in dv.sqref.ranges:
            assert rng.min_col == rng.max_col and (rng.min_row, rng.max_row) == (2, last), rng
            by_col[header[rng.min_col - 1]] = _range_values(wb, dv.formula1)
    coded = [c for c in header if c in V.VOCABS[kind]]
    assert coded and sorted(by_col) == sorted(coded)
    for col in coded:
        assert by_col[col] == V.VOCABS[kind][col].names(), col
    # the example row's coded cells are in their lists
    example = {h: c.value for h, c in zip(header, ws[2], strict=True)}
    assert all(example[c] in by_col[c] for c in coded if example[c] is not None)

    codes = list(wb["代码表"].iter_rows(values_only=True))
    assert codes[0] == L.CODE_SHEET_HEADERS
    for col, vocab in V.VOCABS[kind].items():
        rows = [r for r in codes[1:] if r[0] == col]
        assert [r[1] for r in rows] == vocab.names()
        for r, t in zip(rows, vocab.terms, strict=True):
            exact, guess = vocab.synonyms(t)
            assert (r[2] or "", r[3] or "") == ("；".join(exact), "；".join(guess))
            for w in [*exact, *guess]:  # every word listed there imports
                assert vocab.match(w).code == t.code


def test_template_cells_filled_from_the_drop_downs_import():
    """A clerk picking each name of each list imports every code (the lists are what the parser reads)."""
    wb = load_workbook(io.BytesIO(L.template_xlsx(L.REQUESTS)))
    ws = wb.worksheets[0]
    names = V.CHANNEL.names()
    col = [c.value for c in ws[1]].index("申请方式") + 1
    for i, name in enumerate(names):
        for j, cell in enumerate(ws[2], start=1):
            ws.cell(row=3 + i, column=j, value=cell.value)
        ws.cell(row=3 + i, column=1, value=f"YSQ-{i}")
        ws.cell(row=3 + i, column=col, value=name)
    buf = io.BytesIO()
    wb.save(buf)
    rows = L.map_rows(L.read_table(buf.getvalue(), "t.xlsx"), "qz-jyj")
    assert all(r.ok and not r.notes for r in rows), [r.problems for r in rows]
    assert [r.events[0]["channel"] for r in rows[1:]] == [t.code for t in V.CHANNEL.terms]


# ------------------------------------------------------------------------------------ end to end
@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.date_sensitive
async def test_a_ledger_in_clerks_words_imports_through_the_upload_page(st):
    """信函, 公民, 过程性信息, 信息不存在, 非本机关 ...: the preview shows the guesses, the confirm applies them."""
    import httpx
    from sqlmodel import Session

    from app.web.server import create_app
    from domain.engine import engine
    from store.db import get_engine, init_db
    from store.models import EventRecord
    from store.tokens import create_token, ensure_table

    eng = init_db(get_engine())
    ensure_table(eng)
    with Session(eng) as s:
        supervisor, _ = create_token(s, "supervisor", person="supervisor-zwgk")
    app = create_app(st.client, open_pages=False)
    cal, today = engine().calendar, await st.today()
    got = cal.subtract_working_days(today, 6, "guangxi")
    replied = cal.subtract_working_days(today, 1, "guangxi")
    keys = [st.id(f"WORDS-{i}") for i in range(4)]
    st.started |= {f"request:{k}" for k in keys}
    rows = [
        (keys[0], "信函", "公民", "过程性信息"),  # exact outcome, guessed channel
        (keys[1], "网上", "企业", "信息不存在"),  # all exact
        (keys[2], "当面", "个人", "非本机关"),  # guessed outcome
        (keys[3], "信鸽", "自然人", "予以公开"),  # unknown channel: refused
    ]
    text = "受理编号,收到日期,渠道,申请人类型,办结日期,办理结果\n" + "".join(
        f"{k},{got},{ch},{who},{replied},{res}\n" for k, ch, who, res in rows
    )
    files = {"file": ("台账.csv", text.encode("utf-8-sig"), "text/csv")}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {supervisor}"},
    ) as c:
        r = await c.post("/import", files=files, data={"department": "qz-jyj"})
        assert r.status_code == 200, r.text
        page = r.text
        assert "提示：申请方式“信函”按“邮寄（平信）”理解" in page
        assert "提示：答复结果“非本机关”按“本机关不掌握相关政府信息”理解" in page
        assert "“信鸽” 不是“申请方式”可识别的取值" in page and "[申请方式]" in page
        payload = H.unescape(re.search(r'name="payload" value="([^"]*)"', page).group(1))
        r = await c.post("/import/confirm", data={"payload": payload})
        assert r.status_code == 200, r.text
        assert "提示：申请方式“信函”按“邮寄（平信）”理解" in r.text  # the result says it again
    want = {
        keys[0]: ("post_ordinary", "natural_person", "withheld.process_information"),
        keys[1]: ("online", "legal.business", "unavailable.not_held"),
        keys[2]: ("in_person", "natural_person", "unavailable.not_held"),
    }
    with Session(eng) as s:
        for k, (channel, atype, outcome) in want.items():
            rec = s.get(EventRecord, f"ledger:qz-jyj:requests:{k}:received").payload
            rep = s.get(EventRecord, f"ledger:qz-jyj:requests:{k}:replied").payload
            assert (rec["channel"], rec["applicant_type"], rep["outcome"]) == (channel, atype, outcome)
        assert s.get(EventRecord, f"ledger:qz-jyj:requests:{keys[3]}:received") is None
    for k in want:
        snap = st.item(k)
        assert snap is not None and snap.department == "qz-jyj"


def test_the_cli_lines_and_json_carry_the_notes():
    """`shixian import --dry-run` prints each guess under its row; `--json` has them as `notes`."""
    from services.ledger_import import RowOutcome

    (row,) = L.map_rows(
        L.read_table(csv_bytes([REQUEST_HEAD, ["A-1", "2026-03-02", "信函", "公民", "", ""]]), "t.csv"), "qz-jyj"
    )
    o = RowOutcome(row.row, row.key, "applied", notes=[n.as_json() for n in row.notes])
    assert "第 2 行 A-1 [申请方式] 提示：申请方式“信函”按“邮寄（平信）”理解" in o.text(dry_run=True)
    assert o.as_json()["notes"] == [{"column": "申请方式", "note": row.notes[0].text}]
