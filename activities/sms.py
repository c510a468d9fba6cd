# Apprise types its plugin class attributes as None and parse_url loosely; plugins override them as documented.
# mypy: disable-error-code="assignment, override, return-value"
"""SMS (短信) channels as Apprise custom plugins: `smsaliyun://PHONE` and `smstencent://PHONE`.

A person's notify list in departments.toml (or the admin page) names the phone and, optionally, the approved
signature and template: `smsaliyun://13800000000?sign=某某县政务公开&template=SMS_123`. The keys come only from
the settings (SHIXIAN_SMS_ALIYUN_* / SHIXIAN_SMS_TENCENT_*, domain/settings.py), never from the URL, so the
directory holds no secret. The request and its signature are built by `domain/sms.py` as the providers
document them; this module posts it and reads the answer.

Phone numbers are staff's personal data: `url(privacy=True)` shows none, no log line of ours names one
(failures say 尾号1234 at most), and the provider's message is scrubbed of the numbers before Apprise keeps
it. `register()` adds both schemes to Apprise once; `activities/notify.py` calls it before sending.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from apprise import NotifyBase, NotifyType
from apprise.plugins import N_MGR

from domain import sms
from domain.settings import get_settings


class _SmsBase(NotifyBase):
    """What both providers share: phone targets, sign and template from the URL or the settings."""

    service_url = "https://www.aliyun.com/product/sms"
    enabled = True
    request_rate_per_sec = 0
    title_maxlen = 250  # title and body each go into a template variable (cut by domain.sms.template_values)
    body_maxlen = 500
    templates = ("{schema}://{targets}",)
    provider = ""

    def __init__(self, targets: list[str] | None = None, sign: str | None = None, template: str | None = None, **kw):
        super().__init__(**kw)
        self.targets = [t for t in (targets or []) if t]
        # A malformed number is reported when sending, never by raising here: Apprise would log the URL.
        self.invalid = [t for t in self.targets if not sms.valid_phone(t)]
        self.sign = sign or ""
        self.template = template or ""

    @property
    def url_identifier(self) -> tuple[str, ...]:
        return (self.secure_protocol, self.sign, self.template)

    def url(self, privacy: bool = False, *args: Any, **kwargs: Any) -> str:
        params: dict[str, str] = {}
        if self.sign:
            params["sign"] = self.sign
        if self.template:
            params["template"] = self.template
        params.update(self.url_parameters(*args, privacy=privacy, **kwargs))
        shown = [sms.mask_phone(t) if privacy else t for t in self.targets]
        return f"{self.secure_protocol}://{'/'.join(self.quote(t, safe='+') for t in shown)}?{self.urlencode(params)}"

    def __len__(self) -> int:
        return 1

    @staticmethod
    def parse_url(url: str) -> dict[str, Any] | None:
        results = NotifyBase.parse_url(url, verify_host=False)
        if not results:
            return results
        targets = [NotifyBase.unquote(results["host"])] if results.get("host") else []
        targets += NotifyBase.split_path(results["fullpath"])
        qsd = results["qsd"]
        if qsd.get("to"):
            targets += [t for t in NotifyBase.unquote(qsd["to"]).replace(";", ",").split(",") if t.strip()]
        results["targets"] = [t.strip() for t in targets]
        for name in ("sign", "template"):
            if qsd.get(name):
                results[name] = NotifyBase.unquote(qsd[name])
        return results

    # ---------------------------------------------------------------------------------- sending
    def _fail(self, text: str) -> bool:
        self.logger.warning(text)
        return False

    def _scrub(self, text: str) -> str:
        """The provider's text without our numbers (it may echo them) and without the request it may quote
        (Aliyun's SignatureDoesNotMatch ends with its string to sign, which holds the parameters)."""
        text = text.split("server string to sign")[0].rstrip(" .:")
        for t in self.targets:
            for form in {t, t.lstrip("+"), sms.e164(t), sms.domestic(t)}:
                if form:
                    text = text.replace(form, sms.mask_phone(t))
        return text[:300]

    def _check(self) -> str | None:
        if not self.targets:
            return "短信渠道没有手机号码"
        if self.invalid:
            return f"短信渠道的手机号码格式有误（{'、'.join(sms.mask_phone(t) for t in self.invalid)}）"
        return None

    def _post(self, url: str, data: bytes, headers: dict[str, str]) -> requests.Response | str:
        self.throttle()
        try:
            return requests.post(
                url,
                data=data,
                headers=headers,
                verify=self.verify_certificate,
                timeout=self.request_timeout,
                allow_redirects=False,
            )
        except requests.RequestException as e:
            # The exception's text can carry the request; its type is enough for the technician.
            return f"无法连接到{self.provider}短信接口（{type(e).__name__}）"


class NotifyAliyunSms(_SmsBase):
    service_name = "阿里云短信"
    secure_protocol = sms.ALIYUN_KIND
    provider = "阿里云"

    def send(self, body: str, title: str = "", notify_type: NotifyType = NotifyType.INFO, **kwargs: Any) -> bool:
        problem = self._check()
        if problem:
            return self._fail(problem)
        cfg = get_settings()
        key_id, secret = cfg.sms_aliyun_access_key_id, cfg.sms_aliyun_access_key_secret.get_secret_value()
        sign, template = self.sign or cfg.sms_aliyun_sign_name, self.template or cfg.sms_aliyun_template
        if not (key_id and secret):
            return self._fail("未配置阿里云短信密钥（SHIXIAN_SMS_ALIYUN_ACCESS_KEY_ID / _SECRET）")
        if not (sign and template):
            return self._fail(
                "未配置阿里云短信签名或模板（URL 的 sign= / template=，或 SHIXIAN_SMS_ALIYUN_SIGN_NAME / _TEMPLATE）"
            )
        head, content = sms.template_values(title, body, cfg.sms_var_max)
        params = sms.aliyun_send_sms(
            access_key_id=key_id,
            access_key_secret=secret,
            phones=self.targets,
            sign_name=sign,
            template_code=template,
            template_param={"title": head, "content": content},
            nonce=uuid.uuid4().hex,
            at=datetime.now(UTC),
        )
        answer = self._post(
            cfg.sms_aliyun_endpoint,
            sms.form_body(params).encode(),
            {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Accept": "application/json"},
        )
        if isinstance(answer, str):
            return self._fail(answer)
        try:
            reply = answer.json()
        except ValueError:
            reply = {}
        code = str(reply.get("Code", "")) if isinstance(reply, dict) else ""
        if answer.status_code == 200 and code == "OK":
            self.logger.info("阿里云短信已提交（%d 个号码）", len(self.targets))
            return True
        message = self._scrub(str(reply.get("Message", ""))) if isinstance(reply, dict) else ""
        return self._fail(
            f"阿里云短信发送失败：{code or '无返回码'}{'，' + message if message else ''}（HTTP {answer.status_code}）"
        )


class NotifyTencentSms(_SmsBase):
    service_name = "腾讯云短信"
    service_url = "https://cloud.tencent.com/product/sms"
    secure_protocol = sms.TENCENT_KIND
    provider = "腾讯云"

    def send(self, body: str, title: str = "", notify_type: NotifyType = NotifyType.INFO, **kwargs: Any) -> bool:
        problem = self._check()
        if problem:
            return self._fail(problem)
        cfg = get_settings()
        sid, skey = cfg.sms_tencent_secret_id, cfg.sms_tencent_secret_key.get_secret_value()
        sign, template = self.sign or cfg.sms_tencent_sign_name, self.template or cfg.sms_tencent_template
        if not (sid and skey and cfg.sms_tencent_sdk_app_id):
            return self._fail("未配置腾讯云短信密钥或应用（SHIXIAN_SMS_TENCENT_SECRET_ID / _SECRET_KEY / _SDK_APP_ID）")
        if not (sign and template):
            return self._fail(
                "未配置腾讯云短信签名或模板（URL 的 sign= / template=，或 SHIXIAN_SMS_TENCENT_SIGN_NAME / _TEMPLATE）"
            )
        endpoint = cfg.sms_tencent_endpoint
        host = urlsplit(endpoint).netloc
        head, content = sms.template_values(title, body, cfg.sms_var_max)
        headers, payload = sms.tencent_send_sms(
            secret_id=sid,
            secret_key=skey,
            host=host,
            region=cfg.sms_tencent_region,
            phones=self.targets,
            sdk_app_id=cfg.sms_tencent_sdk_app_id,
            sign_name=sign,
            template_id=template,
            template_params=[head, content],
            timestamp=int(datetime.now(UTC).timestamp()),
        )
        answer = self._post(endpoint, payload.encode(), headers)
        if isinstance(answer, str):
            return self._fail(answer)
        try:
            reply = answer.json().get("Response", {})
        except (ValueError, AttributeError):
            reply = {}
        error = reply.get("Error") if isinstance(reply, dict) else None
        if answer.status_code != 200 or error or not isinstance(reply, dict):
            code = str(error.get("Code", "")) if isinstance(error, dict) else ""
            message = self._scrub(str(error.get("Message", ""))) if isinstance(error, dict) else ""
            return self._fail(
                f"腾讯云短信发送失败：{code or '无返回码'}{'，' + message if message else ''}（HTTP {answer.status_code}）"
            )
        statuses = reply.get("SendStatusSet") or []
        failed = [s for s in statuses if isinstance(s, dict) and str(s.get("Code", "")).lower() != "ok"]
        if failed or len(statuses) != len(self.targets):
            codes = "、".join(sorted({str(s.get("Code", "")) for s in failed})) or "回执数与号码数不符"
            return self._fail(f"腾讯云短信发送失败：{codes}（{len(failed)}/{len(self.targets)} 个号码）")
        self.logger.info("腾讯云短信已提交（%d 个号码）", len(self.targets))
        return True


def register() -> None:
    """Add both schemes to Apprise (idempotent). Called by the sending path, not on import."""
    for plugin in (NotifyAliyunSms, NotifyTencentSms):
        if plugin.secure_protocol not in N_MGR:
            N_MGR.add(plugin)
