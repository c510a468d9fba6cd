"""Quiet hours (免打扰时段) as config/channels.toml and SHIXIAN_SMS_QUIET_HOURS write them. Pure, no imports
of the product: domain/settings.py checks the variable with it at start-up, domain/channel_policy.py parses
channels.toml with it and says when a window ends (`quiet_until`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any


class QuietHoursError(ValueError):
    """A quiet-hours value is malformed; the message is Chinese and names where it was written."""


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        t = local.time()
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end  # across midnight

    def text(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


def _clock(text: str, where: str) -> time:
    try:
        hh, mm = text.strip().split(":")
        return time(int(hh), int(mm))
    except ValueError:
        raise QuietHoursError(f'{where}: quiet_hours 的时刻须写成 "HH:MM"，不能是 "{text}"') from None


def parse(value: Any, where: str) -> QuietHours | None:
    """`"HH:MM-HH:MM"` (Beijing time, may wrap midnight) → QuietHours; None or "" → none."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or value.count("-") != 1:
        raise QuietHoursError(f'{where}: quiet_hours 须写成 "22:00-07:30"（北京时间，可跨零点），不能是 {value!r}')
    a, b = value.split("-")
    start, end = _clock(a, where), _clock(b, where)
    if start == end:
        raise QuietHoursError(f"{where}: quiet_hours 的起止时刻相同（{value}）")
    return QuietHours(start, end)
