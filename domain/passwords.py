"""Password rules of 等保 2.0 (GB/T 22239-2019《信息安全技术 网络安全等级保护基本要求》), in one place. Pure.

Third level, 安全计算环境 / 身份鉴别 (8.1.4.1):
  a) 应对登录的用户进行身份标识和鉴别，身份标识具有唯一性，身份鉴别信息具有复杂度要求并定期更换；
  b) 应具有登录失败处理功能，应配置并启用结束会话、限制非法登录次数和当登录连接超时自动退出等相关措施。
(text as quoted in the 三级测评指导书, e.g. https://www.codetd.com/en/article/15037337 and
https://wkda.cn/ask/yxazxjyajxmjmjo.html: 口令长度不得小于8位，字母、数字或特殊字符的混合组合，用户名和口令不得等同.)

How Shixian meets them:
- 复杂度: at least MIN_LENGTH characters (above the common 8), three of four character classes, not containing
  the login name, no run of four equal characters, not a well-known weak password;
- 定期更换 made meaningful: a new password may not be one of the person's last HISTORY passwords;
- b) is store.accounts: sign-in throttling per address and growing delays per person, sessions ending after
  the idle timeout (SHIXIAN_SESSION_IDLE_HOURS) and the absolute one.
"""

from __future__ import annotations

MIN_LENGTH = 10
MAX_LENGTH = 256
MIN_CLASSES = 3  # RULES[1] says 三类
HISTORY = 5  # a new password may not repeat one of the last HISTORY
MAX_RUN = 4  # no run of this many equal characters

# Letters of passwords that brute-force lists try first (Admin@123, P@ssw0rd2024 ...).
WEAK_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pssw",
        "pswd",
        "admin",
        "administrator",
        "root",
        "qwerty",
        "asdf",
        "abc",
        "abcd",
        "test",
        "user",
        "welcome",
        "letmein",
        "shixian",
        "iloveyou",
        "qwertyuiop",
    }
)

# Shown on every set-password form, in this order; refusals quote the rule they break.
RULES = (
    f"至少 {MIN_LENGTH} 个字符",
    "包含大写字母、小写字母、数字、特殊字符中的至少三类",
    "不能包含人员编号（登录名）",
    f"不能有连续 {MAX_RUN} 个相同的字符，不能是常见弱密码（如 Admin@123）",
    f"不能与最近 {HISTORY} 次使用过的密码相同",
)
BASIS = "依据 GB/T 22239-2019（等保 2.0）第三级 身份鉴别：身份鉴别信息具有复杂度要求并定期更换"


class PasswordError(ValueError):
    """A refused password; the message names the rule (Chinese)."""


def check_strength(password: str, login: str | None = None) -> None:
    """Raise PasswordError naming the first rule `password` breaks (the history rule is the store's)."""
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"密码不符合规则“{RULES[0]}”：当前只有 {len(password)} 个字符")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"密码不能超过 {MAX_LENGTH} 个字符")
    kinds = [
        any(c.isascii() and c.isupper() for c in password),
        any(c.isascii() and c.islower() for c in password),
        any(c.isdigit() for c in password),
        any(not (c.isascii() and c.isalnum()) for c in password),
    ]
    if sum(kinds) < MIN_CLASSES:
        raise PasswordError(f"密码不符合规则“{RULES[1]}”：当前只有 {sum(kinds)} 类")
    low = password.lower()
    if login and len(login) >= 3 and (login.lower() in low or login.lower()[::-1] in low):
        raise PasswordError(f"密码不符合规则“{RULES[2]}”")
    if any(len(set(password[i : i + MAX_RUN])) == 1 for i in range(len(password) - MAX_RUN + 1)):
        raise PasswordError(f"密码不符合规则“{RULES[3]}”")
    letters = "".join(c for c in low if c.isascii() and c.isalpha())
    if letters in WEAK_WORDS or letters.replace("0", "o") in WEAK_WORDS:
        raise PasswordError(f"密码过于常见，不符合规则“{RULES[3]}”，请换一个")


def reuse_error() -> PasswordError:
    return PasswordError(f"密码不符合规则“{RULES[4]}”")
