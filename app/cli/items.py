"""Item commands: events ingest, events open-annual-reports, status, overdue, calendar reload."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import typer

from app.cli.common import NODE_HELP, cli_audit, scope_filter
from app.cli.common import fail as _fail
from domain import labels
from domain.engine import engine
from domain.shanghai import today as shanghai_today


async def _client():
    from worker.client import connect, temporal_address

    try:
        return await connect()
    except Exception as exc:  # connection refused, TLS, ...
        _fail(f"无法连接 Temporal（{temporal_address()}）：{exc}。请先运行 shixian up，或设置 TEMPORAL_ADDRESS。")


events_app = typer.Typer(no_args_is_help=True, help="事件导入")


@events_app.command("ingest")
def ingest(
    file: str = typer.Argument(..., help="JSON Lines 文件，- 为标准输入"),
    as_json: bool = typer.Option(False, "--json", help="逐行输出 JSON 结果"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="只输出被拒绝的行和汇总"),
) -> None:
    """导入事件（JSON Lines）：逐行报告 applied / duplicate / rejected。有被拒绝的行时退出码非 0。"""
    if file == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(file).read_text(encoding="utf-8-sig")
        except OSError as exc:
            _fail(f"{file}: 无法读取（{exc.strerror}）")
    from services.ingest import Ingestor, IngestResult, ReadModelBehind, parse_jsonl, waiting_text

    objs = parse_jsonl(text)
    counts = {"applied": 0, "held": 0, "duplicate": 0, "rejected": 0}

    async def go() -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from domain.settings import get_settings
        from worker.client import connect, stderr_runtime, temporal_address

        try:
            client = await connect(runtime=stderr_runtime())
        except Exception as exc:  # connection refused, TLS, ...
            _fail(f"无法连接 Temporal（{temporal_address()}）：{exc}。请先运行 shixian up，或设置 TEMPORAL_ADDRESS。")
        # Nobody is waiting on a page: events the service did not answer (a starved or restarting server)
        # are sent again for SHIXIAN_IMPORT_RETRY_SECONDS before they are reported 未处理.
        ing = Ingestor(client, retry_seconds=get_settings().import_retry_seconds)
        # The bar lives on stderr (a terminal only); results stream to stdout as each line is decided.
        err = Console(stderr=True)
        bar = Progress(
            TextColumn("导入中"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        task = bar.add_task("ingest", total=len(objs))
        same_screen = sys.stdout.isatty() and err.is_terminal

        def show(r: IngestResult) -> None:
            counts[r.status] += 1
            bar.advance(task)
            if as_json:
                line = r.model_dump_json(exclude_none=True)
            elif not quiet or r.status == "rejected":
                line = r.text()
            else:
                return
            if same_screen:  # above the bar, not through it
                err.print(line, markup=False, highlight=False, soft_wrap=True)
            else:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()

        def waiting(n: int, seconds: float) -> None:
            err.print(waiting_text(n, seconds), markup=False, highlight=False)

        with bar:
            try:
                await ing.ingest(objs, on_result=show, on_wait=waiting)
            except ReadModelBehind as exc:
                _fail(str(exc), code=1)

    asyncio.run(go())
    cli_audit("events.ingest", object="标准输入" if file == "-" else Path(file).name, detail=dict(counts))
    total = sum(counts.values())
    summary = (
        f"共 {total} 行：applied {counts['applied']}，held {counts['held']}，"
        f"duplicate {counts['duplicate']}，rejected {counts['rejected']}"
    )
    typer.echo(summary, err=True)
    raise typer.Exit(1 if counts["rejected"] else 0)


@events_app.command("open-annual-reports")
def open_annual_reports(
    year: int = typer.Option(..., "--year", help="报告年度（如 2026：时限自 2027-01-01 起算）"),
) -> None:
    """为 departments.toml 中每个部门开启某年度的年报时限（每年1月1日也会自动执行）。"""
    from domain.engine import engine
    from domain.events import annual_report_openers
    from services.ingest import Ingestor

    events = annual_report_openers(engine().directory.departments.values(), year)

    async def go():
        return await Ingestor(await _client(), internal=True).ingest(list(enumerate(events, start=1)))

    for r in asyncio.run(go()):
        typer.echo(r.text())


def status(item_id: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json")) -> None:
    """事项及其时限的当前状态。"""
    from services.queries import get_status, status_json

    snap = get_status(item_id)
    if snap is None:
        _fail(f"未找到事项 {item_id}", 1)
    out = status_json(snap)
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{out['id']}  {out['title']}  [{out['type']} · {out['department']}]  状态：{out['state']}")
    names = engine().rule_names
    for c in out["clocks"]:
        flag = "（暂定）" if c["provisional"] else ""
        late = f"，逾期 {c['lateness_working_days']} 个工作日" if c["lateness_working_days"] else ""
        met = f"，{c['met_on']} 履行" if c["met_on"] else ""
        typer.echo(
            f"  {names.get(c['rule'], c['rule'])}：起算 {c['start']}，到期 {c['due'] or '—'}{flag}，"
            f"{labels.CLOCK_STATES[c['state']]}{met}{late}"
        )
        if c["explanation"]:
            typer.echo(f"    {c['explanation']}")
    for e in out["held"]:
        typer.echo(
            f"  补录待审核：{e['type']}（{e['event_id']}）事件日期 {e['on'][:10]}，"
            f"登记于 {e['recorded_at'][:16].replace('T', ' ')}；审核前不计入"
        )


def overdue(
    as_of: str | None = typer.Option(None, "--as-of", help="截至日期（默认今天）"),
    department: str | None = typer.Option(None, "--department", "-d"),
    node: str | None = typer.Option(None, "--node", "-n", help=NODE_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """截至某日日终已逾期、仍未办结的时限。"""
    from domain.limits import parse_iso_day
    from services.views import overdue_and_held

    try:
        day = parse_iso_day(as_of) if as_of else shanghai_today()
    except ValueError as exc:
        _fail(f"--as-of：{exc}")
    # held (待审核) clocks are neither late nor on time: counted apart, never listed as overdue
    found, held = overdue_and_held(day, scope_filter(department, node).filter)
    rows = [r.model_dump() for r in found]
    if as_json:
        keys = ("id", "department", "rule", "due", "overdue_working_days")
        typer.echo(json.dumps([{k: r[k] for k in keys} for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo(f"截至 {day} 无逾期事项")
    for r in rows:
        typer.echo(
            f"{r['department_name']}  {r['id']}  {r['rule_name']}  到期 {r['due']}  "
            f"逾期 {r['overdue_working_days']} 个工作日  {r['title']}"
        )
    if held:
        typer.echo(f"另有 {len(held)} 个时限的补录待审核（审核前不计逾期）")


def calendar_reload() -> None:
    """校验日历文件并让所有未办结事项按新日历重新计算（到期日变化会记录并通知联络员）。"""
    from services.audit import Actor
    from services.calendar import ReloadRefused, reload_calendar

    try:  # a bad file is reported and nothing is signalled
        done = asyncio.run(reload_calendar(_client, "日历数据已更新（shixian calendar reload）", Actor.cli()))
    except ReloadRefused as exc:
        _fail(exc.problem)
    n = done.recalculating
    typer.echo(f"已通知 {n} 个未办结事项重新计算")
