"""Check the whole configuration at once: every file parses and the files agree with each other."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from domain.config import ConfigError, config_dir

T = TypeVar("T")


def check_config(directory: Path | None = None) -> list[str]:
    """Problems found (Chinese, each naming the file and entry); empty when the configuration is usable."""
    from domain.calendar import load_calendar
    from domain.directory import load_directory
    from domain.ladder import load_ladders
    from domain.receipt import load_receipt
    from domain.review import load_review_config
    from domain.rules import load_rules
    from domain.scoring import check_scheme_rules, load_scoring

    base: Path = directory or config_dir()
    problems: list[str] = []

    def attempt(load: Callable[[Path], T]) -> T | None:
        try:
            return load(base)
        except ConfigError as exc:
            problems.append(str(exc))
            return None

    cal = attempt(load_calendar)
    rules = attempt(load_rules)
    ladders = attempt(load_ladders)
    people = attempt(load_directory)
    attempt(load_review_config)
    scoring = attempt(lambda b: load_scoring(b / "scoring.toml"))
    if scoring and rules:
        problems += check_scheme_rules(scoring, rules, people.departments if people else scoring.jurisdictions)
    attempt(load_receipt)
    from domain.channel_policy import load_policies

    attempt(load_policies)
    if cal and people:
        for dep in people.departments.values():
            if dep.region not in cal.regions:
                problems.append(
                    f'departments.toml: department "{dep.id}": 地区 “{dep.region}” 没有日历数据'
                    f"（config/calendars/ 或 regions.toml 中没有该地区；可用：{', '.join(sorted(cal.regions))}）"
                )
    if rules and ladders:
        for rule_id in ladders.per_rule:
            if rule_id not in rules:
                problems.append(f"reminders.toml: [rules.{rule_id}] 不是 rules.toml 中的规则")
        templates = base / "templates" / "notify"
        for rule in rules.values():
            try:
                steps = ladders.for_rule(rule.id, rule.unit).steps
            except ConfigError as exc:
                problems.append(str(exc))
                continue
            if getattr(rule, "audience", "department") == "supervisor":  # i21: not the department's deadline
                for step in steps:
                    if set(step.to) - {"supervisor", "assessor"}:
                        problems.append(
                            f'reminders.toml: 规则 {rule.id} 是督查查看的期限（audience = "supervisor"），'
                            f"提醒步骤 “{step.id}” 不能发给 {'、'.join(sorted(set(step.to) - {'supervisor', 'assessor'}))}"
                        )
            for step in steps:
                if templates.is_dir() and not (templates / f"{step.id}.j2").exists():
                    problems.append(
                        f"reminders.toml: 规则 {rule.id} 的提醒步骤 “{step.id}” 没有模板 templates/notify/{step.id}.j2"
                    )
    problems += check_catalogues(base)
    return problems


def check_catalogues(base: Path) -> list[str]:
    """The shipped catalogues (config/catalogues/*.csv, i21-catalogue) read whole: every row a duty."""
    from domain.catalogue import read_catalogue
    from domain.ledger import LedgerError

    out: list[str] = []
    for path in sorted((base / "catalogues").glob("*.csv")):
        where = f"catalogues/{path.name}"
        try:
            cat = read_catalogue(path.read_bytes(), where)
        except LedgerError as exc:
            out.append(str(exc))
            continue
        out += [p.message(where) for p in cat.problems]
    return out
