"""The receipt date of a request by its channel (条例第三十一条, 国办公开办函〔2015〕207号 一), and the fee
pause (国办函〔2020〕109号). Pure; reads config/receipt.toml.

The rule belongs to the channel, not to a clock rule: every clock a request starts counts from the one
receipt date derived here. `basis` lists the event fields that can fix it, in order; the first one present
wins (a platform's `submitted_at` over what a clerk typed as `received_on`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domain.config import ConfigError, config_dir, read_toml
from domain.shanghai import SHANGHAI

BASIS_FIELDS = ("submitted_at", "confirmed_on", "received_on")
BASIS_NAMES = {
    "submitted_at": "平台或邮件系统记录的提交时间",
    "confirmed_on": "与申请人双方确认之日",
    "received_on": "登记的收到日期",
}
CHANNELS = ("in_person", "post_registered", "post_ordinary", "online", "email", "fax", "other")


@dataclass(frozen=True)
class ChannelRule:
    channel: str
    name: str
    basis: tuple[str, ...]
    source: str
    quote: str
    unreachable: bool = False


@dataclass(frozen=True)
class FeeRule:
    payment_working_days: int
    source: str
    quote: str


@dataclass(frozen=True)
class ReceiptConfig:
    channels: dict[str, ChannelRule]
    fee: FeeRule


def parse_receipt(data: dict, filename: str = "receipt.toml") -> ReceiptConfig:
    unknown = set(data) - {"receipt", "fee"}
    if unknown:
        raise ConfigError(f"{filename}: 未知表 “{sorted(unknown)[0]}”（可用：receipt、fee）")
    raw = data.get("receipt")
    if not isinstance(raw, dict):
        raise ConfigError(f"{filename}: 缺少 [receipt.<渠道>] 表")
    channels: dict[str, ChannelRule] = {}
    for ch, entry in raw.items():
        where = f"{filename}: [receipt.{ch}]"
        if ch not in CHANNELS:
            raise ConfigError(f"{where}: 未知渠道（可用：{', '.join(CHANNELS)}）")
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: 必须是表")
        bad = set(entry) - {"name", "basis", "source", "quote", "unreachable"}
        if bad:
            raise ConfigError(f"{where}: 未知字段 “{sorted(bad)[0]}”")
        for key in ("name", "source", "quote"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise ConfigError(f"{where}: 缺少字段 “{key}”（每个渠道须注明依据与原文）")
        basis = entry.get("basis")
        if not isinstance(basis, list) or not basis or any(b not in BASIS_FIELDS for b in basis):
            raise ConfigError(f"{where}: basis 须为 {', '.join(BASIS_FIELDS)} 中的一项或多项")
        if basis[-1] != "received_on":
            raise ConfigError(f"{where}: basis 的最后一项须为 received_on（其他字段未填写时按登记的收到日期）")
        unreachable = entry.get("unreachable", False)
        if not isinstance(unreachable, bool):
            raise ConfigError(f"{where}: unreachable 应为 true 或 false")
        channels[ch] = ChannelRule(ch, entry["name"], tuple(basis), entry["source"], entry["quote"], unreachable)
    missing = [c for c in CHANNELS if c not in channels]
    if missing:
        raise ConfigError(f"{filename}: 缺少渠道 {', '.join(f'[receipt.{c}]' for c in missing)}")
    fee = data.get("fee", {})
    if not isinstance(fee, dict):
        raise ConfigError(f"{filename}: [fee] 必须是表")
    bad = set(fee) - {"payment_working_days", "source", "quote"}
    if bad:
        raise ConfigError(f"{filename}: [fee] 未知字段 “{sorted(bad)[0]}”")
    days = fee.get("payment_working_days", 20)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 60:
        raise ConfigError(f"{filename}: [fee] payment_working_days 必须是 1–60 的整数，收到 {days!r}")
    return ReceiptConfig(
        channels, FeeRule(days, str(fee.get("source", "国办函〔2020〕109号")), str(fee.get("quote", "")))
    )


_cache: dict[Path, tuple[tuple[int, int], ReceiptConfig]] = {}


def load_receipt(directory: Path | None = None, *, last_good: bool = False) -> ReceiptConfig:
    """config/receipt.toml, re-read when the file changes. `last_good`: a file broken while running keeps
    the data last read (as domain.engine does; `shixian config check` reports it), raising only when
    there is none."""
    path = (directory or config_dir()) / "receipt.toml"
    hit = _cache.get(path)
    try:
        st = path.stat()
        sig = (st.st_size, st.st_mtime_ns)
        if hit and hit[0] == sig:
            return hit[1]
        cfg = parse_receipt(read_toml(path), path.name)
    except (ConfigError, FileNotFoundError) as exc:
        if last_good and hit:
            return hit[1]
        if isinstance(exc, FileNotFoundError):
            raise ConfigError(f"{path}: 文件不存在 (file not found)") from None
        raise
    _cache[path] = (sig, cfg)
    return cfg


def _local_day(instant: str) -> dt.date:
    return dt.datetime.fromisoformat(instant).astimezone(SHANGHAI).date()


def derive_receipt(data: dict[str, Any], config: ReceiptConfig | None = None) -> dict[str, Any]:
    """The receipt of a validated `request.received` (JSON-ready fields): {channel, basis, on, entered,
    note, source}. Raises ValueError("<field>: reason") for a field the channel does not use or dates
    that contradict each other."""
    cfg = config or load_receipt(last_good=True)
    rule = cfg.channels[data["channel"]]
    for f in ("submitted_at", "confirmed_on"):
        if data.get(f) and f not in rule.basis:
            raise ValueError(f"{f}: {rule.name}的收到之日不按{BASIS_NAMES[f]}确定（{rule.source}），请不要填写")
    entered = dt.date.fromisoformat(data["received_on"])
    if data.get("confirmed_on") and dt.date.fromisoformat(data["confirmed_on"]) < entered:
        raise ValueError(f"confirmed_on: 确认日期 {data['confirmed_on']} 早于收到日期 {entered}")
    basis = next(f for f in rule.basis if data.get(f))
    on = _local_day(data[basis]) if basis == "submitted_at" else dt.date.fromisoformat(data[basis])
    if basis == "received_on" and len(rule.basis) > 1:
        note = f"{rule.name}：未填写{'或'.join(BASIS_NAMES[b] for b in rule.basis[:-1])}，按登记的收到日期 {on} 计"
    elif basis == "received_on":
        note = f"{rule.name}：以 {on} 为收到申请之日"
    else:
        note = f"{rule.name}：按{BASIS_NAMES[basis]}（{data[basis]}）以 {on} 为收到申请之日"
    if on != entered:
        note += f"（登记的收到日期为 {entered}，不作为起算日）"
    return {
        "channel": rule.channel,
        "channel_name": rule.name,
        "unreachable_allowed": rule.unreachable,
        "basis": basis,
        "on": on.isoformat(),
        "entered": entered.isoformat(),
        "note": note,
        "source": rule.source,
    }
