"""Request queries of the read model (flags, corrections, withdrawals, same-day groups, period counts)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from domain.flags import HAS_FLAG_DATA, HAS_RECEIPT_DATA, values_with
from store.models import EventRecord, Item
from store.models import table as sa_table
from store.scope import Departments, where_departments


def request_ids_with_receipt_flags(session: Session, department: Departments = None) -> list[str]:
    """Requests whose snapshot can carry a receipt or lawful-delay flag (domain.flags.receipt_flags): an
    unreachable applicant, a 第三十五条 delay, a fee notice, or a receipt date not the one typed
    (domain.flags.HAS_RECEIPT_DATA, from the item's flags index)."""
    q = select(col(Item.id)).where(
        col(Item.flags).is_not(None),
        col(Item.flags).in_(values_with(HAS_RECEIPT_DATA)),
        col(Item.type) == "request",
        col(Item.state) == "open",  # the board's list is of live requests (a withdrawn one waits for nothing)
    )
    q = where_departments(q, col(Item.department), department)
    return list(session.execute(q.order_by(col(Item.id))).scalars())


def request_ids_with_correction(session: Session, department: Departments = None) -> list[str]:
    """Requests whose snapshot data carries a correction notice: the only ones that can carry a board flag."""
    q = select(col(Item.id)).where(
        col(Item.type) == "request", sa_table(Item).c.data["correction"].as_string().is_not(None)
    )
    q = where_departments(q, col(Item.department), department)
    return list(session.execute(q.order_by(col(Item.id))).scalars())


def request_ids_with_flag_data(session: Session, department: Departments = None) -> list[str]:
    """Requests whose snapshot data can carry a board flag (domain.flags): a correction notice, a
    consultation or a link to a withdrawn request (domain.flags.HAS_FLAG_DATA, from the item's flags index)."""
    q = select(col(Item.id)).where(
        col(Item.flags).is_not(None),
        col(Item.flags).in_(values_with(HAS_FLAG_DATA)),
        # i21-windows: a public consultation closed before its minimum (缩短征求意见期) is listed too
        col(Item.type).in_(("request", "consultation")),
    )
    q = where_departments(q, col(Item.department), department)
    return list(session.execute(q.order_by(col(Item.id))).scalars())


def withdrawals_by_applicant(session: Session, key: str, department: str, exclude: str) -> list[tuple[str, str]]:
    """(request id, withdrawal date) of the department's withdrawn requests of the applicant with this key."""
    q = (
        select(col(Item.id), col(EventRecord.occurred_on))
        .join(EventRecord, col(EventRecord.item_id) == col(Item.id))
        .where(
            col(Item.applicant_key) == key,
            col(Item.department) == department,
            col(Item.id) != exclude,
            col(EventRecord.type) == "request.withdrawn",
            col(EventRecord.occurred_on).is_not(None),
        )
    )
    return [(i, str(on)) for i, on in session.execute(q).all()]


def same_day_requests(
    session: Session,
    department: Departments = None,
    since: str | None = None,
    until: str | None = None,
    open_only: bool = False,
) -> list[dict[str, Any]]:
    """Groups of two or more requests of one applicant (same key) received on one day in one department
    (possible 拆分): [{department, day, ids}], the key itself left out."""
    start_on = sa_table(Item).c.data["start_on"].as_string()
    q = select(col(Item.department), start_on, col(Item.applicant_key), col(Item.id)).where(
        col(Item.type) == "request", col(Item.applicant_key).is_not(None)
    )
    q = where_departments(q, col(Item.department), department)
    if open_only:  # the board: groups of which a request is still being handled
        q = q.where(col(Item.state) == "open")
    if since is not None:  # receipt days as ISO strings (a period)
        q = q.where(func.substr(start_on, 1, 10) >= since)
    if until is not None:
        q = q.where(func.substr(start_on, 1, 10) <= until)
    groups: dict[tuple[str, str, str], list[str]] = {}
    for dept, day, key, item_id in session.execute(q).all():
        groups.setdefault((dept, str(day)[:10], key), []).append(item_id)
    return [
        {"department": d, "day": day, "ids": sorted(ids)}
        for (d, day, _), ids in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], sorted(kv[1])))
        if len(ids) > 1
    ]


def _request_start_on():
    return func.substr(sa_table(Item).c.data["start_on"].as_string(), 1, 10)


def request_counts_by_department(
    session: Session, lo: str, hi: str, department: Departments = None
) -> list[tuple[str, int]]:
    """(department, requests) of the requests received between `lo` and `hi` (ISO days, inclusive)."""
    start_on = _request_start_on()
    q = (
        select(col(Item.department), func.count())
        .where(col(Item.type) == "request", start_on >= lo, start_on <= hi)
        .group_by(col(Item.department))
    )
    q = where_departments(q, col(Item.department), department)
    return [(dept, n) for dept, n in session.execute(q).all()]


def withdrawal_counts_by_department(
    session: Session, lo: str, hi: str, department: Departments = None
) -> list[tuple[str, int]]:
    """(department, requests) of the requests withdrawn now whose withdrawal is dated between `lo` and `hi`."""
    wd = (
        select(col(Item.department), func.count(func.distinct(col(Item.id))))
        .join(EventRecord, col(EventRecord.item_id) == col(Item.id))
        .where(
            col(Item.state) == "withdrawn",
            col(EventRecord.type) == "request.withdrawn",
            col(EventRecord.occurred_on) >= lo,
            col(EventRecord.occurred_on) <= hi,
        )
        .group_by(col(Item.department))
    )
    wd = where_departments(wd, col(Item.department), department)
    return [(dept, n) for dept, n in session.execute(wd).all()]


def extension_counts_by_department(
    session: Session, lo: str, hi: str, department: Departments = None
) -> list[tuple[str, int]]:
    """(department, extensions) of the requests received between `lo` and `hi`."""
    start_on = _request_start_on()
    ext = (
        select(col(Item.department), func.count())
        .join(EventRecord, col(EventRecord.item_id) == col(Item.id))
        .where(col(EventRecord.type) == "request.extended", start_on >= lo, start_on <= hi)
        .group_by(col(Item.department))
    )
    ext = where_departments(ext, col(Item.department), department)
    return [(dept, n) for dept, n in session.execute(ext).all()]
