"""Temporal workflows, all listed in WORKFLOWS (registered by the composition root, app/composition.py).

Every worker runs them with `workflow_runner()`, the one place that decides whether they run in the SDK's
sandbox (`SHIXIAN_WORKFLOW_SANDBOX`, off by default); the CI checks run them sandboxed explicitly
(`sandboxed_runner(strict=True)`: tests/test_replay.py, tests/test_sandbox.py)."""

from temporalio.worker import UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from domain.settings import get_settings
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


# Imported once and shared by every sandboxed run: they keep no state at module level (an item's state lives
# on its workflow instance).
PASSTHROUGH = ("workflows", "domain", "activities")


def workflow_runner() -> WorkflowRunner:
    """How the workers run the workflows: unsandboxed unless SHIXIAN_WORKFLOW_SANDBOX is on. The sandbox
    costs the worker CPU on every activation (issue 22 §3; benchmarks/README.md) and, with the project's
    modules passed through as they must be for speed, guards little at run time: the workflow modules see the real
    `datetime`, `random` and `os`. Determinism is kept by review, by workflow code that reads time only
    through `workflow.now()`, and in CI by the strict sandbox (`sandboxed_runner(strict=True)`), which
    replays the recorded histories and runs an item workflow."""
    if get_settings().workflow_sandbox:
        return sandboxed_runner()
    return UnsandboxedWorkflowRunner()


def sandboxed_runner(*, strict: bool = False) -> SandboxedWorkflowRunner:
    """The SDK's sandbox. By default the project's packages are passed through (one shared import): the
    SDK's own default re-imports (compiles and executes) a workflow's module for every new workflow run,
    ~55 ms of the worker's one event loop per new item. Built-ins such as `open` are still refused at run
    time. `strict`: the workflow modules are imported afresh into each run, so the restricted `datetime`,
    `random`, `os` ... reach the workflow code itself and a non-deterministic call there fails (CI only;
    `domain` and `activities` stay passed through, `workflows.*` imported inside an
    `imports_passed_through()` block too)."""
    passthrough = PASSTHROUGH[1:] if strict else PASSTHROUGH
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*passthrough))
