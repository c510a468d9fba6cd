"""Temporal workflows. The worker (worker/main.py) registers every class listed in WORKFLOWS."""
from workflows.items import ClockItemWorkflow, DocumentWorkflow, RequestWorkflow
from workflows.notify_steps import NotifyPersonWorkflow
from workflows.digests import DigestWorkflow

WORKFLOWS: list = [DocumentWorkflow, RequestWorkflow, ClockItemWorkflow, NotifyPersonWorkflow]
WORKFLOWS.append(DigestWorkflow)
