"""The durable delivery queue (issue 22 §1): external messages waiting for their channel's rate limit.

`notify_outbox`: one row per external message (a consolidated reminder or a single notice) for one person's
channel; `notify_outbox_key`: the item steps (delivery keys, store/deliveries.py) it covers, each key in at
most one message (unique), so a retried enqueue queues nothing twice. `notify_bucket`: one row per channel
bucket (a notify URL, by hash) holding the drain lease, so that one drainer at a time counts and sends
against the bucket's limits.

States: queued -> sending -> sent; sending -> queued (a send failed, retried later) or failed (given up).
A message is marked `sending` and committed before it is sent, and marked `sent` together with its covered
delivery rows in one transaction after the channel accepted it. A row still `sending` when the next drainer
takes the lease is a drainer that died between the two commits: sent again (the one-commit window that no
channel protocol closes, as activities/notify.py says). No URL is stored (secrets): the message names the
person and channel index, resolved from the directory when it is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import JSON, Column, Index, Text, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from store.models import UTCDateTime, utcnow

STATES = ("queued", "sending", "sent", "failed")
COUNTED = ("sending", "sent", "failed")  # a message tried counts against the channel's limits


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "notify_outbox"
    __table_args__ = (Index("ix_notify_outbox_bucket_state", "bucket", "state", "not_before"),)

    id: int | None = Field(default=None, primary_key=True)
    message_key: str = Field(unique=True, max_length=128)
    bucket: str = Field(max_length=64)
    channel: str = ""  # masked URL, for the log
    kind: str = ""  # the channel policy's kind (config/channels.toml)
    person: str = Field(default="", index=True)
    channel_index: int = 0
    title: str = ""
    body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    content_hash: str = Field(default="", max_length=64)
    individual: bool = False  # an hour-rule warning or 督办: not held by quiet hours
    state: str = Field(default="queued", index=True)
    attempts: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))
    not_before: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(timezone=True), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(timezone=True), nullable=False))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(timezone=True), index=True))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(timezone=True)))


class OutboxKey(SQLModel, table=True):
    __tablename__ = "notify_outbox_key"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=512)
    message_id: int = Field(index=True)
    # The item step's notice request (activities.notify.NotificationRequest as JSON, no personal data: the
    # notice contexts carry none): what the per-item path needs when the message is refused.
    request: dict | None = Field(default=None, sa_column=Column(JSON))


class OutboxBucket(SQLModel, table=True):
    __tablename__ = "notify_bucket"

    bucket: str = Field(primary_key=True, max_length=64)
    holder: str = ""
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(timezone=True)))


def queued_keys(s: Session, keys: Sequence[str]) -> set[str]:
    """Which of `keys` are already in a message (queued, being sent, sent or failed)."""
    found: set[str] = set()
    for i in range(0, len(keys), 500):
        found |= set(s.exec(select(OutboxKey.key).where(col(OutboxKey.key).in_(keys[i : i + 500]))))
    return found


def enqueue(
    s: Session,
    *,
    message_key: str,
    bucket: str,
    channel: str,
    kind: str,
    person: str,
    channel_index: int,
    title: str,
    body: str,
    content_hash: str,
    keys: Sequence[str],
    individual: bool,
    not_before: datetime,
    requests: dict[str, dict] | None = None,
) -> OutboxMessage | None:
    """Queue one message covering `keys` (none of them queued yet: the caller filtered with `queued_keys`).
    One transaction; None when a concurrent enqueue got there first (its message covers the keys)."""
    existing = s.exec(select(OutboxMessage).where(OutboxMessage.message_key == message_key)).first()
    if existing is not None:
        return existing
    row = OutboxMessage(
        message_key=message_key,
        bucket=bucket,
        channel=channel,
        kind=kind,
        person=person,
        channel_index=channel_index,
        title=title,
        body=body,
        content_hash=content_hash,
        individual=individual,
        not_before=not_before,
        created_at=utcnow(),
    )
    s.add(row)
    try:
        s.flush()
        assert row.id is not None
        s.add_all([OutboxKey(key=k, message_id=row.id, request=(requests or {}).get(k)) for k in keys])
        s.commit()
    except IntegrityError:
        s.rollback()
        return None
    s.refresh(row)
    return row


def acquire(s: Session, bucket: str, holder: str, *, lease: timedelta = timedelta(seconds=60)) -> bool:
    """Take the bucket's drain lease (real time) unless another live drainer holds it. Commits."""
    now = utcnow()
    if s.get(OutboxBucket, bucket) is None:
        s.add(OutboxBucket(bucket=bucket))
        try:
            s.commit()
        except IntegrityError:
            s.rollback()
    stmt = (
        update(OutboxBucket)
        .where(col(OutboxBucket.bucket) == bucket)
        .where(
            (col(OutboxBucket.lease_until).is_(None))
            | (col(OutboxBucket.lease_until) < now)
            | (col(OutboxBucket.holder) == holder)
        )
        .values(holder=holder, lease_until=now + lease)
    )
    got = s.execute(stmt).rowcount  # type: ignore[attr-defined]
    s.commit()
    return bool(got)


def release(s: Session, bucket: str, holder: str) -> None:
    stmt = (
        update(OutboxBucket)
        .where(col(OutboxBucket.bucket) == bucket, col(OutboxBucket.holder) == holder)
        .values(lease_until=None, holder="")
    )
    s.execute(stmt)
    s.commit()


def interrupted(s: Session, bucket: str) -> list[OutboxMessage]:
    """Messages left `sending` by a drainer that died (call with the lease held)."""
    stmt = select(OutboxMessage).where(OutboxMessage.bucket == bucket, OutboxMessage.state == "sending")
    return list(s.exec(stmt))


def counted_since(s: Session, bucket: str, since: datetime, *, content_hash: str | None = None) -> int:
    """Messages of the bucket tried at or after `since` (optionally only those of one content)."""
    stmt = select(func.count()).where(
        col(OutboxMessage.bucket) == bucket,
        col(OutboxMessage.state).in_(COUNTED),
        col(OutboxMessage.claimed_at) >= since,
    )
    if content_hash is not None:
        stmt = stmt.where(col(OutboxMessage.content_hash) == content_hash)
    return int(s.exec(stmt).one())


def claimed_times(s: Session, bucket: str, since: datetime) -> list[datetime]:
    """When the bucket's messages tried since `since` were claimed, oldest first."""
    stmt = (
        select(OutboxMessage.claimed_at)
        .where(
            col(OutboxMessage.bucket) == bucket,
            col(OutboxMessage.state).in_(COUNTED),
            col(OutboxMessage.claimed_at) >= since,
        )
        .order_by(col(OutboxMessage.claimed_at))
    )
    return [t for t in s.exec(stmt) if t is not None]


def waiting(s: Session, bucket: str, *, limit: int = 100, ids: Sequence[int] = ()) -> list[OutboxMessage]:
    """Queued messages of the bucket (only `ids` when given), individual notices first, then in the order
    they were queued."""
    stmt = select(OutboxMessage).where(OutboxMessage.bucket == bucket, OutboxMessage.state == "queued")
    if ids:
        stmt = stmt.where(col(OutboxMessage.id).in_(list(ids)))
    stmt = stmt.order_by(
        col(OutboxMessage.individual).desc(), col(OutboxMessage.not_before), col(OutboxMessage.id)
    ).limit(limit)
    return list(s.exec(stmt))


def claim(s: Session, message: OutboxMessage, at: datetime) -> None:
    """Mark the message `sending` (committed before it is sent)."""
    message.state = "sending"
    message.claimed_at = at
    message.attempts += 1
    s.add(message)
    s.commit()


def requests_of(s: Session, message_id: int) -> list[dict]:
    """The stored notice requests of a message's keys (those enqueued with one)."""
    stmt = select(OutboxKey.request).where(OutboxKey.message_id == message_id).order_by(col(OutboxKey.id))
    return [dict(r) for r in s.exec(stmt) if r]


def keys_of(s: Session, message_id: int) -> list[str]:
    return list(s.exec(select(OutboxKey.key).where(OutboxKey.message_id == message_id).order_by(col(OutboxKey.id))))


def set_state(
    s: Session,
    message: OutboxMessage,
    state: str,
    *,
    at: datetime | None = None,
    error: str | None = None,
    not_before: datetime | None = None,
    commit: bool = True,
) -> None:
    message.state = state
    message.error = error
    if state == "sent":
        message.sent_at = at
    if not_before is not None:
        message.not_before = not_before
    s.add(message)
    if commit:
        s.commit()


def pending(s: Session, ids: Sequence[int]) -> list[OutboxMessage]:
    """Those of the messages `ids` not yet sent or failed."""
    if not ids:
        return []
    stmt = select(OutboxMessage).where(
        col(OutboxMessage.id).in_(list(ids)), col(OutboxMessage.state).in_(("queued", "sending"))
    )
    return list(s.exec(stmt))


def messages(s: Session, ids: Sequence[int] | None = None, *, bucket: str | None = None) -> list[OutboxMessage]:
    stmt = select(OutboxMessage)
    if ids is not None:
        stmt = stmt.where(col(OutboxMessage.id).in_(list(ids)))
    if bucket is not None:
        stmt = stmt.where(OutboxMessage.bucket == bucket)
    return list(s.exec(stmt.order_by(col(OutboxMessage.id))))


def unlink(s: Session, message_id: int) -> None:
    """Free the keys of a refused message (kept as a log row) so that they may be queued again."""
    from sqlalchemy import delete

    s.execute(delete(OutboxKey).where(col(OutboxKey.message_id) == message_id))
    s.commit()


def waiting_buckets(s: Session) -> list[str]:
    """The buckets with queued messages."""
    stmt = select(OutboxMessage.bucket).where(OutboxMessage.state == "queued").distinct()
    return sorted(s.exec(stmt))


def waiting_count(s: Session) -> int:
    return int(s.exec(select(func.count()).where(col(OutboxMessage.state) == "queued")).one())
