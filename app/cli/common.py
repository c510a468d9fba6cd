"""What every CLI module shares: the one way a command stops with a Chinese error."""

from __future__ import annotations

from typing import Any, NoReturn

import typer


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `错误：…` on stderr and exit with `code` (2: bad usage or input, 1: the thing asked for failed)."""
    typer.echo(f"错误：{message}", err=True)
    raise typer.Exit(code)


def cli_audit(action: str, **kw: Any) -> None:
    """The audit record of a command: the operator's OS account on this host (命令行), `kw` as for
    services.audit.record (the person a command names goes in its object or detail)."""
    from services.audit import Actor, record

    record(Actor.cli(), action, **kw)


def calendar_and_rules():
    """The loaded calendar and rules, or `错误：…` and exit 2 when a config file is bad."""
    from domain.calendar import load_calendar
    from domain.config import ConfigError
    from domain.rules import load_rules

    try:
        return load_calendar(), load_rules()
    except ConfigError as exc:
        fail(str(exc))


NODE_HELP = "所属地区：config/jurisdictions.toml 的节点编号（该节点及其全部下级的部门）"


def scope_filter(department: str | None, node: str | None):
    """The operator's read filter (services.access.read_scope): a department, a node's departments or all;
    `错误：…` and exit 2 for an unknown node (or, with a node, a department not in it)."""
    from services.access import ApiError, Principal, Scope, read_scope

    if node is None:  # the operator may read a department no longer in the directory (its data stays)
        return Scope(frozenset({department}) if department else None, None, department)
    try:
        return read_scope(Principal(role="local"), department=department, node=node, what="查询")
    except ApiError as exc:
        fail(exc.detail)
