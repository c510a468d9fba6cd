"""Identifiers formed from domain values: the id of an item's workflow."""

from __future__ import annotations


def workflow_id(item_type: str, item_id: str) -> str:
    """The id of the `ItemWorkflow` of one item: `<item type>:<item id>` (e.g. `request:2026-001`)."""
    return f"{item_type}:{item_id}"
