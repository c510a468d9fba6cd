"""The ledger (台账) parser and mapper: pure, no Temporal, no store."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from openpyxl import Workbook

from domain import ledger as L
from domain.report import OUTCOME_ROWS, ROW_LABELS

PII = {
    "申请人姓名": "欧阳测试",
    "身份证号": "450702199001011234",
    "联系电话": "13912345678",
    "通讯地址": "钦州市测试路88号",
    "电子邮箱": "ouyang@example.cn",
}


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    return "\n".join(",".join(r) for r in rows).encode(encoding)


def xlsx_bytes(rows: list[list]) -> bytes:
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def one(data: bytes, name: str = "t.csv", dept: str = "qz-jyj", names=("钦州市教育局",)) -> L.Row:
    rows = L.map_rows(L.read_table(data, name), dept, names)
    assert len(rows) == 1
    return rows[0]


def test_synonyms_and_full_width_headers_and_values():
    data = csv_bytes(
        [
            ["　申请编号　", "申请 日期", "提交方式", "申请人类型", "办理结果", "办结日期", "备注"],
            [
                "ＹＳＱ-7",
                "２０２６年３月２日",
                "邮寄（挂号／ＥＭＳ）",
                "公民",
                "（三）不予公开 1.属于国家秘密",
                "2026/3/20",
                "x",
            ],
        ]
    )
    t = L.read_table(data, "t.csv")
    assert t.kind == L.REQUESTS and t.unknown == ["备注"]
    assert set(t.columns) == {"受理编号", "收到申请日期", "申请方式", "申请人类型", "答复结果", "答复日期"}
    row = L.map_rows(t, "qz-jyj")[0]
    assert row.ok, row.problems
    received, replied = row.events
    assert received["request_id"] == "YSQ-7"  # the key as written, full-width letters read as ASCII
    assert received["channel"] == "post_registered" and received["applicant_type"] == "natural_person"
    assert received["received_on"] == "2026-03-02"
    assert replied == {
        "event_id": "ledger:qz-jyj:requests:YSQ-7:replied",
        "type": "request.replied",
        "on": "2026-03-20",
        "outcome": "withheld.state_secret",
        "request_id": "YSQ-7",
    }


def test_document_synonyms_and_defaults():
    data = csv_bytes(
        [
            [
                "文号",
                "标题",
                "文件类型",
                "印发日期",
                "公开属性",
                "公开日期",
                "链接",
                "解读发布日期",
                "解读网址",
                "解读形式",
            ],
            [
                "钦教发〔2026〕3号",
                "某通知",
                "规范性文件",
                "2026.3.2",
                "主动公开",
                "2026-03-10",
                "https://x.cn/1",
                "2026-03-11",
                "https://x.cn/2",
                "图解",
            ],
        ]
    )
    row = one(data)
    assert row.ok, row.problems
    signed, published, interp = row.events
    assert signed["kind"] == "normative" and signed["disclosure"] == "public" and signed["signed_on"] == "2026-03-02"
    assert published["url"] == "https://x.cn/1" and interp["form"] == "graphic"
    assert [e["event_id"].rsplit(":", 1)[1] for e in row.events] == ["signed", "published", "interpretation"]


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-02",
        "2026-3-2",
        "2026/3/2",
        "2026/03/02",
        "2026.3.2",
        "2026年3月2日",
        "2026年03月02日",
        "２０２６年３月２日",
        " 2026-03-02 ",
        "2026-03-02 00:00:00",
    ],
)
def test_every_date_form(text):
    assert L.parse_date(text) == dt.date(2026, 3, 2)


@pytest.mark.parametrize("text", ["2026-02-30", "3/2/2026", "下周一", "2026年13月1日"])
def test_bad_dates_are_named(text):
    with pytest.raises(ValueError) as exc:
        L.parse_date(text)
    assert text.strip() in str(exc.value)


def test_excel_date_cells_and_serials():
    data = xlsx_bytes(
        [
            ["受理编号", "收到申请日期", "申请方式", "申请人类型", "答复日期", "答复结果"],
            [1024, dt.datetime(2026, 3, 2), "网络", "自然人", 46101, "予以公开"],  # 46101 = 2026-03-20 unformatted
        ]
    )
    row = one(data, "t.xlsx")
    assert row.ok, row.problems
    assert row.key == "1024"  # a number cell reads as the digits people typed
    assert row.events[0]["received_on"] == "2026-03-02" and row.events[1]["on"] == "2026-03-20"


@pytest.mark.parametrize("encoding,label", [("gb18030", "GB18030"), ("utf-8-sig", "UTF-8 (BOM)"), ("utf-8", "UTF-8")])
def test_csv_encodings(encoding, label):
    data = csv_bytes(
        [
            ["受理编号", "收到申请日期", "申请方式", "申请人类型", "申请内容"],
            ["A-1", "2026-03-02", "当面", "商业企业", "校车采购合同𠀀"],
        ],
        encoding,
    )
    t = L.read_table(data, "t.csv")
    assert t.encoding == label
    row = L.map_rows(t, "qz-jyj")[0]
    assert row.events[0]["subject"] == "校车采购合同𠀀" and row.events[0]["applicant_type"] == "legal.business"


def test_missing_required_column_stops_everything():
    data = csv_bytes([["受理编号", "收到申请日期", "申请人类型"], ["A-1", "2026-03-02", "自然人"]])
    with pytest.raises(L.LedgerError) as exc:
        L.read_table(data, "台账.csv")
    assert "申请方式" in str(exc.value) and "台账.csv" in str(exc.value) and "未导入任何内容" in str(exc.value)


def test_unknown_ledger_kind():
    with pytest.raises(L.LedgerError, match="无法判断台账类型"):
        L.read_table(csv_bytes([["序号", "名称"], ["1", "x"]]), "x.csv")


def test_department_column_must_agree():
    data = csv_bytes(
        [
            ["受理编号", "收到申请日期", "申请方式", "申请人类型", "部门"],
            ["A-1", "2026-03-02", "当面", "自然人", "钦州市教育局"],
            ["A-2", "2026-03-02", "当面", "自然人", "qz-jyj"],
            ["A-3", "2026-03-02", "当面", "自然人", "钦州市财政局"],
        ]
    )
    rows = L.map_rows(L.read_table(data, "t.csv"), "qz-jyj", ["钦州市教育局"])
    assert [r.ok for r in rows] == [True, True, False]
    assert rows[2].problems[0].column == "部门" and "钦州市财政局" in rows[2].problems[0].reason
    assert rows[2].events == []


def test_pii_columns_dropped_before_anything_reads_them():
    head = ["受理编号", "收到申请日期", "申请方式", "申请人类型", *PII, "申请人"]
    data = csv_bytes([head, ["A-1", "2026-03-02", "当面", "自然人", *PII.values(), "欧阳测试"]])
    t = L.read_table(data, "t.csv")
    assert t.dropped == [*PII, "申请人"]
    rows = L.map_rows(t, "qz-jyj")
    everything = json.dumps([t.rows, L.to_canonical_json(t), [r.events for r in rows]], ensure_ascii=False, default=str)
    for value in PII.values():
        assert value not in everything
    assert rows[0].ok and rows[0].events[0]["applicant_type"] == "natural_person"


@pytest.mark.parametrize("code", OUTCOME_ROWS)
def test_every_table_three_row_name_maps_to_its_code(code):
    full = ROW_LABELS[code]
    assert L.outcome_code(full) == code
    bare = full.split(".", 1)[-1] if code != "partially_granted" else "部分公开"
    assert L.outcome_code(bare) == code


def test_outcome_prefixes_and_unknown():
    assert L.outcome_code("申请人无正当理由逾期不补正") == "other.no_correction"
    assert L.outcome_code("危及三安全一稳定") == "withheld.security_stability"
    assert L.outcome_code("（四）无法提供 1.本机关不掌握相关政府信息") == "unavailable.not_held"
    assert L.outcome_code("办好了") is None


def test_row_problems_name_the_column_and_refuse_the_whole_row():
    data = csv_bytes(
        [
            ["受理编号", "收到申请日期", "申请方式", "申请人类型", "答复日期", "答复结果", "延期日期", "延期工作日"],
            ["A-1", "2026-03-02", "飞鸽传书", "自然人", "2026-03-20", "予以公开", "", ""],
            ["A-2", "2026-03-02", "当面", "自然人", "2026-03-20", "", "", ""],
            ["A-3", "2026-03-02", "当面", "自然人", "", "办好了", "", ""],
            ["A-4", "2026-03-02", "当面", "自然人", "", "", "2026-03-25", "30"],
            ["", "2026-03-02", "当面", "自然人", "", "", "", ""],
            ["A-6", "2026-03-05", "当面", "自然人", "2026-03-01", "予以公开", "", ""],
        ]
    )
    rows = L.map_rows(L.read_table(data, "t.csv"), "qz-jyj")
    cols = [[p.column for p in r.problems] for r in rows]
    assert cols[0] == ["申请方式"]
    assert cols[1] == ["答复结果"]
    assert "答复结果" in cols[2]
    assert set(cols[3]) >= {"延期批准人", "延期理由"}
    assert cols[4] == ["受理编号"]
    assert cols[5] == ["答复日期"] and "早于" in rows[5].problems[0].reason
    assert all(r.events == [] for r in rows)
    assert [r.row for r in rows] == [2, 3, 4, 5, 6, 7]


def test_repeated_key_in_one_file():
    base = ["A-1", "2026-03-02", "当面", "自然人"]
    data = csv_bytes(
        [["受理编号", "收到申请日期", "申请方式", "申请人类型"], base, base, ["A-1", "2026-03-03", "当面", "自然人"]]
    )
    rows = L.map_rows(L.read_table(data, "t.csv"), "qz-jyj")
    assert rows[0].ok and rows[1].duplicate_of == 2 and rows[1].events == []
    assert rows[2].problems[0].column == "受理编号" and "第 2 行" in rows[2].problems[0].reason


def test_event_ids_are_stable_and_per_field():
    data = csv_bytes([["受理编号", "收到申请日期", "申请方式", "申请人类型"], ["A-1", "2026-03-02", "当面", "自然人"]])
    a, b = one(data), one(data)
    assert a.events == b.events
    assert a.events[0]["event_id"] == "ledger:qz-jyj:requests:A-1:received"


PROPOSAL_HEAD = ["建议提案编号", "类别", "交办日期", "涉及面广、处理难度大", "延长理由", "延长批准日期", "延长批准人"]


def test_a_complex_proposal_row_gives_the_assignment_and_the_approved_extension():
    """“涉及面广、处理难度大”=是 with the 交办机关's approval: proposal.assigned (complex false, as domain/events.py
    requires) and proposal.extended (approved_on, approved_by, reason), in that order."""
    row = one(
        csv_bytes(
            [
                PROPOSAL_HEAD,
                ["P-1", "人大代表建议", "2026-03-02", "是", "涉及多个部门", "2026-04-20", "市政府办公室 李四"],
            ]
        ),
        dept="qz-jyj",
    )
    assert row.ok, row.problems
    assigned, extended = row.events
    assert assigned["type"] == "proposal.assigned" and assigned["complex"] is False and "complex_reason" not in assigned
    assert extended == {
        "event_id": "ledger:qz-jyj:proposals:P-1:extended",
        "type": "proposal.extended",
        "approved_on": "2026-04-20",
        "approved_by": "市政府办公室 李四",
        "reason": "涉及多个部门",
        "proposal_id": "P-1",
    }
    plain = one(csv_bytes([PROPOSAL_HEAD, ["P-2", "政协提案", "2026-03-02", "否", "", "", ""]]))
    assert plain.ok and [e["type"] for e in plain.events] == ["proposal.assigned"]


def test_a_complex_proposal_without_the_approval_is_refused_naming_the_columns():
    row = one(csv_bytes([PROPOSAL_HEAD, ["P-1", "人大代表建议", "2026-03-02", "是", "涉及多个部门", "", ""]]))
    assert not row.ok and not row.events
    assert {p.column for p in row.problems} == {"延长批准日期", "延长批准人"}
    assert all("“涉及面广、处理难度大”为“是”" in p.reason and "交办机关同意" in p.reason for p in row.problems)
    # an approval without 是: which one is meant is not guessed
    odd = one(csv_bytes([PROPOSAL_HEAD, ["P-2", "人大代表建议", "2026-03-02", "否", "", "2026-04-20", "李四"]]))
    assert [p.column for p in odd.problems] == ["涉及面广、处理难度大"]


def test_the_proposal_template_has_the_approval_columns_and_its_drop_downs():
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(L.template_xlsx(L.PROPOSALS)))
    ws = wb.worksheets[0]
    head = [c.value for c in ws[1]]
    assert {"延长理由", "延长批准日期", "延长批准人"} <= set(head)
    assert head.index("延长批准日期") < head.index("延长批准人") < head.index("答复日期")
    letter = L.column_letter(head.index("涉及面广、处理难度大"))
    lists = {
        str(r).split(":")[0].rstrip("0123456789") for dv in ws.data_validations.dataValidation for r in dv.sqref.ranges
    }
    assert letter in lists and L.column_letter(head.index("延长批准日期")) not in lists
    codes = [r[0] for r in wb[L.CODE_SHEET].iter_rows(min_row=2, values_only=True)]
    assert "涉及面广、处理难度大" in codes


@pytest.mark.parametrize("kind", [L.REQUESTS, L.DOCUMENTS, L.PROPOSALS])
def test_templates_round_trip(kind):
    t = L.read_table(L.template_xlsx(kind), "template.xlsx")
    assert t.kind == kind and not t.unknown and not t.dropped
    rows = L.map_rows(t, "qz-jyj")
    assert len(rows) == 1 and rows[0].ok and len(rows[0].events) == 2, rows[0].problems
    rebuilt = L.from_canonical(kind, [(n, v) for n, v in L.to_canonical_json(t)])
    assert [r.events for r in L.map_rows(rebuilt, "qz-jyj")] == [r.events for r in rows]


def test_xlsx_with_a_wrong_dimension_record_is_read_whole():
    """Some writers store <dimension ref="A1"/>; openpyxl's read-only mode would then see one cell."""
    import re
    import zipfile

    data = xlsx_bytes([["受理编号", "收到申请日期", "申请方式", "申请人类型"], ["A-1", "2026-03-02", "当面", "自然人"]])
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                body, n = re.subn(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="A1"/>', body)
                assert n == 1
            dst.writestr(item, body)
    row = one(out.getvalue(), "t.xlsx")
    assert row.ok and row.events[0]["received_on"] == "2026-03-02"
