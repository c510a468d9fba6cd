"""基层政务公开标准目录 (国办发〔2019〕54号): a catalogue file's rows as a node's duties, each with its
公开时限 read into a period, and the rules those duties give (`duty_<node>_<id>`, `…@<change id>` for a version a
re-import made). Pure: no store, no I/O.

Reading of the 公开时限 text (`parse_limit`), the choices made:
- "信息形成或变更之日起20个工作日内" / "3个工作日" → working days; "7日" / "7天" / "7个自然日" → calendar days;
  "1个月" → months; "1年内" → years. Chinese numerals (二十) are read too.
- "实时" / "即时" → 0 working days: due the same day the information is formed (the one reading that can be
  checked; a catalogue saying "real time" cannot mean later than that day).
- "及时" without a number → 20 working days: 条例第二十六条 sets “自该政府信息形成或者变更之日起20个工作日内及时公开”
  for every 主动公开 item where no other law sets a limit, so "及时" is that clock (noted on the duty).
- "长期公开" / "常态化" / "常年" → a standing duty: recorded, no clock, no deadline.
- "每月" / "每季度" / "每半年" / "每年" → a recurring duty of 1 / 3 / 6 / 12 months.
- "每年3月31日前" / "3月31日前" / "每年1月底前" → a fixed date (the next such day on or after the information is
  formed); "次年3月31日前" → that day of the year after the one the information is formed in (formed
  2026-02-10: due 2027-03-31, where 每年 gives 2026-03-31; `year_offset` 1, kept in the duty row's `length`,
  which a fixed date does not use); a date with its year ("2021年3月1日起实时公开") is when the duty began, not a period:
  dates are taken out before the periods are read, so "3月31日" is never 31 days.
- "每季度结束后10日内" / "次月10日前": counted from the end of each calendar period, which no clock here does
  (a recurring clock runs from the last publication): refused, like "每月10日前".
- "同上" → the previous row's 公开时限 (catalogues write it so).
- Anything else (two different periods in one cell, "按规定时限", "法定时限") is refused with its reason: an
  import is all-or-nothing and names the file, line, column and text of every refused row.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from domain.ledger import LedgerError, _raw_rows, column_letter, norm
from domain.rules import Rule

SOURCE_2019 = "《国务院办公厅关于全面推进基层政务公开标准化规范化工作的指导意见》（国办发〔2019〕54号）"
ART_26 = "《中华人民共和国政府信息公开条例》第二十六条：“属于主动公开范围的政府信息，应当自该政府信息形成或者变更之日起20个工作日内及时公开。”"
START_EVENT = "duty.formed"
MET_BY = ("duty.published",)


class LimitRefused(ValueError):
    """The 公开时限 text does not give a period the engine can count (the reason is the message)."""


@dataclass(frozen=True)
class Period:
    kind: str  # "clock" | "standing"
    unit: str | None = None  # rules.py units
    length: int = 0
    recurring: bool = False
    month: int | None = None  # fixed_date
    day: int | None = None
    year_offset: int = 0  # fixed_date: 1 for 次年 (the year after the information is formed)
    note: str = ""  # how the text was read, where it is a choice (实时, 及时, 同上)

    @property
    def text(self) -> str:
        if self.kind == "standing":
            return "长期公开（无时限）"
        if self.unit == "fixed_date":
            return f"{'次年' if self.year_offset else '每年'}{self.month}月{self.day}日前"
        if self.unit == "working_days" and self.length == 0:
            return "当日"
        return f"{'每' if self.recurring else ''}{self.length}{_UNIT_NAMES[self.unit or '']}"

    @property
    def stored_length(self) -> int:
        """The duty row's `length`: a fixed date has no length, so the column carries its year offset
        (no migration; `period_of` reads it back)."""
        return self.year_offset if self.unit == "fixed_date" else self.length


_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def chinese_number(text: str) -> int:
    """'20' / '二十' / '十五' / '一百二十' → int (ValueError otherwise)."""
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch in _DIGITS:
            current = _DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            raise ValueError(text)
    return total + current


_NUM = r"(\d+|[零〇一二两三四五六七八九十百]+)"
_UNITS = (
    (re.compile(_NUM + r"个?工作日"), "working_days"),
    (re.compile(_NUM + r"个?(?:自然日|日历日)"), "calendar_days"),
    (re.compile(_NUM + r"个月"), "months"),
    (re.compile(_NUM + r"(?:日|天)(?!历)"), "calendar_days"),
    (re.compile(_NUM + r"年(?:内|之内|以内)"), "years"),
)
_UNIT_NAMES = {"working_days": "个工作日", "calendar_days": "日", "months": "个月", "years": "年"}
# "(每年|次年)M月D日前" / "M月底前": a yearly date; a year written before it ("2021年3月31日前") is one day, once
_FIXED = re.compile(_NUM + r"月(?:" + _NUM + r"[日号]|底|末)(?:前|之前|以前)")
_YEAR_BEFORE = re.compile(r"(?:\d+|[零〇一二两三四五六七八九十百]+)年$")  # "2021年", not "每年" / "次年"
# any date "(YYYY年)M月D日" / "M月底": taken out before the periods are read
_DATE = re.compile(r"(?:" + _NUM + r"年)?" + _NUM + r"月(?:" + _NUM + r"[日号]|底|末)")
# a period counted from the end of each month / quarter / year ("每季度结束后10日内", "次月10日前")
_FROM_PERIOD_END = re.compile(r"(?:月|季度|季|半年|年度)(?:结束|终了|届满|期满|末)后|(?:次|下)(?:月|季度|季)")
_RECURRING = (("每月", 1), ("每季度", 3), ("每季", 3), ("每半年", 6), ("每年", 12))
_STANDING = ("长期公开", "长期", "常态化", "常年公开", "常年")
_SAME_DAY = ("实时", "即时")
_VAGUE = ("及时",)


def _clean(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _fixed(m: re.Match, year_offset: int = 0) -> Period:
    month = chinese_number(m.group(1))
    if m.group(2) is None:  # 月底 / 月末: the month's last day (February's 28th: a date every year has)
        day = calendar.monthrange(2001, month)[1] if 1 <= month <= 12 else 0
    else:
        day = chinese_number(m.group(2))
    if (month, day) == (2, 29):
        raise LimitRefused(f"“{m.group(0)}”不是每年都有的日期：请改为2月28日或月底")
    try:
        dt.date(2001, month, day)
    except (ValueError, OverflowError):
        raise LimitRefused(f"“{m.group(0)}”不是有效日期") from None
    return Period("clock", "fixed_date", 0, month=month, day=day, year_offset=year_offset)


def parse_limit(text: str) -> Period:
    """The period of one 公开时限 cell (LimitRefused with the reason when it has none the engine can count)."""
    t = _clean(text)
    if not t:
        raise LimitRefused("公开时限为空")
    if re.search(r"(?:每|次|下)月" + _NUM + r"[日号]", t):
        raise LimitRefused("“每月某日前”是按月的固定日期，本系统的固定日期只按年（每年某月某日前）：请改写为期限")
    if _FROM_PERIOD_END.search(t) and any(p.search(t) for p, _u in _UNITS):
        raise LimitRefused(
            "“每季度（每月）结束后若干日内”从每期结束时起算，本系统的周期从上次公开起算：请改写为每年某月某日前或期限"
        )
    if m := _FIXED.search(t):
        if year := _YEAR_BEFORE.search(t[: m.start()]):
            raise LimitRefused(f"“{year.group(0)}{m.group(0)}”是某一年的日期，不是每年的公开时限：请写“每年…前”")
        return _fixed(m, 1 if t[: m.start()].endswith("次年") else 0)
    t = _DATE.sub("", t)  # "2021年3月1日起实时公开": the day the duty began, not a period of 1 day
    if "不少于" in t or "不低于" in t:
        raise LimitRefused("“不少于”是最短公示期（期满前不得结束），不是公开时限：请另行登记为公示期")
    found: set[tuple[str, int]] = set()
    spans: list[tuple[int, int]] = []
    for pattern, unit in _UNITS:
        for m in pattern.finditer(t):
            if any(s <= m.start() < e for s, e in spans):
                continue  # "20个工作日" already read: its "日" is not a second period
            spans.append(m.span())
            found.add((unit, chinese_number(m.group(1))))
    recurring = next((months for word, months in _RECURRING if word in t), None)
    if len(found) > 1:
        shown = "、".join(f"{n}{_UNIT_NAMES[u]}" for u, n in sorted(found))
        raise LimitRefused(f"一格中有多个期限（{shown}），无法确定哪一个是公开时限")
    if found:
        ((unit, n),) = found
        if n > 3660:
            raise LimitRefused(f"期限 {n} 过长，疑为笔误")
        if n == 0 and unit != "working_days":
            raise LimitRefused("期限为 0")
        if recurring is not None and unit not in ("months", "years"):
            return Period("clock", unit, n, recurring=True)
        return Period("clock", unit, n, recurring=recurring is not None)
    if recurring is not None:
        return Period("clock", "months", recurring, recurring=True)
    if any(w in t for w in _SAME_DAY):
        return Period("clock", "working_days", 0, note="“实时/即时”按当日公开计（形成当日即到期）")
    if any(w in t for w in _STANDING):
        return Period("standing", note="长期公开事项：登记备查，无时限")
    if any(w in t for w in _VAGUE):
        return Period("clock", "working_days", 20, note="“及时”未写天数，按" + ART_26 + "计 20 个工作日")
    raise LimitRefused("无法从公开时限中读出期限（应写明如“20个工作日”“7日”“1个月”“实时”“长期公开”“每季度”）")


# --------------------------------------------------------------------------------------------- reading
# canonical field -> accepted headers (normalised: NFKC, no spaces); the catalogues print the 一级/二级事项,
# 公开对象, 公开方式 and 公开层级 headers over two rows, with a √ under the sub-header that applies.
HEADERS: dict[str, tuple[str, ...]] = {
    "seq": ("序号", "编号", "事项编号"),
    "level1": ("一级事项", "公开事项一级", "一级"),
    "level2": ("二级事项", "公开事项二级", "二级", "公开事项"),
    "content": ("公开内容(要素)", "公开内容", "公开要素", "公开内容(要素)及要求"),
    "basis": ("公开依据", "依据"),
    "limit": ("公开时限", "时限"),
    "subject": ("公开主体", "责任主体", "公开责任主体"),
    "channels": ("公开渠道和载体", "公开渠道", "公开载体", "公开渠道及载体"),
    "audience": ("公开对象",),
    "mode": ("公开方式",),
    "tier": ("公开层级",),
}
LABELS = {
    "seq": "序号",
    "level1": "一级事项",
    "level2": "二级事项",
    "content": "公开内容（要素）",
    "basis": "公开依据",
    "limit": "公开时限",
    "subject": "公开主体",
    "channels": "公开渠道和载体",
    "audience": "公开对象",
    "mode": "公开方式",
    "tier": "公开层级",
}
REQUIRED = ("seq", "level2", "basis", "limit")
# sub-headers of the check-mark groups: their columns hold √ (or ■) where the value applies
CHECK_GROUPS = {
    "audience": ("全社会", "特定群众", "特定群体"),
    "mode": ("主动", "依申请公开", "依申请"),
    "tier": ("县级", "乡级", "镇级", "村级", "市级", "区级", "乡镇级", "街道级"),
}
_TICKS = {"√", "✓", "✔", "■", "●", "是", "v", "V"}
_LOOKUP = {norm(h): key for key, hs in HEADERS.items() for h in hs}
_SUB = {norm(s): (group, s) for group, subs in CHECK_GROUPS.items() for s in subs}


@dataclass(frozen=True)
class CatalogueProblem:
    line: int
    column: str  # Excel letter
    field: str  # Chinese header
    text: str
    reason: str

    def message(self, filename: str) -> str:
        return f"{filename}: 第 {self.line} 行 {self.column} 列（{self.field}）“{self.text}”：{self.reason}"


@dataclass(frozen=True)
class DutyRow:
    line: int
    seq: str
    values: dict[str, str]  # canonical field -> text ("" when absent)
    period: Period

    def fingerprint(self) -> dict[str, Any]:
        """What a re-import compares: the row's text and the period read from it."""
        return {**self.values, "period": self.period.text}


@dataclass
class Catalogue:
    filename: str
    rows: list[DutyRow] = field(default_factory=list)
    problems: list[CatalogueProblem] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # headers ignored

    @property
    def ok(self) -> bool:
        return not self.problems


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return re.sub(r"[ \t]*\n[ \t]*", " ", str(v)).strip()


def _header(rows: list[list[Any]], filename: str) -> tuple[int, dict[str, int], dict[int, tuple[str, str]], list[str]]:
    """(index of the last header row, field -> column, column -> (check group, sub-header), unknown headers)."""
    k = next(
        (i for i, r in enumerate(rows[:20]) if any(_LOOKUP.get(norm(c)) == "limit" for c in r if c is not None)), None
    )
    if k is None:
        raise LedgerError(f"{filename}: 前 20 行中找不到含“公开时限”的表头行：不是基层政务公开标准目录的表格")
    top = [norm(c) if c is not None else "" for c in rows[k]]
    sub = [norm(c) if c is not None else "" for c in rows[k + 1]] if k + 1 < len(rows) else []
    at = next(i for i, n in enumerate(top) if _LOOKUP.get(n) == "limit")
    # a second header row: sub-headers under merged cells, the 公开时限 cell itself merged down (empty)
    two_rows = not (sub[at] if at < len(sub) else "") and any(
        s in _SUB or _LOOKUP.get(s) in ("level1", "level2") for s in sub
    )
    columns: dict[str, int] = {}
    checks: dict[int, tuple[str, str]] = {}
    unknown: list[str] = []
    group = ""  # the merged top header a sub-header sits under
    for i in range(max(len(top), len(sub) if two_rows else 0)):
        t = top[i] if i < len(top) else ""
        s = sub[i] if two_rows and i < len(sub) else ""
        group = t or group
        if s in _SUB:
            checks[i] = (_SUB[s][0], _SUB[s][1])
            continue
        if s and _LOOKUP.get(group) in CHECK_GROUPS:  # e.g. 镇(街)级 under a merged 公开层级
            checks[i] = (_LOOKUP[group], s)
            continue
        name = s or t
        key = _LOOKUP.get(name)
        if s and key is None:
            key = _LOOKUP.get(s)
        if key == "level2" and name == "公开事项" and two_rows:
            key = None  # the merged 公开事项 over 一级/二级: its sub-headers name the columns
        if key is None:
            if name:
                unknown.append(name)
            continue
        if key in columns:
            raise LedgerError(
                f"{filename}: 第 {k + 1} 行表头第 {column_letter(columns[key])} 列与第 {column_letter(i)} 列都是"
                f"“{LABELS[key]}”：请删去或改名其中一列，未导入任何内容"
            )
        columns[key] = i
    missing = [LABELS[c] for c in REQUIRED if c not in columns]
    if missing:
        raise LedgerError(f"{filename}: 第 {k + 1} 行表头缺少必填列 {'、'.join(missing)}，未导入任何内容")
    return (k + 1 if two_rows else k), columns, checks, unknown


def read_catalogue(data: bytes, filename: str) -> Catalogue:
    """Every row of a catalogue file (xlsx or csv) with its period, or the problems naming each refused row.
    Lines starting with '#' before the header (the shipped files' source comment) are skipped."""
    raw, _enc = _raw_rows(data, filename)
    body_from, columns, checks, unknown = _header(
        [[] if (r and isinstance(r[0], str) and r[0].lstrip().startswith("#")) else r for r in raw], filename
    )
    out = Catalogue(filename, unknown=unknown)
    seen: dict[str, int] = {}
    previous_limit = ""
    for n, cells in enumerate(raw[body_from + 1 :], start=body_from + 2):
        values = {k: _text(cells[i] if i < len(cells) else None) for k, i in columns.items()}
        if not any(values.values()) and not any(_text(c) for c in cells):
            continue
        if cells and isinstance(cells[0], str) and cells[0].lstrip().startswith("#"):
            continue
        for i, (grp, name) in checks.items():
            if i < len(cells) and _text(cells[i]) in _TICKS:
                values[grp] = "、".join(x for x in (values.get(grp, ""), name) if x)
        values = {k: values.get(k, "") for k in LABELS}

        def refuse(key: str, reason: str, _n: int = n, _v: dict = values) -> None:
            col = column_letter(columns[key]) if key in columns else "-"
            out.problems.append(CatalogueProblem(_n, col, LABELS[key], _v.get(key, ""), reason))

        seq = values["seq"]
        if not seq:
            refuse("seq", "缺少序号（重新导入时据此认出同一事项）")
            continue
        if seq in seen:
            refuse("seq", f"序号与第 {seen[seq]} 行重复")
            continue
        seen[seq] = n
        if not values["level2"] and not values["level1"]:
            refuse("level2", "缺少公开事项")
            continue
        if not values["basis"]:
            refuse("basis", "缺少公开依据（每个时限都须注明依据）")
            continue
        limit = values["limit"]
        if _clean(limit) in ("同上", "同前", "同上栏"):
            if not previous_limit:
                refuse("limit", "“同上”但上面没有可引用的公开时限")
                continue
            values["limit"] = limit = previous_limit
        try:
            period = parse_limit(limit)
        except LimitRefused as exc:
            refuse("limit", str(exc))
            continue
        previous_limit = limit
        out.rows.append(DutyRow(n, seq, values, period))
    return out


# --------------------------------------------------------------------------------------------- rules
CATALOGUE_MARK = "标准目录"


def duty_rule_id(node: str, duty_id: int, version: int | None = None) -> str:
    """`duty_<node>_<id>` for a duty as first imported; `duty_<node>_<id>@<change id>` for it as a re-import
    changed it (each version its own rule: an item keeps the period it was formed under)."""
    return f"duty_{node}_{duty_id}" + (f"@{version}" if version is not None else "")


def duty_name(values: dict[str, str]) -> str:
    return values.get("level2") or values.get("level1") or ""


def duty_rule(
    node: str,
    duty_id: int,
    area: str,
    values: dict[str, str],
    period: Period,
    version: int | None = None,
    current: bool = True,
) -> Rule | None:
    """The clock of one version of a stored duty (None for a standing duty: no deadline). Its source is the
    row's 公开依据 and the catalogue's row; its quote is the row's own 公开时限 text.

    No `nodes`: the duty's id in `when` picks it for an item, and services.catalogue.duty_refusal admits the
    departments of the duty's node and of every node below it (a county's duty, a township's item). A version
    a later re-import superseded (`current` False) starts no new clock (`when` no duty id matches) but stays a
    rule: the open items formed under it keep counting by it."""
    if period.kind == "standing" or period.unit is None:
        return None
    source = f"{values.get('basis', '')}；{area}领域基层政务公开标准目录 第 {values.get('seq', '')} 项（{SOURCE_2019}）"
    quote = values.get("limit", "") + (f"（{period.note}）" if period.note else "")
    return Rule(
        id=duty_rule_id(node, duty_id, version),
        name=f"{duty_name(values)}（{CATALOGUE_MARK}）",
        unit=period.unit,  # type: ignore[arg-type]
        length=period.length,
        start_event=START_EVENT,
        source=source,
        quote=quote,
        met_by=MET_BY,
        month=period.month,
        day=period.day,
        year_offset=period.year_offset,
        when=(("duty", (duty_id,) if current else ()),),
        recurring=period.recurring,
    )


def period_of(unit: str | None, length: int, recurring: bool, month: int | None, day: int | None) -> Period:
    """The Period a stored duty row holds (the store keeps its fields, not the object)."""
    if unit is None:
        return Period("standing")
    if unit == "fixed_date":  # the length column carries the year offset (Period.stored_length)
        return Period("clock", unit, 0, month=month, day=day, year_offset=length)
    return Period("clock", unit, length, recurring=recurring, month=month, day=day)
