"""Slot tuning and poller behaviour (``temporalio.worker``'s tuner names).

A Temporal worker asks its tuner for a slot before it polls. Here a worker claims rows
in batches sized by its free slots, so a tuner comes down to one number per task kind:
the most tasks of that kind a worker runs at once. Fixed suppliers give it directly;
resource-based suppliers give their ``maximum_slots`` (we do not measure CPU or memory);
custom suppliers are refused with a clear error (see docs/compatibility.md).

Poller behaviours are accepted: a NOTIFY-driven claim loop has no long polls to scale.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, Protocol, Union, runtime_checkable

DEFAULT_SLOTS = 100
_DEFAULT_RESOURCE_SLOTS_MAX = 500


@dataclass(frozen=True)
class PollerBehaviorSimpleMaximum:
    """Poll while a slot is free, with at most ``maximum`` polls at once."""

    maximum: int = 5


@dataclass(frozen=True)
class PollerBehaviorAutoscaling:
    """Poll with a number of pollers between ``minimum`` and ``maximum``."""

    minimum: int = 1
    maximum: int = 100
    initial: int = 5


PollerBehavior = Union[PollerBehaviorSimpleMaximum, PollerBehaviorAutoscaling]


@dataclass(frozen=True)
class FixedSizeSlotSupplier:
    """Exactly ``num_slots`` tasks of a kind at once."""

    num_slots: int


@dataclass(frozen=True)
class ResourceBasedTunerConfig:
    """Target system memory and CPU use, each between 0 and 1."""

    target_memory_usage: float
    target_cpu_usage: float


@dataclass(frozen=True)
class ResourceBasedSlotConfig:
    """Bounds for a resource-based supplier; here ``maximum_slots`` is the cap."""

    minimum_slots: int | None = None
    maximum_slots: int | None = None
    ramp_throttle: timedelta | None = None


@dataclass(frozen=True)
class ResourceBasedSlotSupplier:
    slot_config: ResourceBasedSlotConfig
    tuner_config: ResourceBasedTunerConfig


class SlotPermit:
    """A reserved slot; subclass it to carry your own data."""


class SlotReserveContext(Protocol):
    slot_type: Literal["workflow", "activity", "local-activity"]
    task_queue: str
    worker_identity: str
    worker_build_id: str
    worker_deployment_version: Any
    is_sticky: bool


@runtime_checkable
class WorkflowSlotInfo(Protocol):
    workflow_type: str
    is_sticky: bool


@runtime_checkable
class ActivitySlotInfo(Protocol):
    activity_type: str


@runtime_checkable
class LocalActivitySlotInfo(Protocol):
    activity_type: str


@runtime_checkable
class NexusSlotInfo(Protocol):
    service: str
    operation: str


SlotInfo = Union[WorkflowSlotInfo, ActivitySlotInfo, LocalActivitySlotInfo, NexusSlotInfo]


@dataclass(frozen=True)
class SlotMarkUsedContext(Protocol):
    slot_info: SlotInfo
    permit: SlotPermit


@dataclass(frozen=True)
class SlotReleaseContext:
    slot_info: SlotInfo | None
    permit: SlotPermit


class CustomSlotSupplier(ABC):
    """A user-written slot supplier (refused by this package's Worker, see module doc)."""

    @abstractmethod
    async def reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit: ...

    @abstractmethod
    def try_reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit | None: ...

    @abstractmethod
    def mark_slot_used(self, ctx: SlotMarkUsedContext) -> None: ...

    @abstractmethod
    def release_slot(self, ctx: SlotReleaseContext) -> None: ...


SlotSupplier = Union[FixedSizeSlotSupplier, ResourceBasedSlotSupplier, CustomSlotSupplier]


class WorkerTuner(ABC):
    """Decides how many tasks of each kind a worker runs at once."""

    @classmethod
    def create_resource_based(
        cls,
        *,
        target_memory_usage: float,
        target_cpu_usage: float,
        workflow_config: ResourceBasedSlotConfig | None = None,
        activity_config: ResourceBasedSlotConfig | None = None,
        local_activity_config: ResourceBasedSlotConfig | None = None,
        nexus_config: ResourceBasedSlotConfig | None = None,
    ) -> WorkerTuner:
        targets = ResourceBasedTunerConfig(target_memory_usage, target_cpu_usage)

        def supplier(config: ResourceBasedSlotConfig | None) -> ResourceBasedSlotSupplier:
            return ResourceBasedSlotSupplier(config or ResourceBasedSlotConfig(), targets)

        return _CompositeTuner(
            supplier(workflow_config),
            supplier(activity_config),
            supplier(local_activity_config),
            supplier(nexus_config),
        )

    @classmethod
    def create_fixed(
        cls,
        *,
        workflow_slots: int | None = None,
        activity_slots: int | None = None,
        local_activity_slots: int | None = None,
        nexus_slots: int | None = None,
    ) -> WorkerTuner:
        """Fixed slot counts; an unset count is 100, as in temporalio."""
        return _CompositeTuner(
            *(
                FixedSizeSlotSupplier(n or DEFAULT_SLOTS)
                for n in (workflow_slots, activity_slots, local_activity_slots, nexus_slots)
            )
        )

    @classmethod
    def create_composite(
        cls,
        *,
        workflow_supplier: SlotSupplier,
        activity_supplier: SlotSupplier,
        local_activity_supplier: SlotSupplier,
        nexus_supplier: SlotSupplier,
    ) -> WorkerTuner:
        return _CompositeTuner(
            workflow_supplier, activity_supplier, local_activity_supplier, nexus_supplier
        )

    @abstractmethod
    def _get_workflow_task_slot_supplier(self) -> SlotSupplier: ...

    @abstractmethod
    def _get_activity_task_slot_supplier(self) -> SlotSupplier: ...

    @abstractmethod
    def _get_local_activity_task_slot_supplier(self) -> SlotSupplier: ...

    @abstractmethod
    def _get_nexus_slot_supplier(self) -> SlotSupplier: ...


@dataclass(frozen=True)
class _CompositeTuner(WorkerTuner):
    workflow_slot_supplier: SlotSupplier
    activity_slot_supplier: SlotSupplier
    local_activity_slot_supplier: SlotSupplier
    nexus_slot_supplier: SlotSupplier

    def _get_workflow_task_slot_supplier(self) -> SlotSupplier:
        return self.workflow_slot_supplier

    def _get_activity_task_slot_supplier(self) -> SlotSupplier:
        return self.activity_slot_supplier

    def _get_local_activity_task_slot_supplier(self) -> SlotSupplier:
        return self.local_activity_slot_supplier

    def _get_nexus_slot_supplier(self) -> SlotSupplier:
        return self.nexus_slot_supplier


def slot_limits(
    tuner: WorkerTuner | None,
    max_workflow_tasks: int | None,
    max_activities: int | None,
    max_local_activities: int | None,
) -> dict:
    """The per-kind concurrency caps a Worker runs with, from either its tuner or its
    ``max_concurrent_*`` options (never both, as in temporalio)."""
    explicit = (max_workflow_tasks, max_activities, max_local_activities)
    if tuner is None:
        workflow, activity, local = (n or DEFAULT_SLOTS for n in explicit)
    else:
        if any(explicit):  # as temporalio: a 0 beside a tuner is allowed
            raise ValueError(
                "Cannot specify max_concurrent_workflow_tasks, max_concurrent_activities, "
                "max_concurrent_local_activities, or max_concurrent_nexus_tasks when also "
                "specifying tuner"
            )
        workflow = _cap(tuner._get_workflow_task_slot_supplier())
        activity = _cap(tuner._get_activity_task_slot_supplier())
        local = _cap(tuner._get_local_activity_task_slot_supplier())
    return {"workflow": workflow, "activity": activity, "local_activity": local}


def _cap(supplier: SlotSupplier) -> int:
    if isinstance(supplier, FixedSizeSlotSupplier):
        return supplier.num_slots
    if isinstance(supplier, ResourceBasedSlotSupplier):
        return supplier.slot_config.maximum_slots or _DEFAULT_RESOURCE_SLOTS_MAX
    raise ValueError(
        f"{type(supplier).__name__}: custom slot suppliers are not supported by "
        "hotmesh_temporal; use WorkerTuner.create_fixed() or max_concurrent_* options"
    )
