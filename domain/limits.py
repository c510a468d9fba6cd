"""Bounds on every input value (README "Events": ids, text limits, dates).

Pure checks shared by the event validation, the CLI and the API. Each raises `ValueError` with a
Chinese message; the caller names the field. Bounds keep a careless import from reaching places that
cannot cope (year 9999 overflows the calendar, a 5 MB title exceeds Temporal's 4 MB message limit,
a NUL byte breaks PostgreSQL and the xlsx writer).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from domain.shanghai import SHANGHAI
from domain.shanghai import today as today_shanghai

# Dates the engine accepts at all: the calendar and the statutory rules are meaningful in this range.
MIN_DAY = dt.date(1990, 1, 1)
MAX_DAY = dt.date(2100, 12, 31)
RANGE = f"{MIN_DAY.isoformat()} 至 {MAX_DAY.isoformat()}"
# A deadline the agency sets (a correction's respond_by) may lie ahead, but not further than this after
# the day it was set: a year is room for any real period, not for a typo in the year.
DEADLINE_AHEAD_DAYS = 366

# Ids: letters, digits, CJK ideographs (and 〇), - _ . : 〔 〕 ( ) （ ）; 1-128 characters; no "..".
# '#' is not allowed, so a sender's event_id can never collide with the engine's own (`...#open`).
ID_MAX = 128
ID_RE = re.compile(r"[A-Za-z0-9\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\-_.:〔〕()（）]{1,128}")
ID_RULE = "编号只能由字母、数字、汉字及 - _ . : 〔 〕 ( ) （ ） 组成，长度 1–128，不能含 “..”"

# Free-text limits (characters).
TEXT_MAX = {
    "title": 500,
    "subject": 2000,
    "reason": 1000,
    "withheld_reason": 1000,
    "disclosure_reason": 1000,
    "url": 2048,
    "approved_by": 100,
}
TEXT_DEFAULT_MAX = 200  # any other string (codes, names inside nested objects)
MULTILINE = {"subject", "reason", "withheld_reason", "disclosure_reason"}  # may hold line breaks and tabs
# Unicode category Cc (C0, DEL, C1) and lone surrogates (Cs: not encodable as UTF-8, so not storable).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def check_id(value: str) -> str:
    if not ID_RE.fullmatch(value) or ".." in value:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise ValueError(f"编号 “{_printable(shown)}” 无效：{ID_RULE}")
    return value


def check_text(value: str, field: str) -> str:
    """Control characters (and lone surrogates) are refused; the length is capped per field."""
    limit = TEXT_MAX.get(field, TEXT_DEFAULT_MAX)
    if len(value) > limit:  # first: a 5 MB value is refused without being scanned
        raise ValueError(f"过长：{len(value)} 个字符，最多 {limit} 个")
    bad = (_CONTROL_MULTILINE if field in MULTILINE else _CONTROL).search(value)
    if bad:
        raise ValueError(f"含控制字符 U+{ord(bad.group()):04X}（第 {bad.start() + 1} 个字符），不允许")
    return value


def check_day(day: dt.date, *, happened: bool = False, today: dt.date | None = None) -> dt.date:
    """1990-01-01 .. 2100-12-31; the date of a fact that has happened also not after the Shanghai date it
    is recorded on (`today`, default this process's today): a reply dated tomorrow has not been sent."""
    if not MIN_DAY <= day <= MAX_DAY:
        raise ValueError(f"日期 {day.isoformat()} 超出可受理范围（{RANGE}）")
    if happened:
        latest = today or today_shanghai()
        if day > latest:
            raise ValueError(future_reason(day, latest))
    return day


def future_reason(day: dt.date, today: dt.date) -> str:
    return f"日期 {day.isoformat()} 晚于登记当日 {today.isoformat()}：已发生的事实不能登记为将来的日期"


def check_deadline(day: dt.date, set_on: dt.date) -> dt.date:
    """A deadline set on `set_on`: not before it, and at most DEADLINE_AHEAD_DAYS after it."""
    latest = set_on + dt.timedelta(days=DEADLINE_AHEAD_DAYS)
    if day > latest:
        raise ValueError(
            f"期限 {day.isoformat()} 距 {set_on.isoformat()} 超过 {DEADLINE_AHEAD_DAYS} 天（最晚 {latest.isoformat()}）"
        )
    return day


def check_moment(moment: dt.datetime, *, happened: bool = False, today: dt.date | None = None) -> dt.datetime:
    """Bounded like its Asia/Shanghai date (an offset near year 1 or 9999 overflows: refused too)."""
    try:
        local = moment.astimezone(SHANGHAI) if moment.tzinfo else moment
    except OverflowError:
        raise ValueError(f"时间 {moment.isoformat()} 超出可受理范围（{RANGE}）") from None
    check_day(local.date(), happened=happened, today=today)
    return moment


def parse_iso_day(text: str) -> dt.date:
    """Strict YYYY-MM-DD (no timestamps, no week dates) within the bounds."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text or ""):
        raise ValueError(f"“{_printable(str(text)[:40])}” 不是有效日期（应为 YYYY-MM-DD）")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"“{text}” 不是有效日期（应为 YYYY-MM-DD）") from None
    return check_day(day)


def _printable(text: str) -> str:
    return "".join(ch if unicodedata.category(ch)[0] != "C" else f"\\u{ord(ch):04x}" for ch in text)
