"""Temporal workflows. The worker (worker/main.py) registers every class listed in WORKFLOWS."""
from workflows.annual import AnnualReportKickoffWorkflow
from workflows.digests import DigestWorkflow
from workflows.items import ClockItemWorkflow, DocumentWorkflow, RequestWorkflow
from workflows.notify_steps import NotifyPersonWorkflow

WORKFLOWS: list = [DocumentWorkflow, RequestWorkflow, ClockItemWorkflow, NotifyPersonWorkflow, DigestWorkflow,
                   AnnualReportKickoffWorkflow]
