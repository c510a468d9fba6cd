"""Ledgers (台账): the departments' own spreadsheets read into events (shared/reference/ledger-format.md).

Pure: bytes in (an .xlsx or .csv file), canonical rows and event dicts out, nothing stored or sent.
- `read_table(data, filename)`: first sheet / whole CSV (UTF-8 with or without BOM, else GB18030);
  headers matched after NFKC (full-width -> half-width) and with every space removed; applicant
  personal-data columns are recognised and dropped here, so their values never leave this module.
- `map_rows(table, department, ...)`: per spreadsheet row the events of events.md (event ids derived
  from department, ledger kind, row key and field, so a re-import is idempotent) or the problems
  (column + Chinese reason) that refuse the whole row.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain import ledger_vocab as V
from domain.events import EventError, parse_event
from domain.limits import MAX_DAY, MIN_DAY, TEXT_DEFAULT_MAX, TEXT_MAX, check_id
from domain.settings import get_settings

REQUESTS, DOCUMENTS = "requests", "documents"
PROPOSALS, HOTLINE = "proposals", "hotline"  # i21-proposals
KIND_LABELS = {
    REQUESTS: "依申请公开台账",
    DOCUMENTS: "政策文件台账",
    PROPOSALS: "建议提案办理台账",
    HOTLINE: "热线工单台账",
}


class LedgerError(ValueError):
    """The file as a whole cannot be imported (nothing is applied)."""


def norm(text: Any) -> str:
    """Full-width -> half-width, every kind of space removed."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text)))


# canonical column -> accepted synonyms (canonical name included), per ledger kind
COLUMNS: dict[str, dict[str, list[str]]] = {
    REQUESTS: {
        "受理编号": ["申请编号", "编号"],
        "收到申请日期": ["申请日期", "收到日期"],
        "申请方式": ["提交方式", "渠道"],
        "确认日期": ["双方确认日期", "确认收到日期"],
        "平台提交时间": ["提交时间", "邮件接收时间"],
        "申请人类型": [],
        "申请内容": [],
        "补正告知日期": [],
        "补正期限": [],
        "补正收到日期": [],
        "征求意见对象": [],
        "征求意见日期": [],
        "意见收到日期": [],
        "延期日期": [],
        "延期工作日": [],
        "延期批准人": [],
        "延期告知日期": ["告知申请人日期"],
        "延期理由": [],
        "收费通知日期": [],
        "缴费日期": [],
        "延迟答复决定日期": [],
        "延迟答复期限": [],
        "延迟答复告知日期": [],
        "延迟答复理由": [],
        "答复日期": ["办结日期"],
        "答复结果": ["处理结果", "办理结果"],
        "撤回日期": [],
        "部门": [],
    },
    DOCUMENTS: {
        "文件编号": ["发文字号", "文号"],
        "文件标题": ["标题", "文件名称"],
        "文件类型": [],
        "成文日期": ["印发日期"],
        "公开属性": [],
        "不予公开理由": ["不主动公开理由", "不公开理由"],  # also the reason of 依申请公开 (国办发〔2016〕80号)
        "公开日期": [],
        "公开网址": ["链接"],
        "公开方式": ["公开渠道", "发布渠道"],  # document.published `channel` (events.md), default 政府网站
        "是否需要解读": [],
        "解读发布日期": [],
        "解读网址": [],
        "解读形式": [],
        "废止日期": [],
        "部门": [],
    },
    # i21-proposals: 建议提案办理台账 (代表、委员的姓名一列按个人信息丢弃) and 12345 热线工单台账
    PROPOSALS: {
        "建议提案编号": ["提案编号", "建议编号", "建议提案号"],
        "类别": ["建议提案类别"],
        "交办日期": ["收到交办日期", "交办时间"],
        "大会期间提出": ["是否大会期间提出"],
        "涉及面广、处理难度大": ["是否涉及面广、处理难度大", "复杂件"],
        "延长理由": ["延期理由"],
        "延长批准日期": ["同意延长日期"],  # proposal.extended: the 交办机关's approval of the longer period
        "延长批准人": ["同意延长人", "延长同意人"],
        "标题": ["案由", "题目", "建议提案标题"],
        "答复日期": ["办复日期", "答复时间"],
        "部门": ["承办单位"],
    },
    HOTLINE: {
        "工单编号": ["工单号", "热线工单编号"],
        "接单日期": ["接到工单日期", "转办日期", "派单日期"],
        "诉求类型": ["工单类型", "诉求分类"],
        "诉求摘要": ["诉求内容", "工单内容"],
        "延期日期": ["申请延期日期"],
        "延期工作日": ["延期天数"],
        "延期原因": ["延期理由"],
        "办结日期": ["回复日期", "办结时间"],
        "部门": ["承办单位"],
    },
}
REQUIRED = {
    REQUESTS: ["受理编号", "收到申请日期", "申请方式", "申请人类型"],
    DOCUMENTS: ["文件编号", "文件标题", "文件类型", "成文日期", "公开属性"],
    PROPOSALS: ["建议提案编号", "类别", "交办日期"],
    HOTLINE: ["工单编号", "接单日期", "诉求类型"],
}
KEY = {REQUESTS: "受理编号", DOCUMENTS: "文件编号", PROPOSALS: "建议提案编号", HOTLINE: "工单编号"}
# The step whose event starts the item (a row's other events may not be dated before it).
FIRST_STEP = {REQUESTS: "received", DOCUMENTS: "signed", PROPOSALS: "assigned", HOTLINE: "received"}

# Applicant personal data: recognised by header and dropped before anything else reads the row.
_PII_PARTS = (
    "姓名",
    "名称",
    "身份证",
    "证件",
    "电话",
    "手机",
    "联系方式",
    "联系人",
    "地址",
    "住址",
    "邮箱",
    "邮编",
    "邮政编码",
    "email",
    "e-mail",
    "微信",
    "qq",
    # 建议提案、热线工单的提出人（国办发〔2019〕… 台账不含提出人信息；见 ledgers reference）
    "来电",
    "代表",
    "委员",
    "提案人",
    "诉求人",
    "留言人",
)


def is_pii(header: str) -> bool:
    h = norm(header).lower()
    if h in ("申请人", "申请单位", "申请人单位") or (h.startswith("申请人") and h != "申请人类型"):
        return True
    return any(p in h for p in _PII_PARTS) and h not in ("文件名称",)


# ------------------------------------------------------------------------------------ values
# The words of the coded columns live in domain/ledger_vocab.py (one table per column, with sources).
def outcome_code(value: str) -> str | None:
    """The 表三 outcome code a 答复结果 cell means (exact or guessed), None when it means none."""
    m = V.OUTCOME.match(value)
    return m.code if m else None


_DATE_FORMS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]?\d{1,2}:\d{2}(?::\d{2})?)?$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})(?:\d{1,2}:\d{2}(?::\d{2})?)?$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
EXCEL_EPOCH = dt.date(1899, 12, 30)


# Excel serials of the days the engine accepts (domain.limits: 1990-01-01 .. 2100-12-31)
SERIALS = ((MIN_DAY - EXCEL_EPOCH).days, (MAX_DAY - EXCEL_EPOCH).days)


def parse_date(value: Any) -> dt.date:
    """The forms people type, or an Excel date cell: a datetime, or a number in an .xlsx numeric cell
    (a date cell that lost its date format stores the day's serial number: 46101 is 2026-03-20).
    Text that looks like a serial ("45000" in a CSV, or typed as text) is refused: a CSV has no cell
    types, so nothing says it was a date rather than a number typed into the wrong column."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if SERIALS[0] <= value < SERIALS[1] + 1:  # a fraction is the time of day
            return EXCEL_EPOCH + dt.timedelta(days=int(value))
        raise ValueError(f"数字 {value:g} 不是日期（请把该列设为日期格式，或写作 2026-03-02）")
    text = norm(value)
    if len(text) > 40:
        raise ValueError(f"“{_shown(text)}” 不是可识别的日期")
    if re.fullmatch(r"\d{1,7}(\.\d+)?", text):
        raise ValueError(
            f"“{text}” 是数字而不是日期（可能是丢失了日期格式的 Excel 日期序号）："
            "请在 Excel 中把该列设为日期格式后另存，或写作 2026-03-02"
        )
    for form in _DATE_FORMS:
        m = form.match(text)
        if m:
            try:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                raise ValueError(f"“{_shown(value)}” 不是有效日期（该日不存在）") from None
    raise ValueError(f"“{_shown(value)}” 不是可识别的日期（可写 2026-03-02、2026/3/2、2026.3.2 或 2026年3月2日）")


def _shown(value: Any) -> str:
    """A cell value quoted in a message: control characters escaped, long text cut."""
    text = str(value).strip()
    text = text if len(text) <= 40 else text[:40] + "…"
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)


# ------------------------------------------------------------------------------------ table
@dataclass
class Table:
    kind: str
    columns: dict[str, int]  # canonical name -> column index
    rows: list[tuple[int, list[Any]]]  # (spreadsheet row number, cells), personal-data cells blanked
    dropped: list[str]  # personal-data headers (values never read)
    unknown: list[str]  # other headers, ignored
    encoding: str = "xlsx"

    def canonical(self) -> list[tuple[int, dict[str, Any]]]:
        out = []
        for n, cells in self.rows:
            out.append((n, {c: _cell(cells, i) for c, i in self.columns.items()}))
        return out


def _cell(cells: list[Any], i: int) -> Any:
    v = cells[i] if i < len(cells) else None
    if isinstance(v, str):
        v = v.strip()
    return None if v in ("", None) else v


def _decode(data: bytes, filename: str) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "UTF-8 (BOM)"
        except UnicodeDecodeError as exc:
            raise LedgerError(
                f"{filename}: 文件标明为 UTF-8，但{_where(data, exc.start + 3)}不是有效的 UTF-8"
            ) from None
    head = data[:4096]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or head.count(b"\x00") * 4 > len(head):  # BOM, or NUL-heavy
        # Excel's "Unicode 文本" (UTF-16, tab-separated): not a CSV the engine reads
        raise LedgerError(
            f"{filename}: 文件是 UTF-16 编码（Excel 另存为“Unicode 文本”的格式），无法按 CSV 读取："
            "请在 Excel 中另存为“CSV UTF-8（逗号分隔）”或 .xlsx 后重新导入"
        )
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError as exc:
        utf8_at = exc.start
    try:
        return data.decode("gb18030"), "GB18030"
    except UnicodeDecodeError as exc:
        at = max(utf8_at, exc.start)  # the encoding that read further is the likelier one: its bad byte
        raise LedgerError(
            f"{filename}: 文件编码无法识别（应为 UTF-8 或 GB18030）：{_where(data, at)}无法解码"
        ) from None


def _where(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    return f"第 {line} 行（第 {offset + 1} 字节）"


def column_letter(i: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: how Excel names the column of index i."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


# Limits of what a ledger file may hold (README "Ledger import"): checked while reading, before any row is
# mapped, so a hostile or mistaken file is refused without filling the web process's memory.
XLSX_MAX_ENTRIES = 1000  # files inside the .xlsx zip (a workbook has a few dozen)
XLSX_MAX_RATIO = 200  # uncompressed / compressed size of one file inside, checked above 1 MB
CELL_MAX = 32767  # Excel's own limit for one cell: a longer one was not written by Excel
BLANK_ROWS_FACTOR = 5  # blank rows tolerated, as a multiple of the row limit (formatting down a column)


def check_archive(data: bytes, filename: str, max_bytes: int) -> None:
    """The zip's central directory, read before openpyxl inflates anything: the number of files, their
    declared uncompressed sizes (zipfile never inflates past a declared size) and compression ratios."""
    import zipfile

    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise LedgerError(f"{filename}: 无法读取 Excel 文件（不是有效的 .xlsx 文件，可能已损坏）") from None
    if len(infos) > XLSX_MAX_ENTRIES:
        raise LedgerError(
            f"{filename}: Excel 文件内含 {len(infos)} 个部件（上限 {XLSX_MAX_ENTRIES}），不像台账，未导入任何内容"
        )
    total = sum(i.file_size for i in infos)
    if total > max_bytes:
        raise LedgerError(
            f"{filename}: Excel 文件解压后有 {total / 2**20:.0f} MB，超过上限 {max_bytes / 2**20:.0f} MB"
            "（SHIXIAN_LEDGER_MAX_UNZIPPED_MB），未导入任何内容：请分批导入，或删去无关的工作表和大段文字"
        )
    for i in infos:
        if i.file_size > 2**20 and i.file_size > XLSX_MAX_RATIO * max(i.compress_size, 1):
            raise LedgerError(
                f"{filename}: Excel 文件中的 {i.filename} 压缩比异常（{i.compress_size} 字节解压为 "
                f"{i.file_size / 2**20:.0f} MB），疑似压缩炸弹，未导入任何内容"
            )


class _Counter:
    """Counts rows while they are read and stops the file at the limits (before anything is mapped)."""

    def __init__(self, filename: str, max_rows: int):
        self.filename, self.max_rows = filename, max_rows
        self.data = self.raw = 0

    def row(self, n: int, cells: list[Any], header: list[Any] | None) -> list[Any]:
        self.raw += 1
        while cells and cells[-1] in (None, ""):
            cells.pop()  # trailing empty cells (formatting to the right)
        if cells:
            self.data += 1
        for i, v in enumerate(cells):
            if isinstance(v, str) and len(v) > CELL_MAX:
                name = str(header[i]).strip() if header and i < len(header) and header[i] else ""
                col = f"第 {column_letter(i)} 列" + (f"“{name}”" if name else "")
                raise LedgerError(
                    f"{self.filename}: 第 {n} 行{col}的单元格有 {len(v)} 个字符，超过单元格上限 {CELL_MAX}"
                    "（Excel 本身也不允许），未导入任何内容"
                )
        if self.data > self.max_rows + 1 or self.raw > (self.max_rows + 1) * BLANK_ROWS_FACTOR:
            what = "行数据" if self.data > self.max_rows + 1 else "行（含空行）"
            limit = self.max_rows if self.data > self.max_rows + 1 else (self.max_rows + 1) * BLANK_ROWS_FACTOR
            raise LedgerError(
                f"{self.filename}: 超过 {limit} {what}的上限（SHIXIAN_LEDGER_MAX_ROWS = {self.max_rows}），"
                "未导入任何内容：请按月或按季度分成几个文件导入"
            )
        return cells


def _raw_rows(data: bytes, filename: str) -> tuple[list[list[Any]], str]:
    limits = get_settings()
    count = _Counter(filename, limits.ledger_max_rows)
    rows: list[list[Any]] = []
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm")) or data[:2] == b"PK":
        from openpyxl import load_workbook

        check_archive(data, filename, int(limits.ledger_max_unzipped_mb * 2**20))
        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # corrupt zip, not a workbook, ...
            raise LedgerError(f"{filename}: 无法读取 Excel 文件（{type(exc).__name__}）") from None
        try:
            ws = wb.worksheets[0]
            ws.reset_dimensions()  # some writers store a wrong <dimension>; read every row there is
            for n, r in enumerate(ws.iter_rows(values_only=True), start=1):  # streamed (read-only mode)
                rows.append(count.row(n, list(r), rows[0] if rows else None))
            return rows, "xlsx"
        except LedgerError:
            raise
        except Exception as exc:  # a part that does not parse as the XML it should be
            raise LedgerError(f"{filename}: 无法读取 Excel 文件（{type(exc).__name__}）") from None
        finally:
            wb.close()
    if name.endswith(".xls"):
        raise LedgerError(f"{filename}: 不支持旧版 .xls 格式，请在 Excel 中另存为 .xlsx 或 .csv")
    text, enc = _decode(data, filename)
    reader = csv.reader(io.StringIO(text))
    try:
        for cells in reader:
            rows.append(count.row(reader.line_num, cells, rows[0] if rows else None))
    except csv.Error as exc:
        why = str(exc)
        if "field larger" in why:
            why = f"单元格超过 {csv.field_size_limit()} 个字符"
        raise LedgerError(f"{filename}: 第 {reader.line_num} 行不是有效的 CSV（{why}），未导入任何内容") from None
    return rows, enc


def read_table(data: bytes, filename: str, kind: str | None = None) -> Table:
    rows, enc = _raw_rows(data, filename)
    top = next((k for k, r in enumerate(rows) if any(_cell(r, i) is not None for i in range(len(r)))), len(rows))
    rows = rows[top:]  # blank lines above the header (row numbers stay the spreadsheet's)
    if not rows:
        raise LedgerError(f"{filename}: 文件为空，第 1 行应为表头")
    header = [norm(h) if h is not None else "" for h in rows[0]]
    lookup = {
        k: {norm(c): c for c in cols} | {norm(s): c for c, syn in cols.items() for s in syn}
        for k, cols in COLUMNS.items()
    }
    if kind is None:
        found = [k for k in KIND_LABELS if any(lookup[k].get(h) == KEY[k] for h in header)]
        if len(found) != 1:
            raise LedgerError(
                f"{filename}: 无法判断台账类型：表头应有“受理编号”（依申请公开台账）、“文件编号”（政策文件台账）、"
                f"“建议提案编号”（建议提案办理台账）或“工单编号”（热线工单台账）之一"
            )
        kind = found[0]
    columns: dict[str, int] = {}
    dropped, unknown = [], []
    for i, h in enumerate(header):
        if not h:
            continue
        canon = lookup[kind].get(h)
        if canon is not None and canon in columns:
            j = columns[canon]
            raise LedgerError(
                f"{filename}: 第 {top + 1} 行表头第 {column_letter(j)} 列“{str(rows[0][j]).strip()}”与第 {column_letter(i)} 列"
                f"“{str(rows[0][i]).strip()}”都是“{canon}”列：不知道该用哪一列，请删去或改名其中一列，未导入任何内容"
            )
        if canon is not None:
            columns[canon] = i
        elif is_pii(h):
            dropped.append(str(rows[0][i]).strip())
        else:
            unknown.append(str(rows[0][i]).strip())
    missing = [c for c in REQUIRED[kind] if c not in columns]
    if missing:
        names = "、".join(
            f"“{c}”" + (f"（或 {'、'.join(COLUMNS[kind][c])}）" if COLUMNS[kind][c] else "") for c in missing
        )
        raise LedgerError(f"{filename}: 第 {top + 1} 行表头缺少必填列 {names}，未导入任何内容")
    pii_idx = {i for i, h in enumerate(header) if h and i not in columns.values() and is_pii(h)}
    body = []
    for n, cells in enumerate(rows[1:], start=top + 2):
        cells = [None if i in pii_idx else v for i, v in enumerate(cells)]
        if all(_cell(cells, i) is None for i in range(len(cells))):
            continue
        body.append((n, cells))
    return Table(kind=kind, columns=columns, rows=body, dropped=dropped, unknown=unknown, encoding=enc)


# ------------------------------------------------------------------------------------ rows
@dataclass
class Problem:
    column: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"column": self.column, "reason": self.reason}


@dataclass
class Note:
    """A cell read with a guess (ledger_vocab): applied as `name`, shown in the preview so it can be checked."""

    column: str
    value: str
    name: str
    why: str = ""

    @property
    def text(self) -> str:
        return f"{self.column}“{self.value}”按“{self.name}”理解" + (f"（{self.why}）" if self.why else "")

    def as_json(self) -> dict[str, str]:
        return {"column": self.column, "note": self.text}


@dataclass
class Row:
    row: int
    key: str | None
    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    duplicate_of: int | None = None  # the same key earlier in this file, same content
    notes: list[Note] = field(default_factory=list)  # cells read with a guess

    @property
    def ok(self) -> bool:
        return not self.problems


# event field -> ledger column, to name the column of a refusal
FIELD_COLUMNS = {
    REQUESTS: {
        "request_id": "受理编号",
        "received_on": "收到申请日期",
        "channel": "申请方式",
        "applicant_type": "申请人类型",
        "subject": "申请内容",
        "respond_by": "补正期限",
        "with": "征求意见对象",
        "working_days": "延期工作日",
        "approved_by": "延期批准人",
        "notified_on": "延期告知日期",
        "reason": "延期理由",
        "confirmed_on": "确认日期",
        "submitted_at": "平台提交时间",
        "reply_by": "延迟答复期限",
        "outcome": "答复结果",
        "department": "部门",
    },
    DOCUMENTS: {
        "document_id": "文件编号",
        "title": "文件标题",
        "kind": "文件类型",
        "signed_on": "成文日期",
        "disclosure": "公开属性",
        "withheld_reason": "不予公开理由",
        "disclosure_reason": "不予公开理由",
        "needs_interpretation": "是否需要解读",
        "department": "部门",
    },
    PROPOSALS: {
        "proposal_id": "建议提案编号",
        "kind": "类别",
        "assigned_on": "交办日期",
        "plenary": "大会期间提出",
        "complex": "涉及面广、处理难度大",
        "complex_reason": "延长理由",
        "approved_on": "延长批准日期",
        "approved_by": "延长批准人",
        "reason": "延长理由",
        "title": "标题",
        "answered_on": "答复日期",
        "department": "部门",
    },
    HOTLINE: {
        "ticket_id": "工单编号",
        "received_on": "接单日期",
        "kind": "诉求类型",
        "title": "诉求摘要",
        "working_days": "延期工作日",
        "reason": "延期原因",
        "department": "部门",
    },
}
# each event's own date column (for "on"/"published_on" refusals) and its name in event ids
REQUEST_STEPS = [  # (event id suffix, type, date column)
    ("received", "request.received", "收到申请日期"),
    ("correction_requested", "request.correction_requested", "补正告知日期"),
    ("corrected", "request.corrected", "补正收到日期"),
    ("consultation_started", "request.consultation_started", "征求意见日期"),
    ("consultation_ended", "request.consultation_ended", "意见收到日期"),
    ("extended", "request.extended", "延期日期"),
    ("fee_notified", "request.fee_notified", "收费通知日期"),
    ("fee_paid", "request.fee_paid", "缴费日期"),
    ("reply_delayed", "request.reply_delayed", "延迟答复决定日期"),
    ("replied", "request.replied", "答复日期"),
    ("withdrawn", "request.withdrawn", "撤回日期"),
]
DOCUMENT_STEPS = [
    ("signed", "document.signed", "成文日期"),
    ("published", "document.published", "公开日期"),
    ("interpretation", "interpretation.published", "解读发布日期"),
    ("repealed", "document.repealed", "废止日期"),
]
PROPOSAL_STEPS = [
    ("assigned", "proposal.assigned", "交办日期"),
    ("extended", "proposal.extended", "延长批准日期"),
    ("answered", "proposal.answered", "答复日期"),
]
HOTLINE_STEPS = [
    ("received", "hotline.received", "接单日期"),
    ("extended", "hotline.extended", "延期日期"),
    ("replied", "hotline.replied", "办结日期"),
]
STEPS = {REQUESTS: REQUEST_STEPS, DOCUMENTS: DOCUMENT_STEPS, PROPOSALS: PROPOSAL_STEPS, HOTLINE: HOTLINE_STEPS}


# fields whose column depends on the event: both links are `url`, the interpretation's form is `form`
STEP_FIELD_COLUMNS = {
    ("reply_delayed", "reason"): "延迟答复理由",
    ("reply_delayed", "notified_on"): "延迟答复告知日期",
    ("published", "url"): "公开网址",
    ("published", "channel"): "公开方式",
    ("interpretation", "url"): "解读网址",
    ("interpretation", "form"): "解读形式",
}


def column_of(kind: str, step: str, field_: str | None) -> str:
    """The ledger column an event field came from (to name it in a refusal); the event's date column
    when the field is its date or not a column of its own."""
    if field_ == "event_id":  # derived from the key (event_id())
        return KEY[kind]
    if field_ and (step, field_) in STEP_FIELD_COLUMNS:
        return STEP_FIELD_COLUMNS[(step, field_)]
    if field_ and field_ in FIELD_COLUMNS[kind]:
        return FIELD_COLUMNS[kind][field_]
    return {s: c for s, _, c in STEPS[kind]}[step]


def text_limit(kind: str, column: str) -> int:
    """The domain/limits.py length of the event field a column feeds (a date or choice: the default)."""
    fields = {c: f for f, c in FIELD_COLUMNS[kind].items()} | {c: f for (_, f), c in STEP_FIELD_COLUMNS.items()}
    return TEXT_MAX.get(fields.get(column, ""), TEXT_DEFAULT_MAX)


def event_id(department: str, kind: str, key: str, step: str) -> str:
    return f"ledger:{department}:{kind}:{key}:{step}"


_FULL_WIDTH_ASCII = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}


def key_text(value: Any) -> str | None:
    """The key as written, with full-width letters and digits typed through a Chinese input method read as
    their ASCII forms (ＹＳＱ-7 is YSQ-7: one number, and ids allow ASCII letters only); a number cell
    (1024 or 1024.0) reads as the digits people typed."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip().translate(_FULL_WIDTH_ASCII)
    return text or None


class _RowReader:
    def __init__(self, values: dict[str, Any]):
        self.values = values
        self.problems: list[Problem] = []
        self.notes: list[Note] = []

    def text(self, col: str) -> str | None:
        v = self.values.get(col)
        if v is None:
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, (dt.date, dt.datetime)):
            v = v.isoformat()[:10]
        return str(v).strip() or None

    def date(self, col: str) -> dt.date | None:
        v = self.values.get(col)
        if v is None:
            return None
        try:
            return parse_date(v)
        except ValueError as exc:
            self.problems.append(Problem(col, str(exc)))
            return None

    def enum(self, col: str, vocab: V.Vocab) -> Any:
        """The code a coded cell means: exact words silently, a guess with a note, else the cell is refused."""
        v = self.text(col)
        if v is None:
            return None
        m = vocab.match(v)
        if m is None:
            self.problems.append(Problem(col, vocab.refusal(v, _shown(v))))
            return None
        if m.guessed:
            self.notes.append(Note(col, _shown(v), m.name, m.why))
        return m.code

    def need(self, col: str, because: str) -> None:
        self.problems.append(self.needed(col, because))

    @staticmethod
    def needed(col: str, because: str) -> Problem:
        return Problem(col, f"{because}时必须填写“{col}”")

    def decision(
        self, given: Any, cols: tuple[str, ...], because: str, watched: tuple[str, ...], orphan: Problem
    ) -> bool:
        """Is a decision with the columns that go with it on this row (a delayed reply, a proposal's longer
        period)? Given (`given`), each of `cols` left blank is needed (`because`); not given, any of `watched`
        filled in is `orphan`."""
        if given:
            for col in cols:
                if self.values.get(col) is None:
                    self.need(col, because)
            return True
        if any(self.values.get(col) is not None for col in watched):
            self.problems.append(orphan)
        return False


def _requests(r: _RowReader, ev: dict[str, dict[str, Any]], key: str, department: str) -> None:
    received = r.date("收到申请日期")
    channel = r.enum("申请方式", V.CHANNEL)
    atype = r.enum("申请人类型", V.APPLICANT_TYPE)
    if received is None and r.values.get("收到申请日期") is None:
        r.need("收到申请日期", "登记申请")
    if channel is None and r.values.get("申请方式") is None:
        r.need("申请方式", "登记申请")
    if atype is None and r.values.get("申请人类型") is None:
        r.need("申请人类型", "登记申请")
    ev["received"] = {
        "type": "request.received",
        "department": department,
        "channel": channel,
        "received_on": received,
        "applicant_type": atype,
        "subject": r.text("申请内容") or "",
    }
    confirmed = r.date("确认日期")
    if confirmed:  # 条例第三十一条: the receipt date of a letter, fax or other channel
        ev["received"]["confirmed_on"] = confirmed
    submitted = r.text("平台提交时间")
    if submitted:  # the platform's or mail system's record (207号 一.3); its day fixes the receipt
        ev["received"]["submitted_at"] = submitted.replace("/", "-").replace(" ", "T", 1)
    asked, respond_by = r.date("补正告知日期"), r.date("补正期限")
    if asked:
        if respond_by is None and r.values.get("补正期限") is None:
            r.need("补正期限", "填写补正告知日期")
        ev["correction_requested"] = {"type": "request.correction_requested", "on": asked, "respond_by": respond_by}
    elif respond_by:
        r.need("补正告知日期", "填写补正期限")
    corrected = r.date("补正收到日期")
    if corrected:
        ev["corrected"] = {"type": "request.corrected", "on": corrected}
    with_ = r.enum("征求意见对象", V.CONSULT_WITH)
    started, ended = r.date("征求意见日期"), r.date("意见收到日期")
    if started:
        if with_ is None and r.values.get("征求意见对象") is None:
            r.need("征求意见对象", "填写征求意见日期")
        ev["consultation_started"] = {"type": "request.consultation_started", "on": started, "with": with_}
    if ended:
        if not started and r.values.get("征求意见日期") is None:
            r.need("征求意见日期", "填写意见收到日期")
        ev["consultation_ended"] = {"type": "request.consultation_ended", "on": ended}
    ext_on = r.date("延期日期")
    ext_cols = ("延期工作日", "延期批准人", "延期告知日期", "延期理由")
    if ext_on:
        days_text = r.text("延期工作日")
        days = None
        if days_text is None:
            r.need("延期工作日", "填写延期日期")
        else:
            try:
                days = int(float(days_text))
            except ValueError:
                r.problems.append(Problem("延期工作日", f"“{days_text}” 不是整数（1–20）"))
        for col in ext_cols[1:]:
            if r.text(col) is None:
                r.need(col, "填写延期日期")
        ev["extended"] = {
            "type": "request.extended",
            "on": ext_on,
            "working_days": days,
            "approved_by": r.text("延期批准人"),
            "notified_on": r.date("延期告知日期"),
            "reason": r.text("延期理由"),
        }
    elif any(r.text(c) for c in ext_cols):
        r.need("延期日期", "填写延期工作日、批准人或理由")
    fee_on, paid_on = r.date("收费通知日期"), r.date("缴费日期")
    if fee_on:
        ev["fee_notified"] = {"type": "request.fee_notified", "on": fee_on}
    if paid_on:
        if not fee_on and r.values.get("收费通知日期") is None:
            r.need("收费通知日期", "填写缴费日期")
        ev["fee_paid"] = {"type": "request.fee_paid", "on": paid_on}
    delay_on = r.date("延迟答复决定日期")
    delay_cols = ("延迟答复期限", "延迟答复告知日期", "延迟答复理由")
    orphan = r.needed("延迟答复决定日期", "填写延迟答复期限、告知日期或理由")
    if r.decision(delay_on, delay_cols, "填写延迟答复决定日期", delay_cols, orphan):
        ev["reply_delayed"] = {
            "type": "request.reply_delayed",
            "on": delay_on,
            "reply_by": r.date("延迟答复期限"),
            "notified_on": r.date("延迟答复告知日期"),
            "reason": r.text("延迟答复理由"),
        }
    replied = r.date("答复日期")
    result = r.text("答复结果")
    outcome = r.enum("答复结果", V.OUTCOME)
    if replied:
        if result is None:
            r.need("答复结果", "填写答复日期")
        ev["replied"] = {"type": "request.replied", "on": replied, "outcome": outcome}
    elif result and r.values.get("答复日期") is None:
        r.need("答复日期", "填写答复结果")
    withdrawn = r.date("撤回日期")
    if withdrawn:
        ev["withdrawn"] = {"type": "request.withdrawn", "on": withdrawn}
    for e in ev.values():
        e["request_id"] = key


def _documents(r: _RowReader, ev: dict[str, dict[str, Any]], key: str, department: str) -> None:
    kind = r.enum("文件类型", V.DOC_KIND)
    disclosure = r.enum("公开属性", V.DISCLOSURE)
    signed = r.date("成文日期")
    for col, value in (
        ("文件标题", r.text("文件标题")),
        ("文件类型", r.values.get("文件类型")),
        ("成文日期", r.values.get("成文日期")),
        ("公开属性", r.values.get("公开属性")),
    ):
        if value is None:
            r.need(col, "登记文件")
    needs = r.enum("是否需要解读", V.YES_NO)
    signed_ev = {
        "type": "document.signed",
        "department": department,
        "title": r.text("文件标题"),
        "kind": kind,
        "signed_on": signed,
        "disclosure": disclosure,
    }
    if r.text("不予公开理由"):
        signed_ev["withheld_reason"] = r.text("不予公开理由")
    elif disclosure == "withheld":
        r.need("不予公开理由", "公开属性为不予公开")
    if needs is not None:
        signed_ev["needs_interpretation"] = needs
    ev["signed"] = signed_ev
    published = r.date("公开日期")
    if published:
        if r.text("公开网址") is None:
            r.need("公开网址", "填写公开日期")
        ev["published"] = {"type": "document.published", "published_on": published, "url": r.text("公开网址")}
        channel = r.enum("公开方式", V.PUBLISH_CHANNEL)
        if channel is not None:  # only when written: a ledger without the column gives the same event as before
            ev["published"]["channel"] = channel
    interp = r.date("解读发布日期")
    if interp:
        if r.text("解读网址") is None:
            r.need("解读网址", "填写解读发布日期")
        form = r.enum("解读形式", V.INTERP_FORM) or "text"
        ev["interpretation"] = {
            "type": "interpretation.published",
            "published_on": interp,
            "url": r.text("解读网址"),
            "form": form,
        }
    repealed = r.date("废止日期")
    if repealed:
        ev["repealed"] = {"type": "document.repealed", "repealed_on": repealed}
    for e in ev.values():
        e["document_id"] = key


def _proposals(r: _RowReader, ev: dict[str, dict[str, Any]], key: str, department: str) -> None:
    kind = r.enum("类别", V.PROPOSAL_KIND)
    assigned = r.date("交办日期")
    for col in ("类别", "交办日期"):
        if r.values.get(col) is None:
            r.need(col, "登记建议提案")
    ev["assigned"] = {
        "type": "proposal.assigned",
        "department": department,
        "assigned_on": assigned,
        "kind": kind,
        "plenary": bool(r.enum("大会期间提出", V.PLENARY)),
        "complex": False,  # the longer period is the 交办机关's approval (proposal.extended), never the assignment's
        "title": r.text("标题") or "",
    }
    complex_ = r.enum("涉及面广、处理难度大", V.COMPLEX)
    approval = ("延长批准日期", "延长批准人", "延长理由")
    because = "“涉及面广、处理难度大”为“是”（延长办理期限须经交办机关同意）"
    orphan = Problem("涉及面广、处理难度大", "填写了延长批准日期或延长批准人：“涉及面广、处理难度大”应为“是”")
    if r.decision(complex_, approval, because, approval[:2], orphan):
        ev["extended"] = {
            "type": "proposal.extended",
            "approved_on": r.date("延长批准日期"),
            "approved_by": r.text("延长批准人"),
            "reason": r.text("延长理由"),
        }
    answered = r.date("答复日期")
    if answered:
        ev["answered"] = {"type": "proposal.answered", "answered_on": answered}
    for e in ev.values():
        e["proposal_id"] = key


def _hotline(r: _RowReader, ev: dict[str, dict[str, Any]], key: str, department: str) -> None:
    received = r.date("接单日期")
    kind = r.enum("诉求类型", V.HOTLINE_KIND)
    for col in ("接单日期", "诉求类型"):
        if r.values.get(col) is None:
            r.need(col, "登记热线工单")
    ev["received"] = {
        "type": "hotline.received",
        "department": department,
        "received_on": received,
        "kind": kind,
        "title": r.text("诉求摘要") or "",
    }
    extended = r.date("延期日期")
    if extended:
        days = r.text("延期工作日")
        if days is None:
            r.need("延期工作日", "填写延期日期")
        if r.text("延期原因") is None:
            r.need("延期原因", "填写延期日期")
        try:
            n = int(days) if days is not None else None
        except ValueError:
            r.problems.append(Problem("延期工作日", f"“{_shown(days)}” 不是整数"))
            n = None
        ev["extended"] = {"type": "hotline.extended", "on": extended, "working_days": n, "reason": r.text("延期原因")}
    replied = r.date("办结日期")
    if replied:
        ev["replied"] = {"type": "hotline.replied", "on": replied}
    for e in ev.values():
        e["ticket_id"] = key


_MAPPERS = {PROPOSALS: _proposals, HOTLINE: _hotline}


def map_row(kind: str, n: int, values: dict[str, Any], department: str, department_names: Iterable[str] = ()) -> Row:
    key_col = KEY[kind]
    key = key_text(values.get(key_col))
    row = Row(row=n, key=key)
    if key is None:
        row.problems.append(Problem(key_col, f"“{key_col}”为空：每行须有本部门内唯一的编号"))
        return row
    try:  # before the event ids are built from it: a bad key is the key column's problem, once
        check_id(key)
    except ValueError as exc:
        row.problems.append(Problem(key_col, str(exc)))
        return row
    dept_cell = values.get("部门")
    if dept_cell is not None:
        allowed = {norm(department)} | {norm(d) for d in department_names}
        if norm(dept_cell) not in allowed:
            row.problems.append(
                Problem("部门", f"“{dept_cell}” 与导入部门（{department}）不一致：一份台账只属于一个部门")
            )
    for col, v in values.items():  # refused before a long text is scanned, matched or quoted
        if isinstance(v, str) and len(v) > (limit := text_limit(kind, col)):
            row.problems.append(Problem(col, f"过长：{len(v)} 个字符，最多 {limit} 个"))
    if row.problems:
        return row
    r = _RowReader(values)
    built: dict[str, dict[str, Any]] = {}
    _MAPPERS.get(kind, _requests if kind == REQUESTS else _documents)(r, built, key, department)
    row.problems.extend(r.problems)
    row.notes = r.notes
    if row.problems:
        return row
    date_col = {step: col for step, _, col in STEPS[kind]}
    for step, _type, _ in STEPS[kind]:
        if step not in built:
            continue
        obj = {
            "event_id": event_id(department, kind, key, step),
            **{k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in built[step].items() if v is not None},
        }
        try:
            parse_event(obj)  # the same validation as the ingest path, before anything is sent
        except EventError as exc:
            row.problems.append(Problem(column_of(kind, step, exc.field), exc.reason))
            continue
        row.events.append(obj)
    if row.problems:
        row.events = []
        return row
    order = [s for s, _, _ in STEPS[kind]]
    # Ledger columns are in the order things happen; equal dates keep that order (received first).
    row.events.sort(key=lambda e: (_event_day(e), order.index(e["event_id"].rsplit(":", 1)[1])))
    if row.events and row.events[0]["event_id"].rsplit(":", 1)[1] != FIRST_STEP[kind]:
        first = row.events[0]
        start = row.events[[e["event_id"].rsplit(":", 1)[1] for e in row.events].index(FIRST_STEP[kind])]
        row.problems.append(
            Problem(
                date_col[first["event_id"].rsplit(":", 1)[1]],
                f"日期 {_event_day(first)} 早于{date_col[FIRST_STEP[kind]]} {_event_day(start)}",
            )
        )
        row.events = []
    return row


def _event_day(e: dict[str, Any]) -> str:
    for k in (
        "received_on",
        "signed_on",
        "published_on",
        "repealed_on",
        "assigned_on",
        "approved_on",
        "answered_on",
        "on",
    ):
        if k in e:
            return e[k]
    return ""


def map_rows(table: Table, department: str, department_names: Iterable[str] = ()) -> list[Row]:
    names = list(department_names)
    out: list[Row] = []
    first: dict[str, Row] = {}
    for n, values in table.canonical():
        row = map_row(table.kind, n, values, department, names)
        if row.key is not None and row.key in first:
            earlier = first[row.key]
            if row.ok and earlier.ok and row.events == earlier.events:
                row.duplicate_of = earlier.row
                row.events = []
            else:
                row.problems = [
                    Problem(
                        KEY[table.kind],
                        f"编号 {row.key} 与第 {earlier.row} 行重复且内容不同：同一编号在一份台账中只能出现一次",
                    )
                ]
                row.events = []
        elif row.key is not None:
            first[row.key] = row
        out.append(row)
    return out


def from_canonical(
    kind: str,
    rows: list[tuple[int, dict[str, Any]]],
    dropped: Sequence[str] = (),
    unknown: Sequence[str] = (),
    encoding: str = "",
) -> Table:
    """A table rebuilt from canonical rows (the upload page's confirm step carries these, never the file)."""
    cols = [c for c in COLUMNS[kind] if any(c in v for _, v in rows)]
    return Table(
        kind=kind,
        columns={c: i for i, c in enumerate(cols)},
        rows=[(n, [v.get(c) for c in cols]) for n, v in rows],
        dropped=list(dropped),
        unknown=list(unknown),
        encoding=encoding,
    )


def to_canonical_json(table: Table) -> list[list[Any]]:
    """JSON-ready canonical rows: Excel date cells as ISO dates; personal-data columns are not in it."""
    out = []
    for n, values in table.canonical():
        out.append(
            [
                n,
                {
                    c: (v.isoformat()[:10] if isinstance(v, (dt.date, dt.datetime)) else v)
                    for c, v in values.items()
                    if v is not None
                },
            ]
        )
    return out


TEMPLATE_EXAMPLES = {
    REQUESTS: {
        "受理编号": "YSQ-2026-001",
        "收到申请日期": "2026-03-02",
        "申请方式": "网络",
        "申请人类型": "自然人",
        "申请内容": "2025年度义务教育学校招生计划",
        "答复日期": "2026-03-20",
        "答复结果": "予以公开",
    },
    DOCUMENTS: {
        "文件编号": "钦教发〔2026〕1号",
        "文件标题": "关于做好2026年义务教育招生工作的通知",
        "文件类型": "行政规范性文件",
        "成文日期": "2026-03-02",
        "公开属性": "主动公开",
        "公开日期": "2026-03-10",
        "公开网址": "https://www.qinzhou.gov.cn/zwgk/2026/1.html",
        "是否需要解读": "是",
    },
    PROPOSALS: {
        "建议提案编号": "2026-建议-0123",
        "类别": "人大代表建议",
        "交办日期": "2026-03-31",
        "大会期间提出": "是",
        "涉及面广、处理难度大": "否",
        "标题": "关于加强乡村教师队伍建设的建议",
        "答复日期": "2026-06-20",
    },
    HOTLINE: {
        "工单编号": "12345-2026-000123",
        "接单日期": "2026-03-02",
        "诉求类型": "投诉",
        "诉求摘要": "小区周边道路施工噪音",
        "办结日期": "2026-03-10",
    },
}


CODE_SHEET = "代码表"
CODE_SHEET_HEADERS = (
    "列名",
    "取值（下拉列表）",
    "也可写作（照此理解）",
    "也可写作（按猜测理解，预览中提示）",
    "系统代码",
)


def template_xlsx(kind: str) -> bytes:
    """An empty ledger with the canonical headers (required ones bold, a note on each) and one example row;
    every coded column (ledger_vocab) has a drop-down list of its canonical names, read from the second
    sheet “代码表”, which lists each column's names and the other words accepted for them. The list is a
    warning, not a stop: the other words of 代码表 may be typed too (the preview says which were guesses)."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = KIND_LABELS[kind]
    cols = [c for c in COLUMNS[kind] if c != "部门"]
    vocabs = V.VOCABS[kind]
    ws.append(cols)
    for i, c in enumerate(cols, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font = Font(bold=c in REQUIRED[kind])
        syn = COLUMNS[kind][c]
        note = ("必填。" if c in REQUIRED[kind] else "选填。") + (f"也可写作：{'、'.join(syn)}" if syn else "")
        if c in vocabs:
            note += f"从下拉列表选择；其他写法见“{CODE_SHEET}”工作表。"
        cell.comment = Comment(note, "时限")
        ws.column_dimensions[cell.column_letter].width = max(12, len(c) * 2 + 4)
    example = TEMPLATE_EXAMPLES[kind]
    ws.append([parse_date(example[c]) if c.endswith("日期") and c in example else example.get(c) for c in cols])
    for i, c in enumerate(cols, start=1):
        if c.endswith("日期"):
            ws.cell(row=2, column=i).number_format = "yyyy-mm-dd"

    codes = wb.create_sheet(CODE_SHEET)
    codes.append(list(CODE_SHEET_HEADERS))
    for i in range(1, len(CODE_SHEET_HEADERS) + 1):
        codes.cell(row=1, column=i).font = Font(bold=True)
    grey = Font(color="808080")
    last_row = get_settings().ledger_max_rows + 1
    for c, vocab in vocabs.items():
        first = codes.max_row + 1
        for t in vocab.terms:
            exact, guess = vocab.synonyms(t)
            code = str(t.code).lower() if isinstance(t.code, bool) else t.code
            codes.append([c, t.name, "；".join(exact), "；".join(guess), code])  # a word may hold 、
            codes.cell(row=codes.max_row, column=5).font = grey
        if c not in cols:
            continue
        letter = column_letter(cols.index(c))
        dv = DataValidation(
            type="list",
            formula1=f"'{CODE_SHEET}'!$B${first}:$B${codes.max_row}",
            allow_blank=True,
            errorStyle="warning",
            showErrorMessage=True,
            errorTitle=f"“{c}”的取值",
            error=f"建议从下拉列表选择；“{CODE_SHEET}”工作表中的其他写法也可导入。",
        )
        dv.add(f"{letter}2:{letter}{last_row}")
        ws.add_data_validation(dv)
    for letter, width in zip("ABCDE", (14, 34, 48, 40, 30), strict=True):
        codes.column_dimensions[letter].width = width
    codes.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
