"""Pinned "today" for the date-sensitive tests (README "Tests on any day").

`SHIXIAN_TEST_TODAY=YYYY-MM-DD` makes a pytest session run as if it were 10:00 Asia/Shanghai on that day:
tests/conftest.py moves this process's clock (`domain.shanghai.set_offset`) and skips every time-skipping
Temporal server forward to the same instant when it starts. That server can only move forward, so a pinned
day is never before the real today: `python -m tests.pins` prints the next days after today that broke
tests before (a Friday before a holiday, a make-up Saturday, December 31), computed with the project's
calendar, one `DAY [CONFIG_DIR]` per line (scripts/test runs the marked tests once per line).

No make-up Saturday may lie ahead in the published data (2026's last was 10-10; the calendar invents no
调休 for a provisional year): then the next Saturday of a published year becomes one through a test notice
(a national calendar file in a copy of config/, passed as SHIXIAN_CONFIG_DIR), so the pinned run still sees
a Saturday that is a working day.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import tempfile
from pathlib import Path

from domain.config import REPO_CONFIG
from domain.shanghai import SHANGHAI

PIN_ENV = "SHIXIAN_TEST_TODAY"
PIN_TIME = dt.time(10, 0)
HORIZON = 800  # days searched ahead
TEST_NOTICE = "zz-test-makeup-saturday.toml"


def pinned_day() -> dt.date | None:
    text = os.environ.get(PIN_ENV)
    return dt.date.fromisoformat(text) if text else None


def pinned_instant(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, PIN_TIME, SHANGHAI)


def _calendar(directory: Path | None = None):
    from domain.calendar import load_calendar

    return load_calendar(directory or REPO_CONFIG)


def friday_before_holiday(after: dt.date, cal=None) -> dt.date:
    """The first working Friday after `after` whose next three days hold a holiday (not just a weekend)."""
    cal = cal or _calendar()
    for k in range(1, HORIZON):
        d = after + dt.timedelta(days=k)
        if d.weekday() != 4 or not cal.is_workday(d):
            continue
        nxt = [cal.day(d + dt.timedelta(days=i)) for i in (1, 2, 3)]
        if any(not n.workday and n.origin != "weekend" for n in nxt):
            return d
    raise LookupError("no Friday before a holiday in the horizon")


def makeup_saturday(after: dt.date, cal=None) -> dt.date | None:
    """The first Saturday after `after` that is a national make-up working day, None if none is known."""
    cal = cal or _calendar()
    for k in range(1, HORIZON):
        d = after + dt.timedelta(days=k)
        if d.weekday() == 5 and cal.is_workday(d):
            return d
    return None


def december_31(after: dt.date) -> dt.date:
    d = dt.date(after.year, 12, 31)
    return d if d > after else dt.date(after.year + 1, 12, 31)


def statutory_days_off(year: int) -> str:
    """`[days_off]` lines for every holiday the decree fixes in `year`: a national test notice for a year
    without published data must list them (domain.calendar.check_national_complete)."""
    from domain.calendar import statutory_holidays

    return "".join(f'"{d.isoformat()}" = "{n}"\n' for d, n in statutory_holidays(year).items())


def config_with_makeup(day: dt.date) -> Path:
    """A copy of config/ whose calendar makes `day` (a Saturday) a make-up working day."""
    dst = Path(tempfile.mkdtemp(prefix="shixian-pin-")) / "config"
    shutil.copytree(REPO_CONFIG, dst)
    off = "" if day.year in _package_years() else f"[days_off]\n{statutory_days_off(day.year)}"
    (dst / "calendars" / TEST_NOTICE).write_text(
        f'region = "national"\nsource = "测试用调休安排（tests/pins.py 生成，仅用于固定日期的测试）"\n'
        f'{off}[workdays]\n"{day.isoformat()}" = "测试调休上班"\n',
        encoding="utf-8",
    )
    return dst


def _package_years() -> frozenset[int]:
    from domain.calendar import PACKAGE_YEARS

    return PACKAGE_YEARS


def pins(today: dt.date) -> list[tuple[dt.date, Path | None]]:
    """The pinned days after `today`, each with the config directory it needs (None: the repository's)."""
    cal = _calendar()
    out: list[tuple[dt.date, Path | None]] = [(friday_before_holiday(today, cal), None)]
    saturday = makeup_saturday(today, cal)
    if saturday is not None:
        out.append((saturday, None))
    else:
        saturdays = [
            today + dt.timedelta(days=k) for k in range(1, 15) if (today + dt.timedelta(days=k)).weekday() == 5
        ]
        # A published year keeps the rest of the calendar as it is (a notice on a provisional year would
        # make that whole year published).
        published = [d for d in saturdays if not cal.is_provisional_year(d.year)]
        saturday = (published or saturdays)[0]
        out.append((saturday, config_with_makeup(saturday)))
    out.append((december_31(today), None))
    return out


async def start_time_skipping(test_server_path: str):
    """A time-skipping test server (pydantic converter); with SHIXIAN_TEST_TODAY its clock first skips to
    the pinned instant. The server only moves forward: a pinned day before the real today is an error."""
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=test_server_path, data_converter=pydantic_data_converter
    )
    day = pinned_day()
    if day is not None:
        now = await env.get_current_time()
        if now.astimezone(SHANGHAI).date() > day:
            await env.shutdown()
            raise RuntimeError(f"{PIN_ENV}={day} 早于真实的今天：时间跳跃测试服务器不能倒退")
        ahead = pinned_instant(day) - now
        if ahead > dt.timedelta(0):
            await env.sleep(ahead)
    return env


def main() -> int:
    today = dt.datetime.now(SHANGHAI).date()
    for day, config in pins(today):
        print(day.isoformat(), config or "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
