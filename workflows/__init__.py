"""Temporal workflows, all listed in WORKFLOWS (registered by the composition root, app/composition.py).

Every worker and replayer runs them with `workflow_runner()`."""

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from workflows.annual import AnnualReportKickoffWorkflow
from workflows.appeals import AppealWindowsWorkflow
from workflows.digests import DigestWorkflow
from workflows.facts import FactWorkflow
from workflows.import_job import ImportJobWorkflow
from workflows.items import ClockItemWorkflow, DocumentWorkflow, RequestWorkflow
from workflows.notify_steps import NotifyBatchWorkflow, NotifyPersonWorkflow
from workflows.reproject import ReprojectWorkflow
from workflows.sweep import LadderSweepWorkflow
from workflows.urge import UrgeDeliveryWorkflow

WORKFLOWS: list = [
    DocumentWorkflow,
    RequestWorkflow,
    ClockItemWorkflow,
    NotifyPersonWorkflow,
    NotifyBatchWorkflow,
    DigestWorkflow,
    AnnualReportKickoffWorkflow,
    FactWorkflow,
    ReprojectWorkflow,
    UrgeDeliveryWorkflow,
    AppealWindowsWorkflow,
    LadderSweepWorkflow,
    ImportJobWorkflow,
]


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox with the project's own packages passed through. By default the sandbox re-imports
    (compiles and executes) a workflow's module for every new workflow run: ~55 ms of the worker's one
    event loop per new item, the largest cost of a bulk import. These modules keep no state at module
    level (an item's state lives on its instance; `domain` and `activities` were already imported passed
    through), so one shared import is safe. The sandbox still refuses non-deterministic calls at run time
    (file access, clocks, randomness), and tests/test_replay.py replays recorded histories."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("workflows", "domain", "activities")
    )
