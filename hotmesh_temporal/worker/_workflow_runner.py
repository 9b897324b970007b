"""Workflow runners (``Worker(workflow_runner=...)``) with temporalio's names.

In temporalio a runner creates the objects that execute workflow activations. Here
the engine always runs workflows itself (``hotmesh_temporal/_engine/instance.py``);
a runner only chooses the determinism guard: :class:`SandboxedWorkflowRunner` (the
default) refuses the calls its restrictions forbid and that the guard can see
(``datetime.now()`` and friends), :class:`UnsandboxedWorkflowRunner` refuses none.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PatchActivationInput:
    """What ``Worker(patch_activation_callback=...)`` is asked about a patch."""

    workflow_info: Any
    patch_id: str


@dataclass(frozen=True)
class WorkflowInstanceDetails:
    """What temporalio hands a runner to build a workflow instance (the engine builds
    its instances itself; the type exists for code that names it)."""

    payload_converter_factory: Callable[[], Any]
    failure_converter_class: type
    interceptor_classes: Sequence[type]
    defn: Any
    info: Any
    randomness_seed: int
    extern_functions: Mapping[str, Callable]
    disable_eager_activity_execution: bool
    worker_level_failure_exception_types: Sequence[type[BaseException]]
    patch_activation_callback: Callable[[PatchActivationInput], bool] | None
    last_completion_result: Any
    last_failure: Any
    default_workflow_logic_flags: frozenset = field(default_factory=frozenset)


class WorkflowInstance(ABC):
    """The interface of temporalio's workflow instances (see WorkflowInstanceDetails)."""

    @abstractmethod
    def activate(self, act: Any) -> Any:
        """Run one activation and return its completion."""

    @abstractmethod
    def get_serialization_context(self, command_info: Any) -> Any:
        """The serialization context for a command's payloads."""

    @abstractmethod
    def get_external_store_context(self, command_info: Any) -> Any:
        """The external storage context for a command's payloads."""

    @abstractmethod
    def get_info(self) -> Any:
        """The workflow's info."""

    def get_thread_id(self) -> int | None:
        """The thread running the workflow, if known (optional to implement)."""
        return None


# An ABC as in temporalio (so its classes compare alike), but nothing is abstract:
# the engine runs the instances, and these methods are what the runners share.
class WorkflowRunner(ABC):  # noqa: B024
    """Base of workflow runners (configuration objects here; see module docs)."""

    def prepare_workflow(self, defn: Any) -> None:  # noqa: B027
        """Called once per workflow class when a worker starts; nothing to prepare."""

    def create_instance(self, det: Any) -> Any:
        """Not used: the engine creates workflow instances itself."""
        raise NotImplementedError(
            "hotmesh_temporal runs workflow instances itself; custom WorkflowRunner "
            "implementations are not supported"
        )

    def set_worker_level_failure_exception_types(  # noqa: B027
        self, types: Sequence[type[BaseException]]
    ) -> None:
        """Accepted; the worker passes its failure exception types to the engine."""


class UnsandboxedWorkflowRunner(WorkflowRunner):
    """Run workflow code without the determinism guard's refusals (``time``,
    ``random`` and ``uuid4`` still follow the workflow; see docs/determinism.md)."""
