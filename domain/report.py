"""National annual-report tables 二, 三 and 四 (国办公开办函〔2021〕30号) computed from events.

Pure: takes the canonical event objects of shared/reference/events.md (dicts with `type`,
`event_id` and the type's fields, dates as ISO strings) and returns plain JSON-able dicts.
Applicant personal data is never read: only `applicant_type` of `request.received`.

Year semantics (all dates are Asia/Shanghai calendar days; year Y runs Jan 1 – Dec 31):

Table 三 (requests)
- `new`: received_on in Y.
- `carried_in`: received before Y and not closed before Y (open at the end of Y-1).
- outcome rows: the request was closed in Y; the row is the outcome of its closing event:
  `request.replied` / `request.answered_on_the_spot` -> their `outcome`;
  `request.withdrawn` -> `other.other`; `request.abandoned` (synthetic) -> `other.no_correction`
  (or its `outcome` if it carries one). If several closing events exist (the ingest rejects a
  second reply, so this is bad data) the earliest one wins. A closing date before the receipt
  date is read as the receipt date, so every request is counted exactly once per year.
- `carried_out`: received in or before Y and not closed by the end of Y.
- `total` row = sum of the outcome rows; `total` column = sum of the applicant-type columns.
- notes: an unknown applicant type (counted as `legal.other`) of a request the year counts, an unknown
  outcome (counted as `other.other`) of a request closed in the year.
Hence new + carried_in == total + carried_out in every column, by construction; `check_table3`
verifies it (and the two sums) on any table, e.g. one read back from a file.

Table 二 (first block, documents of kind `regulation` / `normative`)
- `issued`: signed_on in Y; `repealed`: repealed_on in Y;
- `in_force`: signed_on <= Dec 31 of Y and not repealed on or before Dec 31 of Y.
The other blocks are entered figures (`entered` argument, keys in ENTERED_KEYS); None = not entered.

Table 四 (review 复议 and litigation 诉讼 about requests)
Cases are paired per request (and per `after_review` for litigation; a decision that does not say
`after_review` takes it from its filing): the n-th `*.filed` of a
request with its n-th `*.decided`, both in date order. For year Y:
- `upheld` / `corrected` / `other`: cases decided in Y (whatever the filing year), by `result`
  (an unknown result counts as `other`);
- `pending`: filed on or before Dec 31 of Y and not decided by Dec 31 of Y;
- `total` = upheld + corrected + other + pending.
A decision without a filing counts as filed on its decision date.

Department filter: requests and documents carry `department`; follow-up events are attributed
through their `request_id` / `document_id`. Follow-up events of unknown items are ignored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, get_args

from domain import labels
from domain.events import Outcome

APPLICANT_COLUMNS: list[str] = [
    "natural_person",
    "legal.business",
    "legal.research",
    "legal.public_interest",
    "legal.legal_services",
    "legal.other",
]
COLUMNS: list[str] = APPLICANT_COLUMNS + ["total"]

# The rows of 表三 are the outcome codes of the event vocabulary, in the same order (one list, not two).
OUTCOME_ROWS: list[str] = list(get_args(Outcome))
ROWS: list[str] = ["new", "carried_in"] + OUTCOME_ROWS + ["total", "carried_out"]
# Not a row of the form: the carry-in the records give, kept beside 上年结转 when that row shows last year's
# published 结转下年度 instead (domain.annual_document.keep_carry_in); the balance check uses it then.
CARRIED_IN_COUNTED = "carried_in_counted"

# Chinese labels of the national format (used by the renderers).
COLUMN_LABELS: dict[str, str] = {
    "natural_person": "自然人",
    "legal.business": "商业企业",
    "legal.research": "科研机构",
    "legal.public_interest": "社会公益组织",
    "legal.legal_services": "法律服务机构",
    "legal.other": "其他",
    "total": "总计",
}
ROW_LABELS: dict[str, str] = {
    "new": "一、本年新收政府信息公开申请数量",
    "carried_in": "二、上年结转政府信息公开申请数量",
    "granted": "（一）予以公开",
    "partially_granted": "（二）部分公开（区分处理的，只计这一情形，不计其他情形）",
    "withheld.state_secret": "1.属于国家秘密",
    "withheld.prohibited_by_law": "2.其他法律行政法规禁止公开",
    "withheld.security_stability": "3.危及“三安全一稳定”",
    "withheld.third_party_rights": "4.保护第三方合法权益",
    "withheld.internal_affairs": "5.属于三类内部事务信息",
    "withheld.process_information": "6.属于四类过程性信息",
    "withheld.enforcement_file": "7.属于行政执法案卷",
    "withheld.administrative_inquiry": "8.属于行政查询事项",
    "unavailable.not_held": "1.本机关不掌握相关政府信息",
    "unavailable.needs_creation": "2.没有现成信息需要另行制作",
    "unavailable.still_unclear": "3.补正后申请内容仍不明确",
    "not_processed.petition": "1.信访举报投诉类申请",
    "not_processed.duplicate": "2.重复申请",
    "not_processed.publication": "3.要求提供公开出版物",
    "not_processed.excessive": "4.无正当理由大量反复申请",
    "not_processed.confirmation": "5.要求行政机关确认或重新出具已获取信息",
    "other.no_correction": "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
    "other.fee_unpaid": "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
    "other.other": "3.其他",
    "total": "（七）总计",
    "carried_out": "四、结转下年度继续办理",
}
# Group headings of the outcome rows (prefix -> label), in order.
ROW_GROUPS: dict[str, str] = {
    "withheld": "（三）不予公开",
    "unavailable": "（四）无法提供",
    "not_processed": "（五）不予处理",
    "other": "（六）其他处理",
}
OUTCOMES_HEADING = "三、本年度办理结果"

DOCUMENT_KINDS: list[str] = ["regulation", "normative"]
DOCUMENT_COLUMNS = ["issued", "repealed", "in_force"]
DOCUMENT_COLUMN_LABELS = {"issued": "本年制发件数", "repealed": "本年废止件数", "in_force": "现行有效件数"}

# Entered figures of table 二: key -> (article block, row label, column label).
ENTERED_KEYS: dict[str, tuple[str, str, str]] = {
    "licensing": ("第二十条第（五）项", "行政许可", "本年处理决定数量"),
    "penalty": ("第二十条第（六）项", "行政处罚", "本年处理决定数量"),
    "coercion": ("第二十条第（六）项", "行政强制", "本年处理决定数量"),
    "fees": ("第二十条第（八）项", "行政事业性收费", "本年收费金额（万元）"),
}

CASE_RESULTS = ["upheld", "corrected", "other", "pending", "total"]
CASE_RESULT_LABELS = {
    "upheld": "结果维持",
    "corrected": "结果纠正",
    "other": "其他结果",
    "pending": "尚未审结",
    "total": "总计",
}
CASE_BLOCKS = ["review", "litigation_direct", "litigation_after_review"]
CASE_BLOCK_LABELS = {
    "review": "行政复议",
    "litigation_direct": "行政诉讼·未经复议直接起诉",
    "litigation_after_review": "行政诉讼·复议后起诉",
}

# The one or two fields of an event type that the annual report counts by, kept beside the payload in the event
# log (columns `category` and `channel`, store/events.event_record_from) so a year's counts read an index, not
# hundreds of thousands of JSON payloads.
REPORT_FIELDS: dict[str, tuple[str | None, str | None]] = {
    "document.signed": ("kind", None),
    "document.published": (None, "channel"),
    "interpretation.published": ("form", None),
    "request.received": ("applicant_type", "channel"),
    "request.replied": ("outcome", None),
    "request.answered_on_the_spot": ("outcome", None),
    "request.abandoned": ("outcome", None),
    "request.consultation_started": ("with", None),
}


def report_columns(type_: str, payload: dict) -> tuple[str | None, str | None]:
    """(category, channel) of an event for the log's columns: the payload's values of REPORT_FIELDS (text as
    it is; another JSON value as its JSON text, which no vocabulary matches)."""
    import json

    def value(key: str | None) -> str | None:
        v = payload.get(key) if key else None
        return v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False)

    category, channel = REPORT_FIELDS.get(type_, (None, None))
    return value(category), value(channel)


CASE_EVENT_TYPES = ("review.filed", "review.decided", "litigation.filed", "litigation.decided")

_CLOSING_TYPES = {
    "request.replied",
    "request.answered_on_the_spot",
    "request.withdrawn",
    "request.abandoned",
}


def _day(value: Any) -> date | None:
    """ISO date or datetime string (or date object) -> calendar day; None if absent."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _dedupe(events: Iterable[dict]) -> list[dict]:
    """Drop repeated event_ids (the first wins) and sort by (date, event_id) for determinism."""
    seen: set[str] = set()
    out: list[dict] = []
    for e in events:
        eid = e.get("event_id")
        if eid is not None:
            if eid in seen:
                continue
            seen.add(eid)
        out.append(e)
    return out


def _event_day(e: dict) -> date | None:
    for key in ("on", "received_on", "signed_on", "repealed_on", "published_on"):
        if e.get(key):
            return _day(e[key])
    return None


def _sort_key(e: dict) -> tuple:
    d = _event_day(e)
    return (d or date.min, str(e.get("event_id", "")))


def empty_table3() -> dict[str, dict[str, int]]:
    return {row: {col: 0 for col in COLUMNS} for row in ROWS}


def _table3(events: list[dict], year: int, department: str | None, notes: list[str]) -> dict:
    requests: dict[str, dict] = {}
    for e in events:
        if e.get("type") != "request.received":
            continue
        rid = e.get("request_id")
        if rid is None or rid in requests:
            continue
        if department is not None and e.get("department") != department:
            continue
        received = _day(e.get("received_on"))
        if received is None:
            continue
        col, note = e.get("applicant_type"), None
        if col not in APPLICANT_COLUMNS:
            col, note = "legal.other", f"申请 {rid} 的申请人类型“{col}”无法识别，计入“其他”"
        requests[rid] = {"received": received, "column": col, "closed": None, "outcome": None, "note": note}

    # A problem is noted in the year that counts it: the applicant type of a request the table counts, the
    # outcome of a request closed in the year (a request finished years ago is no longer "met while counting").
    outcome_notes: list[tuple[dict, str]] = []
    closings = sorted((e for e in events if e.get("type") in _CLOSING_TYPES), key=_sort_key)
    for e in closings:
        r = requests.get(str(e.get("request_id")))
        if r is None or r["closed"] is not None:
            continue
        on = _day(e.get("on"))
        if on is None:
            continue
        etype = e["type"]
        if etype == "request.withdrawn":
            outcome = "other.other"
        elif etype == "request.abandoned":
            outcome = e.get("outcome") or "other.no_correction"
        else:
            outcome = str(e.get("outcome"))
        if outcome not in OUTCOME_ROWS:
            outcome_notes.append((r, f"申请 {e.get('request_id')} 的办理结果“{outcome}”无法识别，计入“其他”"))
            outcome = "other.other"
        r["closed"] = max(on, r["received"])
        r["outcome"] = outcome

    t3 = empty_table3()
    start, end = date(year, 1, 1), date(year, 12, 31)
    for r in requests.values():
        col, received, closed = r["column"], r["received"], r["closed"]
        if received > end:
            continue
        if closed is not None and closed < start:
            continue  # finished before this year
        if r["note"]:
            notes.append(r["note"])
        if received >= start:
            t3["new"][col] += 1
        else:
            t3["carried_in"][col] += 1
        if closed is not None and closed <= end:
            t3[r["outcome"]][col] += 1
            t3["total"][col] += 1
            r["counted"] = True
        else:
            t3["carried_out"][col] += 1
    notes += [note for r, note in outcome_notes if r.get("counted")]
    for row in ROWS:
        t3[row]["total"] = sum(t3[row][c] for c in APPLICANT_COLUMNS)
    return t3


def check_table3(t3: dict) -> list[str]:
    """Violations of the national checks, as Chinese messages; empty when the table is sound."""
    problems: list[str] = []
    for row in ROWS:
        if row not in t3:
            problems.append(f"缺少行“{ROW_LABELS[row]}”（{row}）")
    if problems:
        return problems
    for col in COLUMNS:
        label = COLUMN_LABELS[col]

        def get(row: str, col: str = col) -> int:
            return int(t3[row].get(col, 0) or 0)

        # a carry-in kept to last year's published figure balances with the carry-in the records give
        left = get("new") + (get(CARRIED_IN_COUNTED) if CARRIED_IN_COUNTED in t3 else get("carried_in"))
        right = get("total") + get("carried_out")
        if left != right:
            problems.append(
                f"“{label}”列：本年新收({get('new')}) + 上年结转({get('carried_in')}) = {left}，"
                f"不等于 办理结果总计({get('total')}) + 结转下年度({get('carried_out')}) = {right}"
            )
        outcomes = sum(get(row) for row in OUTCOME_ROWS)
        if outcomes != get("total"):
            problems.append(f"“{label}”列：各项办理结果之和 {outcomes} 不等于总计 {get('total')}")
    for row in ROWS + ([CARRIED_IN_COUNTED] if CARRIED_IN_COUNTED in t3 else []):
        s = sum(int(t3[row].get(c, 0) or 0) for c in APPLICANT_COLUMNS)
        if s != int(t3[row].get("total", 0) or 0):
            problems.append(f"“{ROW_LABELS[row]}”行：各类申请人之和 {s} 不等于总计列 {t3[row].get('total')}")
    for row in ROWS:
        for col in COLUMNS:
            v = t3[row].get(col, 0)
            if not isinstance(v, int) or v < 0:
                problems.append(f"“{ROW_LABELS[row]}”行“{COLUMN_LABELS[col]}”列的数值 {v!r} 不是非负整数")
    return problems


def counted_cells(tables: dict) -> dict[tuple[str, str, str], Any]:
    """The counted cells of tables 二/三/四 (not table 二's entered blocks), keyed (table, row, column) with
    the national form's labels, in the form's order."""
    cells: dict[tuple[str, str, str], Any] = {}
    t2, t3, t4 = tables["table2"], tables["table3"], tables["table4"]
    for kind in DOCUMENT_KINDS:
        for col in DOCUMENT_COLUMNS:
            cells[("表二", labels.DOCUMENT_KINDS[kind], DOCUMENT_COLUMN_LABELS[col])] = t2[kind][col]
    for row in ROWS:
        for col in COLUMNS:
            cells[("表三", ROW_LABELS[row], COLUMN_LABELS[col])] = t3[row][col]
    for block in CASE_BLOCKS:
        for res in CASE_RESULTS:
            cells[("表四", CASE_BLOCK_LABELS[block], CASE_RESULT_LABELS[res])] = t4[block][res]
    return cells


def table_amendments(published: dict, current: dict) -> list[dict[str, Any]]:
    """Every counted cell of tables 二/三/四 whose figure as counted now differs from the published one."""
    now = counted_cells(current)
    out = []
    for (table, row, column), was in counted_cells(published).items():
        is_ = now[(table, row, column)]
        if was != is_:
            out.append({"table": table, "row": row, "column": column, "published": was, "current": is_})
    return out


def amendment_text(a: dict[str, Any]) -> str:
    diff = a["current"] - a["published"]
    return (
        f"{a['table']}“{a['row']}”{'行' if a['table'] == '表三' else ''}“{a['column']}”{'列' if a['table'] == '表三' else ''}："
        f"公布数 {a['published']}，按现有记录为 {a['current']}（{'+' if diff > 0 else ''}{diff}）"
    )


def _table2(events: list[dict], year: int, department: str | None, entered: dict | None) -> dict:
    end = date(year, 12, 31)
    docs: dict[str, dict] = {}
    for e in events:
        if e.get("type") != "document.signed":
            continue
        did = e.get("document_id")
        if did is None or did in docs or e.get("kind") not in DOCUMENT_KINDS:
            continue
        if department is not None and e.get("department") != department:
            continue
        signed = _day(e.get("signed_on"))
        if signed is None:
            continue
        docs[did] = {"kind": e["kind"], "signed": signed, "repealed": None}
    for e in sorted((e for e in events if e.get("type") == "document.repealed"), key=_sort_key):
        d = docs.get(str(e.get("document_id")))
        if d is not None and d["repealed"] is None:
            d["repealed"] = _day(e.get("repealed_on"))

    t2: dict[str, Any] = {k: {c: 0 for c in DOCUMENT_COLUMNS} for k in DOCUMENT_KINDS}
    for d in docs.values():
        row = t2[d["kind"]]
        if d["signed"].year == year:
            row["issued"] += 1
        if d["repealed"] is not None and d["repealed"].year == year:
            row["repealed"] += 1
        if d["signed"] <= end and (d["repealed"] is None or d["repealed"] > end):
            row["in_force"] += 1
    return add_entered(t2, entered)


def add_entered(t2: dict[str, Any], entered: dict | None) -> dict[str, Any]:
    """Table 二's entered blocks added to its counted block (checked: unknown keys and bad values raise)."""
    entered = dict(entered or {})
    unknown = sorted(set(entered) - set(ENTERED_KEYS))
    if unknown:
        raise ValueError(f"表二填报项无法识别：{', '.join(unknown)}（可用：{', '.join(ENTERED_KEYS)}）")
    for key in ("licensing", "penalty", "coercion"):
        v = entered.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise ValueError(f"表二填报项 {key} 必须是非负整数，收到 {v!r}")
        t2[key] = {"decisions": v}
    fees = entered.get("fees")
    if fees is not None and (isinstance(fees, bool) or not isinstance(fees, (int, float)) or fees < 0):
        raise ValueError(f"表二填报项 fees 必须是非负数（万元），收到 {fees!r}")
    t2["fees"] = {"amount_10k_yuan": fees}
    return t2


def _case_block() -> dict[str, int]:
    return {k: 0 for k in CASE_RESULTS}


def _table4(events: list[dict], year: int, department: str | None, known_requests: dict[str, str]) -> dict:
    start, end = date(year, 1, 1), date(year, 12, 31)
    filed: dict[tuple, list[date]] = defaultdict(list)
    decided: dict[tuple, list[tuple[date, str]]] = defaultdict(list)

    # A litigation.decided that does not say `after_review` takes it from its own litigation.filed (the
    # earliest filing of the request not yet decided), so one case is never counted in both blocks.
    open_filings: dict[str, list[bool]] = defaultdict(list)

    def block_of(e: dict) -> str:
        if e["type"].startswith("review."):
            return "review"
        flag = e.get("after_review")
        queue = open_filings[str(e.get("request_id"))]
        if e["type"] == "litigation.filed":
            queue.append(bool(flag))
        elif flag is None:
            flag = queue.pop(0) if queue else False
        elif bool(flag) in queue:
            queue.remove(bool(flag))
        return "litigation_after_review" if flag else "litigation_direct"

    for e in sorted(events, key=_sort_key):
        t = e.get("type")
        if t not in CASE_EVENT_TYPES:
            continue
        rid = e.get("request_id")
        if department is not None and known_requests.get(str(rid)) != department:
            continue
        on = _day(e.get("on"))
        if on is None:
            continue
        key = (block_of(e), rid)
        if t.endswith(".filed"):
            filed[key].append(on)
        else:
            decided[key].append((on, str(e.get("result") or "")))

    t4 = {b: _case_block() for b in CASE_BLOCKS}
    for key in set(filed) | set(decided):
        block = t4[key[0]]
        f, d = filed.get(key, []), decided.get(key, [])
        for i in range(max(len(f), len(d))):
            filed_on = f[i] if i < len(f) else d[i][0]
            dec = d[i] if i < len(d) else None
            if dec is not None and start <= dec[0] <= end:
                result = dec[1] if dec[1] in ("upheld", "corrected") else "other"
                block[result] += 1
            elif filed_on <= end and (dec is None or dec[0] > end):
                block["pending"] += 1
    for block in t4.values():
        block["total"] = block["upheld"] + block["corrected"] + block["other"] + block["pending"]
    return t4


def annual_report(
    events: Iterable[dict],
    year: int,
    department: str | None = None,
    entered: dict | None = None,
) -> dict:
    """Tables 二, 三, 四 of the national annual report for `year` (optionally one department).

    Returns {"year", "department", "table2", "table3", "table4", "notes"}; `notes` lists data
    problems met while counting (Chinese), empty normally.
    """
    evs = _dedupe(events)
    notes: list[str] = []
    known_requests: dict[str, str] = {}
    for e in evs:
        if e.get("type") == "request.received" and e.get("request_id") is not None:
            known_requests.setdefault(e["request_id"], str(e.get("department") or ""))
    return {
        "year": year,
        "department": department,
        "table2": _table2(evs, year, department, entered),
        "table3": _table3(evs, year, department, notes),
        "table4": _table4(evs, year, department, known_requests),
        "notes": notes,
    }
