"""Temporal workflows, all listed in WORKFLOWS (registered by the composition root, app/composition.py)."""

from workflows.annual import AnnualReportKickoffWorkflow
from workflows.digests import DigestWorkflow
from workflows.facts import FactWorkflow
from workflows.items import ClockItemWorkflow, DocumentWorkflow, RequestWorkflow
from workflows.notify_steps import NotifyPersonWorkflow

WORKFLOWS: list = [
    DocumentWorkflow,
    RequestWorkflow,
    ClockItemWorkflow,
    NotifyPersonWorkflow,
    DigestWorkflow,
    AnnualReportKickoffWorkflow,
    FactWorkflow,
]
