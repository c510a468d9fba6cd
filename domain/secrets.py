"""Secrets in channel URLs (Apprise) hidden from logs, the delivery log and error texts. Pure."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit

_TOKEN_PARAMS = re.compile(r"pass|pwd|token|secret|key|sign|auth|apikey|webhook|access|cred", re.I)
# Schemes whose host/path carry a network location, not a token; everything else (wecombot, dingtalk,
# feishu, lark, tgram, discord, slack …) keeps its tokens in host and path and gets those masked.
_HOST_SCHEMES = {
    "json",
    "jsons",
    "xml",
    "xmls",
    "form",
    "forms",
    "mailto",
    "mailtos",
    "http",
    "https",
    "ntfy",
    "ntfys",
    "gotify",
    "gotifys",
    "mqtt",
    "mqtts",
    "apprise",
    "apprises",
}


def _query_pairs(query: str) -> list[tuple[str, str | None]]:
    """Raw (undecoded) key/value pairs: apprise's `+Header=value` must keep its plus sign."""
    out: list[tuple[str, str | None]] = []
    for piece in query.split("&"):
        if piece:
            k, eq, v = piece.partition("=")
            out.append((k, v if eq else None))
    return out


def _secret_param(key: str, value: str | None) -> bool:
    k = unquote(key)
    return bool(value) and (k.startswith("+") or bool(_TOKEN_PARAMS.search(k)))


def _stars(s: str) -> str:
    return s[:4] + "****" if len(s) >= 12 else "****"


def mask_url(url: str) -> str:
    """The URL with passwords, tokens and secret query values hidden, for logs and the delivery log."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"(?<=://).*", "****", url)
    scheme = parts.scheme.lower()
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        user, colon, _pw = userinfo.partition(":")
        userinfo = f"{user}:****" if colon else user
        if scheme not in _HOST_SCHEMES:
            userinfo = _stars(user) + (":****" if colon else "")
        netloc = f"{userinfo}@{hostport}"
    path = parts.path
    if scheme not in _HOST_SCHEMES:
        host = hostport
        netloc = (f"{userinfo}@" if at else "") + (_stars(host) if host else "")
        path = "/".join(_stars(seg) if seg else seg for seg in path.split("/"))
    query = ""
    if parts.query:
        pairs = []
        for k, v in _query_pairs(parts.query):
            pairs.append(f"{k}=****" if _secret_param(k, v) else (f"{k}={v}" if v is not None else k))
        query = "?" + "&".join(pairs)
    return f"{parts.scheme}://{netloc}{path}{query}"


def _secrets_of(url: str) -> list[str]:
    """Raw secret substrings of a URL, to scrub them from error texts."""
    out: list[str] = []
    try:
        parts = urlsplit(url)
    except ValueError:
        return out
    if parts.password:
        out += [parts.password, quote(parts.password, safe="")]
    for k, v in _query_pairs(parts.query):
        if v and _secret_param(k, v):
            out += [v, unquote(v)]
    if parts.scheme.lower() not in _HOST_SCHEMES:
        out += [seg for seg in [parts.hostname or "", *parts.path.split("/")] if len(seg) >= 6]
    return [s for s in out if s]


def scrub(text: str, url: str) -> str:
    for s in sorted(_secrets_of(url), key=len, reverse=True):
        text = text.replace(s, "****")
    return text
