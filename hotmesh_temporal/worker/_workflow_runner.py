"""Workflow runners (``Worker(workflow_runner=...)``) with temporalio's names.

In temporalio a runner creates the objects that execute workflow activations. Here
the engine always runs workflows itself (``hotmesh_temporal/_engine/instance.py``);
a runner only chooses the determinism guard: :class:`SandboxedWorkflowRunner` (the
default) refuses the calls its restrictions forbid and that the guard can see
(``datetime.now()`` and friends), :class:`UnsandboxedWorkflowRunner` refuses none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class WorkflowRunner:
    """Base of workflow runners (configuration objects here; see module docs)."""

    def prepare_workflow(self, defn: Any) -> None:
        """Called once per workflow class when a worker starts; nothing to prepare."""

    def create_instance(self, det: Any) -> Any:
        """Not used: the engine creates workflow instances itself."""
        raise NotImplementedError(
            "hotmesh_temporal runs workflow instances itself; custom WorkflowRunner "
            "implementations are not supported"
        )

    def set_worker_level_failure_exception_types(
        self, types: Sequence[type[BaseException]]
    ) -> None:
        """Accepted; the worker passes its failure exception types to the engine."""


class UnsandboxedWorkflowRunner(WorkflowRunner):
    """Run workflow code without the determinism guard's refusals (``time``,
    ``random`` and ``uuid4`` still follow the workflow; see docs/determinism.md)."""
