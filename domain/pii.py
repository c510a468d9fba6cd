"""Personal data typed into free text (a request's subject, a title, a reason) found and masked. Pure.

The ingest path (`domain.events.parse_event`) masks every free-text field with `mask_text` before the
event is validated, hashed or sent on, so the store, Temporal history, exports, pages, the API and the
notices only ever see the masked text (like the applicant columns a ledger drops on read).

Found: mainland mobile numbers (1[3-9] + 9 digits, also +86 and 3-4-4 groups), landlines with an area code
(0xx-xxxxxxxx), 18-digit resident ID numbers with a valid check digit (GB 11643), e-mail addresses, bank
card numbers of 16-19 digits passing the Luhn check, and personal names in common patterns: after a word
such as 申请人/联系人/当事人 (a common surname and one or two more characters, ended by a delimiter or a
following verb), 张某/张某某, and 张三先生/女士. Names anywhere else ("张三要求公开…") are not found: Chinese
has no word boundaries and a surname list alone would mask ordinary words. Masked digits become "*",
keeping a few for recognition (138****1234, 4501**********1234, 6222*********1234); e-mail addresses keep
the first letter and the domain (o*****@example.cn); names keep their surname (张*, 欧阳**). The text keeps its
length, so a masked field still meets the length limits.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from domain.limits import TEXT_DEFAULT_MAX, TEXT_MAX

# Event fields that hold free text a person typed (ids, enums, URLs and dates are checked elsewhere).
FREE_TEXT_FIELDS = frozenset({"subject", "title", "reason", "withheld_reason", "disclosure_reason", "note"})

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    """The check character of an 18-digit resident ID number (GB 11643-1999, ISO 7064 MOD 11-2)."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def is_resident_id(s: str) -> bool:
    s = s.upper()
    return len(s) == 18 and s[:17].isdigit() and s[17] in "0123456789X" and id_check_digit(s[:17]) == s[17]


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _keep(s: str, head: int, tail: int) -> str:
    """Digits (and the ID's X) outside the first `head` and last `tail` become '*'; separators stay."""
    positions = [i for i, c in enumerate(s) if c.isdigit() or c in "xX"]
    hidden = set(positions[head : len(positions) - tail])
    return "".join("*" if i in hidden else c for i, c in enumerate(s))


_NOT_DIGIT_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_DIGIT_AFTER = r"(?![0-9A-Za-z])"
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})")
_ID = re.compile(_NOT_DIGIT_BEFORE + r"\d{17}[\dXx]" + _NOT_DIGIT_AFTER)
# 16-19 digits, optionally written in groups of four separated by a space or a hyphen.
_CARD = re.compile(_NOT_DIGIT_BEFORE + r"(?:\d{4}[ -]?){3}\d{4}(?:[ -]?\d{1,3})?" + _NOT_DIGIT_AFTER)
_MOBILE = re.compile(r"(?<![0-9A-Za-z+])(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}" + _NOT_DIGIT_AFTER)
_LANDLINE = re.compile(
    _NOT_DIGIT_BEFORE + r"(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3}[ -]|0\d{2,3}(?=\d{7,8}(?!\d)))\s?\d{7,8}"
    r"(?:-\d{1,5})?" + _NOT_DIGIT_AFTER
)

# The most common single-character surnames (about 90% of the population) and the usual compound ones.
_SURNAMES_1 = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕"
    "单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦"
    "麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖"
    "巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花"
    "权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌"
    "母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝"
)
_SURNAMES_2 = (
    "欧阳",
    "司马",
    "诸葛",
    "上官",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "长孙",
    "宇文",
    "司徒",
    "夏侯",
    "令狐",
    "端木",
    "西门",
    "南宫",
    "独孤",
)
_SURNAME = "(?:" + "|".join(_SURNAMES_2) + "|[" + _SURNAMES_1 + "])"
_HAN = r"[\u4e00-\u9fff]"
# Words after which a person's name usually follows.
_NAME_CUES = (
    "申请人|被申请人|第三人|当事人|联系人|举报人|投诉人|信访人|反映人|代理人|委托人|受托人|法定代表人|负责人|"
    "户主|业主|村民|居民|患者|学生|家长|姓名|其子|其女|其妻|其夫|之子|之女"
)
# What commonly ends a name: punctuation, a space, or a word that starts the rest of the sentence.
_NAME_END = (
    r"(?=$|[\s，,。.、；;：:（()）“”\"'《》<>！!？?\-—/]|"
    r"的|申请|要求|请求|反映|投诉|举报|称|于|对|向|就|与|和|及|等|在|因|家|户|名下|提出|诉|系|是|为|所|之|购|购买|"
    r"承包|居住|住|现住|户籍|身份证|电话|手机|联系|邮箱|地址|住址|一户|一家|父|母|夫|妻|子|女)"
)
# Words after a cue that are not names (申请人单位, 申请人所在村…).
_NOT_NAME = "(?!单位|所在|本人|自己|代表|身份|信息|名下|家属|亲属|一方|双方|各方)"
_CUE_NAME = re.compile(
    rf"(?P<cue>{_NAME_CUES})(?P<sep>[:：\s]*){_NOT_NAME}(?P<name>{_SURNAME}{_HAN}{{1,2}}?){_NAME_END}"
)
# 张某 / 张某某, but not 于某日, 向某单位 (某 before a noun means "a certain").
_MOU_NAME = re.compile(
    rf"(?<!{_HAN}某)(?P<name>{_SURNAME}某{{1,2}})(?!单位|部门|公司|企业|机关|机构|地|处|日|月|年|时|些|种|个|项|件|村|镇|乡|街|区|县|市|省|医院|学校|银行)"
)
_TITLED_NAME = re.compile(rf"(?P<name>{_SURNAME}{_HAN}{{1,2}}?)(?=先生|女士|小姐|老师|师傅|阿姨|大爷|大妈)")


_DIGIT_OR_AT = re.compile(r"[0-9@]")


def _mask_name(name: str) -> str:
    surname = name[:2] if name[:2] in _SURNAMES_2 else name[:1]
    return surname + "*" * (len(name) - len(surname))


def _masked_numbers(text: str) -> str:
    def email(m: re.Match) -> str:
        local = m.group(1)
        return (local[:1] + "*" * (len(local) - 1) if len(local) > 1 else "*") + "@" + m.group(2)

    def ident(m: re.Match) -> str:
        s = m.group(0)
        if is_resident_id(s):
            return _keep(s, 4, 4)
        digits = s if s.isdigit() else ""
        return _keep(s, 4, 4) if digits and luhn_ok(digits) else s

    def card(m: re.Match) -> str:
        s = m.group(0)
        digits = re.sub(r"\D", "", s)
        return _keep(s, 4, 4) if 16 <= len(digits) <= 19 and luhn_ok(digits) else s

    def mobile(m: re.Match) -> str:
        s = m.group(0)
        digits = re.sub(r"\D", "", s)
        national = digits[-11:]
        return _keep(s, len(digits) - 11 + 3, 4) if national[0] == "1" else s

    def landline(m: re.Match) -> str:
        s = m.group(0)
        area = re.match(r"[(（]?0\d{2,3}", s)
        area_digits = len(re.sub(r"\D", "", area.group(0))) if area else 0
        return _keep(s, area_digits, 2)

    text = _EMAIL.sub(email, text)
    text = _ID.sub(ident, text)
    text = _CARD.sub(card, text)
    text = _MOBILE.sub(mobile, text)
    return _LANDLINE.sub(landline, text)


def _masked_names(text: str) -> str:
    def cue(m: re.Match) -> str:
        return m.group("cue") + m.group("sep") + _mask_name(m.group("name"))

    def plain(m: re.Match) -> str:
        return _mask_name(m.group("name"))

    text = _CUE_NAME.sub(cue, text)
    text = _TITLED_NAME.sub(plain, text)
    return _MOU_NAME.sub(plain, text)


def mask_text(text: str) -> str:
    """`text` with the personal data it holds masked (unchanged when none is found). Same length."""
    if not text:
        return text
    if _DIGIT_OR_AT.search(text):
        text = _masked_numbers(text)
    return _masked_names(text)


def has_personal_data(text: str) -> bool:
    return mask_text(text) != text


def mask_fields(obj: dict, fields: frozenset[str] = FREE_TEXT_FIELDS, mask: Callable[[str], str] = mask_text) -> dict:
    """A copy of an event object with its free-text fields masked (other fields untouched; `obj` when
    nothing changes, so an event without personal data keeps its content hash)."""
    # A text over its limit is refused by the validator without being echoed: not worth scanning.
    changed = {
        k: mask(v)
        for k, v in obj.items()
        if k in fields and isinstance(v, str) and len(v) <= TEXT_MAX.get(k, TEXT_DEFAULT_MAX)
    }
    changed = {k: v for k, v in changed.items() if v != obj[k]}
    return {**obj, **changed} if changed else obj


# ---------------------------------------------------------------- linking without keeping the identity
def applicant_key(applicant: object, secret: bytes) -> str | None:
    """A keyed hash (HMAC-SHA256 with the server's secret) of an applicant's identity as given in a
    `request.received`: the name with the ID number or, for an organisation, its code (统一社会信用代码).
    None when the event gives no name or neither number: then nothing is linked. Computed before the
    event is masked and the identity dropped; without the secret the hash cannot confirm a guess."""
    import hashlib
    import hmac
    import unicodedata

    if not isinstance(applicant, dict):
        return None

    def norm(v: object) -> str:
        return "".join(unicodedata.normalize("NFKC", v).split()).upper() if isinstance(v, str) else ""

    name, number = norm(applicant.get("name")), norm(applicant.get("id_number")) or norm(applicant.get("org_code"))
    if not name or not number or not secret:
        return None
    return hmac.new(secret, f"{name}\x1f{number}".encode(), hashlib.sha256).hexdigest()
