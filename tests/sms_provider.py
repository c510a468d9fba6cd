"""A local SMS provider on 127.0.0.1 for tests: it speaks Aliyun's and Tencent's SendSms, verifies each
request's signature as the provider does (written from their signature documents, not with the product's
helpers) and answers in the provider's format.

    with SmsProvider() as p:
        env SHIXIAN_SMS_ALIYUN_ENDPOINT=p.aliyun_url(), SHIXIAN_SMS_TENCENT_ENDPOINT=p.tencent_url()
        ... p.requests[0].params / .payload / .signature_ok
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote

from tests.receivers import free_port

ALIYUN_ID, ALIYUN_SECRET = "LTAI5tTestKeyId0001", "aliyun-secret-Zq8xW"
TENCENT_ID, TENCENT_KEY = "AKIDtestsecretid00000001", "tencent-secret-Kp3vR"
APP_ID = "1400123456"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # Aliyun form
    payload: dict = field(default_factory=dict)  # Tencent JSON
    signature_ok: bool = False


def _rfc3986(s: str) -> str:
    return quote(s, safe="-_.~")


def aliyun_server_string(params: dict[str, str]) -> str:
    canonical = "&".join(f"{_rfc3986(k)}={_rfc3986(v)}" for k, v in sorted(params.items()) if k != "Signature")
    return "POST&%2F&" + _rfc3986(canonical)


def verify_aliyun(params: dict[str, str], secret: str) -> bool:
    """The provider's check, written from the RPC signature document (not with the product's helpers)."""
    to_sign = aliyun_server_string(params)
    expected = base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
    return hmac.compare_digest(expected, params.get("Signature", ""))


def verify_tencent(headers: dict[str, str], body: bytes, secret_id: str, secret_key: str) -> bool:
    """The provider's check, written from the 签名方法 v3 document."""
    auth = headers.get("authorization", "")
    algo, _, rest = auth.partition(" ")
    fields = dict(part.strip().split("=", 1) for part in rest.split(","))
    cred_id, date, service, term = fields["Credential"].split("/")
    signed = fields["SignedHeaders"].split(";")
    ts = int(headers["x-tc-timestamp"])
    if algo != "TC3-HMAC-SHA256" or cred_id != secret_id or term != "tc3_request" or "host" not in signed:
        return False
    if date != datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d"):
        return False
    canon_headers = "".join(f"{h}:{headers[h].strip().lower()}\n" for h in sorted(signed))
    canonical = f"POST\n/\n\n{canon_headers}\n{';'.join(sorted(signed))}\n{hashlib.sha256(body).hexdigest()}"
    to_sign = f"{algo}\n{ts}\n{date}/{service}/tc3_request\n{hashlib.sha256(canonical.encode()).hexdigest()}"

    def h(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = h(h(h(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), fields["Signature"])


class SmsProvider:
    """An HTTP server on 127.0.0.1 speaking Aliyun's (`/aliyun/`) and Tencent's (`/tencent/`) SendSms: it
    verifies the signature and answers as the provider does (OK, or its error codes). `fail_with` makes it
    refuse every request with that provider code."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.fail_with: str | None = None
        self.port = free_port()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # the server's access log would print the path only; keep it quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                got = Received(self.path, headers, body)
                if self.path.startswith("/aliyun/") or "x-tc-action" not in headers:  # Tencent's carry X-TC-*
                    # Like the provider: parameters in the query string (the SDKs' POST) or the form body.
                    query = self.path.partition("?")[2]
                    got.params = dict(parse_qsl(query, keep_blank_values=True))
                    got.params.update(parse_qsl(body.decode(), keep_blank_values=True))
                    got.signature_ok = verify_aliyun(got.params, ALIYUN_SECRET)
                    if not got.signature_ok:
                        answer = {  # worded as the provider does: its string to sign after the colon
                            "Code": "SignatureDoesNotMatch",
                            "Message": "Specified signature is not matched with our calculation. server string to "
                            f"sign is:{aliyun_server_string(got.params)}",
                        }
                    elif owner.fail_with:
                        answer = {"Code": owner.fail_with, "Message": f"{got.params.get('PhoneNumbers')} 触发流控"}
                    else:
                        answer = {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "F6"}
                else:
                    got.payload = json.loads(body)
                    got.signature_ok = verify_tencent(headers, body, TENCENT_ID, TENCENT_KEY)
                    rid = str(uuid.uuid4())
                    if not got.signature_ok:
                        error = {
                            "Code": "AuthFailure.SignatureFailure",
                            "Message": "The provided credentials could not be validated.",
                        }
                        answer = {"Response": {"Error": error, "RequestId": rid}}
                    else:
                        code = owner.fail_with or "Ok"
                        answer = {
                            "Response": {
                                "SendStatusSet": [
                                    {"SerialNo": "2028:1", "PhoneNumber": p, "Fee": 1, "Code": code, "Message": p}
                                    for p in got.payload["PhoneNumberSet"]
                                ],
                                "RequestId": rid,
                            }
                        }
                owner.requests.append(got)
                data = json.dumps(answer, ensure_ascii=False).encode()
                aliyun = bool(got.params)
                # Aliyun answers a bad signature with HTTP 400 (business refusals with 200 and their Code); Tencent
                # answers everything with 200 and Response.Error.
                self.send_response(400 if aliyun and not got.signature_ok else 200)
                # As each provider labels it (Tencent's SDK reads errors only under exactly application/json).
                self.send_header("Content-Type", "application/json;charset=utf-8" if aliyun else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SmsProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def aliyun_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/aliyun/"

    def tencent_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tencent/"

    def env(self) -> dict[str, str]:
        """The settings that point both providers here, with the test keys."""
        return {
            "SHIXIAN_SMS_ALIYUN_ACCESS_KEY_ID": ALIYUN_ID,
            "SHIXIAN_SMS_ALIYUN_ACCESS_KEY_SECRET": ALIYUN_SECRET,
            "SHIXIAN_SMS_ALIYUN_SIGN_NAME": "钦州市政务公开",
            "SHIXIAN_SMS_ALIYUN_TEMPLATE": "SMS_465900001",
            "SHIXIAN_SMS_ALIYUN_ENDPOINT": self.aliyun_url(),
            "SHIXIAN_SMS_TENCENT_SECRET_ID": TENCENT_ID,
            "SHIXIAN_SMS_TENCENT_SECRET_KEY": TENCENT_KEY,
            "SHIXIAN_SMS_TENCENT_SDK_APP_ID": APP_ID,
            "SHIXIAN_SMS_TENCENT_SIGN_NAME": "钦州市政务公开",
            "SHIXIAN_SMS_TENCENT_ENDPOINT": self.tencent_url(),
        }
