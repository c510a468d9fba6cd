"""People's sign-in and API tokens: the use cases of `shixian user …` and `shixian token …`.

Each function is one unit of work on the store (its own session). Checks of the command's input against
the directory and the roles stay with the caller; store.accounts and store.tokens do the writing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from store.db import session

if TYPE_CHECKING:
    from activities.notify import NotificationResult
    from store.tokens import ApiToken


def set_password(person_id: str, password: str) -> None:
    """Set (or reset) the person's password; their signed-in sessions end. Raises store.accounts.PasswordError."""
    from store import accounts

    with session() as s:
        accounts.set_password(s, person_id, password)


@dataclass(frozen=True)
class InviteOutcome:
    link: str  # the one-time link: shown to the admin only when `delivered` is False, never logged
    delivered: bool  # reached one of the person's personal external channels
    result: NotificationResult
    inbox_id: int


async def send_invite(person_id: str, by: str = "cli") -> NotificationResult:
    """A one-time link (24 h) to set a password, delivered on the person's own channels."""
    return (await invite(person_id, by)).result


async def invite(person_id: str, by: str) -> InviteOutcome:
    """A one-time link (24 h) to set (or reset) a password: in the person's inbox (站内消息) and on their
    personal external channels (the `invite` notice goes to personal channels only)."""
    from activities.notify import NotificationRequest, deliver
    from domain.notice_text import public_url
    from services import inbox
    from store.accounts import create_invite

    with session() as s:
        token = create_invite(s, person_id, by=by)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    link = f"{public_url()}/invite/{token}"
    # The link is a secret: it goes into the message only, never into the delivery key or logs.
    req = NotificationRequest(
        item_id="account",
        rule="account",
        step="invite",
        person_id=person_id,
        occurrence=f"invite@{stamp}",
        context={"person_id": person_id, "invite_link": link},
    )
    # The notice's own key: the delivery activity's inbox copy of the same invite is then the same message.
    posted = inbox.post(
        person_id,
        key=req.key,
        kind="invite",
        title="设置登录密码",
        # the link itself only goes to personal channels (or the admin hands it over): the store keeps tokens
        # only as hashes, and a message row must not be a working reset link for whoever reads the database
        body="已为您生成设置（或重设）登录密码的一次性链接，24 小时内有效：链接已发送到您的个人通知渠道，"
        "或由管理员当面转交。",
    )
    result = await deliver(req)
    return InviteOutcome(link=link, delivered=result.delivered, result=result, inbox_id=posted.id)


def account_states(person_ids: list[str]) -> dict[str, str]:
    """Each person's sign-in state: `password` (may sign in), `disabled`, or `none` (never set)."""
    from store import accounts

    out: dict[str, str] = {}
    with session() as s:
        for pid in person_ids:
            if accounts.is_disabled(s, pid):
                out[pid] = "disabled"
            elif accounts.has_password(s, pid):
                out[pid] = "password"
            else:
                out[pid] = "none"
    return out


def disable(person_id: str) -> None:
    """No password, sessions ended, API tokens revoked, open invites withdrawn."""
    from store import accounts

    with session() as s:
        accounts.disable(s, person_id)


def create_token(
    role: str, department: str | None, person: str | None, label: str, expires_days: int | None
) -> tuple[str, ApiToken]:
    """A new API token (the secret, shown once) and its row."""
    from store import tokens

    with session() as s:
        return tokens.create_token(s, role, department, person, label, expires_days)


def list_tokens() -> list[ApiToken]:
    from store import tokens

    with session() as s:
        return tokens.list_tokens(s)


def revoke_token(token_id: str) -> bool:
    """False when there is no live token `token_id`."""
    from store import tokens

    with session() as s:
        return tokens.revoke(s, token_id)


def start_signed_in_session(person_id: str, client: str) -> tuple[str, tuple[dt.datetime | None, str | None, int]]:
    """The server-side session of a person whose identity someone else vouched for (the identity provider):
    the session id (the cookie's value) and their previous sign-in, as a password sign-in records them."""
    from store import accounts

    with session() as s:
        before = accounts.note_sign_in(s, person_id, client, True)
        accounts.record_attempt(s, person_id, client, True)
        sid, _ = accounts.start_session(s, person_id)
    return sid, before
