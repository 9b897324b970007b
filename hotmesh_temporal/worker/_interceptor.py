"""Worker interceptors: the base classes and the inputs they pass along.

An interceptor is a chain. Each link holds ``next`` and, by default, hands every
call on to it unchanged; subclasses override the calls they care about and call
``super()`` (or ``self.next``) to continue. The worker puts its own implementation
at the end of the chain.

* :py:class:`Interceptor` is what users register on a ``Worker`` (or a ``Client``).
  It wraps the activity inbound chain and names a workflow inbound class.
* Activity calls: :py:class:`ActivityInboundInterceptor` (the worker calls into the
  activity) and :py:class:`ActivityOutboundInterceptor` (the activity calls out:
  ``info``, ``heartbeat``).
* Workflow calls: :py:class:`WorkflowInboundInterceptor` (run, signals, queries,
  updates) and :py:class:`WorkflowOutboundInterceptor` (activities, child workflows,
  signals to others, continue-as-new).

The ``*Input`` dataclasses are mutable so that an interceptor can change a field
(headers, arguments, timeouts) before passing the input on.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

if TYPE_CHECKING:
    import hotmesh_temporal.activity
    import hotmesh_temporal.api.common.v1
    import hotmesh_temporal.common
    import hotmesh_temporal.workflow
    from hotmesh_temporal.workflow import (
        ActivityCancellationType,
        ChildWorkflowCancellationType,
        ContinueAsNewVersioningBehavior,
        EventGroup,
        NexusOperationCancellationType,
        ParentClosePolicy,
        VersioningIntent,
    )

InputT = TypeVar("InputT", contravariant=True)
OutputT = TypeVar("OutputT", covariant=True)


# ------------------------------------------------------------------ the root


class Interceptor:
    """Base worker interceptor: override the hooks you need.

    Both hooks default to "no interception": the activity chain is returned as
    given and no workflow interceptor class is added.
    """

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Wrap the activity inbound chain; return ``next`` to leave it as is."""
        return next

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        """The workflow inbound interceptor class to add to every workflow, or None.

        The class is instantiated once per workflow run with the next inbound
        interceptor; it runs inside the workflow, so it must be deterministic.
        """
        return None


@dataclass(frozen=True)
class WorkflowInterceptorClassInput:
    """What :py:meth:`Interceptor.workflow_interceptor_class` receives."""

    unsafe_extern_functions: Mapping[str, Callable]
    """Functions the interceptor may call from inside workflows by name
    (``workflow.extern_functions()``). Filled by interceptors, not by users;
    calling out of a workflow is not deterministic, hence "unsafe"."""


# ------------------------------------------------------------------ activities


@dataclass
class ExecuteActivityInput:
    """An activity about to run: :py:meth:`ActivityInboundInterceptor.execute_activity`."""

    fn: Callable[..., Any]
    args: Sequence[Any]
    executor: concurrent.futures.Executor | None
    headers: Mapping[str, hotmesh_temporal.api.common.v1.Payload]


class ActivityInboundInterceptor:
    """Calls from the worker into an activity. Every method passes on to ``next``."""

    def __init__(self, next: ActivityInboundInterceptor) -> None:
        self.next = next

    def init(self, outbound: ActivityOutboundInterceptor) -> None:
        """Called once before ``execute_activity`` with the outbound chain.

        Wrap ``outbound`` in your own outbound interceptor before passing it on
        to intercept the activity's calls out.
        """
        self.next.init(outbound)

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        """Run the activity and return its result."""
        return await self.next.execute_activity(input)


class ActivityOutboundInterceptor:
    """Calls from an activity out to the worker. Every method passes on to ``next``."""

    def __init__(self, next: ActivityOutboundInterceptor) -> None:
        self.next = next

    def info(self) -> hotmesh_temporal.activity.Info:
        """What ``activity.info()`` returns."""
        return self.next.info()

    def heartbeat(self, *details: Any) -> None:
        """What ``activity.heartbeat(*details)`` does."""
        self.next.heartbeat(*details)


# ------------------------------------------------------------------ workflow inbound


@dataclass
class ExecuteWorkflowInput:
    """A workflow run starting: :py:meth:`WorkflowInboundInterceptor.execute_workflow`."""

    type: type
    run_fn: Callable[..., Any]
    args: Sequence[Any]
    headers: Mapping[str, hotmesh_temporal.api.common.v1.Payload]


@dataclass
class HandleSignalInput:
    """A signal delivered to the workflow."""

    signal: str
    args: Sequence[Any]
    headers: Mapping[str, hotmesh_temporal.api.common.v1.Payload]


@dataclass
class HandleQueryInput:
    """A query asked of the workflow."""

    id: str
    query: str
    args: Sequence[Any]
    headers: Mapping[str, hotmesh_temporal.api.common.v1.Payload]


@dataclass
class HandleUpdateInput:
    """An update sent to the workflow (its validator and its handler both get it)."""

    id: str
    update: str
    args: Sequence[Any]
    headers: Mapping[str, hotmesh_temporal.api.common.v1.Payload]


class WorkflowInboundInterceptor:
    """Calls into a workflow. Every method passes on to ``next``.

    Runs inside the workflow: everything here must be deterministic.
    """

    def __init__(self, next: WorkflowInboundInterceptor) -> None:
        self.next = next

    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        """Called once before ``execute_workflow`` with the outbound chain.

        Wrap ``outbound`` in your own outbound interceptor before passing it on
        to intercept the workflow's calls out.
        """
        self.next.init(outbound)

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        """Run the workflow's ``@workflow.run`` method; its return value is the result."""
        return await self.next.execute_workflow(input)

    async def handle_signal(self, input: HandleSignalInput) -> None:
        """Run a signal handler."""
        return await self.next.handle_signal(input)

    async def handle_query(self, input: HandleQueryInput) -> Any:
        """Run a query handler and return its answer."""
        return await self.next.handle_query(input)

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        """Run an update's validator; raising rejects the update."""
        self.next.handle_update_validator(input)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        """Run an update handler and return its result."""
        return await self.next.handle_update_handler(input)


# ------------------------------------------------------------------ workflow outbound


@dataclass
class ContinueAsNewInput:
    """``workflow.continue_as_new(...)``: the options of the next run."""

    workflow: str | None
    args: Sequence[Any]
    task_queue: str | None
    run_timeout: timedelta | None
    task_timeout: timedelta | None
    backoff_start_interval: timedelta | None
    retry_policy: hotmesh_temporal.common.RetryPolicy | None
    memo: Mapping[str, Any] | None
    search_attributes: (
        None
        | hotmesh_temporal.common.SearchAttributes
        | hotmesh_temporal.common.TypedSearchAttributes
    )
    headers: Mapping[str, hotmesh_temporal.api.common.v1.Payload]
    versioning_intent: VersioningIntent | None
    initial_versioning_behavior: ContinueAsNewVersioningBehavior | None
    event_groups: Sequence[EventGroup] | None = None
    arg_types: list[type] | None = None


@dataclass
class SignalChildWorkflowInput:
    """A signal sent by this workflow to one of its children."""

    signal: str
    args: Sequence[Any]
    child_workflow_id: str
    headers: Mapping[str, hotmesh_temporal.api.common.v1.Payload]
    event_groups: Sequence[EventGroup] | None = None


@dataclass
class SignalExternalWorkflowInput:
    """A signal sent by this workflow to another (non-child) workflow."""

    signal: str
    args: Sequence[Any]
    namespace: str
    workflow_id: str
    workflow_run_id: str | None
    headers: Mapping[str, hotmesh_temporal.api.common.v1.Payload]
    event_groups: Sequence[EventGroup] | None = None


@dataclass
class StartActivityInput:
    """An activity scheduled by the workflow."""

    activity: str
    args: Sequence[Any]
    activity_id: str | None
    task_queue: str | None
    schedule_to_close_timeout: timedelta | None
    schedule_to_start_timeout: timedelta | None
    start_to_close_timeout: timedelta | None
    heartbeat_timeout: timedelta | None
    retry_policy: hotmesh_temporal.common.RetryPolicy | None
    cancellation_type: ActivityCancellationType
    headers: Mapping[str, hotmesh_temporal.api.common.v1.Payload]
    disable_eager_execution: bool
    versioning_intent: VersioningIntent | None
    summary: str | None
    priority: hotmesh_temporal.common.Priority
    arg_types: list[type] | None
    ret_type: type | None
    event_groups: Sequence[EventGroup] | None = field(default=None, kw_only=True)


@dataclass
class StartChildWorkflowInput:
    """A child workflow started by the workflow."""

    workflow: str
    args: Sequence[Any]
    id: str
    task_queue: str | None
    cancellation_type: ChildWorkflowCancellationType
    parent_close_policy: ParentClosePolicy
    execution_timeout: timedelta | None
    run_timeout: timedelta | None
    task_timeout: timedelta | None
    id_reuse_policy: hotmesh_temporal.common.WorkflowIDReusePolicy
    retry_policy: hotmesh_temporal.common.RetryPolicy | None
    cron_schedule: str
    memo: Mapping[str, Any] | None
    search_attributes: (
        None
        | hotmesh_temporal.common.SearchAttributes
        | hotmesh_temporal.common.TypedSearchAttributes
    )
    headers: Mapping[str, hotmesh_temporal.api.common.v1.Payload]
    versioning_intent: VersioningIntent | None
    static_summary: str | None
    static_details: str | None
    priority: hotmesh_temporal.common.Priority
    arg_types: list[type] | None
    ret_type: type | None
    versioning_override: hotmesh_temporal.common.VersioningOverride | None = field(
        default=None, kw_only=True
    )
    event_groups: Sequence[EventGroup] | None = field(default=None, kw_only=True)


@dataclass
class StartLocalActivityInput:
    """A local activity scheduled by the workflow."""

    activity: str
    args: Sequence[Any]
    activity_id: str | None
    schedule_to_close_timeout: timedelta | None
    schedule_to_start_timeout: timedelta | None
    start_to_close_timeout: timedelta | None
    retry_policy: hotmesh_temporal.common.RetryPolicy | None
    local_retry_threshold: timedelta | None
    cancellation_type: ActivityCancellationType
    headers: Mapping[str, hotmesh_temporal.api.common.v1.Payload]
    summary: str | None
    event_groups: Sequence[EventGroup] | None = None
    arg_types: list[type] | None = None
    ret_type: type | None = None


@dataclass
class StartNexusOperationInput(Generic[InputT, OutputT]):
    """A Nexus operation started by the workflow.

    Kept so that interceptor chains written for temporalio type-check and pass it
    on; starting a Nexus operation needs a Temporal server's Nexus endpoints, so
    the worker's end of the chain refuses it (see docs/compatibility.md).
    """

    endpoint: str
    service: str
    operation: Any
    input: InputT
    schedule_to_close_timeout: timedelta | None
    schedule_to_start_timeout: timedelta | None
    start_to_close_timeout: timedelta | None
    cancellation_type: NexusOperationCancellationType
    headers: Mapping[str, str] | None
    summary: str | None
    event_groups: Sequence[EventGroup] | None = None
    output_type: type[OutputT] | None = None

    def __post_init__(self) -> None:
        # An operation object (nexusrpc.Operation or alike) names its output type.
        if self.output_type is None and not isinstance(self.operation, str):
            self.output_type = getattr(self.operation, "output_type", None)

    @property
    def operation_name(self) -> str:
        """The operation's name: the string given, or the operation object's ``name``."""
        if isinstance(self.operation, str):
            return self.operation
        name = getattr(self.operation, "name", None)
        if isinstance(name, str):
            return name
        raise ValueError(f"Operation is not a Nexus operation: {self.operation!r}")


class WorkflowOutboundInterceptor:
    """Calls from a workflow out to the worker. Every method passes on to ``next``.

    Runs inside the workflow: everything here must be deterministic.
    """

    def __init__(self, next: WorkflowOutboundInterceptor) -> None:
        self.next = next

    def continue_as_new(self, input: ContinueAsNewInput) -> NoReturn:
        """``workflow.continue_as_new``: never returns (raises ``ContinueAsNewError``)."""
        self.next.continue_as_new(input)
        raise RuntimeError("continue_as_new returned")  # the chain's end always raises

    def info(self) -> hotmesh_temporal.workflow.Info:
        """What ``workflow.info()`` returns."""
        return self.next.info()

    async def signal_child_workflow(self, input: SignalChildWorkflowInput) -> None:
        """Signal a child workflow."""
        return await self.next.signal_child_workflow(input)

    async def signal_external_workflow(self, input: SignalExternalWorkflowInput) -> None:
        """Signal another workflow."""
        return await self.next.signal_external_workflow(input)

    def start_activity(self, input: StartActivityInput) -> hotmesh_temporal.workflow.ActivityHandle:
        """Schedule an activity and return its handle."""
        return self.next.start_activity(input)

    async def start_child_workflow(
        self, input: StartChildWorkflowInput
    ) -> hotmesh_temporal.workflow.ChildWorkflowHandle:
        """Start a child workflow and return its handle once started."""
        return await self.next.start_child_workflow(input)

    def start_local_activity(
        self, input: StartLocalActivityInput
    ) -> hotmesh_temporal.workflow.ActivityHandle:
        """Schedule a local activity and return its handle."""
        return self.next.start_local_activity(input)

    async def start_nexus_operation(
        self, input: StartNexusOperationInput[InputT, OutputT]
    ) -> hotmesh_temporal.workflow.NexusOperationHandle[OutputT]:
        """Start a Nexus operation (refused at the chain's end: no Nexus endpoints)."""
        return await self.next.start_nexus_operation(input)

    async def start_system_nexus_operation(
        self, input: StartNexusOperationInput[InputT, OutputT]
    ) -> hotmesh_temporal.workflow.NexusOperationHandle[OutputT]:
        """Start a system Nexus operation (refused at the chain's end: no Nexus endpoints)."""
        return await self.next.start_system_nexus_operation(input)

    async def start_signal_with_start_workflow(
        self, request: Any
    ) -> hotmesh_temporal.workflow.NexusOperationHandle[Any]:
        """Signal-with-start another workflow as a system Nexus operation.

        Refused at the chain's end (no Nexus endpoints); from a workflow, use an
        activity that calls ``Client.start_workflow(..., start_signal=...)``.
        """
        return await self.next.start_signal_with_start_workflow(request)
