"""`shixian up --demo`: seed a sample city (钦州市) into an empty data directory; `shixian up --demo province`
seeds a sample autonomous region (新疆维吾尔自治区: two cities, three counties) on its own configuration
(config/demo/province/ over the shipped config/, composed into the data directory) and data directory.

The scenario is generated relative to today (Asia/Shanghai) so that the board always shows a
quarter of realistic activity: documents published on time and late, an unpublished document and
an unanswered request past their due dates, a request extended into the next year (a provisional
due date while next year's holiday notice is unpublished), a paused request, a corrected request,
a withdrawn request, a budget, a public-opinion case and last year's annual reports.

Everything goes through the one ingest path (`services.ingest.Ingestor`), attributed to each
department's liaison, exactly as if the liaisons had entered it.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("shixian.demo")

DEPARTMENTS = ["qz-zfb", "qz-fgw", "qz-czj", "qz-jyj", "qz-zrzyj"]
LIAISON = {d: "liaison-" + d.split("-", 1)[1] for d in DEPARTMENTS}


def today_shanghai() -> dt.date:
    from domain.shanghai import today

    return today()


def build_events(today: dt.date | None = None, region: str = "guangxi") -> list[dict[str, Any]]:
    """The demo events, dated relative to `today` (working days of the regional calendar)."""
    from domain.engine import engine

    today = today or today_shanghai()
    cal = engine().calendar

    def wd(n: int) -> str:
        """The working day n working days before today (n = 0: today, or the last working day)."""
        day = cal.subtract_working_days(today, n, region) if n > 0 else today
        return day.isoformat()

    events: list[dict[str, Any]] = []
    seq = iter(range(1, 10_000))

    def ev(dept: str, **fields: Any) -> None:
        events.append({"event_id": f"demo-{next(seq):03d}", "recorded_by": LIAISON[dept], **fields})

    def doc(
        dept: str,
        key: str,
        title: str,
        kind: str,
        signed: int,
        published: int | None = None,
        interpreted: int | None = None,
        needs_interpretation: bool | None = None,
    ) -> None:
        did = f"{dept}-wj-{key}"
        signed_ev: dict[str, Any] = dict(
            type="document.signed",
            document_id=did,
            department=dept,
            title=title,
            kind=kind,
            signed_on=wd(signed),
            disclosure="public",
        )
        if needs_interpretation is not None:
            signed_ev["needs_interpretation"] = needs_interpretation
        ev(dept, **signed_ev)
        if published is not None:
            ev(
                dept,
                type="document.published",
                document_id=did,
                published_on=wd(published),
                url=f"http://www.qinzhou.gov.cn/zwgk/{did}.html",
            )
        if interpreted is not None:
            ev(
                dept,
                type="interpretation.published",
                document_id=did,
                published_on=wd(interpreted),
                url=f"http://www.qinzhou.gov.cn/zcjd/{did}.html",
                form="graphic",
            )

    def req(
        dept: str,
        key: str,
        subject: str,
        received: int,
        applicant_type: str = "natural_person",
        channel: str = "online",
    ) -> str:
        rid = f"{dept}-ysq-{key}"
        ev(
            dept,
            type="request.received",
            request_id=rid,
            department=dept,
            channel=channel,
            received_on=wd(received),
            applicant_type=applicant_type,
            subject=subject,
        )
        return rid

    # ---- documents (条例第二十六条: 20 working days; interpretation: 3 working days)
    doc("qz-zfb", "2026-031", "钦州市人民政府关于进一步优化营商环境的若干措施", "normative", 60, 50, 48)
    doc("qz-fgw", "2026-017", "钦州市推动临港产业高质量发展三年行动方案", "policy", 55, 30, 29)  # published late
    doc("qz-czj", "2026-009", "钦州市市级财政专项资金管理办法", "normative", 30)  # not published: overdue
    doc("qz-jyj", "2026-012", "钦州市义务教育阶段学校招生入学工作实施意见", "normative", 25)  # overdue
    doc("qz-zrzyj", "2026-006", "钦州市国土空间生态修复专项规划编制工作方案", "other", 10)  # pending
    doc("qz-zfb", "2026-044", "钦州市城市更新行动实施方案", "policy", 22, 21)  # interpretation overdue
    doc("qz-zrzyj", "2026-003", "钦州市自然资源领域行政执法事项清单", "other", 45, 40, needs_interpretation=False)

    # ---- requests (条例第三十三条: 20 working days, + at most 20 when extended)
    r = req("qz-zfb", "2026-101", "申请公开2025年市政府常务会议纪要中涉及某片区改造的内容", 50)
    ev("qz-zfb", type="request.replied", request_id=r, on=wd(35), outcome="partially_granted")
    r = req("qz-fgw", "2026-102", "申请公开某项目节能审查意见", 40, "legal.business")
    ev("qz-fgw", type="request.consultation_started", request_id=r, on=wd(35), **{"with": "third_party"})
    ev("qz-fgw", type="request.consultation_ended", request_id=r, on=wd(30))
    ev("qz-fgw", type="request.replied", request_id=r, on=wd(18), outcome="granted")
    r = req("qz-czj", "2026-103", "申请公开2025年度某街道财政补助资金拨付明细", 45, channel="post_registered")
    ev("qz-czj", type="request.replied", request_id=r, on=wd(22), outcome="granted")  # replied late
    req("qz-jyj", "2026-104", "申请公开某中学2026年秋季学期招生计划及录取名单", 28)  # unanswered: overdue
    r = req("qz-zrzyj", "2026-105", "申请公开某地块土地征收补偿安置方案及批复文件", 8, channel="in_person")
    ev(
        "qz-zrzyj",
        type="request.extended",
        request_id=r,
        on=wd(2),
        working_days=20,
        approved_by="head-zrzyj",
        notified_on=wd(2),
        reason="涉及多个地块档案调取，需延长答复期限",
    )  # due in the next year: provisional
    req("qz-fgw", "2026-106", "申请公开2026年市级重点项目投资计划", 8, "legal.research")
    r = req("qz-zfb", "2026-107", "申请公开某道路拓宽工程的立项批复", 30, channel="email")
    ev("qz-zfb", type="request.correction_requested", request_id=r, on=wd(27), respond_by=wd(12))
    ev("qz-zfb", type="request.corrected", request_id=r, on=wd(20))
    ev("qz-zfb", type="request.replied", request_id=r, on=wd(5), outcome="unavailable.not_held")
    r = req("qz-czj", "2026-108", "申请公开政府采购某项目评标报告", 12)
    ev("qz-czj", type="request.withdrawn", request_id=r, on=wd(6))
    r = req("qz-jyj", "2026-109", "咨询2027年中考报名时间", 4, channel="in_person")
    ev("qz-jyj", type="request.answered_on_the_spot", request_id=r, on=wd(4), outcome="not_processed.publication")

    # ---- budget (预算法第十四条: 20 calendar days) and public opinion (48 hours)
    ev(
        "qz-czj",
        type="budget.approved",
        item_id="qz-czj-ys-2026-tz",
        department="qz-czj",
        approved_on=wd(40),
        kind="budget",
    )
    ev(
        "qz-czj",
        type="budget.published",
        item_id="qz-czj-ys-2026-tz",
        published_on=wd(30),
        url="http://czj.qinzhou.gov.cn/yjs/2026-tz.html",
    )
    detected = dt.date.fromisoformat(wd(20))
    ev(
        "qz-jyj",
        type="opinion.detected",
        case_id="qz-jyj-yq-2026-07",
        department="qz-jyj",
        detected_at=f"{detected.isoformat()}T10:30:00+08:00",
        severity="general",
    )
    ev(
        "qz-jyj",
        type="opinion.responded",
        case_id="qz-jyj-yq-2026-07",
        at=f"{(detected + dt.timedelta(days=1)).isoformat()}T16:00:00+08:00",
    )

    # ---- last year's annual reports (条例第四十九条: by 31 January); one published late
    year = today.year - 1
    for dept, day in (("qz-fgw", 20), ("qz-czj", 26), ("qz-jyj", 30)):
        ev(
            dept,
            type="annual_report.published",
            department=dept,
            year=year,
            published_on=dt.date(today.year, 1, day).isoformat(),
            url=f"http://www.qinzhou.gov.cn/ndbg/{dept}-{year}.html",
        )
    ev(
        "qz-zrzyj",
        type="annual_report.published",
        department="qz-zrzyj",
        year=year,
        published_on=dt.date(today.year, 2, 6).isoformat(),
        url=f"http://www.qinzhou.gov.cn/ndbg/qz-zrzyj-{year}.html",
    )
    return events


def store_is_empty() -> bool:
    from store.db import session
    from store.items import holds_no_items_or_events

    with session() as s:
        return holds_no_items_or_events(s)


async def seed(client, today: dt.date | None = None) -> list:
    """Ingest the demo scenario through the ordinary ingest path; returns the per-event results."""
    from services.ingest import Ingestor
    from store.db import database_url, get_engine

    events = list(enumerate(build_events(today), start=1))
    ing = Ingestor(client, db_engine=get_engine(database_url()))
    # A report's publication locks its tables as they count when it is recorded (store/locks.py), and one
    # batch runs its items at once: the publications go in after the year's records.
    published = [(n, e) for n, e in events if e["type"] == "annual_report.published"]
    results = await ing.ingest([(n, e) for n, e in events if e["type"] != "annual_report.published"])
    results += await ing.ingest(published)
    bad = [r for r in results if r.status == "rejected"]
    for r in bad:
        log.warning("demo event rejected: %s", r.text())
    return results


async def seed_demo(ctx) -> None:
    """`shixian up` task: seed when --demo was given and the store is empty, then finish."""
    if ctx.demo == PROVINCE:
        await seed_province_demo(ctx)
        return
    if ctx.demo:
        if store_is_empty():
            results = await seed(ctx.client)
            applied = sum(r.status == "applied" for r in results)
            rejected = sum(r.status == "rejected" for r in results)
            note = f"钦州市示例 {applied} 条事件已载入" + (f"，{rejected} 条被拒绝" if rejected else "")
            print_demo_accounts(set_demo_passwords())
        else:
            note = "数据目录非空，未重复载入 (data directory not empty, kept as is)"
        ctx.announce("演示数据 / demo", note)


def set_demo_passwords() -> dict[str, str]:
    """A random password for every person of the directory (demo only); returned to be shown once."""
    import secrets

    from domain.engine import engine
    from store.accounts import set_password
    from store.db import session

    out = {}
    with session() as s:
        for person in engine().directory.people.values():
            # 12 random characters plus a fixed tail of digit and symbol: always three character kinds
            out[person.id] = secrets.token_urlsafe(9) + "7#"
            set_password(s, person.id, out[person.id])
    return out


def print_demo_accounts(passwords: dict[str, str]) -> None:
    from domain.engine import engine
    from domain.labels import ROLES

    people = engine().directory.people
    print(
        "演示账号（登录页填人员编号和密码；密码只显示这一次，之后可用 shixian user set-password 重设）"
        " / demo sign-in (shown once):",
        flush=True,
    )
    for pid, pw in passwords.items():
        p = people[pid]
        roles = "、".join(ROLES.get(r, r) for r in p.roles)
        print(f"  demo-account {pid} {pw}  {p.name}（{roles}）", flush=True)


# ============================================================================ the demo province (新疆)
CITY = "city"
PROVINCE = "province"
SCENARIOS = (CITY, PROVINCE)
PROVINCE_REGION = "xinjiang"
PROVINCE_DATA_DIR = Path("data") / "demo-province"
# Per node: its government office and one or two departments (config/demo/province/departments.toml).
PROVINCE_DEPARTMENTS = {
    "xj": ["xj-zfb", "xj-fgw"],
    "wlmq": ["wlmq-zfb", "wlmq-jyj", "wlmq-zjj"],
    "tsq": ["tsq-zfb", "tsq-jyj"],
    "sybkq": ["sybkq-zfb", "sybkq-jyj"],
    "yl": ["yl-zfb", "yl-zrzyj"],
    "cbcr": ["cbcr-zfb", "cbcr-jyj"],
}
EID_AL_ADHA = "古尔邦节"


def province_config_source() -> Path:
    from domain.config import REPO_CONFIG

    return REPO_CONFIG / "demo" / PROVINCE


def prepare_province_config(data_dir: Path) -> Path:
    """The province demo's configuration directory, `<data_dir>/config`: the shipped config/ (calendars, rules,
    reminders, scoring …) with config/demo/province/'s jurisdictions.toml and departments.toml on top.
    Composed afresh at every start so that it follows the shipped calendars; the shipped config/ is not touched."""
    import shutil

    from domain.config import REPO_CONFIG

    target = Path(data_dir) / "config"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(REPO_CONFIG, target, ignore=shutil.ignore_patterns("demo"))
    for f in province_config_source().glob("*.toml"):
        shutil.copy2(f, target / f.name)
    return target


def use_province_demo() -> tuple[Path, Path]:
    """Point the process at the province demo: its own data directory (SHIXIAN_DATA_DIR when set, else
    data/demo-province, never the city's data/) and its composed config (SHIXIAN_CONFIG_DIR). Returns both."""
    from domain.settings import get_settings, set_environment

    settings = get_settings()
    data = settings.data_dir if "data_dir" in settings.model_fields_set else PROVINCE_DATA_DIR
    data.mkdir(parents=True, exist_ok=True)
    config = prepare_province_config(data)
    set_environment("SHIXIAN_DATA_DIR", str(data))
    set_environment("SHIXIAN_CONFIG_DIR", str(config))
    return data, config


def festival_days(cal, region: str, name: str, year: int) -> list[dt.date]:
    """The days off of one regional festival in `year` as the region's notice on file lists them (not estimated)."""
    days = cal.days_in(dt.date(year, 1, 1) - dt.timedelta(days=1), dt.date(year, 12, 31), region)
    return [d.date for d in days if d.origin == "regional" and not d.workday and name in d.reason]


def eid_request_day(cal, today: dt.date, region: str = PROVINCE_REGION) -> dt.date | None:
    """The day before 古尔邦节 of the latest year (not after today) whose notice is on file, answered since."""
    for year in range(today.year, today.year - 6, -1):
        days = festival_days(cal, region, EID_AL_ADHA, year)
        if days:
            # the last working day before the festival's first day off
            day = cal.subtract_working_days(min(days), 1, region)
            due = cal.add_working_days(day, 20, region)
            if due < today:
                return day
    return None


def build_province_events(today: dt.date | None = None) -> list[dict[str, Any]]:
    """The province demo's events, dated relative to `today` (working days of the 新疆 calendar)."""
    from domain.engine import engine

    today = today or today_shanghai()
    cal = engine().calendar
    region = PROVINCE_REGION
    year = today.year

    def wd(n: int) -> str:
        return (cal.subtract_working_days(today, n, region) if n > 0 else today).isoformat()

    events: list[dict[str, Any]] = []
    seq = iter(range(1, 10_000))

    def ev(dept: str, **fields: Any) -> None:
        events.append({"event_id": f"xjdemo-{next(seq):03d}", "recorded_by": f"liaison-{dept}", **fields})

    def doc(dept: str, key: str, title: str, kind: str, signed: int, published: int | None = None) -> None:
        did = f"{dept}-wj-{year}-{key}"
        ev(
            dept,
            type="document.signed",
            document_id=did,
            department=dept,
            title=title,
            kind=kind,
            signed_on=wd(signed),
            disclosure="public",
            needs_interpretation=False,
        )
        if published is not None:
            ev(
                dept,
                type="document.published",
                document_id=did,
                published_on=wd(published),
                url=f"http://www.xinjiang.gov.cn/demo/{did}.html",
            )

    def req(dept: str, key: str, subject: str, received: str, channel: str = "online") -> str:
        rid = f"{dept}-ysq-{key}"
        ev(
            dept,
            type="request.received",
            request_id=rid,
            department=dept,
            channel=channel,
            received_on=received,
            applicant_type="natural_person",
            subject=subject,
        )
        return rid

    # ---- documents (条例第二十六条: 20 working days) at every level
    doc("xj-fgw", "011", "新疆维吾尔自治区推进丝绸之路经济带核心区建设实施方案", "policy", 50, 40)
    doc("wlmq-zjj", "007", "乌鲁木齐市老旧小区改造工作实施方案", "normative", 45, 18)  # published late
    doc("wlmq-jyj", "004", "乌鲁木齐市义务教育阶段招生入学工作实施意见", "normative", 30)  # not published: overdue
    doc("tsq-zfb", "002", "天山区优化营商环境若干措施", "other", 10)  # pending
    doc("sybkq-zfb", "003", "沙依巴克区城市更新行动方案", "policy", 35, 25)
    doc("yl-zrzyj", "005", "伊犁哈萨克自治州国土空间生态修复规划编制方案", "other", 40, 30)
    doc("cbcr-jyj", "001", "察布查尔锡伯自治县学前教育发展提升行动计划", "normative", 28)  # overdue

    # ---- requests (条例第三十三条: 20 working days)
    eid = eid_request_day(cal, today, region)
    if eid is not None:
        # received the day before 古尔邦节: its 20 working days skip the regional days off (自治区通知)
        r = req("wlmq-jyj", f"{eid.year}-201", "申请公开某小学划片招生范围的确定依据", eid.isoformat())
        replied = cal.subtract_working_days(cal.add_working_days(eid, 20, region), 1, region)
        ev("wlmq-jyj", type="request.replied", request_id=r, on=replied.isoformat(), outcome="granted")
    r = req("tsq-jyj", f"{year}-202", "申请公开辖区某中学校舍安全鉴定报告", wd(40))
    ev("tsq-jyj", type="request.replied", request_id=r, on=wd(25), outcome="partially_granted")
    req("sybkq-jyj", f"{year}-203", "申请公开某幼儿园收费标准的审批文件", wd(26))  # unanswered: overdue
    req("cbcr-zfb", f"{year}-204", "申请公开某村道路硬化工程的招标文件", wd(8), channel="post_registered")
    r = req("yl-zrzyj", f"{year}-205", "申请公开某地块土地征收补偿安置方案", wd(30), channel="in_person")
    ev("yl-zrzyj", type="request.replied", request_id=r, on=wd(12), outcome="granted")
    req("xj-fgw", f"{year}-206", "申请公开某重点项目的节能审查意见", wd(6))

    # ---- last year's annual reports: the city's internal pre-deadlines (01-26 submit, 01-28 publish;
    # counties' roll-up by 02-20) sit before the statutory 01-31 / 03-31 (config/demo/province/jurisdictions.toml)
    last = year - 1
    reports = (
        ("wlmq-jyj", "department", dt.date(year, 1, 20)),
        ("wlmq-zjj", "department", dt.date(year, 1, 29)),  # after the city's 01-28, within the statutory 01-31
        ("tsq-zfb", "government", dt.date(year, 2, 18)),
        ("sybkq-zfb", "government", dt.date(year, 3, 2)),  # after the city's 02-20, within 03-31
        ("cbcr-zfb", "government", dt.date(year, 2, 27)),
    )
    for dept, level, day in reports:
        if day <= today:
            ev(
                dept,
                type="annual_report.published",
                department=dept,
                year=last,
                level=level,
                published_on=day.isoformat(),
                url=f"http://www.xinjiang.gov.cn/demo/ndbg/{dept}-{level}-{last}.html",
            )
    return events


async def seed_province(client, today: dt.date | None = None) -> list:
    """Ingest the province scenario through the ordinary ingest path; returns the per-event results."""
    from services.ingest import Ingestor
    from store.db import database_url, get_engine

    events = list(enumerate(build_province_events(today), start=1))
    ing = Ingestor(client, db_engine=get_engine(database_url()))
    published = [(n, e) for n, e in events if e["type"] == "annual_report.published"]
    results = await ing.ingest([(n, e) for n, e in events if e["type"] != "annual_report.published"])
    results += await ing.ingest(published)
    for r in results:
        if r.status == "rejected":
            log.warning("demo event rejected: %s", r.text())
    return results


async def seed_province_demo(ctx) -> None:
    if store_is_empty():
        results = await seed_province(ctx.client)
        applied = sum(r.status == "applied" for r in results)
        rejected = sum(r.status == "rejected" for r in results)
        note = f"新疆维吾尔自治区示例 {applied} 条事件已载入" + (f"，{rejected} 条被拒绝" if rejected else "")
    else:
        note = "数据目录非空，未重复载入 (data directory not empty, kept as is)"
    print_province_sign_in()
    ctx.announce("演示数据 / demo", note)


def province_sign_in_lines() -> list[str]:
    """How to sign in at each level: the node's supervisor and assessor, a liaison per node; no password is
    set or shown (each is set by whoever runs the demo)."""
    from domain.engine import engine
    from domain.labels import NODE_LEVELS

    d = engine().directory
    tree = d.tree
    lines = [
        "演示自治区账号（未设置密码：先为要使用的账号设置密码，再在登录页填人员编号和密码）"
        " / demo accounts (no passwords set):",
        "  设置密码 / set a password:  shixian user set-password <人员编号>",
    ]
    for nid in tree.subtree(tree.root.id):
        node = tree.node(nid)
        people = [
            p
            for p in d.people.values()
            if (p.node == nid and {"supervisor", "assessor", "admin"} & set(p.roles))
            or (p.department in PROVINCE_DEPARTMENTS.get(nid, [])[:1] and "liaison" in p.roles)
        ]
        who = "、".join(f"{p.id}（{p.name}）" for p in people)
        lines.append(f"  [{NODE_LEVELS.get(node.level, node.level)}] {node.name}: {who}")
    return lines


def print_province_sign_in() -> None:
    for line in province_sign_in_lines():
        print(line, flush=True)
