"""站内消息 store and service: one message per (key, person), unread first, only one's own marked read."""

from __future__ import annotations

import pytest

from services import inbox


def test_post_is_idempotent_and_read_is_per_person(engine):
    first = inbox.post("p1", key="k1", kind="reminder", title="到期提醒 A", link="/items/a", item_id="a", db=engine)
    again = inbox.post("p1", key="k1", kind="reminder", title="到期提醒 A（重复）", db=engine)
    assert first.created and not again.created and again.id == first.id
    other = inbox.post("p2", key="k1", kind="reminder", title="到期提醒 A", db=engine)
    second = inbox.post("p1", key="k2", kind="urge", title="督办 B", db=engine)
    assert other.id != first.id

    page = inbox.messages("p1", db=engine)
    assert page["total"] == 2 and page["unread"] == 2
    assert {m["title"] for m in page["messages"]} == {"到期提醒 A", "督办 B"}  # the repeat changed nothing

    # p1 cannot mark p2's message; marking its own first one leaves the other unread and first in the list
    assert inbox.mark_read("p1", [other.id, first.id], db=engine) == 1
    assert inbox.unread_count("p2", db=engine) == 1
    page = inbox.messages("p1", db=engine)
    assert [m["id"] for m in page["messages"]] == [second.id, first.id]
    assert [m["state_name"] for m in page["messages"]] == ["已送达", "已读"]
    assert inbox.mark_read("p1", db=engine) == 1 and inbox.unread_count("p1", db=engine) == 0


def test_unknown_kind_is_a_programming_error(engine):
    with pytest.raises(ValueError):
        inbox.post("p1", key="k", kind="sms", title="x", db=engine)
