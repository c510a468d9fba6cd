"""Notification channels: their kind, their privacy class, and what a notice may say on them. Pure.

Privacy classes (个人信息保护法: no more personal data than the purpose needs, and not to more people):
- `group`: read by several people (WeCom/DingTalk/Feishu/Lark/Slack… group bots, shared mailboxes, generic
  webhooks whose readers we do not know). A notice there carries the item number, department, rule, due date,
  working days left and the link, never the subject or title of a request (third parties' names, addresses
  and case details are typed there), nor the free text of a 督办 note.
- `personal`: read by the one person it is addressed to (a personal e-mail address). It may carry the title.
Titles of documents, public-opinion cases, budgets and annual reports are public information and may go to
groups.

Default class by kind when departments.toml does not give one: an IM bot webhook or a generic webhook is
`group`; `mailto://` with one recipient is `personal`, with several recipients (to=a,b / cc / bcc) `group`; an SMS
channel (`smsaliyun://`, `smstencent://`) to one phone is `personal`, to several `group`.

Escaping (`escape`): user-typed text (titles, notes, errors) put into a notice cannot mention everyone or
inject markup: "@" becomes the full-width "＠" on every IM kind (@all, @所有人, @everyone, @here); Feishu/Lark
`<at user_id="all">` tags and Slack `<!channel>` controls lose their angle brackets; markdown control
characters become their full-width forms on kinds that may render markdown. E-mail is sent as plain text
(Apprise escapes it when a channel asks for HTML).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qs, quote, unquote, urlsplit

from domain.sms import SMS_KINDS, valid_phone

Privacy = Literal["group", "personal"]
PRIVACY_CLASSES: tuple[Privacy, ...] = ("group", "personal")
PRIVACY_NAMES = {"group": "群组（多人可见）", "personal": "个人"}

# Bot webhooks post into a group chat: they can never be personal.
GROUP_BOT_KINDS = frozenset(
    {"wecombot", "dingtalk", "feishu", "lark", "slack", "discord", "msteams", "workflows", "gchat", "mattermost"}
)
MAIL_KINDS = frozenset({"mailto", "mailtos"})
# Kinds whose client renders markdown (or Slack's mrkdwn) in some message types.
_MARKDOWN_KINDS = frozenset(
    {"dingtalk", "wecombot", "feishu", "lark", "slack", "discord", "msteams", "workflows", "mattermost", "tgram"}
)
_IM_KINDS = GROUP_BOT_KINDS | _MARKDOWN_KINDS | {"tgram", "matrix", "matrixs", "rocket", "rockets", "zulip"}

# Item types whose titles are public information (published documents, public-opinion cases, budgets,
# annual reports); a request's subject is not.
PUBLIC_TITLE_TYPES = frozenset({"document", "opinion", "budget", "annual_report", "duty", "consultation"})

WITHHELD_NOTE = "（督办意见含具体案情，仅发送至个人渠道，请登录时限系统查看）"


def kind_of(url: str) -> str:
    """The channel kind: the URL's scheme in lower case (wecombot, dingtalk, mailto, json…)."""
    return url.split("://", 1)[0].strip().lower()


def _mail_recipients(url: str) -> int:
    try:
        parts = urlsplit(url)
    except ValueError:
        return 1
    query = parse_qs(parts.query)
    count = len([seg for seg in parts.path.split("/") if "@" in seg])  # mailto://host/a@x.cn/b@x.cn
    for key in ("to", "cc", "bcc"):
        for value in query.get(key, []):
            count += len([a for a in value.replace(";", ",").replace(" ", ",").split(",") if a])
    return count or 1


def default_privacy(url: str) -> Privacy:
    """The class a channel gets when departments.toml does not say (see the module docstring)."""
    kind = kind_of(url)
    if kind in MAIL_KINDS:
        return "personal" if _mail_recipients(url) <= 1 else "group"
    if kind in SMS_KINDS:  # a text message to one phone is read by its owner
        return "personal" if _sms_recipients(url) <= 1 else "group"
    return "group"


def _sms_phones_valid(url: str) -> bool:
    rest = url.split("://", 1)[1] if "://" in url else ""
    head, _, query = rest.partition("?")
    phones = [unquote(seg) for seg in head.split("/") if seg]
    for value in parse_qs(query).get("to", []):
        phones += [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
    return bool(phones) and all(valid_phone(p) for p in phones)


def _sms_recipients(url: str) -> int:
    rest = url.split("://", 1)[1] if "://" in url else ""
    head, _, query = rest.partition("?")
    count = len([seg for seg in head.split("/") if seg])
    for value in parse_qs(query).get("to", []):
        count += len([p for p in value.replace(";", ",").split(",") if p.strip()])
    return count


def problem(url: str, privacy: str) -> str | None:
    """Why this declared class cannot be right (Chinese), or None."""
    if privacy not in PRIVACY_CLASSES:
        return f"privacy 只能是 {' 或 '.join(PRIVACY_CLASSES)}，不能是“{privacy}”"
    kind = kind_of(url)
    if kind in SMS_KINDS and not _sms_phones_valid(url):  # the number itself is never repeated in the message
        return f"{kind} 短信渠道须写有效的手机号码，如 {kind}://13800000000（多个号码用 / 分隔）"
    if privacy == "personal" and kind in GROUP_BOT_KINDS:
        return f"{kind} 群机器人的消息全群可见，不能标为 personal（个人）"
    if privacy == "personal" and kind in SMS_KINDS and _sms_recipients(url) > 1:
        return "发给多个手机号码的短信渠道不是个人渠道，不能标为 personal（个人）"
    if privacy == "personal" and kind in MAIL_KINDS and _mail_recipients(url) > 1:
        return "发给多个收件人的邮件渠道不是个人渠道，不能标为 personal（个人）"
    return None


# ---------------------------------------------------------------------------------------------- escaping
_FULLWIDTH_MARKDOWN = str.maketrans(
    {
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "#": "＃",
        "[": "［",
        "]": "］",
        "~": "～",
        "|": "｜",
        "\\": "＼",
        "!": "！",
    }
)


def escape(kind: str, text: str) -> str:
    """User-typed `text` made inert for channels of `kind` (no mentions, no markup)."""
    if not text or kind not in _IM_KINDS:
        return text
    text = text.replace("@", "＠")
    if kind in ("slack", "mattermost"):
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    else:
        text = text.replace("<", "＜").replace(">", "＞")
    if kind in _MARKDOWN_KINDS:
        text = text.translate(_FULLWIDTH_MARKDOWN)
    return text


# ------------------------------------------------------------------------------------ notice contexts
# Context keys holding text someone typed (everything else comes from the configuration or the engine).
USER_TEXT_KEYS = ("item_title", "title", "note", "last_error")
_ROW_LISTS = ("items", "overdue", "due_soon", "decisions")


def _row(row: Mapping[str, Any], kind: str, group: bool, item_type: str | None) -> dict[str, Any]:
    out = dict(row)
    if group and (row.get("item_type") or item_type) not in PUBLIC_TITLE_TYPES:
        out["title"] = ""
    if group and out.get("reason"):  # a reviewer's free text may describe the case, like a 督办 note
        out["reason"] = "（理由请登录时限系统查看）"
    for k in ("title", "reason"):  # a decision's reason is typed by the reviewer
        if isinstance(out.get(k), str):
            out[k] = escape(kind, out[k])
    return out


def for_channel(ctx: Mapping[str, Any], *, kind: str, privacy: str, item_type: str | None) -> dict[str, Any]:
    """The template context as this channel may see it: on a `group` channel a request's title (and any
    title whose item type is not known to be public) and the 督办 note are withheld; user-typed text is
    escaped for the channel kind. `item_type` is the notice's item type (None for digests: each row has
    its own `item_type`)."""
    out = dict(ctx)
    group = privacy != "personal"
    if group:
        if item_type not in PUBLIC_TITLE_TYPES:
            out["item_title"] = ""
            out["title"] = ""
        if out.get("note"):
            out["note"] = WITHHELD_NOTE
    for k in USER_TEXT_KEYS:
        if isinstance(out.get(k), str) and not (k == "note" and out[k] == WITHHELD_NOTE):
            out[k] = escape(kind, out[k])
    for key in _ROW_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_row(r, kind, group, item_type) if isinstance(r, Mapping) else r for r in out[key]]
    if isinstance(out.get("departments"), list):
        out["departments"] = [
            {**d, "items": [_row(r, kind, group, item_type) for r in d.get("items", [])]}
            if isinstance(d, Mapping)
            else d
            for d in out["departments"]
        ]
    return out


# ------------------------------------------------------------------------------ delivery errors in Chinese
# Apprise (and the sockets under it) report in English; people read the Chinese lead, the original stays in
# the grey detail for the technician. First match wins; matched against the lower-cased text.
ERROR_EXPLANATIONS: tuple[tuple[str, str], ...] = (
    ("name or service not known", "无法解析接收方的域名：地址有误或内网 DNS 不通"),
    ("nodename nor servname", "无法解析接收方的域名：地址有误或内网 DNS 不通"),
    ("getaddrinfo", "无法解析接收方的域名：地址有误或内网 DNS 不通"),
    ("certificate", "加密连接失败：接收方证书无效或不受信任"),
    ("ssl", "加密连接失败：TLS/SSL 设置与接收方不一致"),
    ("authentication", "邮件服务器认证失败：用户名或授权码有误"),
    ("smtpauth", "邮件服务器认证失败：用户名或授权码有误"),
    ("535", "邮件服务器认证失败：用户名或授权码有误"),
    ("timed out", "连接超时：接收方没有及时响应"),
    ("timeout", "连接超时：接收方没有及时响应"),
    ("error=401", "接收方拒绝：认证失败：令牌或密钥有误，HTTP 401"),
    ("error=403", "接收方拒绝：没有权限：令牌或白名单设置有误，HTTP 403"),
    ("error=404", "接收地址不存在：网址或机器人密钥有误，HTTP 404"),
    ("error=429", "接收方限流：发送过于频繁，HTTP 429"),
    ("error=4", "接收方拒收：请求不被接受，HTTP 4xx"),
    ("error=5", "接收方服务出错：HTTP 5xx，请稍后重试或联系对方管理员"),
    ("connection refused", "无法连接到接收方：对方服务未启动或端口有误"),
    ("connection error", "无法连接到接收方：对方服务未启动、地址有误或网络不通"),
    ("refused", "无法连接到接收方：连接被拒绝"),
    ("recipient", "收件人地址无效"),
)
ERROR_FALLBACK = "发送失败"


ORIGINAL = "（原文："


def _cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def explain_error(err: str) -> str:
    """The stored wording of a failed send: a Chinese lead, then the original text as `（原文：…）`
    (`split_error` takes them apart again for pages). A text that is already Chinese is kept as it is."""
    if not err or _cjk(err[0]):
        return err
    low = err.lower()
    lead = next((zh for needle, zh in ERROR_EXPLANATIONS if needle in low), ERROR_FALLBACK)
    return f"{lead}{ORIGINAL}{err}）"


def split_error(text: str | None) -> tuple[str, str]:
    """(the Chinese explanation, the original detail) of a stored delivery error; the detail is "" when there
    is none. Older rows (`无法连接（A Connection error…）`) and bare English text are split or explained too."""
    if not text:
        return "", ""
    if ORIGINAL in text:
        lead, _, rest = text.partition(ORIGINAL)
        return lead, rest[:-1] if rest.endswith("）") else rest
    if not _cjk(text[0]):
        return split_error(explain_error(text))
    lead, sep, rest = text.partition("（")
    if sep and rest[:1].isascii() and rest[:1].isalpha() and rest.endswith("）"):
        return lead, rest[:-1]
    return text, ""


# ------------------------------------------------------------------------ channels as office forms
# The admin page asks for plain fields by kind; the Apprise URL is built (and read back) only here.
FORM_KINDS = {
    "wecom": "企业微信群机器人",
    "dingtalk": "钉钉群机器人",
    "feishu": "飞书群机器人",
    "email": "电子邮箱",
    "webhook": "Webhook",
    "sms_aliyun": "短信（阿里云）",
    "sms_tencent": "短信（腾讯云）",
}
# Form kind → Apprise scheme of the SMS channels (activities/sms.py); keys come from the settings only.
SMS_FORM_SCHEMES = {"sms_aliyun": "smsaliyun", "sms_tencent": "smstencent"}
# The fields of each kind: (name, Chinese label, secret?)
FORM_FIELDS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "wecom": (("key", "机器人 Webhook 地址中的 key", True),),
    "dingtalk": (("token", "access_token", True), ("secret", "加签密钥 secret（未开启加签可不填）", True)),
    "feishu": (("token", "Webhook 地址中的 hook id", True),),
    "email": (("address", "邮箱地址", False),),
    "webhook": (("address", "接收地址（http:// 或 https://）", False),),
    "sms_aliyun": (("phone", "手机号码", False),),
    "sms_tencent": (("phone", "手机号码", False),),
}
_URL_SAFE = re.compile(r"^[A-Za-z0-9_\-.~${}]+$")
_MAIL = re.compile(r"^[^@\s,;/?#]+@[^@\s,;/?#]+\.[^@\s,;/?#]+$")


class ChannelFormError(ValueError):
    """A channel form field is missing or malformed; `field` names it, the message is Chinese."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _token(fields: Mapping[str, str], name: str, label: str, *, required: bool = True) -> str:
    value = (fields.get(name) or "").strip()
    if not value:
        if required:
            raise ChannelFormError(name, f"请填写{label}")
        return ""
    if not _URL_SAFE.match(value):
        raise ChannelFormError(name, f"{label}只能包含字母、数字和 - _ . ~（或 ${{变量名}}）")
    return value


def build_url(kind: str, fields: Mapping[str, str], smtp: Mapping[str, str] | None = None) -> str:
    """The Apprise URL of a channel given as form fields. `smtp` (e-mail only): host, user, from, mode and
    password_var (the name of the environment variable holding the SMTP password: the URL names it as
    ${NAME}, so the password never enters the directory). Raises ChannelFormError."""
    if kind == "wecom":
        return f"wecombot://{_token(fields, 'key', 'key')}"
    if kind == "dingtalk":
        token = _token(fields, "token", "access_token")
        secret = _token(fields, "secret", "加签密钥", required=False)
        return f"dingtalk://{secret + '@' if secret else ''}{token}/"
    if kind == "feishu":
        return f"feishu://{_token(fields, 'token', 'hook id')}"
    if kind == "email":
        address = (fields.get("address") or "").strip()
        if not _MAIL.match(address):
            raise ChannelFormError("address", "请填写一个有效的邮箱地址，如 fgw@example.gov.cn")
        smtp = smtp or {}
        host = (smtp.get("host") or "").strip()
        if not host:
            raise ChannelFormError("address", "服务器未配置发信服务器（SHIXIAN_SMTP_HOST），暂不能添加邮箱渠道")
        user = quote(smtp.get("user") or "", safe="")
        cred = ""
        if user:
            var = smtp.get("password_var") or ""
            cred = f"{user}:${{{var}}}@" if var else f"{user}@"
        mode = (smtp.get("mode") or "").strip()
        scheme = "mailtos" if mode in ("ssl", "starttls") else "mailto"
        query = [f"to={quote(address, safe='@')}"]
        if smtp.get("from"):
            query.append(f"from={quote(smtp['from'], safe='@')}")
        if mode:
            query.append(f"mode={quote(mode, safe='')}")
        return f"{scheme}://{cred}{host}?{'&'.join(query)}"
    if kind == "webhook":
        address = (fields.get("address") or "").strip()
        low = address.lower()
        if not low.startswith(("http://", "https://")) or len(address) < 10 or any(c.isspace() for c in address):
            raise ChannelFormError("address", "接收地址须以 http:// 或 https:// 开头")
        return ("jsons://" + address[8:]) if low.startswith("https://") else ("json://" + address[7:])
    if kind in SMS_FORM_SCHEMES:
        phone = re.sub(r"[\s-]", "", fields.get("phone") or "")
        if not valid_phone(phone):
            raise ChannelFormError("phone", "请填写一个有效的手机号码，如 13800000000 或 +8613800000000")
        return f"{SMS_FORM_SCHEMES[kind]}://{quote(phone, safe='+')}"
    raise ChannelFormError("kind", "请选择渠道类型")


def parse_url(url: str) -> tuple[str | None, dict[str, str]]:
    """The form kind and fields of an Apprise URL (None: a kind the form does not offer, kept as it is)."""
    kind = kind_of(url)
    rest = url.split("://", 1)[1] if "://" in url else ""
    if kind == "wecombot":
        return "wecom", {"key": rest.split("/", 1)[0].split("?", 1)[0]}
    if kind == "dingtalk":
        head = rest.split("/", 1)[0].split("?", 1)[0]
        secret, _, token = head.rpartition("@")
        return "dingtalk", {"token": token, "secret": secret}
    if kind == "feishu":
        return "feishu", {"token": rest.split("/", 1)[0].split("?", 1)[0]}
    if kind in MAIL_KINDS:
        to = parse_qs(urlsplit(url).query).get("to", [""])[0]
        return ("email", {"address": to}) if to and _mail_recipients(url) == 1 else (None, {})
    if kind in SMS_KINDS:
        head, _, query = rest.partition("?")
        form = next(k for k, v in SMS_FORM_SCHEMES.items() if v == kind)
        return (form, {"phone": unquote(head)}) if head and "/" not in head and not query else (None, {})
    if kind in ("json", "jsons"):
        return "webhook", {"address": ("https://" if kind == "jsons" else "http://") + rest}
    return None, {}


def form_kind_name(url: str) -> str:
    """The Chinese name of a channel's kind (its scheme for kinds the form does not offer)."""
    kind, _ = parse_url(url)
    return FORM_KINDS[kind] if kind else kind_of(url)
