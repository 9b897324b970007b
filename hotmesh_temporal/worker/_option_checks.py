"""The checks temporalio's ``Worker(...)`` makes of its options, with its messages.

temporalio checks some options in Python and hands the rest to its Rust core, which
refuses a bad configuration when the worker is built (``Invalid worker config: ...``)
and whose bindings refuse negative counts (``failed to extract field ...``). A worker
here has no core, so these checks reproduce both, in temporalio's order, so the same
options fail the same way (``tests/compat/test_worker_options.py`` compares them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hotmesh_temporal.worker._tuning import (
    FixedSizeSlotSupplier,
    PollerBehaviorAutoscaling,
    PollerBehaviorSimpleMaximum,
)


def check_worker_options(options: Mapping[str, Any]) -> None:
    """Raise temporalio's error for the first option it would refuse."""
    _check_versioning(options)
    if options.get("max_workflow_task_external_storage_concurrency", 3) < 1:
        raise ValueError("max_workflow_task_external_storage_concurrency must be positive")
    if options.get("max_eager_activity_reservations_per_workflow_task", 3) < 1:
        raise ValueError(
            "max_eager_activity_reservations_per_workflow_task must be positive; "
            "use disable_eager_activity_execution=True to disable eager activity execution"
        )
    workflow_tasks = options.get("max_concurrent_workflow_tasks")
    if options.get("workflows") and not options.get("workflow_task_executor"):
        # temporalio sizes its workflow task thread pool by this option.
        if workflow_tasks and workflow_tasks <= 0:
            raise ValueError("max_workers must be greater than 0")
    _check_tuner(options)
    pollers = _poller_behaviors(options)
    _check_core_field_types(options, pollers)
    _check_core_rules(options, pollers)


def _check_versioning(options: Mapping[str, Any]) -> None:
    if options.get("use_worker_versioning") and not options.get("build_id"):
        raise ValueError("build_id must be specified when use_worker_versioning is True")
    deployment = options.get("deployment_config")
    if deployment is None:
        return
    if options.get("build_id") or options.get("use_worker_versioning"):
        raise ValueError("deployment_config cannot be used with build_id or use_worker_versioning")
    behavior = getattr(deployment, "default_versioning_behavior", None)
    if not getattr(deployment, "use_worker_versioning", False) and behavior:
        raise ValueError(
            "default_versioning_behavior must be UNSPECIFIED when use_worker_versioning is False"
        )


_SLOT_OPTIONS = (
    "max_concurrent_workflow_tasks",
    "max_concurrent_activities",
    "max_concurrent_local_activities",
    "max_concurrent_nexus_tasks",
)


def _check_tuner(options: Mapping[str, Any]) -> None:
    # temporalio tests the options' truth: a 0 beside a tuner is allowed.
    if options.get("tuner") is not None and any(options.get(o) for o in _SLOT_OPTIONS):
        raise ValueError(
            "Cannot specify max_concurrent_workflow_tasks, max_concurrent_activities, "
            "max_concurrent_local_activities, or max_concurrent_nexus_tasks when also "
            "specifying tuner"
        )


def _poller_behaviors(options: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow and activity poller behaviours temporalio hands its core: a
    ``max_concurrent_*_task_polls`` that is set (truthy) replaces the behaviour."""
    out = {}
    for kind in ("workflow", "activity"):
        behavior = options.get(f"{kind}_task_poller_behavior") or PollerBehaviorSimpleMaximum()
        polls = options.get(f"max_concurrent_{kind}_task_polls")
        if polls:
            behavior = PollerBehaviorSimpleMaximum(maximum=polls)
        out[kind] = behavior
    return out


def _check_core_field_types(options: Mapping[str, Any], pollers: Mapping[str, Any]) -> None:
    """The core's bindings take counts as unsigned integers: a negative one is refused
    field by field, in the order of the bindings' WorkerConfig."""
    if options.get("max_cached_workflows", 1000) < 0:
        raise TypeError("failed to extract field WorkerConfig.max_cached_workflows")
    if _negative_slots(options):
        raise TypeError("failed to extract field WorkerConfig.tuner")
    for kind in ("workflow", "activity"):
        if any(n < 0 for n in _poller_numbers(pollers[kind])):
            raise TypeError(f"failed to extract field WorkerConfig.{kind}_task_poller_behavior")


def _negative_slots(options: Mapping[str, Any]) -> bool:
    tuner = options.get("tuner")
    if tuner is None:
        return any((options.get(o) or 0) < 0 for o in _SLOT_OPTIONS)
    suppliers = (
        tuner._get_workflow_task_slot_supplier(),
        tuner._get_activity_task_slot_supplier(),
        tuner._get_local_activity_task_slot_supplier(),
    )
    return any(isinstance(s, FixedSizeSlotSupplier) and s.num_slots < 0 for s in suppliers)


def _poller_numbers(behavior: Any) -> tuple[int, ...]:
    if isinstance(behavior, PollerBehaviorAutoscaling):
        return (behavior.minimum, behavior.maximum, behavior.initial)
    if isinstance(behavior, PollerBehaviorSimpleMaximum):
        return (behavior.maximum,)
    return ()


def _check_core_rules(options: Mapping[str, Any], pollers: Mapping[str, Any]) -> None:
    """temporalio's core validation of a worker configuration."""
    for kind in ("workflow", "activity"):
        problem = _poller_problem(pollers[kind])
        if problem:
            raise ValueError(f"Invalid worker config: {problem}")
    rate = options.get("max_activities_per_second")
    if rate is not None and (not math.isfinite(rate) or rate <= 0):
        raise ValueError(
            "Invalid worker config: `max_worker_activities_per_second` must be positive and nonzero"
        )
    workflow_poller = pollers["workflow"]
    if (
        options.get("max_cached_workflows", 1000) > 0
        and isinstance(workflow_poller, PollerBehaviorSimpleMaximum)
        and workflow_poller.maximum < 2
    ):
        raise ValueError(
            "Invalid worker config: `max_cached_workflows` > 0 requires "
            "`workflow_task_poller_behavior` to be at least 2"
        )


def _poller_problem(behavior: Any) -> str | None:
    if isinstance(behavior, PollerBehaviorSimpleMaximum):
        if behavior.maximum < 1:
            return "SimpleMaximum poller behavior must be at least 1"
    elif isinstance(behavior, PollerBehaviorAutoscaling):
        if behavior.minimum < 1:
            return "Autoscaling minimum poller behavior must be at least 1"
        if behavior.maximum < behavior.minimum:
            return "Autoscaling maximum must be greater than or equal to minimum"
        if not behavior.minimum <= behavior.initial <= behavior.maximum:
            return "Autoscaling initial must be between minimum and maximum"
    return None
