"""Workflow sandbox configuration (``temporalio.worker.workflow_sandbox``'s names).

There is no import sandbox here; the restrictions configure the engine's
determinism guard. See ``_restrictions.py`` and docs/determinism.md.
"""

from hotmesh_temporal.worker.workflow_sandbox._restrictions import (
    RestrictedWorkflowAccessError,
    SandboxMatcher,
    SandboxRestrictions,
    UnintentionalPassthroughError,
)
from hotmesh_temporal.worker.workflow_sandbox._runner import SandboxedWorkflowRunner

__all__ = [
    "RestrictedWorkflowAccessError",
    "UnintentionalPassthroughError",
    "SandboxedWorkflowRunner",
    "SandboxMatcher",
    "SandboxRestrictions",
]
