"""What every CLI module shares: the one way a command stops with a Chinese error."""

from __future__ import annotations

from typing import NoReturn

import typer


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `错误：…` on stderr and exit with `code` (2: bad usage or input, 1: the thing asked for failed)."""
    typer.echo(f"错误：{message}", err=True)
    raise typer.Exit(code)
