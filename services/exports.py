"""File writers of the compliance scores (csv / xlsx) and the annual report (json / xlsx / html).

All headings are Chinese. CSV is UTF-8 with a BOM so that Excel opens it correctly in China.
Text cells that would start a formula (= + - @) are written as plain text.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment

from domain import labels
from domain import report as R
from domain.engine import engine
from domain.notice_text import beijing_text
from domain.scoring import ScoreResult


class ReportCheckError(ValueError):
    """The annual report's table 三 violates the national checks; the message lists them."""


_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _clean(value: Any) -> Any:
    """Control characters (refused at ingest since issue 8, but possibly in older data) are dropped:
    the xlsx format cannot hold them, and one must not make a whole export fail."""
    return _ILLEGAL.sub("", value) if isinstance(value, str) else value


def _append(ws, row: list[Any]) -> None:
    ws.append([_clean(v) for v in row])


def _text(value: Any) -> Any:
    """Neutralise spreadsheet formulas in free text (CSV / formula injection)."""
    value = _clean(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _dept_names() -> dict[str, str]:
    from domain.engine import engine

    try:
        return {k: d.name for k, d in engine().directory.departments.items()}
    except Exception:  # a broken departments.toml must not stop an export: the ids are still right
        return {}


def _node_names() -> dict[str, str]:
    """Department id -> the name of its jurisdiction node (the 所属地区 column)."""
    try:
        d = engine().directory
        return {k: d.tree.name(x.node) for k, x in d.departments.items()}
    except Exception:  # a broken config must not stop an export
        return {}


def _dept(department: str | None, names: dict[str, str]) -> Any:
    """A department as people read it (its Chinese name; the id goes in the last column)."""
    return _text(names.get(department or "", department or ""))


def _num(x: float | None) -> float | int | None:
    if x is None:
        return None
    return int(x) if float(x).is_integer() else x


def _rule_columns(result: ScoreResult) -> list[tuple[str, str]]:
    rules: dict[str, str] = {}
    for d in result.summary:
        for rule, rs in d.per_rule.items():
            rules.setdefault(rule, rs.label)
    return sorted(rules.items())


def _indicator_columns(result: ScoreResult) -> tuple[list[tuple[str, float | None]], list[str]]:
    """(name, weight) of every indicator and the names of the bonus items, across the schemes in the result."""
    inds: dict[tuple[str, float | None], None] = {}
    bonus: dict[str, None] = {}
    for d in result.summary:
        for i in d.indicators.values():
            inds.setdefault((i.name, i.weight), None)
        for b in d.bonus_items.values():
            bonus.setdefault(b.name, None)
    return list(inds), list(bonus)


def _indicator_header(name: str, weight: float | None) -> str:
    return f"{name}得分（权重{_num(weight)}）" if weight is not None else f"{name}扣分"


def summary_rows(result: ScoreResult) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the summary (rates as fractions, None = no decided clock)."""
    rules = _rule_columns(result)
    inds, bonus = _indicator_columns(result)
    header = labels.EXPORT_SUMMARY_HEADERS + [f"{label}按时率" for _, label in rules] + labels.EXPORT_LAG_HEADERS
    header += labels.EXPORT_SCHEME_HEADERS + [_indicator_header(n, w) for n, w in inds] + [f"加分：{n}" for n in bonus]
    header += [labels.EXPORT_NODE, labels.EXPORT_DEPARTMENT_ID]
    names, nodes = _dept_names(), _node_names()
    rows = []
    for d in result.summary:
        row = [
            _dept(d.department, names),
            d.items_due,
            d.on_time,
            d.late,
            d.overdue,
            d.pending,
            d.closed,
            d.on_time_rate,
            d.avg_lateness_working_days,
            _num(d.deduction),
            _num(d.score),
            d.withheld,
            d.cases_lost,
        ]
        row += [d.per_rule[r].on_time_rate if r in d.per_rule else None for r, _ in rules]
        row += [_num(d.registration_lag_median), d.registration_lag_max, d.registration_late]
        row += [_text(d.scheme_name or d.scheme), d.on_request, d.no_interpretation, d.reply_delayed, _num(d.bonus)]
        by_ind = {(i.name, i.weight): i for i in d.indicators.values()}
        row += [
            None if (n, w) not in by_ind else _num(by_ind[(n, w)].points if w is not None else by_ind[(n, w)].deduction)
            for n, w in inds
        ]
        by_bonus = {b.name: b.points for b in d.bonus_items.values()}
        row += [_num(by_bonus.get(n)) for n in bonus]
        row += [_text(nodes.get(d.department, "")), _text(d.department)]
        rows.append(row)
    return header, rows


def _pct(x: Any) -> str:
    return "" if x is None else f"{x * 100:.1f}%"


def _write_scores_csv(result: ScoreResult, out: Path) -> None:
    header, rows = summary_rows(result)
    rate_cols = {i for i, h in enumerate(header) if h.endswith("按时率")}
    with open(out, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in rows:
            w.writerow([_pct(v) if i in rate_cols else ("" if v is None else v) for i, v in enumerate(row)])


def _autosize(ws, widths: dict[int, int] | None = None) -> None:
    from openpyxl.utils import get_column_letter

    for idx, col in enumerate(ws.iter_cols(min_row=1, max_row=min(ws.max_row, 200)), start=1):
        longest = max((len(str(c.value)) for c in col if c.value is not None), default=4)
        ws.column_dimensions[get_column_letter(idx)].width = min(60, max(8, longest * 2 + 2))
    for idx, w in (widths or {}).items():
        ws.column_dimensions[get_column_letter(idx)].width = w


def _header(ws, values: list[str]) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    _append(ws, values)
    for c in ws[ws.max_row]:
        c.font = Font(bold=True)
        c.fill = PatternFill("solid", fgColor="DDEBF7")
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.freeze_panes = f"A{ws.max_row + 1}"


def _write_scores_xlsx(result: ScoreResult, out: Path, node: str | None = None) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "汇总"
    if node:  # a node's export says whose it is (its subtree's departments only)
        try:
            ws.title = f"汇总（{engine().directory.tree.name(node)}）"[:31]
        except Exception:  # a broken config: the plain title
            pass
    header, rows = summary_rows(result)
    _header(ws, header)
    for row in rows:
        _append(ws, row)
    for i, h in enumerate(header, start=1):
        if h.endswith("按时率"):
            for r in range(2, ws.max_row + 1):
                ws.cell(row=r, column=i).number_format = "0.0%"
    _autosize(ws)

    names, nodes = _dept_names(), _node_names()
    wd = wb.create_sheet("明细")
    _header(wd, [*labels.EXPORT_DETAIL_HEADERS, labels.EXPORT_NODE, labels.EXPORT_DEPARTMENT_ID])
    for d in result.details:
        days = d.lateness_working_days if d.status == "late" else d.overdue_working_days
        _append(
            wd,
            [
                _dept(d.department, names),
                _text(d.item_id),
                labels.ITEM_TYPES.get(d.item_type, d.item_type),
                _text(d.title),
                d.rule_label,
                d.due,
                labels.CLOCK_STATES.get(d.state, d.state),
                d.status_label,
                d.met_on,
                days,
                _num(d.deduction),
                _text(d.explanation),
                _text(d.late_entry),
                _text(d.registered),
                _text(d.proxy_entry),
                _text(nodes.get(d.department, "")),
                _text(d.department),
            ],
        )
    _autosize(wd, {12: 60, 13: 60, 14: 50, 15: 60})

    if result.registration:  # every department with start events in the period (also one with no clock due)
        wl = wb.create_sheet("登记滞后")
        _header(wl, ["部门", "起始事件（件）", *labels.EXPORT_LAG_HEADERS, labels.EXPORT_DEPARTMENT_ID])
        for lag in result.registration:
            _append(
                wl,
                [
                    _dept(lag.department, names),
                    lag.starts,
                    _num(lag.median_working_days),
                    lag.max_working_days,
                    lag.late,
                    _text(lag.department),
                ],
            )
        _autosize(wl)

    if result.request_checks:  # #17 §4: shown, not deducted
        wc = wb.create_sheet("申请办理核查")
        _header(wc, [*(label for _, label in labels.EXPORT_REQUEST_CHECK_COLUMNS), labels.EXPORT_DEPARTMENT_ID])
        for c in result.request_checks:
            cells = (c.get(k, 0) for k, _ in labels.EXPORT_REQUEST_CHECK_COLUMNS[1:])
            _append(wc, [_dept(c["department"], names), *cells, _text(c["department"])])
        _autosize(wc)

    if result.locked_at:
        wa = wb.create_sheet("更正")
        _header(wa, [*labels.EXPORT_AMENDMENT_HEADERS, labels.EXPORT_DEPARTMENT_ID])
        for a in result.amendments:
            _append(
                wa,
                [
                    _dept(a.department, names),
                    _text(a.item_id),
                    _text(a.title),
                    engine().rule_name(a.rule),
                    a.change_label,
                    labels.CLOCK_STATES.get(a.locked_state or "", a.locked_state),
                    a.locked_met_on,
                    labels.CLOCK_STATES.get(a.current_state or "", a.current_state),
                    a.current_met_on,
                    _text(a.department),
                ],
            )
        _autosize(wa)

    wi = wb.create_sheet("说明")
    info = [
        ("考评期间", f"{result.period_title}（{result.start} 至 {result.end}）"),
        ("统计截止", result.as_of),
        ("部门范围", names.get(result.department, result.department) if result.department else "全部部门"),
        (
            "锁定",
            f"已于 {beijing_text(result.locked_at)} 锁定，数字为锁定时公布的数字；锁定后的变化见“更正”表"
            if result.locked_at
            else "未锁定（数字随事件更新）",
        ),
        ("扣分依据", result.config_source),
        (
            "口径",
            "逾期办结：履行日晚于期限；逾期未办：统计截止日仍未履行且已过期限；"
            "按时率 = 按时 ÷（按时 + 逾期办结 + 逾期未办）；得分 = 满分 − 各指标扣分（每个指标扣分以其权重为上限）"
            " + 加分，扣分后最低为方案的最低分。“扣分”列为封顶后的扣分，明细中每件的扣分为封顶前的标准。"
            "不予公开、依申请公开：本期间成文且未主动公开的文件（明细列出理由）；规范性文件未解读：本期间成文、"
            "登记为无需解读的行政规范性文件；复议诉讼被纠正：本期间作出的复议决定或判决纠正了原答复。"
            "登记滞后：本期间发生的起始事件从事件日期到登记（北京时间）的"
            "工作日数（中位数、最大），超过补录界限的件数；不计扣分。代录：督查、管理员或运维导入代部门登记的事件。",
        ),
    ]
    info += _scheme_notes(result)
    for k, v in info:
        _append(wi, [k, _text(v)])
    _autosize(wi, {2: 90})
    wb.save(out)


def _scheme_notes(result: ScoreResult) -> list[tuple[str, str]]:
    """One 说明 row per indicator and bonus item of the schemes in use, with its weight and source."""
    from domain.engine import engine
    from domain.scoring import rule_labels

    used = {d.scheme for d in result.summary if d.scheme}
    if not used:
        return []
    try:
        schemes = engine().scoring.schemes
    except ValueError:  # a broken file: the numbers are already computed, the notes are only an aid
        return []
    rows = []
    for sid in sorted(used):
        s = schemes.get(sid)
        if s is None:
            continue
        names = {**labels.SCORE_STATUSES, **rule_labels(engine().rules, s)}
        rows.append((f"考评方案：{s.name or s.id}", s.source))
        for ind in s.indicators.values():
            weight = "不封顶" if ind.weight is None else f"权重 {_num(ind.weight)} 分（扣分上限）"
            items = "、".join(f"{names.get(k, k)} 每件 {_num(s.deductions[k].points)} 分" for k in ind.items)
            rows.append((f"  指标：{ind.name}", f"{weight}；{items}；依据：{ind.source}"))
        for b in s.bonus.values():
            rows.append((f"  加分：{b.name}", f"每件 {_num(b.points)} 分，最多 {_num(b.max)} 分；依据：{b.source}"))
    return rows


def write_scores(result: ScoreResult, fmt: Literal["csv", "xlsx"], out: Path, node: str | None = None) -> Path:
    """`node`: the jurisdiction node the export is of (its name titles the xlsx summary sheet)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        _write_scores_csv(result, out)
    elif fmt == "xlsx":
        _write_scores_xlsx(result, out, node)
    else:
        raise ValueError(f"不支持的格式：{fmt}（可用：csv、xlsx）")
    return out


# ---------------------------------------------------------------------------------- audit trail


def audit_cells(r: Any) -> list[Any]:
    """One audit record (services.audit.AuditRow) as export cells; every text neutralised like the scores."""
    texts = (r.at, r.actor, r.actor_name, r.role, r.channel, r.action, r.object, r.department, r.outcome, r.client)
    return [r.id, *(_text(v) for v in texts), _text(r.detail), _text(getattr(r, "department_code", ""))]


def write_audit(rows, fmt: Literal["csv", "xlsx"], out: Path) -> int:
    """Audit records (oldest first) to csv (UTF-8 with BOM) or xlsx; returns how many were written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    if fmt == "csv":
        with open(out, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(labels.EXPORT_AUDIT_HEADERS)
            for r in rows:
                w.writerow(["" if v is None else v for v in audit_cells(r)])
                n += 1
        return n
    if fmt != "xlsx":
        raise ValueError(f"不支持的格式：{fmt}（可用：csv、xlsx）")
    from openpyxl import Workbook

    wb = Workbook(write_only=True)  # six months of records: streamed, not held as cells
    ws = wb.create_sheet("审计记录")
    for i, width in enumerate((8, 20, 18, 10, 12, 8, 16, 24, 16, 6, 16, 60)):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    ws.freeze_panes = "A2"
    ws.append(labels.EXPORT_AUDIT_HEADERS)
    for r in rows:
        ws.append([_clean(v) for v in audit_cells(r)])
        n += 1
    wb.save(out)
    return n


# ---------------------------------------------------------------------------------- annual report


def table2_rows(report: dict) -> list[list[Any]]:
    """[block, item, column label, value] rows of table 二."""
    t2 = report["table2"]
    rows: list[list[Any]] = []
    for kind in R.DOCUMENT_KINDS:
        for col in R.DOCUMENT_COLUMNS:
            rows.append(
                ["第二十条第（一）项", labels.DOCUMENT_KINDS[kind], R.DOCUMENT_COLUMN_LABELS[col], t2[kind][col]]
            )
    for key, (block, item, col) in R.ENTERED_KEYS.items():
        value = t2.get(key, {})
        v = value.get("amount_10k_yuan") if key == "fees" else value.get("decisions")
        rows.append([block, item, col, v])
    return rows


def table3_rows(report: dict) -> list[tuple[str, str | None]]:
    """(label, row code or None for a heading) in the order of the national form."""
    out: list[tuple[str, str | None]] = [
        (R.ROW_LABELS["new"], "new"),
        (R.ROW_LABELS["carried_in"], "carried_in"),
        (R.OUTCOMES_HEADING, None),
    ]
    seen_groups: set[str] = set()
    for code in R.OUTCOME_ROWS:
        group = code.split(".")[0] if "." in code else None
        if group and group not in seen_groups:
            seen_groups.add(group)
            out.append((R.ROW_GROUPS[group], None))
        out.append((R.ROW_LABELS[code], code))
    out.append((R.ROW_LABELS["total"], "total"))
    out.append((R.ROW_LABELS["carried_out"], "carried_out"))
    return out


def _title(report: dict) -> str:
    who = report.get("department") or "本机关"
    return f"{who}{report['year']}年政府信息公开工作年度报告（表二至表四）"


def _check(report: dict) -> None:
    problems = R.check_table3(report["table3"])
    if problems:
        raise ReportCheckError("表三不满足校验关系：\n" + "\n".join(problems))


def _write_report_xlsx(report: dict, out: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment

    wb = Workbook()
    ws = wb.active
    ws.title = "表二"
    _append(ws, [_title(report)])
    _append(ws, ["二、主动公开政府信息情况"])
    _header(ws, ["信息内容", "项目", "指标", "数量"])
    for row in table2_rows(report):
        _append(ws, row)
    _autosize(ws)

    t3 = report["table3"]
    ws = wb.create_sheet("表三")
    _append(ws, ["三、收到和处理政府信息公开申请情况"])
    _append(ws, ["（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", "申请人情况"])
    _header(ws, ["项目"] + [R.COLUMN_LABELS[c] for c in R.COLUMNS])
    for label, code in table3_rows(report):
        if code is None:
            _append(ws, [label])
        else:
            _append(ws, [label] + [t3[code][c] for c in R.COLUMNS])
    for c in ws["A"]:
        c.alignment = Alignment(wrap_text=True, vertical="center")
    _autosize(ws, {1: 70})

    t4 = report["table4"]
    ws = wb.create_sheet("表四")
    _append(ws, ["四、政府信息公开行政复议、行政诉讼情况"])
    _append(ws, ["行政复议"] + [""] * 4 + ["行政诉讼"] + [""] * 9)
    _append(ws, [""] * 5 + ["未经复议直接起诉"] + [""] * 4 + ["复议后起诉"] + [""] * 4)
    _header(ws, [R.CASE_RESULT_LABELS[k] for _ in R.CASE_BLOCKS for k in R.CASE_RESULTS])
    _append(ws, [t4[b][k] for b in R.CASE_BLOCKS for k in R.CASE_RESULTS])
    ws.merge_cells("A2:E3")
    ws.merge_cells("F2:O2")
    ws.merge_cells("F3:J3")
    ws.merge_cells("K3:O3")
    _autosize(ws)

    lock = report.get("lock")
    if lock:  # a locked year: the figures above are the published ones, the changes since are listed
        ws = wb.create_sheet("更正说明")
        when = lock.get("published_on") or str(lock.get("locked_at", ""))[:10]
        _append(ws, [f"{report['year']}年度报告已锁定（{lock.get('basis_label', '')}，{when}），表中为锁定数"])
        _header(ws, ["表", "行", "列", "公布数", "按现有记录"])
        for a in report.get("amendments", []):
            _append(ws, [a["table"], a["row"], a["column"], a["published"], a["current"]])
        _autosize(ws, {2: 70})
    wb.save(out)


_HTML = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:0.8em 0 1.8em;font-size:14px}
th,td{border:1px solid #888;padding:4px 8px}th{background:#eef3f8}td.n{text-align:right}
td.h{font-weight:bold;background:#fafafa}
</style></head><body>
<h1>{{ title }}</h1>
<h2>二、主动公开政府信息情况</h2>
<table><thead><tr><th>信息内容</th><th>项目</th><th>指标</th><th>数量</th></tr></thead><tbody>
{% for block, item, col, v in t2 %}<tr><td>{{ block }}</td><td>{{ item }}</td><td>{{ col }}</td>
<td class="n">{{ "" if v is none else v }}</td></tr>
{% endfor %}</tbody></table>
<h2>三、收到和处理政府信息公开申请情况</h2>
<table><thead>
<tr><th rowspan="3">项目</th><th colspan="7">申请人情况</th></tr>
<tr><th rowspan="2">自然人</th><th colspan="5">法人或其他组织</th><th rowspan="2">总计</th></tr>
<tr>{% for c in legal %}<th>{{ labels[c] }}</th>{% endfor %}</tr>
</thead><tbody>
{% for label, code in t3rows %}{% if code is none %}<tr><td class="h" colspan="8">{{ label }}</td></tr>
{% else %}<tr><td>{{ label }}</td>{% for c in columns %}<td class="n">{{ t3[code][c] }}</td>{% endfor %}</tr>
{% endif %}{% endfor %}</tbody></table>
<h2>四、政府信息公开行政复议、行政诉讼情况</h2>
<table><thead>
<tr><th colspan="5" rowspan="2">行政复议</th><th colspan="10">行政诉讼</th></tr>
<tr><th colspan="5">未经复议直接起诉</th><th colspan="5">复议后起诉</th></tr>
<tr>{% for b in blocks %}{% for k in results %}<th>{{ result_labels[k] }}</th>{% endfor %}{% endfor %}</tr>
</thead><tbody><tr>{% for b in blocks %}{% for k in results %}<td class="n">{{ t4[b][k] }}</td>{% endfor %}{% endfor %}</tr>
</tbody></table>
{% if lock %}<h3>更正说明</h3><p>本报告已锁定（{{ lock.basis_label }}，{{ lock.published_on or lock.locked_at[:10] }}），表中为锁定数。</p>
{% if amendments %}<ul>{% for a in amendments %}<li>{{ a.text }}</li>{% endfor %}</ul>{% else %}<p>锁定后数据未发生变化。</p>{% endif %}{% endif %}
{% if notes %}<h3>数据说明</h3><ul>{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}
</body></html>
"""


def render_annual_report_html(report: dict) -> str:
    env = Environment(autoescape=True)
    return env.from_string(_HTML).render(
        title=_title(report),
        t2=table2_rows(report),
        t3rows=table3_rows(report),
        t3=report["table3"],
        columns=R.COLUMNS,
        legal=[c for c in R.APPLICANT_COLUMNS if c.startswith("legal.")],
        labels=R.COLUMN_LABELS,
        blocks=R.CASE_BLOCKS,
        results=R.CASE_RESULTS,
        result_labels=R.CASE_RESULT_LABELS,
        t4=report["table4"],
        notes=report.get("notes") or [],
        lock=report.get("lock"),
        amendments=report.get("amendments") or [],
    )


def annual_report_json(report: dict) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2)


def write_annual_report(report: dict, fmt: Literal["json", "xlsx", "html"], out: Path) -> Path:
    """Write the report; raises ReportCheckError when table 三 violates the national checks."""
    _check(report)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        out.write_text(annual_report_json(report) + "\n", encoding="utf-8")
    elif fmt == "html":
        out.write_text(render_annual_report_html(report), encoding="utf-8")
    elif fmt == "xlsx":
        _write_report_xlsx(report, out)
    else:
        raise ValueError(f"不支持的格式：{fmt}（可用：json、xlsx、html）")
    return out
