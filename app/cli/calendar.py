"""`shixian calendar status` (and `reload`, composed in app/cli/__init__.py from app/cli/items.py)."""

from __future__ import annotations

import json

import typer

from app.cli.common import calendar_and_rules

calendar_app = typer.Typer(no_args_is_help=True, help="工作日日历")


@calendar_app.command("status")
def calendar_status(as_json: bool = typer.Option(False, "--json")) -> None:
    """各年度、各地区日历数据来源：软件包、日历文件，或暂定（推算）。"""
    cal, _ = calendar_and_rules()
    rows = cal.status()
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    label = {
        "package": "软件包（chinese-calendar）",
        "overlay": "日历文件",
        "package+overlay": "软件包+日历文件更正",
        "provisional": "暂定（按放假办法推算，含补假，无调休）",
        "estimate": "暂定（全部或部分节日的地方通知未录入，按地方规则推算）",
        "none": "无地方数据（暂定）",
        "no-festival": "无地方节日（规则施行前）",
    }
    for r in rows:
        kind = "地方通知" if r["coverage"] == "overlay" and r["region"] != "national" else label[r["coverage"]]
        typer.echo(f"{r['year']}  {r['region']:<10} {kind}  {'；'.join(r['sources'])}")
    # One line per region: which years since its festival began have the notice on file.
    from domain.shanghai import today

    for s in cal.notice_summary(today().year):
        parent = f"，上级：{cal.region_name(s['parent'])}" if s.get("parent") else ""
        typer.echo(
            f"{s['name']}（{s['region']}{parent}）：{_years_text(s['covered']) or '无'} 年已录入地方通知"
            + (
                f"；{_years_text(s['estimated'])} 年未录入（全部或部分节日的）通知，按规则推算（暂定）"
                if s["estimated"]
                else ""
            )
            + (f"；{_years_text(s['reports'])} 年仅见报道" if s.get("reports") else "")
            + f"；{s['through'] + 1} 年起在通知录入前按规则推算（暂定）"
        )
    # Notices usually out by now with no file (the admins' digest says the same).
    for m in cal.missing_notices(today()):
        typer.echo(f"未录入：{m.text}")


def _years_text(years: list[int]) -> str:
    """[2014, 2015, 2016, 2019] -> "2014–2016、2019"."""
    runs: list[list[int]] = []
    for y in years:
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return "、".join(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)
