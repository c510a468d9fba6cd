"""Events reconstructing the seed report (shared/seed/000_a82df7ab5fee8c06.txt: 钦州市2016年政府信息公开工作年度报告).

What the seed states and these events reproduce, for the whole city (全市):
- requests: 48 received (当面 12, 网络 22, 信函 14); by December 31, 41 answered: 33 granted (3 "already
  public" + 30 同意公开), 3 partially granted, 2 withheld as state secrets (因涉密), 3 "not this agency's"
  (unavailable.not_held); hence 7 carried into 2017; no review or litigation;
- 585 policy interpretations; 59 press conferences;
- entered figures: 155 institutions, 16 reading points, 35 full-time and 1081 part-time staff, no fees
  charged for providing information.
Everything the seed does not say is a choice of this fixture: how requests and documents spread over the
sample city's departments, the applicant types, the dates, the few late clocks (2 late replies, 3 late
publications, 4 late interpretations, 2 slow opinion responses: the last two only after 国办发〔2016〕80号 of
2016-11-10, before which those rules had no clock), one extension, one correction and one consultation.

`clock_records` computes each clock's due date with the real engine (domain.clocks.compute on the
configured calendar), the way the workflows do for these simple cases.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

DEPTS = ["qz-zfb", "qz-fgw", "qz-czj", "qz-jyj", "qz-zrzyj"]
YEAR = 2016

ENTERED = {
    "institutions": 155,
    "reading_points": 16,
    "staff_full_time": 35,
    "staff_part_time": 1081,
    "processing_fees": 0,
}

# outcome of the 41 requests answered in 2016 (seed: 3 + 30 granted, 3 partial, 2 secret, 3 not held)
OUTCOMES = ["granted"] * 33 + ["partially_granted"] * 3 + ["withheld.state_secret"] * 2 + ["unavailable.not_held"] * 3
CHANNELS = ["in_person"] * 12 + ["online"] * 22 + ["post_registered"] * 14
APPLICANTS = ["natural_person"] * 40 + ["legal.business"] * 5 + ["legal.research"] * 2 + ["legal.legal_services"]


def _workday_after(d: date, n: int) -> date:
    """A plain weekday n weekdays after d (the fixture avoids holidays by picking its dates)."""
    while n:
        d += timedelta(days=1)
        if d.weekday() < 5:
            n -= 1
    return d


def events() -> list[dict]:
    evs: list[dict] = []
    k = 0

    def add(type_, **fields):
        nonlocal k
        k += 1
        evs.append({"event_id": f"s16-{k}", "type": type_, **fields})

    # ---- 48 requests: 41 answered in 2016, the last 7 received in mid-December and still open
    for i in range(48):
        rid = f"Q16-{i + 1:02d}"
        dept = DEPTS[i % len(DEPTS)]
        if i < 41:
            received = date(2016, 3, 1) + timedelta(days=7 * i)  # March to mid-December
            while received.weekday() >= 5:
                received += timedelta(days=1)
        else:
            received = date(2016, 12, 12) + timedelta(days=i - 41)
        add(
            "request.received",
            request_id=rid,
            department=dept,
            channel=CHANNELS[i],
            received_on=received.isoformat(),
            applicant_type=APPLICANTS[i],
            applicant={"name": "李四", "contact": "0777-1234567"},
            subject="某项政府信息",
        )
        if i >= 41:
            continue
        reply = _workday_after(received, 10)
        if i in (5, 6):  # two late replies: 30 weekdays after receipt
            reply = _workday_after(received, 30)
        if i == 7:  # extended by 10 working days, answered within the extension
            add(
                "request.extended",
                request_id=rid,
                on=_workday_after(received, 15).isoformat(),
                working_days=10,
                approved_by="head-zfb",
                notified_on=_workday_after(received, 15).isoformat(),
                reason="需要调取档案",
            )
            reply = _workday_after(received, 25)
        if i == 8:  # a correction notice; the corrected application restarts the clock
            add(
                "request.correction_requested",
                request_id=rid,
                on=_workday_after(received, 2).isoformat(),
                respond_by=_workday_after(received, 12).isoformat(),
            )
            add("request.corrected", request_id=rid, on=_workday_after(received, 5).isoformat())
            reply = _workday_after(received, 20)
        if i == 9:  # a third-party consultation of 5 weekdays
            add(
                "request.consultation_started",
                request_id=rid,
                on=_workday_after(received, 3).isoformat(),
                **{"with": "third_party"},
            )
            add("request.consultation_ended", request_id=rid, on=_workday_after(received, 8).isoformat())
            reply = _workday_after(received, 18)
        add("request.replied", request_id=rid, on=reply.isoformat(), outcome=OUTCOMES[i])

    # ---- documents: 2 regulations, 38 normative, 545 other policy files; each interpreted (585)
    kinds = ["regulation"] * 2 + ["normative"] * 38 + ["policy"] * 545
    forms = ["text"] * 500 + ["graphic"] * 70 + ["video"] * 15
    for i, kind in enumerate(kinds):
        did = f"W16-{i + 1:03d}"
        signed = date(2016, 2, 1) + timedelta(days=(i * 3) % 300)
        while signed.weekday() >= 5:
            signed += timedelta(days=1)
        add(
            "document.signed",
            document_id=did,
            department=DEPTS[i % len(DEPTS)],
            title=f"政策文件{i + 1}",
            kind=kind,
            signed_on=signed.isoformat(),
            disclosure="public",
        )
        published = _workday_after(signed, 30 if i in (10, 11, 12) else 8)  # 3 late publications
        add(
            "document.published",
            document_id=did,
            published_on=published.isoformat(),
            url=f"https://www.qinzhou.gov.cn/zc/{did}",
            channel="gazette" if i % 50 == 0 else "website",
        )
        # 4 late interpretations, of files published after 国办发〔2016〕80号 (2016-11-10): before it no clock
        interp = _workday_after(published, 6 if i in (95, 96, 97, 98) else 2)
        add(
            "interpretation.published",
            document_id=did,
            published_on=interp.isoformat(),
            url=f"https://www.qinzhou.gov.cn/jd/{did}",
            form=forms[i],
        )
    # a normative file of 2015 repealed in 2016 (table 二 废止)
    add(
        "document.signed",
        document_id="W15-001",
        department="qz-czj",
        title="旧规范性文件",
        kind="normative",
        signed_on="2015-06-01",
        disclosure="public",
    )
    add("document.repealed", document_id="W15-001", repealed_on="2016-09-01")

    # ---- public opinion: 59 major cases answered with a press conference, 77 general ones
    for i in range(59):
        cid = f"O16-M{i + 1:02d}"
        at = datetime(2016, 2, 1, 9, 0) + timedelta(days=5 * i)
        add(
            "opinion.detected",
            case_id=cid,
            department=DEPTS[i % len(DEPTS)],
            detected_at=at.isoformat(),
            severity="major",
        )
        # 2 slow ones, detected after 80号 set the 5 hours (2016-11-10)
        add("opinion.info_released", case_id=cid, at=(at + timedelta(hours=7 if i in (57, 58) else 3)).isoformat())
        add("opinion.press_conference", case_id=cid, at=(at + timedelta(hours=20)).isoformat())
    for i in range(77):
        cid = f"O16-G{i + 1:02d}"
        at = datetime(2016, 1, 10, 14, 0) + timedelta(days=4 * i)
        add(
            "opinion.detected",
            case_id=cid,
            department=DEPTS[i % len(DEPTS)],
            detected_at=at.isoformat(),
            severity="general",
        )
        add("opinion.responded", case_id=cid, at=(at + timedelta(hours=12)).isoformat())
    return evs


def clock_records(evs: list[dict]):
    """ClockRecords of the events' statutory clocks, due dates from the real engine."""
    from domain.calendar import load_calendar
    from domain.clocks import ExtensionGrant, Pause, compute
    from domain.rules import load_rules
    from domain.scoring import ClockRecord

    cal, rules = load_calendar(), load_rules()
    by_item: dict[str, list[dict]] = {}
    for e in evs:
        key = e.get("request_id") or e.get("document_id") or e.get("case_id")
        by_item.setdefault(key, []).append(e)
    out = []

    def rec(item, type_, dept, rule, start, met, **kw):
        since = rules[rule].since
        if since and (start.date() if isinstance(start, datetime) else start) < since:
            return  # the rule was not yet in force: the workflow starts no clock (该时限规则当时尚未施行)
        due = compute(rules[rule], start, cal, "guangxi", explain=False, **kw)
        out.append(
            ClockRecord(
                item_id=item,
                item_type=type_,
                department=dept,
                rule=rule,
                due=due.due_iso(),
                state="met" if met else "open",
                met_on=met,
            )
        )

    for item, es in by_item.items():
        first = es[0]
        t = {e["type"]: e for e in es}
        if first["type"] == "request.received":
            start = date.fromisoformat(t.get("request.corrected", {}).get("on") or first["received_on"])
            pauses = (
                [
                    Pause(
                        date.fromisoformat(t["request.consultation_started"]["on"]),
                        date.fromisoformat(t["request.consultation_ended"]["on"]),
                    )
                ]
                if "request.consultation_started" in t
                else []
            )
            ext = (
                [ExtensionGrant(date.fromisoformat(t["request.extended"]["on"]), t["request.extended"]["working_days"])]
                if "request.extended" in t
                else []
            )
            rec(
                item,
                "request",
                first["department"],
                "request_reply",
                start,
                t.get("request.replied", {}).get("on"),
                pauses=pauses,
                extensions=ext,
                granted=True,
            )
        elif first["type"] == "document.signed" and "document.published" in t:
            rec(
                item,
                "document",
                first["department"],
                "policy_publication",
                date.fromisoformat(first["signed_on"]),
                t["document.published"]["published_on"],
            )
            if "interpretation.published" in t:
                rec(
                    item,
                    "document",
                    first["department"],
                    "policy_interpretation",
                    date.fromisoformat(t["document.published"]["published_on"]),
                    t["interpretation.published"]["published_on"],
                )
        elif first["type"] == "opinion.detected":
            rule = "opinion_response_info" if first["severity"] == "major" else "opinion_response_general"
            met = (t.get("opinion.info_released") or t.get("opinion.responded"))["at"]
            rec(
                item, "opinion", first["department"], rule, datetime.fromisoformat(first["detected_at"]), met + "+08:00"
            )
    return out
