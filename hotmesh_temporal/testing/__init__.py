"""Test environments for workflows and activities (``temporalio.testing``'s names)."""

from hotmesh_temporal.testing._activity import ActivityEnvironment
from hotmesh_temporal.testing._workflow import (
    TimeSkipper,
    TimeSkippingConfig,
    WorkflowEnvironment,
)

__all__ = [
    "ActivityEnvironment",
    "TimeSkipper",
    "WorkflowEnvironment",
    "TimeSkippingConfig",
]
