"""Channel policy (config/channels.toml) and the consolidation of reminders into messages. Pure.

A policy per channel kind (the Apprise URL's scheme): messages per minute per bot or app (one notify URL is
one bucket), a daily cap, how often identical content may go per day, quiet hours (Asia/Shanghai) and the
largest message in UTF-8 bytes; each entry names its source. `store/outbox.py` applies the numbers when it
drains a bucket; `consolidate` builds the messages.

Consolidation (issue 22 §1): reminders of the working-day ladder due at the same instant for the same person
and channel go out as one message listing the items, most urgent first (most working days overdue, then
fewest days left), each with its link and days left; a message that would exceed the channel's size is
split into parts (第 i/n 条). Hour-rule warnings and 督办 stay individual (`individual`), and may be sent
in quiet hours (an hour clock such as the 5-hour public-opinion response does not wait for the morning).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from domain.config import ConfigError, read_toml
from domain.quiet_hours import QuietHours, QuietHoursError, parse
from domain.shanghai import SHANGHAI

# The ladder steps a person's reminders of one instant are merged for (workflows' working-day ladder).
CONSOLIDATED_STEPS = frozenset({"t_minus_3", "t_minus_1", "due_today", "overdue_1", "overdue_repeat", "earliest_close"})
_KEYS = {"name", "schemes", "rate_per_minute", "daily_cap", "identical_per_day", "quiet_hours", "max_bytes"}
_KEYS |= {"source", "evidence"}
EVIDENCE = ("seen", "secondary", "local")
MIN_BYTES = 200  # a part must hold its header and at least one item line


@dataclass(frozen=True)
class ChannelPolicy:
    kind: str
    name: str
    source: str
    schemes: tuple[str, ...] = ()
    rate_per_minute: int | None = None
    daily_cap: int | None = None
    identical_per_day: int | None = None
    quiet_hours: QuietHours | None = None
    max_bytes: int = 16000
    evidence: str = "local"

    @property
    def limited(self) -> bool:
        return bool(self.rate_per_minute or self.daily_cap or self.identical_per_day or self.quiet_hours)


@dataclass(frozen=True)
class ChannelPolicies:
    default: ChannelPolicy
    kinds: dict[str, ChannelPolicy] = field(default_factory=dict)

    def for_scheme(self, scheme: str) -> ChannelPolicy:
        scheme = scheme.lower()
        for p in self.kinds.values():
            if scheme in p.schemes:
                return p
        return self.default

    def for_url(self, url: str) -> ChannelPolicy:
        return self.for_scheme(url.split("://", 1)[0].strip())


def _int(entry: dict[str, Any], key: str, where: str, *, minimum: int = 1) -> int | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{where}: {key} 须为不小于 {minimum} 的整数，不能是 {value!r}")
    return value


def parse_quiet_hours(value: Any, where: str) -> QuietHours | None:
    """domain/quiet_hours.py `parse`, its refusal as a ConfigError naming `where`."""
    try:
        return parse(value, where)
    except QuietHoursError as e:
        raise ConfigError(str(e)) from None


def _policy(kind: str, entry: Any, where: str) -> ChannelPolicy:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: 须为表（[kind.{kind}]）")
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: 未知字段 {', '.join(sorted(unknown))}（可用：{', '.join(sorted(_KEYS))}）")
    source = entry.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(f"{where}: 缺少 source（每条渠道限制须注明来源）")
    evidence = entry.get("evidence", "local")
    if evidence not in EVIDENCE:
        raise ConfigError(f"{where}: evidence 只能是 {' / '.join(EVIDENCE)}，不能是 {evidence!r}")
    schemes = entry.get("schemes", [])
    if not isinstance(schemes, list) or not all(isinstance(s, str) and s for s in schemes):
        raise ConfigError(f'{where}: schemes 须为协议名列表，如 ["wecombot"]')
    max_bytes = _int(entry, "max_bytes", where, minimum=MIN_BYTES) or 16000
    return ChannelPolicy(
        kind=kind,
        name=str(entry.get("name") or kind),
        source=source.strip(),
        schemes=tuple(s.lower() for s in schemes),
        rate_per_minute=_int(entry, "rate_per_minute", where),
        daily_cap=_int(entry, "daily_cap", where),
        identical_per_day=_int(entry, "identical_per_day", where),
        quiet_hours=parse_quiet_hours(entry.get("quiet_hours"), where),
        max_bytes=max_bytes,
        evidence=str(evidence),
    )


def quiet_until(policy: ChannelPolicy, now: datetime) -> datetime | None:
    """When the quiet window of `policy` that `now` falls in ends (Beijing time), or None when `now` is not in
    one. The only place that says so: the queue, single notices and the people page all ask here."""
    q = policy.quiet_hours
    if q is None:
        return None
    local = now.astimezone(SHANGHAI)
    if not q.contains(local):
        return None
    end = local.replace(hour=q.end.hour, minute=q.end.minute, second=0, microsecond=0)
    return end if end > local else end + timedelta(days=1)


# The SMS kind's schemes (domain/sms.py SMS_KINDS; not imported: this module stays free of provider code).
SMS_SCHEMES = ("smsaliyun", "smstencent")
SMS_QUIET_SOURCE = "SHIXIAN_SMS_QUIET_HOURS"


def with_sms_quiet_hours(policies: ChannelPolicies, value: str | None) -> ChannelPolicies:
    """`policies` with SHIXIAN_SMS_QUIET_HOURS in place of the SMS kind's quiet_hours (None: unset, the file's
    value stands; "" or "off": none). Without an SMS kind in the file the setting makes one."""
    if value is None:
        return policies
    quiet = None if value.strip().lower() in ("", "off") else parse_quiet_hours(value.strip(), SMS_QUIET_SOURCE)
    kinds = dict(policies.kinds)
    found = [k for k, p in kinds.items() if set(p.schemes) & set(SMS_SCHEMES)]
    for k in found:
        kinds[k] = replace(kinds[k], quiet_hours=quiet)
    if not found:
        kinds["sms"] = ChannelPolicy(
            kind="sms", name="短信", source=SMS_QUIET_SOURCE, schemes=SMS_SCHEMES, quiet_hours=quiet
        )
    return ChannelPolicies(default=policies.default, kinds=kinds)


def parse_policies(data: dict[str, Any], where: str = "channels.toml") -> ChannelPolicies:
    unknown = set(data) - {"default", "kind"}
    if unknown:
        raise ConfigError(f"{where}: 未知的表 {', '.join(sorted(unknown))}（可用：[default]、[kind.<名称>]）")
    default = _policy("default", data.get("default", {"source": "本系统默认"}), f"{where} [default]")
    if default.schemes:
        raise ConfigError(f"{where} [default]: 默认策略不能列 schemes")
    kinds: dict[str, ChannelPolicy] = {}
    seen: dict[str, str] = {}
    raw = data.get("kind", {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: kind 须为表（[kind.wecom] …）")
    for kind, entry in raw.items():
        p = _policy(kind, entry, f"{where} [kind.{kind}]")
        if not p.schemes:
            raise ConfigError(f"{where} [kind.{kind}]: 缺少 schemes（该类渠道的协议名）")
        for s in p.schemes:
            if s in seen:
                raise ConfigError(f"{where} [kind.{kind}]: 协议 {s} 已在 [kind.{seen[s]}] 中列出")
            seen[s] = kind
        kinds[kind] = p
    return ChannelPolicies(default=default, kinds=kinds)


def load_policies(root: Path) -> ChannelPolicies:
    """The policies of `root`/channels.toml (no file: no limits, the default size)."""
    path = root / "channels.toml"
    if not path.exists():
        return ChannelPolicies(default=ChannelPolicy(kind="default", name="default", source="本系统默认"))
    return parse_policies(read_toml(path), str(path))


def bucket_of(url: str) -> str:
    """The rate-limit bucket of a channel: one per notify URL (a bot, an app, an address), named by a hash so
    that no secret in the URL is stored with the queue."""
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def content_hash(title: str, body: str) -> str:
    return hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()


# ------------------------------------------------------------------------------------------ consolidation
@dataclass(frozen=True)
class Entry:
    """One item step in a consolidated reminder (already filtered for the channel: domain/channels.py)."""

    key: str  # its delivery key (store/deliveries.py): recorded once per item step
    item_id: str
    title: str  # "" on a group channel for a request (withheld)
    rule_name: str
    step_name: str
    due_text: str
    link: str
    working_days_left: int | None = None
    overdue_working_days: int | None = None

    def urgency(self) -> tuple[int, int, str, str]:
        over = self.overdue_working_days or 0
        if not over and isinstance(self.working_days_left, int) and self.working_days_left < 0:
            over = -self.working_days_left
        left = self.working_days_left if isinstance(self.working_days_left, int) else 10**6
        return (-over, left if not over else 0, self.due_text, self.item_id)

    def line(self, n: int) -> str:
        over = self.overdue_working_days or (
            -self.working_days_left if isinstance(self.working_days_left, int) and self.working_days_left < 0 else 0
        )
        if over:
            when = f"已逾期{over}个工作日"
        elif self.working_days_left == 0:
            when = "今日到期"
        elif isinstance(self.working_days_left, int):
            when = f"剩{self.working_days_left}个工作日"
        else:
            when = self.step_name
        name = self.title or self.item_id
        head = f"{n}. 【{when}】{name}（{self.item_id}）" if self.title else f"{n}. 【{when}】{name}"
        return f"{head}\n   {self.rule_name}，到期日 {self.due_text}\n   {self.link}"


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    keys: tuple[str, ...]  # the item steps it covers, in its order

    @property
    def size(self) -> int:
        return len(self.title.encode()) + 1 + len(self.body.encode())


def _size(text: str) -> int:
    return len(text.encode())


def _clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, on a character boundary, marked with …."""
    if _size(text) <= limit:
        return text
    out = text.encode()[: max(0, limit - 3)].decode(errors="ignore")
    return out + "…"


def consolidate(
    entries: Sequence[Entry], *, person_name: str, max_bytes: int, footer: str = "", app_link: str = ""
) -> list[Message]:
    """The messages for one person, one channel and one instant: the entries most urgent first, in parts no
    larger than `max_bytes` (title + body, UTF-8). Every entry is in exactly one part."""
    ordered = sorted(entries, key=Entry.urgency)
    if not ordered:
        return []
    overdue = sum(1 for e in ordered if e.urgency()[0] < 0)
    lead = f"{person_name}，您好：以下 {len(ordered)} 项事项需要办理" + (
        f"（其中已逾期 {overdue} 项，列在最前）。" if overdue else "，按紧迫程度排列。"
    )
    tail = "\n\n".join(t for t in (footer, app_link) if t)

    def title(part: int, parts: int, count: int) -> str:
        suffix = f"（第{part}/{parts}条）" if parts > 1 else ""
        return f"【提醒】{count}项事项临近或超过办理时限{suffix}"

    # Room for the header (title with the longest part suffix, the lead, the tail); the rest is for lines.
    head_room = _size(title(99, 99, len(ordered))) + 1 + _size(lead) + 2 + (_size(tail) + 2 if tail else 0)
    room = max_bytes - head_room
    if room < 60:
        raise ValueError(f"max_bytes {max_bytes} leaves no room for an item line")
    groups: list[list[tuple[Entry, str]]] = [[]]
    used = 0
    for e in ordered:
        line = _clip(e.line(len(groups[-1]) + 1), room)
        cost = _size(line) + 1
        if groups[-1] and used + cost > room:
            groups.append([])
            used = 0
            line = _clip(e.line(1), room)
            cost = _size(line) + 1
        groups[-1].append((e, line))
        used += cost
    out = []
    for i, g in enumerate(groups, start=1):
        body = lead + "\n\n" + "\n".join(line for _, line in g) + (f"\n\n{tail}" if tail else "")
        out.append(Message(title(i, len(groups), len(g)), body, tuple(e.key for e, _ in g)))
    return out


def individual(step: str, *, hours_rule: bool) -> bool:
    """Whether a notice goes out on its own: hour-rule warnings, 督办 and every step outside the ladder."""
    return hours_rule or step not in CONSOLIDATED_STEPS
