"""``SandboxedWorkflowRunner``: the default runner (see ``worker/_workflow_runner.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from hotmesh_temporal.worker._workflow_runner import UnsandboxedWorkflowRunner, WorkflowRunner
from hotmesh_temporal.worker.workflow_sandbox._restrictions import (
    CallRefusals,
    SandboxRestrictions,
    refused_calls,
)


@dataclass(frozen=True)
class SandboxedWorkflowRunner(WorkflowRunner):
    """Runs workflows under the determinism guard configured by ``restrictions``.

    There is no import sandbox: workflow modules are imported once, as usual, and
    ``runner_class`` is accepted for temporalio's API. What the restrictions enforce
    is described in ``workflow_sandbox/_restrictions.py`` and docs/determinism.md.
    """

    restrictions: SandboxRestrictions = SandboxRestrictions.default
    runner_class: type[WorkflowRunner] = UnsandboxedWorkflowRunner

    def _refused_calls(self) -> CallRefusals:
        return refused_calls(self.restrictions)
