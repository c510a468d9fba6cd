"""Assembles the annual report draft for the CLI, the API and the pages: events and clock records from
the store, the directory (names, `parent` for a government's jurisdiction), rule names, and the
entered-figures file.

Entered figures (what events cannot give: table 二's licensing/penalty/coercion/fees, staff, fees for
providing information, free text for 平台建设 / 改进情况 / 其他事项): `--entered FILE` (TOML or JSON), or by
default `$SHIXIAN_DATA_DIR/annual-report/<year>/<scope>.toml` where scope is the department id,
`government` or `all`; no file means every such figure is a visible placeholder.
"""

from __future__ import annotations

import json
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from domain.annual_document import ALL_SCOPE, ReportScope, build_document, department_scope, government_scope


class AnnualReportError(ValueError):
    """Bad request for a report (unknown unit, bad entered-figures file); the message is Chinese.
    `status`: 404 when the asked report does not exist (a government report of a unit that makes none)."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


class YearNotEnded(AnnualReportError):
    """The year is still running: its report is not published, so it is not locked (unless forced)."""

    def __init__(self, year: int):
        super().__init__(f"{year}年度尚未结束", status=409)
        self.year = year


def resolve_scope(department: str | None, government: bool, directory=None, *, node: str | None = None) -> ReportScope:
    """The report's scope. `government`: the report of a node's government (`node`; none: the root node, the
    one node of a single city's installation), compiled by the node's unit whose `annual_reports` include
    "government" (or `department`, naming that unit), covering it and the node's own departments (their
    derived `parent`), not the nodes below.

    Coverage, from the rules: 条例第四十九条 — departments report “本行政机关上一年度政府信息公开工作年度报告”,
    and “县级以上地方人民政府的政府信息公开工作主管部门应当在每年3月31日前向社会公布本级政府上一年度政府信息公开
    工作年度报告”; the 2021 format (国办公开办函〔2021〕30号) has each report give “本机关政府信息公开工作总体情况”.
    本级政府 is the government of that level: a county government publishes its own report, so a city's report
    counts the city government and its departments, never its counties' requests a second time."""
    if directory is None:
        from domain.engine import engine

        directory = engine().directory
    depts = directory.departments
    if government:
        gov_units = [d for d in depts.values() if "government" in d.annual_reports]
        if department:
            root = depts.get(department)
            if root is None or "government" not in root.annual_reports:
                units = ", ".join(d.id for d in gov_units) or "无"
                raise AnnualReportError(
                    f"{department} 不是编制政府年度报告的单位（departments.toml 中 "
                    f'annual_reports 含 "government" 的单位：{units}）',
                    status=404,
                )
        else:
            root = _government_unit(directory, node)
        return government_scope(root.id, root.name, {d.id: d.parent for d in depts.values()})
    if department:
        d = depts.get(department)
        # events may name a unit that is not (or no longer) in the directory: its id is its name then
        return department_scope(department, d.name if d else department)
    return ALL_SCOPE


def _government_unit(directory, node: str | None):
    """The unit compiling `node`'s government report (None: the root node's)."""
    tree = directory.tree
    nid = node or tree.root.id
    if nid not in tree.nodes:
        raise AnnualReportError(f"未知的行政区划节点：{nid}（见 config/jurisdictions.toml）", status=404)
    units = [
        directory.departments[d]
        for d in directory.departments_in(nid, deep=False)
        if "government" in directory.departments[d].annual_reports
    ]
    if not units:
        if len(tree.nodes) == 1:  # a single city's installation: as before jurisdictions
            raise AnnualReportError(
                "departments.toml 中没有编制政府年度报告的单位"
                '（在政府办公室条目中写 annual_reports = ["department", "government"]）'
            )
        raise AnnualReportError(
            f"{tree.name(nid)}没有编制政府年度报告的单位（在该节点政府办公室的 departments.toml 条目中写 "
            'annual_reports = ["department", "government"]）',
            status=404,
        )
    return units[0]  # one per node (domain/directory.py refuses a second)


def scope_key(scope: ReportScope, directory=None) -> str:
    """The entered-figures file's name: the department id, `all`, or `government` for the root node's
    government (a single city's installation: as before jurisdictions) and `government-<unit>` for another
    node's, so that a county's figures never fill its city's report."""
    if scope.kind != "government":
        return {"all": "all"}.get(scope.kind, scope.department or "all")
    if directory is None:
        from domain.engine import engine

        directory = engine().directory
    if scope.department and directory.node_of(scope.department) not in (None, directory.tree.root.id):
        return f"government-{scope.department}"
    return "government"


def default_entered_path(year: int, scope: ReportScope, directory=None) -> Path:
    from store.db import data_dir

    return data_dir() / "annual-report" / str(year) / f"{scope_key(scope, directory)}.toml"


def read_entered(path: Path) -> dict:
    """An entered-figures file (TOML when it ends in .toml, else JSON); errors name the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AnnualReportError(f"{path}: 文件不存在") from None
    try:
        data = tomllib.loads(text) if Path(path).suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise AnnualReportError(f"{path}: 无法解析：{exc}") from None
    if not isinstance(data, dict):
        raise AnnualReportError(f"{path}: 应为对象，如 licensing = 12")
    return data


def _records(session, as_of: date) -> list[Any]:
    """Every clock as a light record, read as plain rows (not ORM snapshots: a province has 100,000s of items,
    and the report needs only state, due and met dates)."""
    from domain.scoring import Period
    from services.scores import default_overdue_days, period_records

    every = Period(date(1990, 1, 1), date(2100, 12, 31), "all", "year")
    return period_records(session, every, as_of, None, default_overdue_days())


def _rule_hours() -> dict[str, float]:
    from domain.engine import engine

    rules = engine().rules
    return {
        "major": float(rules["opinion_response_info"].length),
        "general": float(rules["opinion_response_general"].length),
    }


def annual_document(
    year: int,
    department: str | None = None,
    government: bool = False,
    *,
    node: str | None = None,
    entered_path: Path | None = None,
    as_of: date | None = None,
    session=None,
    reference: bool = False,
) -> dict:
    """The whole report draft of `year` from the store. Raises AnnualReportError on bad input.
    `reference`: count it the slow way, from the whole event log (tests compare the two)."""
    from domain import annual_rows
    from domain.annual_document import EnteredFiguresError
    from domain.engine import engine
    from domain.scoring import rule_labels
    from store.annual import year_rows
    from store.db import session as _session
    from store.events import load_events

    directory = engine().directory
    scope = resolve_scope(department, government, directory, node=node)
    path = Path(entered_path) if entered_path else default_entered_path(year, scope, directory)
    entered = read_entered(path) if (entered_path or path.exists()) else None
    if as_of is None:
        from domain.shanghai import today

        as_of = today()
    own = session is None
    s = _session() if own else session
    args: dict[str, Any] = dict(
        entered=entered,
        entered_source=str(path) if entered is not None else "填报数",
        as_of=as_of,
        rule_labels=rule_labels(engine().rules, engine().scoring),
        dept_names={d.id: d.name for d in directory.departments.values()},
        rule_hours=_rule_hours(),
    )
    from services.scores import held_keys
    from store.locks import annual_lock, recorded_since_lock

    try:
        # a locked year shows its published tables; the next one keeps its carry-in to them (store/locks.py)
        locked, previous = annual_lock(s, year, scope), annual_lock(s, year - 1, scope)
        args["lock"] = None
        if locked is not None:
            args["lock"] = locked.as_lock() | {"entries": recorded_since_lock(s, locked, scope)}
        args["previous_carried_out"] = previous.tables["table3"]["carried_out"] if previous is not None else None
        args["held"] = held_keys(s)  # 待审核: section 五 blames none of them until they are decided
        if reference:
            # the definition: every event up to the year's end and every clock, counted in Python
            events = load_events(s, until=date(year, 12, 31))
            clocks = _records(s, as_of)
        else:
            # the same document from the rows the year needs, selected and counted in SQL (store/annual.py)
            lapsing = [r.id for r in engine().rules.values() if r.never_overdue]
            rows = year_rows(s, year, scope.departments, lapsing, as_of)
    finally:
        if own:
            s.close()
    try:
        if reference:
            return build_document(events, year, scope, clocks=clocks, **args)
        return annual_rows.document(rows, scope, **args)
    except EnteredFiguresError as exc:
        raise AnnualReportError(str(exc)) from None
    except ValueError as exc:  # table 二's own checks name the key
        raise AnnualReportError(f"{path}: {exc}" if entered is not None else str(exc)) from None


def lock_annual_report(
    year: int,
    department: str | None = None,
    government: bool = False,
    *,
    locked_by: str | None = None,
    force: bool = False,
    session=None,
    confirm_pending: bool = False,
    node: str | None = None,
):
    """The assessor's lock of a report (store.locks.AnnualLock, basis "assessor"): its tables as they count now.
    Raises YearNotEnded while the year runs (unless `force`: the CLI's --force), AnnualReportError (409)
    when it is locked already, and services.locks.LockRefused ("pending_review", naming them) while late
    entries dated in the year of its departments wait for review, unless `confirm_pending`."""
    from domain.engine import engine
    from domain.shanghai import today
    from store.db import session as _session
    from store.locks import PeriodLockedError, annual_lock
    from store.locks import lock_annual_report as _lock

    if not force and today().year <= year:  # a year still running is not published
        raise YearNotEnded(year)
    scope = resolve_scope(department, government, node=node)
    own = session is None
    s = _session() if own else session
    try:
        if not confirm_pending and annual_lock(s, year, scope) is None:  # (a locked one is refused as such)
            from services.locks import LockRefused, pending_reviews, pending_text

            pending = pending_reviews(date(year, 1, 1), date(year, 12, 31), scope.departments)
            if pending:
                raise LockRefused(pending_text(f"{year}年度报告", pending), "pending_review", pending)
        lapsing = [r.id for r in engine().rules.values() if r.never_overdue]
        return _lock(s, year, scope, lapsing=lapsing, as_of=today(), basis="assessor", locked_by=locked_by)
    except PeriodLockedError as exc:
        raise AnnualReportError(str(exc), status=409) from None
    finally:
        if own:
            s.close()
