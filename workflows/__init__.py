"""Temporal workflows. The worker (worker/main.py) registers every class listed in WORKFLOWS."""

# Filled by the lead: the workflow classes of Shixian.
WORKFLOWS: list = []
