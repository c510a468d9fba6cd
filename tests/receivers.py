"""Real receivers on 127.0.0.1 for notification tests: an SMTP server (aiosmtpd) and an HTTP webhook.

    with SmtpReceiver(username="shixian", password="s3cret") as smtp, WebhookReceiver() as hook:
        url1 = smtp.mailto_url(to="liaison@example.org")
        url2 = hook.url("/hook")
        ...
        smtp.messages[0].subject, smtp.messages[0].body, hook.posts[0].json

`closed_port()` gives a port on which connections are refused. `hook_every_person(text, port)` gives every
[[person]] of a departments.toml text without a channel (the shipped file has none: its people are reached
in their 站内消息) one webhook channel `json://127.0.0.1:<port>/hook/<person id>`.
`WebhookReceiver(fail_first=n)` answers the first n posts with 500 (a webhook that fails, then recovers).
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# AUTH without TLS is deliberate here: loopback only, to exercise password masking with a real login.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A port nobody listens on: connecting to it is refused (bound then released, never listened)."""
    port = free_port()
    # Double-check: a connect must fail with ECONNREFUSED.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return closed_port()
    return port


def hook_every_person(text: str, port: int) -> str:
    """departments.toml text with a webhook channel on 127.0.0.1:`port` (path /hook/<id>) for every person
    who has none."""
    import re

    parts = text.split("\n[[person]]\n")
    out = [parts[0]]
    for block in parts[1:]:
        m = re.search(r'^id = "([^"]+)"\n', block, flags=re.M)
        if m and not re.search(r"^notify\s*=", block, flags=re.M):
            line = f'notify = ["json://127.0.0.1:{port}/hook/{m.group(1)}"]\n'
            block = block[: m.end()] + line + block[m.end() :]
        out.append(block)
    return "\n[[person]]\n".join(out)


# ---------------------------------------------------------------------------------------------- SMTP
@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    subject: str
    body: str  # decoded text/plain part, Chinese intact
    headers: dict[str, str]
    raw: bytes
    auth_user: str | None = None


class _Handler:
    def __init__(self, owner: SmtpReceiver):
        self.owner = owner

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        part = msg.get_body(preferencelist=("plain", "html")) if msg.is_multipart() else msg
        body = (part.get_content() if part is not None else "").replace("\r\n", "\n")
        auth_user = None
        if session.auth_data is not None:
            ad = session.auth_data
            auth_user = ad.login.decode() if isinstance(ad, LoginPassword) else str(ad)
        mail = ReceivedMail(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            subject=str(msg.get("Subject", "")),
            body=body,
            headers={k: str(v) for k, v in msg.items()},
            raw=envelope.original_content or b"",
            auth_user=auth_user,
        )
        with self.owner._lock:
            self.owner.messages.append(mail)
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """aiosmtpd on 127.0.0.1:<free port>, plain SMTP (no TLS); AUTH LOGIN/PLAIN when a password is given."""

    def __init__(self, username: str | None = None, password: str | None = None):
        self.username, self.password = username, password
        self.messages: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if password is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False, auth_required=True)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def mailto_url(self, to: str, from_addr: str = "shixian@example.org") -> str:
        """Apprise URL for plain SMTP on this receiver (mode=insecure: no STARTTLS)."""
        cred = ""
        if self.username:
            cred = quote(self.username, safe="")
            if self.password is not None:
                cred += ":" + quote(self.password, safe="")
            cred += "@"
        return (
            f"mailto://{cred}127.0.0.1:{self.port}?to={quote(to, safe='@')}"
            f"&from={quote(from_addr, safe='@')}&mode=insecure"
        )

    def wait_for(self, n: int = 1, timeout: float = 10.0) -> list[ReceivedMail]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            time.sleep(0.02)
        raise AssertionError(f"SMTP receiver got {len(self.messages)} message(s), expected {n}")

    def __enter__(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


# ------------------------------------------------------------------------------------------- webhook
@dataclass
class ReceivedPost:
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    at: float = field(default_factory=time.time)


class WebhookReceiver:
    """A threaded HTTP server on 127.0.0.1:<free port> collecting POSTs (JSON decoded when possible).

    `status` is the HTTP status returned to the sender (set it to 500 to simulate a failing webhook).
    """

    def __init__(self, status: int = 200, fail_first: int = 0):
        self.posts: list[ReceivedPost] = []
        self.status = status
        self.fail_first = fail_first  # the first n posts are answered 500
        # POSTs to these paths get no answer until `release` is set, and are then dropped unrecorded (a
        # channel that never accepted them: e.g. their sender was killed meanwhile); `held` counts them.
        self.hold: set[str] = set()
        self.held = 0
        self.release = threading.Event()
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                if self.path in owner.hold:
                    with owner._lock:
                        owner.held += 1
                    owner.release.wait(30)
                    self.close_connection = True
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    data = json.loads(body.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    data = None
                with owner._lock:
                    owner.posts.append(ReceivedPost(self.path, dict(self.headers.items()), body, data))
                    failing = len(owner.posts) <= owner.fail_first
                self.send_response(500 if failing else owner.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args):  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook", scheme: str = "json") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def wait_for(self, n: int = 1, timeout: float = 10.0) -> list[ReceivedPost]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.posts) >= n:
                    return list(self.posts)
            time.sleep(0.02)
        raise AssertionError(f"webhook receiver got {len(self.posts)} post(s), expected {n}")

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
