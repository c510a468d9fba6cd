"""`shixian deadline`: a legal deadline's due date, one or a CSV batch."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
from pathlib import Path

import typer

from app.cli.common import calendar_and_rules, fail
from domain.calendar import NATIONAL
from domain.clocks import ClockError, compute_rule, parse_start
from domain.config import ConfigError
from domain.rules import get_rule


def deadline(
    rule: str | None = typer.Argument(None, help="规则 id，如 request_reply"),
    start: str | None = typer.Argument(None, help="起算日（ISO 日期或时间，无时区按 +08:00）"),
    region: str = typer.Option(NATIONAL, "--region", "-r", help="地区日历，如 guangxi"),
    explain: bool = typer.Option(False, "--explain", help="说明计算过程"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
    batch: str | None = typer.Option(None, "--batch", help="批量：CSV 文件（rule,start,region），- 为标准输入"),
) -> None:
    """计算法定期限的到期日。"""
    cal, rules = calendar_and_rules()
    if batch is not None:
        _deadline_batch(batch, cal, rules)
        return
    if not rule or not start:
        fail("需要 RULE 与 START 参数，或使用 --batch FILE")
    try:
        # a backward pre-deadline computes its statutory rule first (domain.clocks.compute_rule)
        dl = compute_rule(rules, get_rule(rules, rule), bounded_start(start), cal, region)
    except (ClockError, ConfigError) as exc:
        fail(str(exc))
    since = rules[rule].since
    if since and dl.start.isoformat()[:10] < since.isoformat():  # the arithmetic is shown, the item gets no clock
        typer.echo(f"注：该时限规则当时尚未施行（自 {since} 起施行），该日起算的事项不计此时限", err=True)
    if as_json:
        typer.echo(json.dumps(dl.as_json(explain), ensure_ascii=False, indent=2))
        return
    flag = "（暂定）" if dl.provisional else ""
    typer.echo(f"{dl.due_iso()}{flag}")
    typer.echo(f"provisional: {'true' if dl.provisional else 'false'}")
    if explain:
        if base := dl.explanation.get("base"):  # counted back: the statutory computation, then the step back
            typer.echo(f"法定期限：{base.get('due')}（{base.get('rule_name')}）")
            _print_explanation(base)
            typer.echo(f"倒推：{dl.explanation.get('due')}")
        _print_explanation(dl.explanation)


def bounded_start(text: str):
    """START as a date or instant within 1990–2100 (README "Events"): beyond it the calendar has no
    meaning (and year 9999 overflows)."""
    from domain.limits import check_day, check_moment

    value = parse_start(text)
    try:
        return check_moment(value) if isinstance(value, dt.datetime) else check_day(value)
    except ValueError as exc:
        raise ClockError(f"起算日 START：{exc}") from None


def _print_explanation(ex: dict) -> None:
    typer.echo(f"规则：{ex.get('rule_name')}（{ex.get('source')}）")
    typer.echo(f"说明：{ex.get('summary')}")
    for s in ex.get("skipped", []) + ex.get("moved_over", []):
        typer.echo(f"  跳过 {s['date']} {s['reason']}（{s.get('source') or ''}）")
    for m in ex.get("makeup_workdays", []):
        typer.echo(f"  计入 {m['date']} {m['reason']}（{m['source']}）")
    for d in ex.get("partial_days", []):
        typer.echo(f"  {d['date']} {d['reason']}：仅部分职工放假，照常计入工作日（{d.get('source') or ''}）")
    for p in ex.get("pauses", []):
        typer.echo(f"  中止 {p['from']} 至 {p['to'] or '（未结束）'}：{p['reason']}")
    for e in ex.get("extensions", []):
        typer.echo(f"  延期 {e['working_days']} 个工作日（{e['on']} 决定）：{e['from_due']} → {e['to_due']}")
    for r in ex.get("provisional_reasons", []):
        typer.echo(f"  暂定：{r}")
    for n in ex.get("notes", []):
        typer.echo(f"  注：{n}")


def _deadline_batch(path: str, cal, rules) -> None:
    text = sys.stdin.read() if path == "-" else _read_text(path)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [f.strip() for f in header][:3] != ["rule", "start", "region"]:
        fail(f"{path}: 第 1 行表头必须为 rule,start,region")
    width = len(header)
    # Compute everything first: a bad row stops the batch before anything is printed. compute() is pure for
    # a loaded calendar, so rows repeating (rule, start, region) — a day's many requests — are computed once.
    done: dict[tuple[str, str, str], tuple[str, str]] = {}
    rows: list[tuple[str, ...]] = []
    append = rows.append
    for lineno, row in enumerate(reader, start=2):
        if len(row) != width:
            if not row:
                continue  # a blank line (DictReader skipped them too)
            fail(f"{path}: 第 {lineno} 行（数据第 {lineno - 1} 行）：列数不符（应为 rule,start,region 三列）")
        rule_id, start_s, region_raw = row[0].strip(), row[1].strip(), row[2].strip()
        key = (rule_id, start_s, region_raw)
        hit = done.get(key)
        if hit is None:
            try:
                if not rule_id or not start_s:
                    raise ClockError("rule 与 start 不能为空")
                dl = compute_rule(
                    rules, get_rule(rules, rule_id), bounded_start(start_s), cal, region_raw or NATIONAL, explain=False
                )
            except (ClockError, ConfigError) as exc:
                fail(f"{path}: 第 {lineno} 行（数据第 {lineno - 1} 行）：{exc}")
            hit = done[key] = (dl.due_iso() or "", "true" if dl.provisional else "false")
        append((rule_id, start_s, region_raw) + hit)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["rule", "start", "region", "due", "provisional"])
    out.writerows(rows)


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        fail(f"{path}: 无法读取（{exc.strerror}）")
        raise
