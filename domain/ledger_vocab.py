"""The words clerks write in a ledger's coded columns (台账取值): one table per column, read by domain.ledger.

Pure data and one matcher. Each column is a `Vocab` of `Term`s: the code, its canonical name (the one the
template's drop-down list offers; shared/reference/ledger-format.md), the other words that mean exactly it
(mapped silently) and the words that only probably mean it (mapped *with a guess*: the preview says
“申请方式“邮寄”按“邮寄（平信）”理解” so the clerk can correct the ledger). A value matching none of them,
whole, is then tried as a part: it begins with or contains the words of exactly one term (“部分公开，其余不予公开”
is 部分公开), or it is a part of one term's words (“国家秘” of 属于国家秘密) — a guess as well. Anything else is
a refused cell listing the canonical names.

Where the words come from (beyond ledger-format.md and the event vocabulary's labels):
- channels: 政府信息公开指南 and 依申请公开须知 pages list 当面申请 / 现场申请, 信函（电报、传真）申请 and 互联网申请
  / 网上申请 / 电子邮件 (e.g. http://govmail.qingdao.gov.cn/ApplyInfo_jz/file/index.html,
  http://aplover.com/html/UpFileszwgkzwgksq.html, https://www.yaozhaowo.com/art/2025/1/21/art_1229199774_59129606.html
  “信函申请 / 现场申请”); a 2016 annual report counts 当面申请、网络申请、信函申请 (shared/seed/000_a82df7ab5fee8c06.txt).
  信函 / 邮寄 do not say whether the letter was signed for (条例第三十一条第（二）项: registered post counts from the
  signing day, an ordinary letter from the day the office confirms it, 207号 一.2), so they are a guess, to 平信:
  the channel whose receipt accepts a 确认日期 and otherwise falls back to 收到申请日期 (config/receipt.toml).
- outcomes: the rows of 表三 (国办公开办函〔2021〕30号, domain.report.ROW_LABELS) and the words answer letters and the
  older statistics use: 同意公开 / 同意部分公开 / 不同意公开 / 不属于本行政机关公开 (the 2016 report above),
  “信息不存在”数 / “非本部门掌握”数 / “申请内容不明确”数 (https://code.fabao365.com/law_184609_3.html), 政府信息不存在告知书 /
  非本机关政府信息告知书 (the Qingdao guide above), 已经主动公开 / 没有所申请公开信息 / 不属于本机关负责公开 / 重复申请
  (http://newchangjing.com/minzhushenghuohui/332146.html). The 2021 table has no row of its own for 已主动公开 (告知获取
  方式) or 不属于本机关负责公开 (条例第三十六条第（一）、（五）项): they are guessed to 予以公开 and 本机关不掌握相关政府信息.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from domain.report import OUTCOME_ROWS, ROW_GROUPS, ROW_LABELS

# Values that deny what they name (不予公开 contains 公开): an affirmative term never matches a part of them.
_NEGATIONS = ("不", "未", "非", "无", "没", "拒", "否")


def key(text: Any) -> str:
    """How values are compared: full-width -> half-width, spaces and quotes removed, lower case."""
    t = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower()
    return re.sub(r"[“”\"‘’'「」《》]", "", t).strip("。.;；,，、")


@dataclass(frozen=True)
class Term:
    code: Any
    name: str  # canonical: the drop-down list's word
    exact: tuple[str, ...] = ()  # also mean exactly this
    guess: tuple[str, ...] = ()  # probably mean this: mapped with a note
    why: str = ""  # said with every guess of this term (what to check)
    affirmative: bool = False  # grants / affirms: never matched inside a negated value


@dataclass(frozen=True)
class Match:
    code: Any
    name: str
    guessed: bool
    why: str = ""


@dataclass(frozen=True)
class Vocab:
    column: str
    terms: tuple[Term, ...]
    prepare: str = ""  # "outcome": 表三 numbering and group headings stripped first
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()  # a heading alone -> the names to choose among

    def names(self) -> list[str]:
        return [t.name for t in self.terms]

    def synonyms(self, term: Term) -> tuple[list[str], list[str]]:
        """A term's other words as the 代码表 sheet lists them: (mapped silently, mapped with a guess),
        without repeats of its name (部分公开 is both the name and a word the numbering strip gives)."""
        seen = {self._norm(term.name)}
        out: tuple[list[str], list[str]] = ([], [])
        for i, words in enumerate((term.exact, term.guess)):
            for w in words:
                if self._norm(w) not in seen:
                    seen.add(self._norm(w))
                    out[i].append(w)
        return out

    def _norm(self, value: Any) -> str:
        v = key(value)
        return _strip_outcome(v) if self.prepare == "outcome" else v

    @cached_property
    def _tables(self) -> tuple[dict[str, Term], dict[str, Term]]:
        """Normalised word -> term: (exact words, the code itself included; guesses)."""
        exact: dict[str, Term] = {}
        guess: dict[str, Term] = {}
        for t in self.terms:
            for w in (t.name, *t.exact, *([t.code] if isinstance(t.code, str) else [])):
                exact.setdefault(self._norm(w), t)
            for w in t.guess:
                guess.setdefault(self._norm(w), t)
        return exact, guess

    def match(self, value: Any) -> Match | None:
        v = self._norm(value)
        if not v or not v.isprintable():  # a control character is not a word anyone wrote: refused, shown escaped
            return None
        exact, guess = self._tables
        if v in exact:
            t = exact[v]
            return Match(t.code, t.name, False)
        if v in guess:
            t = guess[v]
            return Match(t.code, t.name, True, t.why)
        part = self._part(v, exact)  # `why` is said of the listed guesses only
        return Match(part.code, part.name, True) if part else None

    def _part(self, v: str, exact: dict[str, Term]) -> Term | None:
        negated = [n for n in _NEGATIONS if n in v]
        # the value contains words of one term only (the longest words: 部分公开 over 公开)
        hits = [(w, t) for w, t in exact.items() if len(w) >= 2 and w in v]
        hits = [(w, t) for w, t in hits if not any(w != o and w in o and t is not u for o, u in hits)]
        hits = [(w, t) for w, t in hits if not (t.affirmative and _denied(v, w))]
        found = {id(t): t for _, t in hits}
        if len(found) == 1:
            return next(iter(found.values()))
        if found:
            return None
        # the value is a part of one term's words (at least two characters)
        if len(v) >= 2:
            found = {id(t): t for w, t in exact.items() if v in w}
            if len(found) == 1:
                (t,) = found.values()
                if not (t.affirmative and negated):
                    return t
        return None

    def heading(self, value: Any) -> tuple[str, ...] | None:
        """The names under a group heading written alone (不予公开: which of the eight?)."""
        v = _NUMBERING.sub("", key(value))
        for head, names in self.groups:
            if v == _NUMBERING.sub("", key(head)):
                return names
        return None

    def refusal(self, value: Any, shown: str) -> str:
        names = self.heading(value)
        if names:
            return f"“{shown}” 须写明哪一种情形：{'、'.join(names)}"
        return f"“{shown}” 不是“{self.column}”可识别的取值：可填 {'、'.join(self.names())}（其他写法见台账模板的“代码表”工作表）"


def _denied(value: str, word: str) -> bool:
    """`word` occurs in `value` right after a negation (不予公开, 不同意公开, 未公开)."""
    at = value.find(word)
    while at >= 0:
        if any(n in value[max(0, at - 3) : at] for n in _NEGATIONS):
            return True
        at = value.find(word, at + 1)
    return False


_NUMBERING = re.compile(r"^(?:[(]?[一二三四五六七八九十]+[)、]|[(]?\d+[)、.]|\d+\.)")


def _strip_outcome(text: str) -> str:
    """“(三)不予公开1.属于国家秘密”, “不予公开-过程性信息”, “不予公开（过程性信息）” -> the row's own words."""
    prev = None
    while prev != text:
        prev = text
        text = _NUMBERING.sub("", text)
        for g in ROW_GROUPS.values():
            gn = key(g)
            for head in (gn, _NUMBERING.sub("", gn)):
                if text.startswith(head) and len(text) > len(head):
                    rest = text[len(head) :].lstrip("-—:/、,")
                    if rest.startswith("(") and rest.endswith(")"):
                        rest = rest[1:-1]
                    text = rest
    text = re.sub(r"\(区分处理的.*\)$", "", text)
    return text


def _row_name(code: str) -> str:
    """The 三级 row name of 表三 as the drop-down offers it (numbering and 部分公开's counting note dropped)."""
    return re.sub(r"（区分处理的.*）$", "", re.sub(r"^(?:（[一二三四五六七八九十]+）|\d+\.)", "", ROW_LABELS[code]))


# ------------------------------------------------------------------------------------ requests
CHANNEL = Vocab(
    "申请方式",
    (
        Term(
            "in_person",
            "当面",
            ("当面申请", "当面提交", "当面递交", "现场", "现场申请", "现场提交", "窗口", "窗口受理", "窗口申请"),
            ("来访", "上门"),
        ),
        Term(
            "post_registered",
            "邮寄（挂号/EMS）",
            ("邮寄(挂号)", "邮寄(ems)", "挂号", "挂号信", "挂号邮寄", "ems", "特快专递", "快递", "信函(挂号)"),
        ),
        Term(
            "post_ordinary",
            "邮寄（平信）",
            ("平信", "平信邮寄", "普通信件", "普通信函", "信函(平信)"),
            ("邮寄", "信函", "信函申请", "信件", "来信", "邮寄申请", "书信"),
            "未写明挂号还是平信；挂号信以签收之日为收到申请之日，如是挂号信请改为“邮寄（挂号/EMS）”",
        ),
        Term(
            "online",
            "网络",
            (
                "网上",
                "网上申请",
                "网上申请平台",
                "网络申请",
                "在线",
                "在线申请",
                "互联网",
                "互联网申请",
                "政府网站",
                "门户网站",
                "网站",
                "网上平台",
                "依申请公开平台",
                "政府信息公开平台",
            ),
        ),
        Term(
            "email",
            "电子邮件",
            ("电子邮件申请", "电子邮箱", "邮箱", "email", "e-mail", "电邮"),
            ("邮件",),
            "如是邮寄的信件，请改为“邮寄（平信）”或“邮寄（挂号/EMS）”",
        ),
        Term("fax", "传真", ("传真申请",)),
        Term("other", "其他", ("其他方式", "其他渠道"), ("电报",)),
    ),
)

APPLICANT_TYPE = Vocab(
    "申请人类型",
    (
        Term("natural_person", "自然人", ("公民", "个人", "群众", "市民", "居民", "村民")),
        Term("legal.business", "商业企业", ("企业", "公司", "企业法人", "商业机构")),
        Term("legal.research", "科研机构", ("科研院所", "高校", "高等院校", "科研单位"), ("大学", "研究所", "研究院")),
        Term("legal.public_interest", "社会公益组织", ("公益组织", "公益机构"), ("社会组织", "基金会")),
        Term(
            "legal.legal_services",
            "法律服务机构",
            ("律师事务所", "律所"),
            ("律师",),
            "以律师事务所名义申请的计“法律服务机构”，律师个人申请的计“自然人”",
        ),
        Term(
            "legal.other",
            "其他",
            ("其他组织", "其他法人或其他组织"),
            ("法人或其他组织", "法人", "单位", "事业单位", "机关", "社会团体"),
            "年度报告表三把不属于前几类的法人或其他组织计为“其他”",
        ),
    ),
)

CONSULT_WITH = Vocab(
    "征求意见对象",
    (
        Term("third_party", "第三方", ("第三人", "第三方(条例第三十二条)", "利害关系人")),
        Term(
            "agency",
            "其他机关",
            ("其他行政机关", "其他机关(条例第三十四条)", "有关机关"),
            ("相关部门", "有关部门", "其他部门"),
        ),
    ),
)

_NOT_HELD_WHY = "条例第三十六条第（五）项“不属于本机关负责公开”的，表三计入“本机关不掌握相关政府信息”"
OUTCOME = Vocab(
    "答复结果",
    tuple(
        Term(code, _row_name(code), exact, guess, why, code in ("granted", "partially_granted"))
        for code, exact, guess, why in (
            (
                "granted",
                ("公开", "同意公开", "全部公开", "准予公开", "予以提供"),
                ("已主动公开", "属于已主动公开范围", "主动公开", "告知获取途径"),
                "已主动公开的告知获取方式和途径，表三计入“予以公开”",
            ),
            ("partially_granted", ("同意部分公开", "部分予以公开", "区分处理"), (), ""),
            ("withheld.state_secret", ("国家秘密", "涉及国家秘密", "涉密"), (), ""),
            ("withheld.prohibited_by_law", ("法律行政法规禁止公开", "法律法规禁止公开"), (), ""),
            ("withheld.security_stability", ("危及三安全一稳定", "三安全一稳定"), ("危及国家安全", "危及社会稳定"), ""),
            (
                "withheld.third_party_rights",
                ("第三方合法权益", "涉及第三方合法权益", "损害第三方合法权益"),
                ("商业秘密", "个人隐私"),
                "涉及商业秘密、个人隐私的，表三计入“保护第三方合法权益”",
            ),
            ("withheld.internal_affairs", ("三类内部事务信息", "内部事务信息", "内部事务"), ("内部管理信息",), ""),
            ("withheld.process_information", ("四类过程性信息", "过程性信息", "属于过程性信息"), ("过程信息",), ""),
            ("withheld.enforcement_file", ("行政执法案卷", "执法案卷", "行政执法案卷信息"), (), ""),
            ("withheld.administrative_inquiry", ("行政查询事项",), ("查询事项",), ""),
            (
                "unavailable.not_held",
                (
                    "本机关不掌握",
                    "不掌握",
                    "信息不存在",
                    "政府信息不存在",
                    "无此信息",
                    "经检索没有",
                    "没有相关信息",
                    "非本部门掌握",
                    "不掌握相关信息",
                ),
                (
                    "不属于本机关",
                    "非本机关",
                    "不属于本机关公开",
                    "不属于本机关负责公开",
                    "非本机关政府信息",
                    "不属于本行政机关公开",
                ),
                _NOT_HELD_WHY,
            ),
            (
                "unavailable.needs_creation",
                ("需要另行制作", "需另行制作", "没有现成信息"),
                ("需要加工分析", "需加工汇总"),
                "",
            ),
            (
                "unavailable.still_unclear",
                ("补正后仍不明确", "补正后申请内容不明确"),
                ("申请内容不明确", "内容不明确"),
                "补正后仍不明确的计入本项；尚在补正中的请填“补正告知日期”",
            ),
            ("not_processed.petition", ("信访举报投诉", "信访", "举报", "投诉", "信访类"), (), ""),
            ("not_processed.duplicate", (), (), ""),
            ("not_processed.publication", ("公开出版物", "要求提供出版物"), ("出版物",), ""),
            ("not_processed.excessive", ("大量反复申请",), (), ""),
            ("not_processed.confirmation", ("确认或重新出具已获取信息", "要求确认或重新出具"), ("重新出具",), ""),
            (
                "other.no_correction",
                ("申请人无正当理由逾期不补正", "逾期不补正", "逾期不补正、不再处理", "未补正", "不补正"),
                ("视为放弃申请",),
                "",
            ),
            (
                "other.fee_unpaid",
                (
                    "申请人逾期未按收费通知要求缴纳费用",
                    "逾期未缴费",
                    "逾期未缴费、不再处理",
                    "未缴纳费用",
                    "逾期未缴纳费用",
                ),
                (),
                "",
            ),
            (
                "other.other",
                (),
                ("撤回", "申请人撤回", "撤回申请"),
                "撤回的申请请另填“撤回日期”，表三计入“其他”",
            ),
        )
    ),
    prepare="outcome",
    groups=tuple(
        (head, tuple(_row_name(c) for c in OUTCOME_ROWS if c.startswith(prefix + ".")))
        for prefix, head in ROW_GROUPS.items()
    ),
)

# ------------------------------------------------------------------------------------ documents
DOC_KIND = Vocab(
    "文件类型",
    (
        Term("regulation", "规章", ("政府规章", "部门规章", "地方政府规章")),
        Term("normative", "行政规范性文件", ("规范性文件", "规范文件", "行政规范文件")),
        Term("policy", "政策文件", ("其他政策文件", "政策性文件")),
        Term("other", "其他", ("其他文件",)),
    ),
)

DISCLOSURE = Vocab(
    "公开属性",
    (
        Term("public", "主动公开", ("主动",), ("公开",), "", True),
        Term("on_request", "依申请公开", ("依申请",)),
        Term("withheld", "不予公开", ("不公开",), ("免予公开", "非公开")),
    ),
)

YES_NO = Vocab(
    "是否需要解读",
    (
        Term(True, "是", ("需要", "需", "要", "需要解读", "需解读", "y", "yes", "√", "✓"), (), "", True),
        Term(False, "否", ("不需要", "无需", "不需", "不要", "不解读", "无需解读", "不需要解读", "n", "no", "×", "✗")),
    ),
)

INTERP_FORM = Vocab(
    "解读形式",
    (
        Term("text", "文字", ("文字解读", "文本", "文字稿")),
        Term("graphic", "图解", ("图文", "图文解读", "图解解读", "一图读懂", "图片"), ("长图", "漫画")),
        Term("video", "视频", ("视频解读", "微视频"), ("动画", "动漫")),
        Term("other", "其他", ("其他形式",), ("音频", "h5")),
    ),
)

PUBLISH_CHANNEL = Vocab(
    "公开方式",
    (
        Term("website", "政府网站", ("网站", "门户网站", "政府门户网站", "部门网站", "官网", "政府信息公开平台")),
        Term("gazette", "政府公报", ("公报",)),
        Term("weibo", "政务微博", ("微博",)),
        Term("wechat", "政务微信", ("微信", "微信公众号", "公众号")),
        Term("other", "其他", ("其他方式",), ("公开栏", "报纸", "新闻发布会")),
    ),
)

# ledger kind -> column -> its vocabulary (the template's drop-downs and 代码表 follow this order)
# ---------------------------------------------------------------- i21-proposals: 提案办理台账, 热线工单台账
PROPOSAL_KIND = Vocab(
    "类别",
    (
        Term("npc_suggestion", "人大代表建议", ("代表建议", "人大建议", "建议", "人大代表建议、批评和意见")),
        Term("cppcc_proposal", "政协提案", ("委员提案", "政协委员提案", "提案")),
    ),
)


def _yes_no(column: str) -> Vocab:
    return Vocab(
        column,
        (
            Term(True, "是", ("是的", "y", "yes", "√", "✓"), (), "", True),
            Term(False, "否", ("不是", "n", "no", "×", "✗")),
        ),
    )


PLENARY = _yes_no("大会期间提出")
COMPLEX = _yes_no("涉及面广、处理难度大")

HOTLINE_KIND = Vocab(
    "诉求类型",
    (
        Term("consultation", "咨询", ("政策咨询", "咨询类")),
        Term("complaint", "投诉", ("投诉类", "举报", "投诉举报"), ("反映",), "“反映”按投诉理解，请核对"),
        Term("request", "求助", ("求助类",)),
        Term("suggestion", "建议", ("意见建议", "建议类")),
        Term("other", "其他", ("其它",)),
    ),
)

VOCABS: dict[str, dict[str, Vocab]] = {
    "requests": {v.column: v for v in (CHANNEL, APPLICANT_TYPE, CONSULT_WITH, OUTCOME)},
    "documents": {v.column: v for v in (DOC_KIND, DISCLOSURE, PUBLISH_CHANNEL, YES_NO, INTERP_FORM)},
    "proposals": {v.column: v for v in (PROPOSAL_KIND, PLENARY, COMPLEX)},
    "hotline": {v.column: v for v in (HOTLINE_KIND,)},
}
