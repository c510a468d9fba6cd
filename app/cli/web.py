"""CLI of the web surface: API tokens.

shixian token create --role liaison --department qz-fgw [--person liaison-fgw] [--label 说明] [--expires-days 90]
shixian token list
shixian token revoke ID
"""

from __future__ import annotations

import typer

from app.cli.common import cli_audit
from app.cli.common import fail as _fail

token_app = typer.Typer(no_args_is_help=True, help="接口访问令牌")


@token_app.command("create")
def create(
    role: str = typer.Option(
        ...,
        "--role",
        "-r",
        help="liaison 联络员 · head 部门负责人 · supervisor 督办 · assessor 考核 · admin 管理员",
    ),
    department: str | None = typer.Option(None, "--department", "-d", help="部门 id（联络员、部门负责人必填）"),
    person: str | None = typer.Option(None, "--person", "-p", help="人员 id：经此令牌登记的事件记在此人名下"),
    label: str = typer.Option("", "--label", help="备注"),
    expires_days: int | None = typer.Option(
        None, "--expires-days", help="有效天数（默认 SHIXIAN_TOKEN_DAYS，90 天；1–3650）"
    ),
) -> None:
    """生成令牌（仅显示一次，数据库只保存其哈希）；最后一行为令牌本身。"""
    from domain.config import ConfigError
    from domain.engine import engine
    from domain.shanghai import SHANGHAI
    from services.accounts import create_token
    from store.tokens import DEPARTMENT_ROLES, ROLE_LABELS, ROLES

    if role not in ROLES:
        _fail(f"未知角色“{role}”（可用：{'、'.join(ROLES)}）")
    if role in DEPARTMENT_ROLES and not department:
        _fail(f"{ROLE_LABELS[role]}令牌必须用 --department 指定部门")
    if expires_days is not None and not 1 <= expires_days <= 3650:
        _fail(f"--expires-days {expires_days} 无效：应为 1 至 3650 天")
    try:
        directory = engine().directory
    except ConfigError as exc:
        _fail(str(exc))
        raise
    if department and department not in directory.departments:
        _fail(f"未知部门：{department}（可用：{'、'.join(directory.departments)}）")
    if person:
        p = directory.people.get(person)
        if p is None:
            _fail(f"未知人员：{person}（见 config/departments.toml）")
        if role in DEPARTMENT_ROLES and p.department and p.department != department:
            _fail(f"人员 {person} 属于 {p.department}，与 --department {department} 不一致")
    token, row = create_token(role, department, person, label, expires_days)
    cli_audit("token.create", object=row.id, department=department, detail={"role": role, "person": person or ""})
    who = person or f"token:{row.id}"
    typer.echo(
        f"已生成{ROLE_LABELS[role]}令牌 {row.id}"
        f"{'（部门 ' + department + '）' if department else ''}，写入记在 {who} 名下，"
        f"有效期至 {row.expires_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}（北京时间）。令牌只显示这一次："
    )
    typer.echo(token)


@token_app.command("list")
def list_() -> None:
    """列出令牌（不含令牌本身）。"""
    from domain.shanghai import SHANGHAI
    from services.accounts import list_tokens
    from store.models import utcnow
    from store.tokens import ROLE_LABELS

    rows = list_tokens()
    if not rows:
        typer.echo("没有令牌。")
    now = utcnow()
    for r in rows:
        until = f"{r.expires_at.astimezone(SHANGHAI):%Y-%m-%d}"
        if r.revoked_at:
            state = f"已吊销 {r.revoked_at.astimezone(SHANGHAI):%Y-%m-%d}"
        elif r.expires_at <= now:
            state = f"已过期 {until}"
        else:
            state = f"有效至 {until}"
        typer.echo(
            f"{r.id}  {ROLE_LABELS.get(r.role, r.role)}  {r.department or '-'}  {r.person or '-'}  "
            f"{r.created_at.astimezone(SHANGHAI):%Y-%m-%d}  {state}  {r.label}"
        )


@token_app.command("revoke")
def revoke_(token_id: str = typer.Argument(..., help="令牌 id（sx_ 之后、下划线之前的部分）")) -> None:
    """吊销令牌。"""
    from services.accounts import revoke_token

    if token_id.startswith("sx_"):
        token_id = token_id[3:].split("_", 1)[0]
    if not revoke_token(token_id):
        _fail(f"没有有效的令牌 {token_id}")
    cli_audit("token.revoke", object=token_id)
    typer.echo(f"已吊销令牌 {token_id}")
