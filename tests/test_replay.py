"""Replay saved histories against today's workflow code: a change that would break running
workflows (non-determinism) fails here. Histories are recorded by tests/histories/record.py.

Each history replays twice: in the strict sandbox (the workflow modules imported afresh, so a clock read,
random number or file access in workflow code is refused: production runs unsandboxed and would not notice)
and with the runner production uses (`workflows.workflow_runner()`)."""

import base64
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

import workflows
from workflows.items import CURRENT

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def _patches(path: Path) -> set[str]:
    """The workflow.patched ids whose markers the history holds."""
    out = set()
    for e in json.loads(path.read_text(encoding="utf-8"))["history"]["events"]:
        attrs = e.get("markerRecordedEventAttributes")
        if attrs and attrs["markerName"] == "core_patch":
            out.add(json.loads(base64.b64decode(attrs["details"]["patch-data"]["payloads"][0]["data"]))["id"])
    return out


def test_histories_are_present():
    kinds = {p.name.split("-")[0] for p in HISTORIES}
    assert {"document", "request", "opinion", "column"} <= kinds
    # runs with the one marker of today's new runs: windows handed over or closed at once, a swept step passed
    current = {p.stem for p in HISTORIES if CURRENT in _patches(p)}
    assert {"request-appeal", "request-backfill", "column-swept"} <= current, current


RUNNERS = {"sandbox": lambda: workflows.sandboxed_runner(strict=True), "production": workflows.workflow_runner}


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_replay(path, runner):
    data = json.loads(path.read_text(encoding="utf-8"))
    history = WorkflowHistory.from_json(data["workflow_id"], data["history"])
    assert len(history.events) > 10
    replayer = Replayer(
        workflows=workflows.WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=RUNNERS[runner](),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
