"""Personal data (issue #16 §1, §B): masking at ingest (domain/pii.py), channel privacy classes and per-kind
escaping (domain/channels.py), checked on the real ingest path, the time-skipping server, the store, the
workflow history, the score export and real webhook / SMTP receivers on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import re
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from domain import channels, pii
from domain.directory import DirectoryError, parse_directory
from domain.engine import engine
from tests.receivers import SmtpReceiver, WebhookReceiver, closed_port

# ------------------------------------------------------------------------------------ pure: detection
digits = hs.text(alphabet=string.digits, min_size=1, max_size=1)
# Text around the personal data: Chinese words, no digits, letters, '@' or name cues.
filler = hs.text(alphabet="公开申请项目批复的情况，。、（）年月日有关材料规划政府信息", max_size=12)


def _valid_id(first17: str) -> str:
    return first17 + pii.id_check_digit(first17)


ids = hs.text(alphabet=string.digits, min_size=17, max_size=17).map(_valid_id)


@given(ids, filler, filler)
def test_resident_id_checksum_and_mask(rid, before, after):
    assert pii.is_resident_id(rid)
    masked = pii.mask_text(before + rid + after)
    assert masked == before + rid[:4] + "*" * 10 + rid[-4:] + after
    assert rid not in masked and len(masked) == len(before + rid + after)
    assert pii.mask_text(masked) == masked  # idempotent


@given(hs.text(alphabet=string.digits, min_size=17, max_size=17), hs.sampled_from("0123456789X"))
def test_only_the_right_check_digit_makes_an_id(first17, check):
    assert pii.is_resident_id(first17 + check) == (pii.id_check_digit(first17) == check)


def test_id_check_digit_known_values():
    # GB 11643 worked example and an X check digit
    assert pii.id_check_digit("11010519491231002") == "X"
    assert pii.is_resident_id("11010519491231002x")
    assert pii.is_resident_id("450702199001011234")
    assert not pii.is_resident_id("450702199001011235")


@given(hs.sampled_from("3456789"), hs.text(alphabet=string.digits, min_size=9, max_size=9), filler, filler)
def test_mobile_numbers_are_masked(second, rest, before, after):
    number = "1" + second + rest
    masked = pii.mask_text(f"{before}电话{number}{after}")
    assert masked == f"{before}电话{number[:3]}****{number[-4:]}{after}"


def _luhn_complete(body: str) -> str:
    return next(body + c for c in string.digits if pii.luhn_ok(body + c))


cards = (
    hs.integers(15, 18).flatmap(lambda n: hs.text(alphabet=string.digits, min_size=n, max_size=n)).map(_luhn_complete)
)


@given(cards, filler)
def test_bank_cards_with_luhn_are_masked(card, after):
    masked = pii.mask_text(f"卡号{card}{after}")
    if pii.is_resident_id(card):  # an 18-digit card that is also a valid ID is masked the same way
        assert masked.startswith("卡号" + card[:4])
    assert masked == f"卡号{card[:4]}{'*' * (len(card) - 8)}{card[-4:]}{after}"


@given(filler)
def test_text_without_personal_data_is_unchanged(text):
    assert pii.mask_text(text) == text
    assert pii.mask_fields({"title": text}) == {"title": text}


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("申请人张三申请公开学区划分方案", "申请人张*申请公开学区划分方案"),
        ("申请人：欧阳测试的宅基地", "申请人：欧阳**的宅基地"),
        ("联系人李小明，电话0777-2823456", "联系人李**，电话0777-*****56"),
        ("（0777）2823456", "（0777）*****56"),
        ("王某某反映噪音", "王**反映噪音"),
        ("李小明先生来电", "李**先生来电"),
        ("手机 +86 138-1234-5678", "手机 +86 138-****-5678"),
        ("邮箱 ouyang@example.cn", "邮箱 o*****@example.cn"),
        ("卡 6222 0202 0000 1234 562", "卡 6222 **** **** ***4 562"),
        # not personal data
        ("于某日向某单位申请", "于某日向某单位申请"),
        ("钦发改规〔2026〕3号", "钦发改规〔2026〕3号"),
        ("关于印发《钦州市优化营商环境若干措施》的通知", "关于印发《钦州市优化营商环境若干措施》的通知"),
        ("张先生来电", "张先生来电"),  # a surname alone is the masked form already
        # the limit (README): a name without a cue word is not found
        ("张三要求公开", "张三要求公开"),
    ],
)
def test_mask_examples(text, masked):
    assert pii.mask_text(text) == masked


def test_parse_event_masks_subject_and_reason_and_hashes_the_masked_text():
    from domain.events import parse_event

    raw = {
        "event_id": "e1",
        "type": "request.received",
        "request_id": "YSQ-1",
        "department": "qz-fgw",
        "channel": "online",
        "received_on": "2026-03-02",
        "applicant_type": "natural_person",
        "subject": "申请人张三（身份证450702199001011234，电话13912345678）申请公开征地补偿",
    }
    ev = parse_event(raw, today=dt.date(2026, 3, 3))
    assert ev.data["subject"] == "申请人张*（身份证4507**********1234，电话139****5678）申请公开征地补偿"
    # another phone number in the same place is the same event (nothing kept that could confirm a guess)
    other = parse_event(
        {**raw, "subject": raw["subject"].replace("13912345678", "13900005678")}, today=dt.date(2026, 3, 3)
    )
    assert other.content_hash == ev.content_hash
    ext = parse_event(
        {
            "event_id": "e2",
            "type": "request.extended",
            "request_id": "YSQ-1",
            "on": "2026-03-03",
            "working_days": 10,
            "approved_by": "办公室主任",
            "notified_on": "2026-03-03",
            "reason": "需核实申请人王五名下房产",
        },
        today=dt.date(2026, 3, 3),
    )
    assert ext.data["reason"] == "需核实申请人王*名下房产"


# -------------------------------------------------------------------------- pure: channels and classes
def _dir(notify: str) -> str:
    return f'[[person]]\nid = "p"\nname = "甲"\nroles = ["supervisor"]\nnotify = {notify}\n'


def test_channel_classes_default_by_kind_and_can_be_declared():
    d = parse_directory(
        _dir(
            '["wecombot://k", "mailto://u:p@h?to=a@x.cn", "mailto://u:p@h?to=a@x.cn,b@x.cn", "json://h/x",'
            ' { url = "mailto://u:p@h?to=office@x.cn", privacy = "group" },'
            ' { url = "json://h/me", privacy = "personal" }]'
        ),
        env={},
    )
    p = d.people["p"]
    assert [p.channel_privacy(i) for i in range(6)] == ["group", "personal", "group", "group", "group", "personal"]
    assert p.notify[4] == "mailto://u:p@h?to=office@x.cn"
    assert channels.default_privacy("mailtos://u:p@smtp.x.cn/a@x.cn/b@x.cn") == "group"
    assert channels.default_privacy("mailtos://u:p@smtp.x.cn/a@x.cn") == "personal"
    assert channels.default_privacy("mailto://u:p@h?to=a@x.cn&cc=b@x.cn") == "group"


@pytest.mark.parametrize(
    ("notify", "message"),
    [
        ('[{ url = "wecombot://k", privacy = "personal" }]', "群机器人的消息全群可见"),
        ('[{ url = "dingtalk://k", privacy = "personal" }]', "群机器人的消息全群可见"),
        ('[{ url = "mailto://h?to=a@x.cn,b@x.cn", privacy = "personal" }]', "多个收件人"),
        ('[{ url = "json://h", privacy = "private" }]', "privacy 只能是 group 或 personal"),
        ('[{ url = "json://h", who = "me" }]', "unknown key(s) who"),
        ('[{ privacy = "group" }]', 'missing required key "url"'),
    ],
)
def test_bad_channel_class_is_refused_naming_the_entry(notify, message, tmp_path):
    with pytest.raises(DirectoryError) as exc:
        parse_directory(_dir(notify), env={})
    assert message in str(exc.value) and 'person "p"' in str(exc.value) and "notify #1" in str(exc.value)
    # the start-up check reports it too
    import shutil

    from domain.config import REPO_CONFIG
    from domain.config_check import check_config

    cfg = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, cfg)
    (cfg / "departments.toml").write_text(_dir(notify), encoding="utf-8")
    assert any(message in p for p in check_config(cfg))


def test_shipped_directory_classes():
    from domain.directory import load_directory

    d = load_directory()
    # the shipped people have no external channel (their notices reach the 站内消息); the test copies give
    # them generic webhooks (tests/receivers.hook_every_person): group channels, so no request title goes there
    assert all(not p.notify for p in d.people.values())
    from domain.config import REPO_CONFIG
    from tests.receivers import hook_every_person

    text = hook_every_person((REPO_CONFIG / "departments.toml").read_text(encoding="utf-8"), 9)
    hooked = parse_directory(text)
    assert all(p.notify for p in hooked.people.values())
    classes = {p.channel_privacy(i) for p in hooked.people.values() for i in range(len(p.notify))}
    assert classes == {"group"}


TRICKY = '<at user_id="all">所有人</at> @所有人 @all <!channel> **加粗** [点我](http://evil.example) #标题'


@pytest.mark.parametrize("kind", ["feishu", "lark", "dingtalk", "wecombot", "slack", "discord"])
def test_escape_leaves_no_mention_or_markup(kind):
    out = channels.escape(kind, TRICKY)
    assert "@" not in out and "<at" not in out and "<!channel>" not in out
    assert "**" not in out and "](" not in out and "[" not in out and "#" not in out
    assert "所有人" in out and "加粗" in out  # the words stay readable


def test_for_channel_withholds_request_titles_and_notes_on_groups_only():
    ctx = {
        "item_title": "申请人张*的征地补偿",
        "note": "请联系申请人",
        "items": [{"title": "甲", "item_type": "request"}],
    }
    group = channels.for_channel(ctx, kind="json", privacy="group", item_type="request")
    assert group["item_title"] == "" and group["note"] == channels.WITHHELD_NOTE and group["items"][0]["title"] == ""
    personal = channels.for_channel(ctx, kind="mailto", privacy="personal", item_type="request")
    assert personal["item_title"] == ctx["item_title"] and personal["note"] == ctx["note"]
    doc = channels.for_channel({"item_title": "关于印发的通知"}, kind="json", privacy="group", item_type="document")
    assert doc["item_title"] == "关于印发的通知"  # public information
    unknown = channels.for_channel({"item_title": "x"}, kind="json", privacy="group", item_type=None)
    assert unknown["item_title"] == ""


# ------------------------------------------------------------------ real receivers: delivery per channel
SUBJECT = "申请公开钦南区沙埠镇某村征地补偿安置方案及相关会议纪要"
DOC_TITLE = '关于印发<at user_id="all">所有人</at>@所有人 **通知** [点我](http://evil.example)的通知'


@pytest.fixture
def notify_env(tmp_path, monkeypatch):
    import shutil

    from domain.config import REPO_CONFIG

    with SmtpReceiver() as smtp, WebhookReceiver() as hook:
        cfg = tmp_path / "config"
        shutil.copytree(REPO_CONFIG, cfg)
        monkeypatch.setenv("SHIXIAN_CONFIG_DIR", str(cfg))
        monkeypatch.setenv("SHIXIAN_PUBLIC_URL", "https://gk.qinzhou.example")
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
        monkeypatch.setenv("SHIXIAN_DATA_DIR", str(tmp_path / "data"))
        yield cfg, smtp, hook


def _write_people(cfg: Path, people: dict[str, str]) -> None:
    text = '[[department]]\nid = "qz-fgw"\nname = "钦州市发展和改革委员会"\nregion = "guangxi"\n'
    for pid, notify in people.items():
        text += f'\n[[person]]\nid = "{pid}"\nname = "{pid}"\ndepartment = "qz-fgw"\nroles = ["liaison"]\nnotify = {notify}\n'
    (cfg / "departments.toml").write_text(text, encoding="utf-8")


def _req(person: str, rule: str, title: str, step: str = "t_minus_1", **ctx):
    from activities.notify import NotificationRequest

    return NotificationRequest(
        item_id="ITEM-7",
        rule=rule,
        step=step,
        person_id=person,
        context={"item_title": title, "department": "qz-fgw", "due": "2026-12-03", "working_days_left": 1, **ctx},
    )


async def test_group_webhook_gets_no_request_subject_personal_mail_does(notify_env):
    from activities.notify import deliver

    cfg, smtp, hook = notify_env
    _write_people(
        cfg,
        {
            "grp": f'["{hook.url("/grp")}"]',
            "shared": f'[{{ url = "{smtp.mailto_url("office@example.org")}", privacy = "group" }}]',
            "me": f'["{smtp.mailto_url("me@example.org")}"]',
        },
    )
    for person in ("grp", "shared", "me"):
        assert (await deliver(_req(person, "request_reply", SUBJECT))).status == "sent"
    [post] = hook.wait_for(1)
    text = json.dumps(post.json, ensure_ascii=False)
    assert "征地补偿" not in text and "ITEM-7" in text and "https://gk.qinzhou.example/items/ITEM-7" in text
    assert "依申请公开答复" in text and "2026年12月3日" in text and "1个工作日" in text
    mails = {m.rcpt_tos[0]: m for m in smtp.wait_for(2)}
    assert "征地补偿" not in mails["office@example.org"].subject + mails["office@example.org"].body
    assert SUBJECT in mails["me@example.org"].subject and SUBJECT in mails["me@example.org"].body


async def test_urge_note_only_on_personal_channels(notify_env):
    from activities.notify import deliver

    cfg, smtp, hook = notify_env
    _write_people(cfg, {"grp": f'["{hook.url("/grp")}"]', "me": f'["{smtp.mailto_url("me@example.org")}"]'})
    note = "请核实申请人反映的宅基地四至"
    for person in ("grp", "me"):
        req = _req(person, "urge", SUBJECT, step="urge", note=note, by_name="督办员")
        assert (await deliver(req)).status == "sent"
    [post] = hook.wait_for(1)
    assert note not in post.json["message"] and "征地补偿" not in post.json["message"]
    assert "请登录时限系统查看" in post.json["message"]
    [mail] = smtp.wait_for(1)
    assert note in mail.body and SUBJECT in mail.body


async def test_document_title_is_escaped_on_feishu_lark_dingtalk_wecom(notify_env, monkeypatch):
    """The real Apprise plugins, their endpoint pointed at the local receiver: the payload they would post."""
    from apprise.plugins.dingtalk import NotifyDingTalk
    from apprise.plugins.feishu import NotifyFeishu
    from apprise.plugins.lark import NotifyLark
    from apprise.plugins.wecombot import NotifyWeComBot

    from activities.notify import deliver

    cfg, smtp, hook = notify_env
    base = f"http://127.0.0.1:{hook.port}"
    monkeypatch.setattr(NotifyFeishu, "notify_url", base + "/feishu/{token}")
    monkeypatch.setattr(NotifyLark, "notify_url", base + "/lark/{token}")
    monkeypatch.setattr(NotifyDingTalk, "notify_url", base + "/dingtalk?access_token={token}")
    monkeypatch.setattr(NotifyWeComBot, "notify_url", base + "/wecom?key={key}")
    _write_people(
        cfg,
        {
            "fs": '["feishu://abcdefghijklmnop"]',
            "lk": '["lark://abcdefghijklmnop"]',
            "dt": '["dingtalk://abcdefabcdefabcdefabcdef"]',
            "wc": '["wecombot://0c9e4b2f-1234-4d6e-9f00-aa11bb22cc33"]',
        },
    )
    for person in ("fs", "lk", "dt", "wc"):
        result = await deliver(_req(person, "policy_publication", DOC_TITLE))
        assert result.status == "sent", result.error
    posts = {p.path.split("/")[1].split("?")[0]: p for p in hook.wait_for(4)}
    assert set(posts) == {"feishu", "lark", "dingtalk", "wecom"}
    for kind, post in posts.items():
        text = json.dumps(post.json, ensure_ascii=False)
        assert "关于印发" in text and "所有人" in text, kind  # a document title is public: it goes to groups
        assert "<at" not in text and "@所有人" not in text and "**" not in text and "](" not in text, (kind, text)
    assert posts["dingtalk"].json["at"]["isAtAll"] is False


async def test_html_in_a_title_is_not_html_in_the_mail(notify_env):
    from activities.notify import deliver

    cfg, smtp, hook = notify_env
    html_url = smtp.mailto_url("me@example.org") + "&format=html"
    _write_people(cfg, {"txt": f'["{smtp.mailto_url("me@example.org")}"]', "html": f'["{html_url}"]'})
    title = '关于<b>加粗</b><img src="http://evil.example/x.png">的通知'
    for person in ("txt", "html"):
        assert (await deliver(_req(person, "policy_publication", title))).status == "sent"
    mails = smtp.wait_for(2)
    import email
    import email.policy

    html_parts = []
    for m in mails:
        msg = email.message_from_bytes(m.raw, policy=email.policy.default)
        html_parts += [p.get_content() for p in msg.walk() if p.get_content_type() == "text/html"]
        types = {p.get_content_type() for p in msg.walk()}
        assert "text/html" in types or "<img" in m.body  # plain text: shown as typed, never rendered
    assert html_parts, "the format=html channel sent no HTML part"
    for html in html_parts:
        assert "<img" not in html and "&lt;img" in html and "&lt;b&gt;" in html


# ------------------------------------------------------------------------ the stack: ingest and workflows
RAW_SUBJECT = "申请人欧阳测试（身份证450702199001011234，手机13912345678，ouyang@example.cn）申请公开征地补偿方案"
PII_PARTS = ("欧阳测试", "450702199001011234", "13912345678", "ouyang@example.cn", "0199001011")


def _store_dump() -> str:
    from sqlmodel import Session, select

    from services.queries import db
    from store.models import EventRecord, Item

    with Session(db()) as s:
        items = [i.model_dump() for i in s.exec(select(Item)).all()]
        events = [e.model_dump() for e in s.exec(select(EventRecord)).all()]
    return json.dumps([items, events], ensure_ascii=False, default=str)


async def _history_text(st, wid: str) -> str:
    """Every payload of the workflow's history, decoded (to_json alone shows them base64-encoded)."""
    import base64

    found: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("data"), str) and "metadata" in node:
                found.append(base64.b64decode(node["data"]).decode("utf-8", "replace"))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    history = await st.client.get_workflow_handle(wid).fetch_history()
    walk(json.loads(history.to_json()))
    assert found, "no payloads in the history"
    return "\n".join(json.dumps(json.loads(f), ensure_ascii=False) if f[:1] in "{[" else f for f in found)


pytestmark_asyncio = pytest.mark.asyncio(loop_scope="session")


@pytestmark_asyncio
async def test_ingest_masks_subject_in_store_history_and_export(st, tmp_path):
    cal = engine().calendar
    today = await st.today()
    req = st.id("YSQ-PII")
    got = cal.subtract_working_days(today, 25, "guangxi")
    res = await st.ok(
        {
            "type": "request.received",
            "request_id": req,
            "department": "qz-fgw",
            "channel": "online",
            "received_on": got.isoformat(),
            "applicant_type": "natural_person",
            "subject": RAW_SUBJECT,
        }
    )
    assert res[0].status == "applied"
    masked = pii.mask_text(RAW_SUBJECT)
    assert st.item(req).title == masked
    dump = _store_dump()
    assert masked in dump
    history = await _history_text(st, f"request:{req}")
    assert masked in history
    for part in PII_PARTS:
        assert part not in dump and part not in history, part

    from sqlmodel import Session

    from domain.scoring import parse_period
    from services.exports import write_scores
    from services.queries import db
    from services.scores import fresh_scores

    due = dt.date.fromisoformat(st.clock(req, "request_reply").due[:10])
    with Session(db()) as s:
        result = fresh_scores(s, parse_period(str(due.year)), today)
    out = write_scores(result, "xlsx", tmp_path / "scores.xlsx")
    from openpyxl import load_workbook

    cells = " ".join(
        str(v) for ws in load_workbook(out).worksheets for row in ws.iter_rows(values_only=True) for v in row if v
    )
    assert req in cells and "欧阳**" in cells
    for part in PII_PARTS:
        assert part not in cells, part


@pytestmark_asyncio
async def test_reminders_escalations_on_group_channels_hold_no_subject(st):
    """A request left unanswered past its due date: every real notice (reminders to the liaison's group
    webhook, the head's personal mail, the overdue notice to the supervisor, and the 送达失败 notice about
    a liaison whose channel is down) reaches the receivers; only the personal mail carries the subject."""
    cal = engine().calendar
    with SmtpReceiver() as smtp:
        deps = st.config / "departments.toml"
        text = deps.read_text(encoding="utf-8")
        dead = f"json://127.0.0.1:{closed_port()}/down"
        text = re.sub(r'(id = "liaison-jyj"(?:.|\n)*?notify = )\[[^\]]*\]', rf'\1["{dead}"]', text)
        text = re.sub(
            r'(id = "head-jyj"(?:.|\n)*?notify = )\[[^\]]*\]', rf'\1["{smtp.mailto_url("head-jyj@example.org")}"]', text
        )
        deps.write_text(text, encoding="utf-8")
        today = await st.today()
        req = st.id("YSQ-GRP")
        subject = "申请公开本人户籍迁移审批材料及经办人意见"
        await st.ok(
            {
                "type": "request.received",
                "request_id": req,
                "department": "qz-jyj",
                "channel": "online",
                "received_on": today.isoformat(),
                "applicant_type": "natural_person",
                "subject": subject,
            }
        )
        due = dt.date.fromisoformat(st.clock(req, "request_reply").due)
        from domain.shanghai import SHANGHAI

        wake = dt.datetime.combine(cal.add_working_days(due, 2, "guangxi"), dt.time(12), tzinfo=SHANGHAI)
        await st.sleep_until(wake)  # the 09:00 reminders: the daily sweep's runs on the way
        await st.settle(f"request:{req}")
        from store.deliveries import list_deliveries

        rows = await st.wait_for(
            lambda: list_deliveries(item_id=req),
            lambda rows: {r.step for r in rows if r.state == "sent"} >= {"due_today", "overdue_1", "delivery_failed"},
            timeout=60,
        )
        posts = [p for p in st.receiver.posts if p.json and req in json.dumps(p.json, ensure_ascii=False)]
        paths = {p.path for p in posts}
        assert "/hook/supervisor-zwgk" in paths
        assert any("送达失败" in p.json["title"] for p in posts)
        for p in posts:
            assert "户籍迁移" not in json.dumps(p.json, ensure_ascii=False), (p.path, p.json)
        mails = [m for m in smtp.messages if req in m.body]
        assert mails and all(subject in m.body for m in mails)
        assert {r.person for r in rows if r.step == "delivery_failed"} == {"supervisor-zwgk"}


async def test_debug_logs_carry_no_title(notify_env, monkeypatch, capsys):
    """`SHIXIAN_LOG_LEVEL=debug`: Apprise would log each payload it posts; the title never reaches the log."""
    import logging

    from activities.notify import deliver
    from worker.logs import setup_logging

    cfg, smtp, hook = notify_env
    _write_people(cfg, {"me": f'[{{ url = "{hook.url("/me")}", privacy = "personal" }}]'})
    monkeypatch.setenv("SHIXIAN_LOG_LEVEL", "debug")
    monkeypatch.setenv("SHIXIAN_LOG_FORMAT", "json")
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("apprise").level)
    try:
        setup_logging()
        assert (await deliver(_req("me", "request_reply", SUBJECT))).status == "sent"
        logging.getLogger("shixian.notify").debug("probe")  # the log is at debug level
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger("apprise").setLevel(saved[2])
    assert SUBJECT in hook.wait_for(1)[0].json["message"]  # a personal channel carries it
    err = capsys.readouterr().err
    assert '"msg": "probe"' in err and "征地补偿" not in err


@pytestmark_asyncio
async def test_review_reason_is_masked_in_the_store_and_history(st):
    """A supervisor's free-text reason for rejecting a late entry (补录) goes through the same masking."""
    from services.ingest import Ingestor
    from services.review import decide

    cal = engine().calendar
    today = await st.today()
    req = st.id("YSQ-REV")
    await st.ok(
        {
            "type": "request.received",
            "request_id": req,
            "department": "qz-czj",
            "channel": "online",
            "received_on": cal.subtract_working_days(today, 10, "guangxi").isoformat(),
            "applicant_type": "natural_person",
            "subject": "申请公开预算",
        }
    )
    at = await st.now()
    ing = Ingestor(st.client, recorded_by="liaison-czj", role="liaison", now=lambda: at)
    st._n += 1
    claimed = cal.subtract_working_days(today, 5, "guangxi")
    [held] = await ing.ingest(
        [
            (
                st._n,
                {
                    "event_id": f"{st.tag}-{st._n}",
                    "type": "request.replied",
                    "request_id": req,
                    "on": claimed.isoformat(),
                    "outcome": "granted",
                },
            )
        ]
    )
    assert held.status == "held"
    reason = "已电话联系申请人李小明（13912345678），其称未收到答复书"
    entry = await decide(st.client, held.event_id, approve=False, by="supervisor-zwgk", reason=reason)
    assert entry["decision_reason"] == "已电话联系申请人李**（139****5678），其称未收到答复书"
    history = await _history_text(st, f"request:{req}")
    for text in (_store_dump() + json.dumps(st.item(req).model_dump(), ensure_ascii=False), history):
        assert "13912345678" not in text and "李小明" not in text
    assert "李**" in history
