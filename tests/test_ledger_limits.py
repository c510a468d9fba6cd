"""Hostile, huge and oddly encoded ledger files (台账), and the messages that name what is wrong: pure, no
Temporal, no store. The web upload of the same files is in test_ledger_security.py."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from openpyxl import Workbook

from domain import ledger as L

HEAD = ["受理编号", "收到申请日期", "申请方式", "申请人类型", "申请内容", "答复日期", "答复结果"]


def xlsx_bytes(rows: list[list]) -> bytes:
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    return "\n".join(",".join(r) for r in rows).encode(encoding)


def inflated(placeholder_rows: list[list], mb: int, extra: int = 0) -> bytes:
    """A real workbook whose cell "BIG" becomes `mb` MB (+ `extra` bytes) of text, written in chunks:
    ~1000:1 compressed (openpyxl itself would cut a cell at Excel's limit)."""
    src = zipfile.ZipFile(io.BytesIO(xlsx_bytes(placeholder_rows)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if b"BIG" not in data:
                dst.writestr(info.filename, data)
                continue
            head, tail = data.split(b"BIG", 1)
            with dst.open(info.filename, "w", force_zip64=True) as f:
                f.write(head)
                chunk = b"A" * 2**20
                for _ in range(mb):
                    f.write(chunk)
                f.write(b"A" * extra)
                f.write(tail)
    return out.getvalue()


ROW = ["YSQ-1", "2026-03-02", "网络", "自然人"]


# ------------------------------------------------------------------------------ A4: zip bomb
def test_zip_bomb_is_refused_from_the_zip_directory_before_openpyxl(monkeypatch):
    data = inflated([HEAD[:5], [*ROW, "BIG"]], 100)
    assert len(data) < 400_000  # ~100 KB on disk
    import openpyxl

    def never(*a, **k):  # the archive check must refuse it before the workbook is opened
        raise AssertionError("openpyxl opened the bomb")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    with pytest.raises(L.LedgerError) as exc:
        L.read_table(data, "炸弹.xlsx")
    msg = str(exc.value)
    assert msg.startswith("炸弹.xlsx:") and "解压后" in msg and "SHIXIAN_LEDGER_MAX_UNZIPPED_MB" in msg


def test_a_part_with_an_absurd_compression_ratio_is_refused_below_the_size_limit():
    data = inflated([HEAD[:5], [*ROW, "BIG"]], 20)  # 20 MB < 64 MB, but from ~20 KB
    with pytest.raises(L.LedgerError) as exc:
        L.read_table(data, "t.xlsx")
    assert "压缩比异常" in str(exc.value) and "sheet1.xml" in str(exc.value)


def test_a_cell_longer_than_excel_allows_is_refused_naming_row_and_column():
    text = "甲" * (L.CELL_MAX + 1)
    for name, data in (
        (
            "t.xlsx",
            inflated([HEAD[:5], [*ROW, "x"], ["YSQ-2", "2026-03-03", "网络", "自然人", "BIG"]], 0, L.CELL_MAX + 1),
        ),
        ("t.csv", csv_bytes([HEAD[:5], [*ROW, "x"], ["YSQ-2", "2026-03-03", "网络", "自然人", text]])),
    ):
        with pytest.raises(L.LedgerError) as exc:
            L.read_table(data, name)
        assert f"{name}: 第 3 行第 E 列“申请内容”的单元格有 {L.CELL_MAX + 1} 个字符" in str(exc.value)


def test_a_long_cell_within_excels_limit_refuses_its_row_naming_the_column():
    data = csv_bytes([HEAD[:5], [*ROW, "甲" * 2001], ["YSQ-2", "2026-03-03", "网络", "自然人", "ok"]])
    rows = L.map_rows(L.read_table(data, "t.csv"), "qz-jyj")
    assert [p.as_json() for p in rows[0].problems] == [
        {"column": "申请内容", "reason": "过长：2001 个字符，最多 2000 个"}
    ]
    assert rows[1].ok


# ------------------------------------------------------------------------------ row limit
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_row_limit_refuses_the_file_before_mapping(monkeypatch, fmt):
    monkeypatch.setenv("SHIXIAN_LEDGER_MAX_ROWS", "50")
    rows = [HEAD[:4]] + [[f"YSQ-{n}", "2026-03-02", "网络", "自然人"] for n in range(50)]
    make = csv_bytes if fmt == "csv" else xlsx_bytes
    assert len(L.read_table(make(rows), f"t.{fmt}").rows) == 50
    with pytest.raises(L.LedgerError) as exc:
        L.read_table(make(rows + [["YSQ-50", "2026-03-02", "网络", "自然人"]]), f"t.{fmt}")
    assert f"t.{fmt}: 超过 50 行数据的上限（SHIXIAN_LEDGER_MAX_ROWS = 50）" in str(exc.value)


def test_a_million_blank_lines_stop_at_the_blank_row_limit(monkeypatch):
    monkeypatch.setenv("SHIXIAN_LEDGER_MAX_ROWS", "20000")
    data = csv_bytes([HEAD[:4], ROW]) + b"\n," * 1_000_000  # 3 MB
    with pytest.raises(L.LedgerError) as exc:
        L.read_table(data, "t.csv")
    assert "行（含空行）的上限" in str(exc.value)


# ------------------------------------------------------------------------------ messages
def test_utf16_file_is_refused_naming_the_file():
    text = "\t".join(HEAD[:4]) + "\r\n" + "\t".join(ROW) + "\r\n"
    for data in (b"\xff\xfe" + text.encode("utf-16-le"), text.encode("utf-16-le")):
        with pytest.raises(L.LedgerError) as exc:
            L.read_table(data, "教育局台账.txt")
        assert str(exc.value).startswith("教育局台账.txt: 文件是 UTF-16 编码") and "CSV UTF-8" in str(exc.value)


def test_undecodable_bytes_name_the_file_and_line():
    data = csv_bytes([HEAD[:4], ROW]) + b"\nYSQ-2,2026-03-02,\x80\xff,x\n"
    with pytest.raises(L.LedgerError) as exc:
        L.read_table(data, "t.csv")
    assert str(exc.value).startswith("t.csv: 文件编码无法识别") and "第 3 行" in str(exc.value)


def test_a_serial_number_is_a_date_only_in_an_xlsx_numeric_cell():
    # 46083 is 2026-03-02 as Excel stores it; typed as text (or in a CSV) it is just a number.
    data = xlsx_bytes([HEAD[:4], ["YSQ-1", 46083, "网络", "自然人"], ["YSQ-2", "46083", "网络", "自然人"]])
    rows = L.map_rows(L.read_table(data, "t.xlsx"), "qz-jyj")
    assert rows[0].ok and rows[0].events[0]["received_on"] == "2026-03-02"
    assert [p.column for p in rows[1].problems] == ["收到申请日期"] and "是数字而不是日期" in rows[1].problems[0].reason
    row = L.map_rows(L.read_table(csv_bytes([HEAD[:4], ["YSQ-3", "45000", "网络", "自然人"]]), "t.csv"), "qz-jyj")[0]
    assert [p.column for p in row.problems] == ["收到申请日期"] and "“45000” 是数字而不是日期" in row.problems[0].reason
    # a number that is no day the engine accepts (5 would be 1900-01-04) is refused in xlsx too
    row = L.map_rows(L.read_table(xlsx_bytes([HEAD[:4], ["YSQ-4", 5, "网络", "自然人"]]), "t.xlsx"), "qz-jyj")[0]
    assert [p.column for p in row.problems] == ["收到申请日期"] and "数字 5 不是日期" in row.problems[0].reason
    assert L.parse_date(46083.75) == dt.date(2026, 3, 2)  # a date-time cell: the day


def test_a_duplicate_header_is_refused_naming_both_columns():
    head = ["受理编号", "收到申请日期", "申请方式", "申请人类型", "答复日期", "答复结果", "办结日期"]
    with pytest.raises(L.LedgerError) as exc:
        L.read_table(csv_bytes([head, ROW + ["2026-03-10", "予以公开", "2026-03-12"]]), "t.csv")
    assert "t.csv: 第 1 行表头第 E 列“答复日期”与第 G 列“办结日期”都是“答复日期”列" in str(exc.value)
    with pytest.raises(L.LedgerError) as exc:
        L.read_table(csv_bytes([[""], HEAD[:4] + ["申请方式"], ROW + ["网络"]]), "t.csv")
    assert "第 2 行表头第 C 列“申请方式”与第 E 列“申请方式”" in str(exc.value)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("公开网址", "https://x.cn/1\x07"),
        ("解读网址", "https://x.cn/2\x01"),
        ("解读形式", "视频\x02"),
        ("文件标题", "通知\x1b"),
    ],
)
def test_a_control_character_is_blamed_on_its_own_column(column, value):
    cells = {
        "文件编号": "钦教发〔2026〕1号",
        "文件标题": "通知",
        "文件类型": "行政规范性文件",
        "成文日期": "2026-03-02",
        "公开属性": "主动公开",
        "公开日期": "2026-03-05",
        "公开网址": "https://x.cn/1",
        "解读发布日期": "2026-03-06",
        "解读网址": "https://x.cn/2",
        "解读形式": "文字",
    } | {column: value}
    (row,) = L.map_rows(L.read_table(csv_bytes([list(cells), list(cells.values())]), "t.csv"), "qz-jyj")
    assert [p.column for p in row.problems] == [column], row.problems


@pytest.mark.parametrize("key", ["YSQ-1\x07", "Y\x07SQ-1"])
def test_a_control_character_in_the_key_is_blamed_on_the_key_column_once(key):
    data = csv_bytes([HEAD, [key, "2026-03-02", "网络", "自然人", "x", "2026-03-10", "予以公开"]])
    (row,) = L.map_rows(L.read_table(data, "t.csv"), "qz-jyj")
    assert [p.column for p in row.problems] == ["受理编号"], row.problems
    assert "\\u0007" in row.problems[0].reason and "ledger:" not in row.problems[0].reason


def test_rows_are_numbered_as_in_the_spreadsheet_below_blank_lines():
    data = csv_bytes([[""], [""], HEAD[:4], ["YSQ-1", "2026-02-30", "网络", "自然人"]])
    (row,) = L.map_rows(L.read_table(data, "t.csv"), "qz-jyj")
    assert row.row == 4 and row.problems[0].column == "收到申请日期"


def test_a_csv_field_over_the_csv_reader_limit_is_named_in_chinese():
    data = csv_bytes([HEAD[:5], [*ROW, "x"]]) + b'\nYSQ-2,2026-03-03,"' + b"A" * 200_000 + b'"'
    with pytest.raises(L.LedgerError) as exc:
        L.read_table(data, "t.csv")
    assert str(exc.value).startswith("t.csv: 第 3 行不是有效的 CSV（单元格超过 131072 个字符）"), exc.value
