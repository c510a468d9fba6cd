"""The whole annual report draft (政府信息公开工作年度报告) in the 2021 national format.

Pure: events (canonical dicts, as domain.report reads them), clock records (domain.scoring.ClockRecord,
from the read model) and the entered figures in; a JSON-able document out, which services.annual_render
typesets as .docx / HTML. Nothing is invented: a figure that neither the events nor the entered-figures
file give is written as a visible placeholder 【待填：…】 and listed in `placeholders`.

Sections (国办公开办函〔2021〕30号): 一、总体情况 (sentences from the events and clocks) · 二 表二 · 三 表三 ·
四 表四 · 五、存在的主要问题及改进情况 (the clocks missed in the year, by rule and department, as a draft) ·
六、其他需要报告的事项.

Scopes: one department; the whole jurisdiction of a government (`government_units`: the unit that
compiles the government's report and every unit under it through `parent`, transitively); or every
event (no filter). A government report counts the events of all its units together, so its table 三
is the sum of its units' tables and keeps the identity.

Timeliness shares come from the clock records (the same due dates the scores use: pauses,
extensions and restarts included), joined to the events by item id; counts come from the events.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from domain import report as R
from domain.labels import EVENT_TYPES
from domain.shanghai import SHANGHAI, SHANGHAI_OFFSET

# Entered figures that are not table 二's (key -> label used in the text and in placeholders).
NARRATIVE_KEYS: dict[str, str] = {
    "institutions": "政府信息公开工作机构数（个）",
    "reading_points": "政府信息公开查阅点数（个）",
    "staff_full_time": "专职工作人员数（人）",
    "staff_part_time": "兼职工作人员数（人）",
    "training_sessions": "政务公开业务培训次数（次）",
    "processing_fees": "本年收取信息处理费金额（元）",
    "platform": "政府信息公开平台建设情况（文字）",
    "supervision": "监督保障情况（文字）",
    "improvements": "上年度问题的改进情况（文字）",
    "other_matters": "其他需要报告的事项（文字）",
}
TEXT_KEYS = {"platform", "supervision", "improvements", "other_matters"}
PLACEHOLDER_RE = re.compile(r"【待填：[^】]*】")

CHANNEL_LABELS = {
    "website": "政府网站",
    "gazette": "政府公报",
    "weibo": "政务微博",
    "wechat": "政务微信",
    "other": "其他方式",
}
FORM_LABELS = {"text": "文字解读", "graphic": "图文解读", "video": "视频解读", "other": "其他形式解读"}
KIND_LABELS = {"regulation": "规章", "normative": "行政规范性文件", "policy": "其他政策文件", "other": "其他文件"}
REQUEST_CHANNEL_LABELS = {
    "in_person": "当面申请",
    "online": "网络申请",
    "post_registered": "信函申请（挂号）",
    "post_ordinary": "信函申请（平信）",
    "email": "电子邮件申请",
    "fax": "传真申请",
    "other": "其他方式申请",
}
CONSULT_LABELS = {"third_party": "征求第三方意见", "agency": "征求其他机关意见"}
SEVERITY_LABELS = {"major": "重大", "general": "一般"}

SECTION_HEADINGS = [
    "一、总体情况",
    "二、主动公开政府信息情况",
    "三、收到和处理政府信息公开申请情况",
    "四、政府信息公开行政复议、行政诉讼情况",
    "五、存在的主要问题及改进情况",
    "六、其他需要报告的事项",
]


class EnteredFiguresError(ValueError):
    """The entered-figures file has an unknown key or a bad value; the message names the file and key."""


@dataclass(frozen=True)
class ReportScope:
    kind: Literal["department", "government", "all"]
    issuer: str  # who publishes it, e.g. 钦州市财政局 / 钦州市人民政府
    title_name: str  # the name in the title, e.g. 钦州市财政局 / 钦州市
    departments: frozenset[str] | None  # None: every event
    department: str | None = None  # the department (kind "department") or the compiling unit


# ---------------------------------------------------------------------------------- scope


def government_units(parents: dict[str, str | None], root: str) -> list[str]:
    """`root` and every unit whose `parent` chain reaches it (cycles are ignored), sorted."""
    units = {root}
    changed = True
    while changed:
        changed = False
        for unit, parent in parents.items():
            if unit not in units and parent in units:
                units.add(unit)
                changed = True
    return sorted(units)


def government_name(office_name: str) -> tuple[str, str]:
    """(issuer, title name) of the government whose office is `office_name`:
    钦州市人民政府办公室 -> (钦州市人民政府, 钦州市)."""
    issuer = office_name.removesuffix("办公室").removesuffix("办公厅") or office_name
    title = issuer.removesuffix("人民政府") or issuer
    return issuer, title


def report_item_title(item_id: str, department_names: dict[str, str]) -> str | None:
    """The title people read for an annual-report item: `annual-report:qz-zrzyj:2025` ->
    钦州市自然资源局2025年政府信息公开工作年度报告 (a government's: 钦州市2025年…). None for other ids."""
    kind, _, rest = item_id.partition(":")
    dept, _, year = rest.rpartition(":")
    if kind not in ("annual-report", "government-annual-report") or not dept or not year.isdigit():
        return None
    name = department_names.get(dept, dept)
    if kind == "government-annual-report":
        name = government_name(name)[1]
    return f"{name}{year}年政府信息公开工作年度报告"


def department_scope(dept_id: str, name: str) -> ReportScope:
    return ReportScope("department", name, name, frozenset({dept_id}), dept_id)


def government_scope(root: str, office_name: str, parents: dict[str, str | None]) -> ReportScope:
    issuer, title = government_name(office_name)
    return ReportScope("government", issuer, title, frozenset(government_units(parents, root)), root)


ALL_SCOPE = ReportScope("all", "本机关", "", None)


def report_scope(departments: dict[str, Any], department: str, level: str) -> ReportScope:
    """The scope of the report an `annual_report.published` names (`departments`: the directory's)."""
    d = departments.get(department)
    name = d.name if d is not None else department
    if level == "government":
        return government_scope(department, name, {u.id: u.parent for u in departments.values()})
    return department_scope(department, name)


def filter_events(events: Iterable[dict], departments: frozenset[str] | None) -> list[dict]:
    """The events of items that belong to `departments` (items carry `department`; follow-up events
    are attributed through `request_id` / `document_id` / `case_id` / `item_id`)."""
    evs = list(events)
    if departments is None:
        return evs
    owned: set[tuple[str, str]] = set()
    for e in evs:
        if e.get("department") in departments:
            for key in ("request_id", "document_id", "case_id", "item_id"):
                if e.get(key) is not None:
                    owned.add((key, str(e[key])))
    out = []
    for e in evs:
        dept = e.get("department")
        if dept is not None:
            if dept in departments:
                out.append(e)
            continue
        if any(
            e.get(k) is not None and (k, str(e[k])) in owned
            for k in ("request_id", "document_id", "case_id", "item_id")
        ):
            out.append(e)
    return out


# ---------------------------------------------------------------------------------- entered figures


def split_entered(data: dict | None, source: str = "填报数") -> tuple[dict, dict]:
    """(table 二 figures, narrative figures) of one entered-figures file; unknown keys or bad values
    raise EnteredFiguresError naming the file and the key."""
    t2: dict[str, Any] = {}
    narrative: dict[str, Any] = {}
    for key, value in (data or {}).items():
        if key in R.ENTERED_KEYS:
            t2[key] = value
        elif key in NARRATIVE_KEYS:
            if key in TEXT_KEYS:
                if not isinstance(value, str) or not value.strip():
                    raise EnteredFiguresError(f"{source}: {key}: 应为非空文字（{NARRATIVE_KEYS[key]}）")
                narrative[key] = value.strip()
            else:
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
                if key != "processing_fees" and not isinstance(value, int):
                    ok = False
                if not ok:
                    raise EnteredFiguresError(
                        f"{source}: {key}: 应为非负{'数' if key == 'processing_fees' else '整数'}"
                        f"（{NARRATIVE_KEYS[key]}），收到 {value!r}"
                    )
                narrative[key] = value
        else:
            known = ", ".join(list(R.ENTERED_KEYS) + list(NARRATIVE_KEYS))
            raise EnteredFiguresError(f"{source}: {key}: 无法识别的填报项（可用：{known}）")
    return t2, narrative


def placeholder(label: str) -> str:
    return f"【待填：{label}】"


# ---------------------------------------------------------------------------------- figures


def _day(value: Any) -> date | None:
    return R._day(value)


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value)
        if len(text) <= 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), SHANGHAI_OFFSET)
        dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=SHANGHAI_OFFSET)


def _pct(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.1f}%" if whole else "—"


def _num(x: float | int) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def rule_versions() -> dict[str, str]:
    """A variant of a rule (rules.toml `replaces`: a node's version, a province's) counts as the rule it
    replaces: a node that asks the interpretation the same day reports its interpretations among 政策解读."""
    from domain.engine import engine

    return {r.id: r.replaces for r in engine().rules.values() if r.replaces}


def interpretation_rules() -> tuple[str, ...]:
    """The interpretation clock and its variants."""
    return ("policy_interpretation", *sorted(k for k, v in rule_versions().items() if v == "policy_interpretation"))


def _status_index(clocks: Iterable[Any], as_of: date) -> dict[tuple[str, str], str]:
    from domain.scoring import classify

    out: dict[tuple[str, str], str] = {}
    versions = rule_versions()
    for c in clocks:
        out[(c.item_id, versions.get(c.rule, c.rule))] = classify(c.state, c.due, c.met_on, as_of)
    return out


def _share(ids: Iterable[str], rule: str, status: dict[tuple[str, str], str]) -> tuple[int, int]:
    """(on time, decided) over the items' clocks of `rule` (items without a decided clock are left out)."""
    on_time = decided = 0
    for i in ids:
        s = status.get((i, rule))
        if s in ("on_time", "late", "overdue"):
            decided += 1
            on_time += s == "on_time"
    return on_time, decided


def _by_label(counter: Counter, labels: dict[str, str]) -> str:
    parts = [
        f"{labels.get(k, k)}{n}件"
        for k, n in sorted(counter.items(), key=lambda kv: list(labels).index(kv[0]) if kv[0] in labels else 99)
        if n
    ]
    return "、".join(parts)


def compute_figures(
    events: list[dict], year: int, clocks: list[Any], as_of: date, rule_hours: dict[str, float] | None = None
) -> dict[str, Any]:
    """The year's figures of section 一 from the (already scoped) events and clock records."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    in_year = lambda d: d is not None and start <= d <= end  # noqa: E731
    status = _status_index(clocks, as_of)
    evs = R._dedupe(events)

    # documents
    signed: Counter[str] = Counter()
    docs: dict[str, dict] = {}
    for e in evs:
        if e.get("type") == "document.signed" and e.get("document_id") not in docs:
            docs[e["document_id"]] = e
            if in_year(_day(e.get("signed_on"))):
                signed[e.get("kind") or "other"] += 1
    published_ids: list[str] = []
    channels: Counter[str] = Counter()
    seen_pub: set[str] = set()
    for e in evs:
        if (
            e.get("type") == "document.published"
            and e.get("document_id") in docs
            and e["document_id"] not in seen_pub
            and in_year(_day(e.get("published_on")))
        ):
            seen_pub.add(e["document_id"])
            published_ids.append(e["document_id"])
            channels[e.get("channel") or "website"] += 1
    pub_on_time, pub_decided = _share(published_ids, "policy_publication", status)

    forms: Counter[str] = Counter()
    form_ids: dict[str, list[str]] = defaultdict(list)
    seen_int: set[str] = set()
    for e in evs:
        if (
            e.get("type") == "interpretation.published"
            and e.get("document_id") in docs
            and in_year(_day(e.get("published_on")))
        ):
            form = e.get("form") or "other"
            forms[form] += 1
            if e["document_id"] not in seen_int:  # the clock is met by the first interpretation
                seen_int.add(e["document_id"])
                form_ids[form].append(e["document_id"])
    int_share = {f: _share(ids, "policy_interpretation", status) for f, ids in form_ids.items()}
    int_on_time = sum(a for a, _ in int_share.values())
    int_decided = sum(b for _, b in int_share.values())

    # requests
    req_dept: dict[str, dict] = {}
    for e in evs:
        if e.get("type") == "request.received" and e.get("request_id") not in req_dept:
            req_dept[e["request_id"]] = e
    received = [r for r in req_dept.values() if in_year(_day(r.get("received_on")))]
    req_channels = Counter(r.get("channel") or "other" for r in received)
    answered: list[str] = []
    seen_ans: set[str] = set()
    counts: Counter[str] = Counter()
    consult: Counter[str] = Counter()
    for e in sorted(evs, key=R._sort_key):
        t, rid = e.get("type"), e.get("request_id")
        if rid not in req_dept or not in_year(_day(e.get("on"))):
            continue
        if t in ("request.replied", "request.answered_on_the_spot") and rid not in seen_ans:
            seen_ans.add(rid)
            answered.append(rid)
            if t == "request.answered_on_the_spot":
                counts["on_the_spot"] += 1
        elif t == "request.extended":
            counts["extended"] += 1
        elif t == "request.correction_requested":
            counts["corrections"] += 1
        elif t == "request.consultation_started":
            consult[e.get("with") or "third_party"] += 1
        elif t == "request.withdrawn":
            counts["withdrawn"] += 1
    reply_on_time, reply_decided = _share(answered, "request_reply", status)

    return {
        "documents_signed": dict(signed),
        "documents_published": len(published_ids),
        "published_channels": dict(channels),
        "publication_on_time": pub_on_time,
        "publication_decided": pub_decided,
        "interpretations": sum(forms.values()),
        "interpretation_forms": dict(forms),
        "interpretation_on_time": int_on_time,
        "interpretation_decided": int_decided,
        "interpretation_by_form": {f: {"on_time": a, "decided": b} for f, (a, b) in int_share.items()},
        "requests_received": len(received),
        "request_channels": dict(req_channels),
        "requests_answered": len(answered),
        "answered_on_the_spot": counts["on_the_spot"],
        "reply_on_time": reply_on_time,
        "reply_decided": reply_decided,
        "extensions": counts["extended"],
        "corrections": counts["corrections"],
        "consultations": dict(consult),
        "withdrawn": counts["withdrawn"],
    } | opinion_figures(evs, year, rule_hours)


def opinion_figures(evs: list[dict], year: int, rule_hours: dict[str, float] | None = None) -> dict[str, Any]:
    """Section 一(三): the opinion cases detected in `year` (Shanghai day) and their first answers; `evs` needs
    only the opinion events (the cases' detections and answers)."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    in_year = lambda d: d is not None and start <= d <= end  # noqa: E731
    hours = rule_hours or {"major": 5.0, "general": 48.0}
    cases: dict[str, dict] = {}
    for e in evs:
        if e.get("type") == "opinion.detected" and e.get("case_id") not in cases:
            at = _instant(e.get("detected_at"))
            if at is not None and in_year(at.astimezone(SHANGHAI_OFFSET).date()):
                cases[e["case_id"]] = {
                    "at": at,
                    "severity": e.get("severity") or "general",
                    "first": None,
                    "press": False,
                }
    for e in evs:
        c = cases.get(str(e.get("case_id")))
        if c is None or e.get("type") not in ("opinion.info_released", "opinion.press_conference", "opinion.responded"):
            continue
        at = _instant(e.get("at"))
        if at is None:
            continue
        if e["type"] == "opinion.press_conference":
            c["press"] = True
        # a major case is answered by authoritative information (info_released / responded) within 5 h
        if c["severity"] == "major" and e["type"] == "opinion.press_conference":
            continue
        if c["first"] is None or at < c["first"]:
            c["first"] = at
    sev = Counter(c["severity"] for c in cases.values())
    times = [(c["first"] - c["at"]).total_seconds() / 3600 for c in cases.values() if c["first"] is not None]
    within = sum(
        1
        for c in cases.values()
        if c["first"] is not None and (c["first"] - c["at"]).total_seconds() / 3600 <= hours.get(c["severity"], 48.0)
    )
    return {
        "opinion_cases": len(cases),
        "opinion_by_severity": dict(sev),
        "opinion_answered": len(times),
        "opinion_within_limit": within,
        "opinion_press_conferences": sum(1 for c in cases.values() if c["press"]),
        "opinion_avg_hours": round(sum(times) / len(times), 1) if times else None,
        "opinion_max_hours": round(max(times), 1) if times else None,
        "opinion_limits_hours": hours,
    }


def missed_clocks(
    clocks: Iterable[Any],
    year: int,
    as_of: date,
    departments: frozenset[str] | None,
    rule_labels: dict[str, str],
    dept_names: dict[str, str],
    held: Collection[tuple[str, str]] = (),
) -> list[dict]:
    """Clocks due in `year` that were met late or are still overdue at `as_of`, grouped by rule and
    department (most first). `held`: the clocks a late entry waiting for review decides
    (domain.review.held_clocks): neither on time nor late until decided, so nobody is blamed for them."""
    from domain.review import LIVE_STATES
    from domain.scoring import classify

    groups: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for c in clocks:
        if departments is not None and c.department not in departments:
            continue
        if c.due_day.year != year:
            continue
        if held and c.state in LIVE_STATES and (c.item_id, c.rule) in held:
            continue
        s = classify(c.state, c.due, c.met_on, as_of)
        if s in ("late", "overdue"):
            groups[(c.rule, c.department)][s] += 1
    rows: list[dict[str, Any]] = [
        {
            "rule": rule,
            "rule_label": rule_labels.get(rule, rule),
            "department": dept,
            "department_name": dept_names.get(dept, dept),
            "late": n["late"],
            "overdue": n["overdue"],
            "count": n["late"] + n["overdue"],
        }
        for (rule, dept), n in groups.items()
    ]
    rows.sort(key=lambda r: (-r["count"], r["rule"], r["department"]))
    return rows


# ---------------------------------------------------------------------------------- the document


class _Text:
    """Collects paragraphs and the placeholders they contain."""

    def __init__(self) -> None:
        self.placeholders: list[str] = []

    def fill(self, narrative: dict, key: str) -> str:
        if key in narrative:
            return _num(narrative[key]) if not isinstance(narrative[key], str) else narrative[key]
        return self.hole(NARRATIVE_KEYS[key])

    def hole(self, label: str) -> str:
        if label not in self.placeholders:
            self.placeholders.append(label)
        return placeholder(label)


def _overview(f: dict, year: int, scope: ReportScope, narrative: dict, t3: dict, w: _Text) -> list[dict]:
    who = {"government": "本级政府及所属各部门", "department": "本机关", "all": "各部门"}[scope.kind]
    blocks: list[dict] = []
    # (一) proactive disclosure
    signed = f["documents_signed"]
    signed_txt = "、".join(f"{KIND_LABELS[k]}{signed[k]}件" for k in KIND_LABELS if signed.get(k)) or "政策文件0件"
    s = f"{year}年，{who}签发{signed_txt}；主动公开政府文件{f['documents_published']}件"
    ch = _by_label(Counter(f["published_channels"]), CHANNEL_LABELS)
    s += f"，其中{ch}" if ch else ""
    if f["publication_decided"]:
        s += (
            f"。纳入成文之日起20个工作日内公开时限管理的{f['publication_decided']}件中，按时公开"
            f"{f['publication_on_time']}件，按时公开率{_pct(f['publication_on_time'], f['publication_decided'])}。"
        )
    else:
        s += "。本年没有纳入20个工作日公开时限管理的文件。"
    n_int = f["interpretations"]
    s2 = f"发布政策解读{n_int}篇"
    forms = _by_label(Counter(f["interpretation_forms"]), FORM_LABELS).replace("件", "篇")
    s2 += f"（{forms}）" if forms else ""
    if f["interpretation_decided"]:
        s2 += (
            f"；在文件公开后3个工作日内发布解读的{f['interpretation_on_time']}件，占"
            f"{_pct(f['interpretation_on_time'], f['interpretation_decided'])}"
        )
        per_form = [
            f"{FORM_LABELS.get(k, k)}{_pct(v['on_time'], v['decided'])}"
            for k, v in f["interpretation_by_form"].items()
            if v["decided"]
        ]
        if len(per_form) > 1:
            s2 += f"（按形式：{'，'.join(per_form)}）"
    s2 += "。"
    blocks += [{"type": "subheading", "text": "（一）主动公开"}, {"type": "para", "text": s + s2}]

    # (二) requests
    r = f"{year}年，{who}新收政府信息公开申请{f['requests_received']}件"
    rc = _by_label(Counter(f["request_channels"]), REQUEST_CHANNEL_LABELS)
    r += f"（{rc}）" if rc else ""
    r += (
        f"，上年结转{t3['carried_in']['total']}件；本年办结{t3['total']['total']}件，其中作出答复"
        f"{f['requests_answered']}件（当场答复{f['answered_on_the_spot']}件），"
        f"结转下年度继续办理{t3['carried_out']['total']}件。"
    )
    if f["reply_decided"]:
        r += (
            f"纳入答复时限管理的{f['reply_decided']}件中，在法定期限内答复{f['reply_on_time']}件，"
            f"按时答复率{_pct(f['reply_on_time'], f['reply_decided'])}。"
        )
    consult = f["consultations"]
    ctxt = "、".join(f"{CONSULT_LABELS.get(k, k)}{n}件" for k, n in consult.items())
    r += (
        f"经批准延长答复期限{f['extensions']}件，一次性告知申请人补正{f['corrections']}件，"
        f"征求意见{sum(consult.values())}件{('（' + ctxt + '）') if ctxt else ''}。"
    )
    blocks += [{"type": "subheading", "text": "（二）依申请公开"}, {"type": "para", "text": r}]

    # (三) responding to public concerns
    if f["opinion_cases"]:
        sev = "、".join(f"{SEVERITY_LABELS.get(k, k)}舆情{n}起" for k, n in f["opinion_by_severity"].items())
        lim = f["opinion_limits_hours"]
        o = (
            f"{year}年，{who}监测处置政务舆情{f['opinion_cases']}起（{sev}），已回应{f['opinion_answered']}起，"
            f"首次回应平均用时{_num(f['opinion_avg_hours'])}小时、最长{_num(f['opinion_max_hours'])}小时；"
            f"在规定时限内（重大舆情{_num(lim.get('major', 5))}小时内发布权威信息，一般舆情"
            f"{_num(lim.get('general', 48))}小时内回应）回应{f['opinion_within_limit']}起，占"
            f"{_pct(f['opinion_within_limit'], f['opinion_cases'])}；召开新闻发布会回应"
            f"{f['opinion_press_conferences']}起。"
        )
    else:
        o = f"{year}年，{who}未记录需要回应的政务舆情。"
    blocks += [{"type": "subheading", "text": "（三）回应社会关切"}, {"type": "para", "text": o}]

    # (四) organisation (entered figures)
    g = (
        f"设置政府信息公开工作机构{w.fill(narrative, 'institutions')}个、政府信息公开查阅点"
        f"{w.fill(narrative, 'reading_points')}个，从事政府信息公开工作的专职人员"
        f"{w.fill(narrative, 'staff_full_time')}人、兼职人员{w.fill(narrative, 'staff_part_time')}人，"
        f"全年开展政务公开业务培训{w.fill(narrative, 'training_sessions')}次。"
    )
    blocks += [{"type": "subheading", "text": "（四）工作机构和人员"}, {"type": "para", "text": g}]
    blocks += [
        {"type": "subheading", "text": "（五）平台建设和监督保障"},
        {"type": "para", "text": w.fill(narrative, "platform")},
        {"type": "para", "text": w.fill(narrative, "supervision")},
    ]
    return blocks


def _problems(missed: list[dict], year: int, narrative: dict, w: _Text) -> list[dict]:
    blocks: list[dict] = [{"type": "subheading", "text": "（一）存在的主要问题"}]
    if missed:
        total = sum(m["count"] for m in missed)
        blocks.append(
            {
                "type": "para",
                "text": (
                    f"{year}年到期的法定时限中，有{total}件未按时履行（以下为系统根据时限记录生成的草稿，请核实并补充原因）："
                ),
            }
        )
        by_rule: dict[str, list[dict]] = defaultdict(list)
        for m in missed:
            by_rule[m["rule_label"]].append(m)
        for i, (label, rows) in enumerate(sorted(by_rule.items(), key=lambda kv: -sum(r["count"] for r in kv[1])), 1):
            n = sum(r["count"] for r in rows)
            parts = []
            for r in rows:
                detail = []
                if r["late"]:
                    detail.append(f"逾期办结{r['late']}件")
                if r["overdue"]:
                    detail.append(f"逾期未办{r['overdue']}件")
                parts.append(f"{r['department_name']}{r['count']}件（{'，'.join(detail)}）")
            blocks.append({"type": "para", "text": f"{i}.“{label}”逾期{n}件：{'；'.join(parts)}。"})
    else:
        blocks.append({"type": "para", "text": f"{year}年到期的法定时限均按时履行，时限记录中未发现逾期。"})
    blocks += [
        {"type": "subheading", "text": "（二）改进情况"},
        {"type": "para", "text": w.fill(narrative, "improvements")},
    ]
    return blocks


BASIS_LABELS = {"published": "公布时自动锁定", "assessor": "考评人员锁定"}
AMENDMENTS_HEADING = "附：更正说明"


def keep_carry_in(tables: dict[str, Any], published_out: dict[str, int] | None, year: int) -> str | None:
    """Table 三's 上年结转 kept to `published_out`, the 结转下年度 row of last year's published report, when the
    records now give another carry-in (a late entry approved after that publication): the counted carry-in
    stays beside it (R.CARRIED_IN_COUNTED, which the balance check uses) and the note explains the difference.
    In place; None when they agree or last year's report is not locked."""
    t3 = tables["table3"]
    t3.pop(R.CARRIED_IN_COUNTED, None)
    if published_out is None:
        return None
    counted = dict(t3["carried_in"])
    published = {c: int(published_out.get(c, 0) or 0) for c in R.COLUMNS}
    if counted == published:
        return None
    t3["carried_in"], t3[R.CARRIED_IN_COUNTED] = published, counted
    return carry_in_note(year, published["total"], counted["total"])


def carry_in_note(year: int, published: int, counted: int) -> str:
    diff = counted - published
    return (
        f"“上年结转”按{year - 1}年度报告公布的“结转下年度继续办理”数填列（{published}件）；按现有记录为"
        f"{counted}件，{'多' if diff > 0 else '少' if diff < 0 else '总数相同、申请人类型不同'}"
        f"{abs(diff) if diff else ''}{'件' if diff else ''}，系{year - 1}年度报告公布后补录、审核通过或更正的记录所致，"
        f"详见{year - 1}年度报告的更正说明。本表勾稽关系按现有记录的上年结转数校验。"
    )


def _amendment_blocks(lock: dict[str, Any], amendments: list[dict], year: int) -> list[dict]:
    locked_day = _shanghai_day(lock.get("locked_at"))
    if lock.get("published_on"):
        when = f"本报告于{lock['published_on']}公布"
        if locked_day and locked_day > str(lock["published_on"]):
            # the lock holds what was counted when the publication was recorded, not on its own day
            when += f"，{locked_day}登记公布并锁定（表中为登记时的数据）"
    else:
        when = f"本报告于{locked_day or str(lock.get('locked_at'))[:10]}由考评人员锁定"
    blocks = [{"type": "para", "text": f"{when}，表二至表四按锁定时的数据列示，此后不再改动。"}]
    if not amendments:
        blocks.append({"type": "para", "text": "锁定后，上述表格所列数据未发生变化。"})
        return blocks
    blocks.append(
        {
            "type": "para",
            "text": f"锁定后，因补录、审核通过或更正的记录，下列{len(amendments)}项数据按现有记录已有变化"
            f"（{year + 1}年度报告的“上年结转”仍按本报告公布数填列）：",
        }
    )
    blocks += [{"type": "para", "text": f"{i}. {R.amendment_text(a)}。"} for i, a in enumerate(amendments, 1)]
    entries = lock.get("entries") or []
    if entries:
        blocks.append(
            {
                "type": "para",
                "text": f"锁定后登记、日期在{year}年12月31日及以前的记录{len(entries)}条："
                + "；".join(
                    f"{e['item_id']} {EVENT_TYPES.get(e['type'], e['type'])}（日期 {e['occurred_on']}，"
                    f"{str(e['recorded_at'])[:10]} 登记）"
                    for e in entries
                )
                + "。",
            }
        )
    return blocks


def build_document(
    events: Iterable[dict],
    year: int,
    scope: ReportScope = ALL_SCOPE,
    *,
    entered: dict | None = None,
    entered_source: str = "填报数",
    clocks: Iterable[Any] = (),
    as_of: date | None = None,
    rule_labels: dict[str, str] | None = None,
    dept_names: dict[str, str] | None = None,
    rule_hours: dict[str, float] | None = None,
    lock: dict[str, Any] | None = None,
    previous_carried_out: dict[str, int] | None = None,
    held: Collection[tuple[str, str]] = (),
) -> dict[str, Any]:
    """The whole report of `year` for `scope`. `clocks` are ClockRecords (filtered to the scope here),
    classified as of `as_of` (the drafting day; default January 31 of the next year). `lock`: the year's
    locked report (its `tables` as locked, `locked_at`, `locked_by`, `basis`, `published_on`);
    `previous_carried_out`: the 结转下年度 row of last year's locked report (see compose_document)."""
    as_of = as_of or date(year + 1, 1, 31)
    t2_figures, narrative = split_entered(entered, entered_source)
    scoped = filter_events(events, scope.departments)
    tables = R.annual_report(scoped, year, None, t2_figures)
    clocks = [c for c in clocks if scope.departments is None or c.department in scope.departments]
    figures = compute_figures(scoped, year, clocks, as_of, rule_hours)
    missed = missed_clocks(clocks, year, as_of, scope.departments, rule_labels or {}, dept_names or {}, held)
    return compose_document(
        tables, figures, missed, year, scope, narrative, as_of, dept_names, lock, previous_carried_out
    )


def compose_document(
    tables: dict[str, Any],
    figures: dict[str, Any],
    missed: list[dict],
    year: int,
    scope: ReportScope,
    narrative: dict,
    as_of: date,
    dept_names: dict[str, str] | None,
    lock: dict[str, Any] | None = None,
    previous_carried_out: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The document from the year's counted parts (tables 二/三/四 as domain.report gives them, the figures of
    compute_figures, the rows of missed_clocks) and the entered narrative figures.

    A locked year (`lock`) shows its counted cells as locked (table 二's entered blocks stay the file's), and
    lists under 更正说明 each cell the records now count otherwise. With last year's report locked, 上年结转
    is its published 结转下年度 (`previous_carried_out`, keep_carry_in) and a note explains any difference."""
    w = _Text()
    tables = {**tables, "table3": dict(tables["table3"]), "notes": list(tables.get("notes", []))}
    carry = keep_carry_in(tables, previous_carried_out, year)
    amendments: list[dict] = []
    if lock is not None:
        locked = lock["tables"]
        amendments = R.table_amendments(locked, tables)
        t2 = dict(tables["table2"])
        t2.update({k: dict(locked["table2"][k]) for k in R.DOCUMENT_KINDS})
        tables.update(table2=t2, table3=dict(locked["table3"]), table4=locked["table4"])
        # the locked table's own carry-in (kept at its lock) is the one shown
        lt3 = tables["table3"]
        carry = (
            carry_in_note(year, lt3["carried_in"]["total"], lt3[R.CARRIED_IN_COUNTED]["total"])
            if R.CARRIED_IN_COUNTED in lt3
            else None
        )
    if carry:
        tables["notes"].append(carry)
    t3 = tables["table3"]

    # table 二's entered cells that are missing become named placeholders too
    for key, (_block, item, col) in R.ENTERED_KEYS.items():
        cell = tables["table2"][key]
        if (cell.get("amount_10k_yuan") if key == "fees" else cell.get("decisions")) is None:
            w.hole(f"表二 {item} {col}")

    t4 = tables["table4"]
    t4_total = sum(t4[b]["total"] for b in R.CASE_BLOCKS)
    if t4_total:
        t4_text = (
            f"{year}年，因政府信息公开申请行政复议{t4['review']['total']}件、提起行政诉讼"
            f"{t4['litigation_direct']['total'] + t4['litigation_after_review']['total']}件，详见下表。"
        )
    else:
        t4_text = f"{year}年，未发生因政府信息公开申请行政复议、提起行政诉讼的情况。"

    fee = narrative.get("processing_fees")
    fee_text = (
        f"依据《政府信息公开信息处理费管理办法》（国办函〔2020〕109号），本年收取信息处理费"
        f"{_num(fee) if fee is not None else w.hole(NARRATIVE_KEYS['processing_fees'])}元。"
    )
    sections = [
        {"heading": SECTION_HEADINGS[0], "blocks": _overview(figures, year, scope, narrative, t3, w)},
        {"heading": SECTION_HEADINGS[1], "blocks": [{"type": "table", "table": "table2"}]},
        {
            "heading": SECTION_HEADINGS[2],
            "blocks": [{"type": "table", "table": "table3"}] + ([{"type": "para", "text": carry}] if carry else []),
        },
        {
            "heading": SECTION_HEADINGS[3],
            "blocks": [{"type": "para", "text": t4_text}, {"type": "table", "table": "table4"}],
        },
        {"heading": SECTION_HEADINGS[4], "blocks": _problems(missed, year, narrative, w)},
        {
            "heading": SECTION_HEADINGS[5],
            "blocks": [
                {"type": "para", "text": fee_text},
                {"type": "para", "text": w.fill(narrative, "other_matters")},
            ],
        },
    ]
    if lock is not None:
        sections.append({"heading": AMENDMENTS_HEADING, "blocks": _amendment_blocks(lock, amendments, year)})
    if scope.kind == "government":
        title = f"{scope.title_name}{year}年政府信息公开工作年度报告"
        units = scope.departments or frozenset()
        # the compiling office first, then the units in the directory's order
        ordered: list[str] = [scope.department or ""] + [
            d for d in (dept_names or {}) if d in units and d != scope.department
        ]
        ordered += sorted(units - set(ordered))
        reach = "本级政府及所属各部门（" + "、".join((dept_names or {}).get(d, d) for d in ordered) + "）"
    elif scope.kind == "department":
        title = f"{scope.title_name}{year}年政府信息公开工作年度报告"
        reach = "本机关"
    else:
        title = f"{year}年政府信息公开工作年度报告（全部部门汇总）"
        reach = "全部部门"
    intro = (
        f"本报告根据《中华人民共和国政府信息公开条例》（以下简称《条例》）第五十条和"
        f"《中华人民共和国政府信息公开工作年度报告格式》（国办公开办函〔2021〕30号）编制，统计范围为{reach}，"
        f"所列数据的统计期限自{year}年1月1日起至{year}年12月31日止。"
    )
    # A superset of domain.report.annual_report's result (year, department, table2/3/4, notes), so the
    # table exports (xlsx) and existing readers of the JSON take it as it is.
    return {
        "year": year,
        "department": scope.department,
        "table2": tables["table2"],
        "table3": t3,
        "table4": t4,
        "scope": {
            "kind": scope.kind,
            "issuer": scope.issuer,
            "department": scope.department,
            "departments": sorted(scope.departments) if scope.departments is not None else None,
        },
        "title": title,
        "issuer": scope.issuer,
        "intro": intro,
        "as_of": as_of.isoformat(),
        "sections": sections,
        "figures": figures,
        "missed": missed,
        "placeholders": w.placeholders,
        "checks": R.check_table3(t3),
        "notes": tables.get("notes", []),
        # the year's lock (None: a draft that still moves), the cells changed since, and the carry-in kept
        "lock": None
        if lock is None
        else {k: lock.get(k) for k in ("locked_at", "locked_by", "basis", "published_on", "entries")}
        | {"basis_label": BASIS_LABELS.get(str(lock.get("basis")), str(lock.get("basis")))},
        "amendments": [a | {"text": R.amendment_text(a)} for a in amendments],
        "carry_in": None
        if R.CARRIED_IN_COUNTED not in t3
        else {"published": t3["carried_in"], "counted": t3[R.CARRIED_IN_COUNTED], "note": carry},
    }


def _shanghai_day(instant: Any) -> str | None:
    """The Asia/Shanghai date of a stored instant (ISO text, with or without its offset: UTC if none)."""
    if not instant:
        return None
    try:
        t = datetime.fromisoformat(str(instant))
    except ValueError:
        return str(instant)[:10]
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(SHANGHAI).date().isoformat()
