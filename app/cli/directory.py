"""CLI of the directory kept in the store (the admin page edits it).

shixian directory import [FILE]   seed or replace the store's directory from a departments.toml (default: the
                                  config directory's); validated as the file is at start-up
shixian directory export [-o F]   the directory in use as departments.toml text (the store's, else the file's)
shixian directory history         the changes: who, when, what
"""

from __future__ import annotations

from pathlib import Path

import typer

from app.cli.common import cli_audit
from app.cli.common import fail as _fail

directory_app = typer.Typer(no_args_is_help=True, help="人员名录（部门、人员、角色、通知渠道）")


@directory_app.command("import")
def import_(file: Path | None = typer.Argument(None, help="departments.toml 文件（默认：配置目录中的）")) -> None:
    """用 departments.toml 初始化（或整体替换）存储中的人员名录。"""
    from domain.directory import DirectoryError
    from services.audit import Actor
    from services.directory import file_text, import_toml
    from services.directory import version as dir_version

    try:
        text = file.read_text(encoding="utf-8") if file else file_text()
        change = import_toml(text, by=Actor.cli().id, source=str(file or "departments.toml"))
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"读取文件失败：{exc}")
    except DirectoryError as exc:
        _fail(str(exc))
    after = change.after or {}
    counts = {"departments": after.get("department", 0), "people": after.get("person", 0)}
    cli_audit("directory.import", object=str(file or "departments.toml"), detail=counts)
    typer.echo(
        f"已导入人员名录：{after.get('department', 0)} 个部门、{after.get('person', 0)} 名人员（版本 {dir_version()}）。"
    )


@directory_app.command("export")
def export(output: Path | None = typer.Option(None, "-o", "--output", help="写入文件（默认：标准输出）")) -> None:
    """导出正在使用的人员名录（departments.toml 格式）。"""
    from services.directory import export_toml

    text = export_toml()
    if output:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"已写入 {output}")
    else:
        typer.echo(text, nl=False)


@directory_app.command("history")
def history(limit: int = typer.Option(50, help="最多列出几条")) -> None:
    """人员名录的修改记录（谁、何时、改了什么）。"""
    from services.directory import history as changes

    for c in changes(limit):
        typer.echo(f"{c.at:%Y-%m-%d %H:%M:%S}Z  {c.by}  {c.kind}/{c.action}  {c.object}")
