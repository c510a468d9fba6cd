"""CLI of people's sign-in (the people themselves are the [[person]] entries of departments.toml).

shixian user set-password PERSON [--password-stdin]
shixian user invite PERSON      one-time link (24 h) to set a password, sent on the person's own channels
shixian user disable PERSON     no password, sessions ended, API tokens revoked, open invites withdrawn
"""

from __future__ import annotations

import sys

import typer

from app.cli.common import cli_audit
from app.cli.common import fail as _fail


def _person(person_id: str):
    from domain.config import ConfigError
    from domain.engine import engine

    try:
        directory = engine().directory
    except ConfigError as exc:
        _fail(str(exc))
        raise
    p = directory.people.get(person_id)
    if p is None:
        _fail(f"未知人员：{person_id}（见 config/departments.toml 的 [[person]]；可用：{'、'.join(directory.people)}）")
    return p


user_app = typer.Typer(no_args_is_help=True, help="人员登录账号（密码、邀请、停用）")


@user_app.command("set-password")
def set_password_(
    person: str = typer.Argument(..., help="人员编号（departments.toml 的 [[person]] id）"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="从标准输入读取密码（脚本用）"),
) -> None:
    """设置（或重设）密码；此人已登录的会话全部失效。"""
    from services.accounts import set_password
    from store.accounts import PasswordError

    p = _person(person)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("新密码", hide_input=True, confirmation_prompt="再输入一次")
    try:
        set_password(p.id, password)
    except PasswordError as exc:
        _fail(str(exc))
    cli_audit("account.password_set", object=p.id, department=p.department or None)
    typer.echo(f"已为 {p.name}（{p.id}）设置密码。")


@user_app.command("invite")
def invite(person: str = typer.Argument(..., help="人员编号")) -> None:
    """生成一次性设置密码链接（24 小时内有效），通过此人自己的通知渠道发送。"""
    import asyncio

    from services.accounts import send_invite

    p = _person(person)
    if not p.notify:
        _fail(
            f"{p.name}（{p.id}）没有配置通知渠道，无法发送邀请；请先在 departments.toml 中配置 notify，"
            f"或用 shixian user set-password 直接设置密码"
        )
    if not any(p.channel_privacy(i) == "personal" for i in range(len(p.notify))):
        _fail(
            f"{p.name}（{p.id}）只有群组渠道：设置密码链接不能发到群里（群内任何人都可用它登录此账号）；"
            f'请在 departments.toml 中为此人配置个人渠道（privacy = "personal"，如个人邮箱），'
            f"或用 shixian user set-password 直接设置密码"
        )
    res = asyncio.run(send_invite(p.id, by="cli"))
    cli_audit("account.invite", object=p.id, outcome="success" if res.delivered else "failure")
    if not res.delivered:
        _fail(f"邀请未能送达 {p.name}（{p.id}）：{res.error}（链接未显示；修好渠道后重新执行）", 1)
    typer.echo(f"已通过 {res.channel} 向 {p.name}（{p.id}）发送设置密码链接，24 小时内有效，只能使用一次。")


@user_app.command("disable")
def disable_(person: str = typer.Argument(..., help="人员编号")) -> None:
    """停用：删除密码，结束已登录会话，吊销此人的接口令牌，作废未使用的邀请。"""
    from services.accounts import disable

    p = _person(person)
    disable(p.id)
    cli_audit("account.disable", object=p.id, department=p.department or None)
    typer.echo(
        f"已停用 {p.name}（{p.id}）的登录：密码已删除，会话已结束，接口令牌已吊销。重新启用请用 set-password 或 invite。"
    )
