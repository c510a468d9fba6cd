"""The column ledger (栏目台账): one row per website column or 政务新媒体 account, as offices keep it for the
national check (国办秘函〔2019〕19号): its name, kind, address, last update, and its current period.

Pure: built from item snapshots (type "column") and the rules in use. A recurring duty's finished periods are
their own clock rows (`rule#n`, domain.model.period_rule); the row reads the current period (the plain rule
id) and the counts the workflow keeps in the item's data (`periods`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from domain.events import CHOICE_LABELS
from domain.labels import COLUMN_LEDGER_HEADERS
from domain.model import PERIOD_SEP, ItemSnapshot

KIND_NAMES = {**CHOICE_LABELS["kind"], "policy": "政策文件类栏目"}


def current_clock(snap: ItemSnapshot):
    """The current period's clock (the one row with the plain rule id), None for a column with no rule."""
    return next((c for c in snap.clocks if PERIOD_SEP not in c.rule), None)


def ledger_row(snap: ItemSnapshot, rules: Mapping[str, Any], department_name: str = "") -> dict[str, Any]:
    d = snap.data
    clock = current_clock(snap)
    rule = rules.get(clock.rule) if clock else None
    counts = (d.get("periods") or {}).get(clock.rule, {}) if clock else {}
    values = [
        snap.id,
        d.get("name") or snap.title,
        KIND_NAMES.get(d.get("kind", ""), d.get("kind", "")),
        d.get("url", ""),
        d.get("last_update") or "",
        rule.limit_text if rule else "",
        clock.due if clock and clock.state == "open" else "",
        department_name or snap.department,
    ]
    row = dict(zip(COLUMN_LEDGER_HEADERS, values, strict=True))
    row.update(
        {
            "state": clock.state if clock else snap.state,
            "periods": counts.get("finished", 0),
            "on_time": counts.get("on_time", 0),
            "late": counts.get("late", 0),
        }
    )
    return row


def column_ledger(
    snaps: Iterable[ItemSnapshot], rules: Mapping[str, Any], department_names: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    names = department_names or {}
    return [ledger_row(s, rules, names.get(s.department, "")) for s in snaps if s.type == "column"]
