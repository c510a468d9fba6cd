"""Time in one place: Asia/Shanghai, "today", the end of a day, ISO parsing.

Dates travel as `date`/`datetime` inside the code and as ISO strings only at the edges (JSON, the store,
Temporal payloads). The due instant of a day is its last second, 23:59:59+08:00 (README, counting rules).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

TZ_NAME = "Asia/Shanghai"  # for the places that take a name (Temporal schedules)
SHANGHAI = ZoneInfo(TZ_NAME)
# China has had no daylight saving time since 1991: the fixed offset is exact and needs no tz database
# (workflow code uses it, in the sandbox too: a tz database lookup reads files).
SHANGHAI_OFFSET = dt.timezone(dt.timedelta(hours=8), TZ_NAME)
END_OF_DAY = dt.time(23, 59, 59)


# The process's one clock. Tests move it (`set_offset`) to agree with a time-skipping Temporal server or a
# pinned "today"; nothing else reads the host's wall clock directly.
_offset = dt.timedelta(0)


def set_offset(offset: dt.timedelta) -> dt.timedelta:
    """Shift this process's clock by `offset` from the host's; returns the previous offset."""
    global _offset
    previous, _offset = _offset, offset
    return previous


def now() -> dt.datetime:
    return dt.datetime.now(SHANGHAI) + _offset


def today() -> dt.date:
    """The Shanghai calendar date (never the machine's local date)."""
    return now().date()


def end_of_day(day: dt.date) -> dt.datetime:
    """The due instant of a day: 23:59:59 Asia/Shanghai."""
    return dt.datetime.combine(day, END_OF_DAY, SHANGHAI)


def parse_date(value: str | dt.date) -> dt.date:
    """An ISO date (a datetime string gives its date part)."""
    if isinstance(value, dt.datetime):
        return local(value).date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def parse_instant(value: str | dt.datetime | dt.date) -> dt.datetime:
    """An ISO instant, +08:00 assumed when no offset is given; a bare date means the end of that day."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        return end_of_day(value)
    else:
        text = str(value)
        if len(text) == 10:
            return end_of_day(dt.date.fromisoformat(text))
        moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def local(moment: dt.datetime) -> dt.datetime:
    """The same instant on the Shanghai wall clock (naive values are taken as Shanghai time)."""
    return moment.replace(tzinfo=SHANGHAI) if moment.tzinfo is None else moment.astimezone(SHANGHAI)


def due_day(due: str) -> dt.date:
    """The Shanghai day of a stored due value (a date, or an hour rule's instant)."""
    return local(dt.datetime.fromisoformat(due)).date() if len(due) > 10 else dt.date.fromisoformat(due)
