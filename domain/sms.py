"""SMS (短信) through Aliyun and Tencent Cloud: the providers' request format and signatures. Pure.

The HTTP call is `activities/sms.py` (an Apprise plugin); this module only builds what it sends, so the
signatures can be checked against the providers' documented examples (tests/test_sms.py).

- Aliyun 短信服务 SendSms (API version 2017-05-25), RPC style, signature version 1.0 (HMAC-SHA1):
  help.aliyun.com 短信服务 API 参考 "SendSms" and "RPC 签名机制" (request parameters sorted by name, each
  name and value percent-encoded as RFC 3986 with space as %20, `METHOD&%2F&encode(query)` signed with
  `AccessKeySecret&`, base64).
- Tencent Cloud 短信 SendSms (API version 2021-01-11), TC3-HMAC-SHA256: cloud.tencent.com 短信 API 文档
  "SendSms" and "签名方法 v3" (canonical request, `TC3-HMAC-SHA256\\n{ts}\\n{date}/sms/tc3_request\\n{hash}`
  signed with the key derived from `TC3` + SecretKey, date, service and `tc3_request`).

Phone numbers are staff's personal data: nothing here logs, and `mask_phone` is what a message may show.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import quote

# Channel kinds (the Apprise URL schemes): smsaliyun://PHONE, smstencent://PHONE.
ALIYUN_KIND = "smsaliyun"
TENCENT_KIND = "smstencent"
SMS_KINDS = frozenset({ALIYUN_KIND, TENCENT_KIND})
KIND_NAMES = {ALIYUN_KIND: "短信（阿里云）", TENCENT_KIND: "短信（腾讯云）"}

ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
ALIYUN_VERSION = "2017-05-25"
TENCENT_ENDPOINT = "https://sms.tencentcloudapi.com/"
TENCENT_VERSION = "2021-01-11"
TENCENT_SERVICE = "sms"
TENCENT_CONTENT_TYPE = "application/json; charset=utf-8"

# Quiet hours are not here: config/channels.toml [kind.sms] quiet_hours (SHIXIAN_SMS_QUIET_HOURS in place of it),
# held and sent when they end like every channel kind's (domain/channel_policy.py quiet_until).

# Template variables are short on both providers (a 通知 template's variable is limited in length by the
# provider's template rules); each variable is cut to this many characters unless SHIXIAN_SMS_VAR_MAX says.
DEFAULT_VAR_MAX = 35

# A mainland mobile number (11 digits from 1, optionally 86 before it), or any E.164 number with its +.
_PHONE = re.compile(r"^(?:(?:86)?1\d{10}|\+\d{8,15})$")


class SmsConfigError(ValueError):
    """A setting of the SMS channel is missing or malformed; the message is Chinese and names it."""


# ------------------------------------------------------------------------------------ phone numbers
def valid_phone(phone: str) -> bool:
    return bool(_PHONE.fullmatch(phone))


def mask_phone(phone: str) -> str:
    """What a log line or message may show of a phone number: its last four digits only."""
    return f"尾号{phone[-4:]}" if len(phone) >= 4 else "****"


def e164(phone: str) -> str:
    """Tencent wants E.164 (+86…); a mainland mobile number given as 11 digits gets +86."""
    if phone.startswith("+"):
        return phone
    if len(phone) == 11 and phone.startswith("1"):
        return "+86" + phone
    return "+" + phone


def domestic(phone: str) -> str:
    """Aliyun takes mainland numbers without the country code (others with it, no plus sign)."""
    digits = phone.lstrip("+")
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


# ------------------------------------------------------------------------------------ message text
def template_values(title: str, body: str, limit: int = DEFAULT_VAR_MAX) -> tuple[str, str]:
    """(title, content) for the two template variables: whitespace folded, each cut to `limit` characters
    with an ellipsis (an SMS template is approved in advance; only its variables are ours)."""

    def fold(text: str) -> str:
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"

    # The salutation (「某某，您好：」) spends the few characters a variable has; the phone is the person's own.
    lines = [ln for ln in body.splitlines() if not ln.strip().endswith(("您好：", "您好:"))]
    return fold(title), fold("\n".join(lines))


# ------------------------------------------------------------------------------------ Aliyun
def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding as Aliyun's RPC signature wants it: unreserved A-Z a-z 0-9 - _ . ~ kept,
    everything else (space → %20, * → %2A) as UTF-8 %XY."""
    return quote(value, safe="-_.~")


def aliyun_canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(
        f"{percent_encode(k)}={percent_encode(str(v))}" for k, v in sorted(params.items()) if k != "Signature"
    )


def aliyun_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(aliyun_canonical_query(params))}"


def aliyun_signature(params: Mapping[str, str], secret: str, method: str = "POST") -> str:
    digest = hmac.new(f"{secret}&".encode(), aliyun_string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def aliyun_send_sms(
    *,
    access_key_id: str,
    access_key_secret: str,
    phones: Sequence[str],
    sign_name: str,
    template_code: str,
    template_param: Mapping[str, str],
    nonce: str,
    at: datetime,
    region: str = "cn-hangzhou",
) -> dict[str, str]:
    """The signed parameters of one SendSms POST (form body), Signature included."""
    params = {
        "AccessKeyId": access_key_id,
        "Action": "SendSms",
        "Format": "JSON",
        "PhoneNumbers": ",".join(domestic(p) for p in phones),
        "RegionId": region,
        "SignName": sign_name,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce,
        "SignatureVersion": "1.0",
        "TemplateCode": template_code,
        "TemplateParam": json.dumps(dict(template_param), ensure_ascii=False, separators=(",", ":")),
        "Timestamp": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": ALIYUN_VERSION,
    }
    params["Signature"] = aliyun_signature(params, access_key_secret, "POST")
    return params


def form_body(params: Mapping[str, str]) -> str:
    """The form-encoded body, encoded as the signature was (space as %20, never +)."""
    return "&".join(f"{percent_encode(k)}={percent_encode(str(v))}" for k, v in params.items())


# ------------------------------------------------------------------------------------ Tencent
def _sha256_hex(data: str) -> str:
    return hashlib.sha256(data.encode()).hexdigest()


def _hmac256(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_canonical_request(host: str, payload: str, content_type: str = TENCENT_CONTENT_TYPE) -> str:
    """POST / with no query; signed headers content-type and host (the documented minimum)."""
    return "\n".join(
        ["POST", "/", "", f"content-type:{content_type}\nhost:{host}\n", "content-type;host", _sha256_hex(payload)]
    )


def tc3_string_to_sign(timestamp: int, service: str, canonical_request: str) -> str:
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")  # UTC date, never local
    return f"TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n{_sha256_hex(canonical_request)}"


def tc3_signature(secret_key: str, timestamp: int, service: str, string_to_sign: str) -> str:
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    key = _hmac256(_hmac256(_hmac256(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def tc3_authorization(secret_id: str, secret_key: str, *, host: str, service: str, payload: str, timestamp: int) -> str:
    canonical = tc3_canonical_request(host, payload)
    signature = tc3_signature(secret_key, timestamp, service, tc3_string_to_sign(timestamp, service, canonical))
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{date}/{service}/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )


def tencent_send_sms(
    *,
    secret_id: str,
    secret_key: str,
    host: str,
    region: str,
    phones: Sequence[str],
    sdk_app_id: str,
    sign_name: str,
    template_id: str,
    template_params: Sequence[str],
    timestamp: int,
) -> tuple[dict[str, str], str]:
    """(headers, JSON body) of one SendSms POST, signed."""
    payload = json.dumps(
        {
            "PhoneNumberSet": [e164(p) for p in phones],
            "SmsSdkAppId": sdk_app_id,
            "SignName": sign_name,
            "TemplateId": template_id,
            "TemplateParamSet": list(template_params),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    headers = {
        "Authorization": tc3_authorization(
            secret_id, secret_key, host=host, service=TENCENT_SERVICE, payload=payload, timestamp=timestamp
        ),
        "Content-Type": TENCENT_CONTENT_TYPE,
        "Host": host,
        "X-TC-Action": "SendSms",
        "X-TC-Version": TENCENT_VERSION,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Region": region,
    }
    return headers, payload
