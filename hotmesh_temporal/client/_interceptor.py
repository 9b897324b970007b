"""Client interceptors: ``Interceptor``, ``OutboundInterceptor`` and one ``*Input``
dataclass per client call, named and shaped as ``temporalio.client``'s.

Every public client call builds its Input and hands it to the outermost
``OutboundInterceptor``; each interceptor may read or change the Input (add headers,
rewrite arguments) and calls ``self.next``; the innermost link (``_ClientImpl`` in
``client.py``) does the work against the database. ``Client.__init__`` builds the chain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import hotmesh_temporal.common
from hotmesh_temporal.api.common.v1 import Payload

if TYPE_CHECKING:
    from hotmesh_temporal.converter import DataConverter

RpcMetadata = Mapping[str, str | bytes]


# ------------------------------------------------------------------ workflows


@dataclass
class StartWorkflowInput:
    """What ``Client.start_workflow`` asks for."""

    workflow: str
    args: Sequence[Any]
    id: str
    task_queue: str
    execution_timeout: timedelta | None
    run_timeout: timedelta | None
    task_timeout: timedelta | None
    id_reuse_policy: hotmesh_temporal.common.WorkflowIDReusePolicy
    id_conflict_policy: hotmesh_temporal.common.WorkflowIDConflictPolicy
    retry_policy: hotmesh_temporal.common.RetryPolicy | None
    cron_schedule: str
    memo: Mapping[str, Any] | None
    search_attributes: Any
    start_delay: timedelta | None
    headers: Mapping[str, Payload]
    start_signal: str | None
    start_signal_args: Sequence[Any]
    static_summary: str | None
    static_details: str | None
    ret_type: type | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None
    request_eager_start: bool
    priority: hotmesh_temporal.common.Priority
    versioning_override: hotmesh_temporal.common.VersioningOverride | None = None
    time_skipping_config: Any = None


@dataclass
class CancelWorkflowInput:
    """What ``WorkflowHandle.cancel`` asks for."""

    id: str
    run_id: str | None
    first_execution_run_id: str | None
    reason: str
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class DescribeWorkflowInput:
    """What ``WorkflowHandle.describe`` asks for."""

    id: str
    run_id: str | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class FetchWorkflowHistoryEventsInput:
    """What ``WorkflowHandle.fetch_history_events`` asks for."""

    id: str
    run_id: str | None
    page_size: int | None
    next_page_token: bytes | None
    wait_new_event: bool
    event_filter_type: Any
    skip_archival: bool
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class ListWorkflowsInput:
    """What ``Client.list_workflows`` asks for."""

    query: str | None
    page_size: int
    next_page_token: bytes | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None
    limit: int | None


@dataclass
class CountWorkflowsInput:
    """What ``Client.count_workflows`` asks for."""

    query: str | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class QueryWorkflowInput:
    """What ``WorkflowHandle.query`` asks for."""

    id: str
    run_id: str | None
    query: str
    args: Sequence[Any]
    reject_condition: hotmesh_temporal.common.QueryRejectCondition | None
    headers: Mapping[str, Payload]
    ret_type: type | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class SignalWorkflowInput:
    """What ``WorkflowHandle.signal`` asks for."""

    id: str
    run_id: str | None
    signal: str
    args: Sequence[Any]
    headers: Mapping[str, Payload]
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class TerminateWorkflowInput:
    """What ``WorkflowHandle.terminate`` asks for."""

    id: str
    run_id: str | None
    first_execution_run_id: str | None
    args: Sequence[Any]
    reason: str | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


# ---------------------------------------------------- standalone activities


@dataclass
class StartActivityInput:
    """What ``Client.start_activity`` asks for."""

    activity_type: str
    args: Sequence[Any]
    id: str
    task_queue: str
    result_type: type | None
    schedule_to_close_timeout: timedelta | None
    start_to_close_timeout: timedelta | None
    schedule_to_start_timeout: timedelta | None
    heartbeat_timeout: timedelta | None
    id_reuse_policy: hotmesh_temporal.common.ActivityIDReusePolicy
    id_conflict_policy: hotmesh_temporal.common.ActivityIDConflictPolicy
    retry_policy: hotmesh_temporal.common.RetryPolicy | None
    priority: hotmesh_temporal.common.Priority
    search_attributes: hotmesh_temporal.common.TypedSearchAttributes | None
    summary: str | None
    start_delay: timedelta | None
    headers: Mapping[str, Payload]
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class CancelActivityInput:
    """What ``ActivityHandle.cancel`` asks for."""

    activity_id: str
    activity_run_id: str | None
    reason: str | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class TerminateActivityInput:
    """What ``ActivityHandle.terminate`` asks for."""

    activity_id: str
    activity_run_id: str | None
    reason: str | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class PauseActivityInput:
    """What ``ActivityHandle.pause`` asks for (experimental)."""

    activity_id: str
    activity_run_id: str | None
    reason: str | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class UnpauseActivityInput:
    """What ``ActivityHandle.unpause`` asks for (experimental)."""

    activity_id: str
    activity_run_id: str | None
    reason: str | None
    jitter: timedelta | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class UpdateActivityOptionsInput:
    """What ``ActivityHandle.update_options`` asks for (experimental)."""

    activity_id: str
    activity_run_id: str | None
    updates: Sequence[Any]
    restore_original: bool
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class DescribeActivityInput:
    """What ``ActivityHandle.describe`` asks for."""

    activity_id: str
    activity_run_id: str | None
    include_input: bool
    include_outcome: bool
    include_heartbeat_details: bool
    include_last_failure: bool
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class ListActivitiesInput:
    """What ``Client.list_activities`` asks for."""

    query: str | None
    page_size: int
    next_page_token: bytes | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None
    limit: int | None


@dataclass
class CountActivitiesInput:
    """What ``Client.count_activities`` asks for."""

    query: str | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


# -------------------------------------------------------------------- updates


@dataclass
class StartWorkflowUpdateInput:
    """What ``WorkflowHandle.start_update`` / ``execute_update`` ask for."""

    id: str
    run_id: str | None
    first_execution_run_id: str | None
    update_id: str | None
    update: str
    args: Sequence[Any]
    wait_for_stage: Any
    headers: Mapping[str, Payload]
    ret_type: type | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class UpdateWithStartUpdateWorkflowInput:
    """The update half of an update-with-start call."""

    update_id: str | None
    update: str
    args: Sequence[Any]
    wait_for_stage: Any
    headers: Mapping[str, Payload]
    ret_type: type | None


@dataclass
class UpdateWithStartStartWorkflowInput:
    """The start half of an update-with-start call (a StartWorkflowInput without
    the signal-with-start, eager start and RPC fields)."""

    workflow: str
    args: Sequence[Any]
    id: str
    task_queue: str
    execution_timeout: timedelta | None
    run_timeout: timedelta | None
    task_timeout: timedelta | None
    id_reuse_policy: hotmesh_temporal.common.WorkflowIDReusePolicy
    id_conflict_policy: hotmesh_temporal.common.WorkflowIDConflictPolicy
    retry_policy: hotmesh_temporal.common.RetryPolicy | None
    cron_schedule: str
    memo: Mapping[str, Any] | None
    search_attributes: Any
    start_delay: timedelta | None
    headers: Mapping[str, Payload]
    static_summary: str | None
    static_details: str | None
    ret_type: type | None
    priority: hotmesh_temporal.common.Priority
    versioning_override: hotmesh_temporal.common.VersioningOverride | None = None
    time_skipping_config: Any = None


@dataclass
class StartWorkflowUpdateWithStartInput:
    """What ``Client.start_update_with_start_workflow`` /
    ``execute_update_with_start_workflow`` ask for. ``rpc_metadata`` and
    ``rpc_timeout`` here apply to the whole call."""

    start_workflow_input: UpdateWithStartStartWorkflowInput
    update_workflow_input: UpdateWithStartUpdateWorkflowInput
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None
    _on_start: Callable[[Any], None]
    _on_start_error: Callable[[BaseException], None]


# ------------------------------------------------------------ async activities


@dataclass
class HeartbeatAsyncActivityInput:
    """What ``AsyncActivityHandle.heartbeat`` asks for."""

    id_or_token: Any
    details: Sequence[Any]
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None
    data_converter_override: DataConverter | None = None


@dataclass
class CompleteAsyncActivityInput:
    """What ``AsyncActivityHandle.complete`` asks for."""

    id_or_token: Any
    result: Any | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None
    data_converter_override: DataConverter | None = None


@dataclass
class FailAsyncActivityInput:
    """What ``AsyncActivityHandle.fail`` asks for."""

    id_or_token: Any
    error: Exception
    last_heartbeat_details: Sequence[Any]
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None
    data_converter_override: DataConverter | None = None


@dataclass
class ReportCancellationAsyncActivityInput:
    """What ``AsyncActivityHandle.report_cancellation`` asks for."""

    id_or_token: Any
    details: Sequence[Any]
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None
    data_converter_override: DataConverter | None = None


# ------------------------------------------------------------------ schedules


@dataclass
class CreateScheduleInput:
    """What ``Client.create_schedule`` asks for."""

    id: str
    schedule: Any
    trigger_immediately: bool
    backfill: Sequence[Any]
    memo: Mapping[str, Any] | None
    search_attributes: Any
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class ListSchedulesInput:
    """What ``Client.list_schedules`` asks for."""

    page_size: int
    next_page_token: bytes | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None
    query: str | None = None


@dataclass
class BackfillScheduleInput:
    """What ``ScheduleHandle.backfill`` asks for."""

    id: str
    backfills: Sequence[Any]
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class DeleteScheduleInput:
    """What ``ScheduleHandle.delete`` asks for."""

    id: str
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class DescribeScheduleInput:
    """What ``ScheduleHandle.describe`` asks for."""

    id: str
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class PauseScheduleInput:
    """What ``ScheduleHandle.pause`` asks for."""

    id: str
    note: str | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class TriggerScheduleInput:
    """What ``ScheduleHandle.trigger`` asks for."""

    id: str
    overlap: Any
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class UnpauseScheduleInput:
    """What ``ScheduleHandle.unpause`` asks for."""

    id: str
    note: str | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class UpdateScheduleInput:
    """What ``ScheduleHandle.update`` asks for: ``updater`` gets the current
    schedule and returns the new one (or None to leave it), sync or async."""

    id: str
    updater: Callable[[Any], Any | Awaitable[Any]]
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


# ---------------------------------------------------------- worker versioning


@dataclass
class UpdateWorkerBuildIdCompatibilityInput:
    """What ``Client.update_worker_build_id_compatibility`` asks for."""

    task_queue: str
    operation: Any
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class GetWorkerBuildIdCompatibilityInput:
    """What ``Client.get_worker_build_id_compatibility`` asks for."""

    task_queue: str
    max_sets: int | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class GetWorkerTaskReachabilityInput:
    """What ``Client.get_worker_task_reachability`` asks for."""

    build_ids: Sequence[str]
    task_queues: Sequence[str]
    reachability: Any
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


# ------------------------------------------------------------ nexus operations


@dataclass
class StartNexusOperationInput:
    """What ``NexusClient.start_operation`` asks for (experimental)."""

    operation: str
    arg: Any
    id: str
    endpoint: str
    service: str
    result_type: type | None
    schedule_to_close_timeout: timedelta | None
    schedule_to_start_timeout: timedelta | None
    start_to_close_timeout: timedelta | None
    id_reuse_policy: hotmesh_temporal.common.NexusOperationIDReusePolicy
    id_conflict_policy: hotmesh_temporal.common.NexusOperationIDConflictPolicy
    search_attributes: hotmesh_temporal.common.TypedSearchAttributes | None
    summary: str | None
    headers: Mapping[str, str]
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class DescribeNexusOperationInput:
    """What ``NexusOperationHandle.describe`` asks for (experimental)."""

    operation_id: str
    run_id: str | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class GetNexusOperationResultInput:
    """What ``NexusOperationHandle.result`` asks for (experimental)."""

    operation_id: str
    run_id: str | None
    endpoint: str
    service: str
    operation: str
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None
    result_type: type | None


@dataclass
class CancelNexusOperationInput:
    """What ``NexusOperationHandle.cancel`` asks for (experimental)."""

    operation_id: str
    run_id: str | None
    reason: str | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class TerminateNexusOperationInput:
    """What ``NexusOperationHandle.terminate`` asks for (experimental)."""

    operation_id: str
    run_id: str | None
    reason: str | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


@dataclass
class ListNexusOperationsInput:
    """What ``Client.list_nexus_operations`` asks for (experimental)."""

    query: str | None
    page_size: int
    next_page_token: bytes | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None
    limit: int | None


@dataclass
class CountNexusOperationsInput:
    """What ``Client.count_nexus_operations`` asks for (experimental)."""

    query: str | None
    rpc_metadata: RpcMetadata
    rpc_timeout: timedelta | None


# --------------------------------------------------------------- interceptors


@dataclass
class Interceptor:
    """Base of client interceptors: subclass it and override ``intercept_client``."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        """Wrap ``next`` (the rest of the chain) and return the link to call first.
        The default adds nothing and returns ``next``."""
        return next


class OutboundInterceptor:
    """One link of the client call chain. Every method passes its Input on to
    ``self.next`` unchanged; override the calls you want to observe or alter."""

    def __init__(self, next: OutboundInterceptor) -> None:
        self.next = next

    # workflows
    async def start_workflow(self, input: StartWorkflowInput) -> Any:
        return await self.next.start_workflow(input)

    async def cancel_workflow(self, input: CancelWorkflowInput) -> None:
        await self.next.cancel_workflow(input)

    async def describe_workflow(self, input: DescribeWorkflowInput) -> Any:
        return await self.next.describe_workflow(input)

    def fetch_workflow_history_events(self, input: FetchWorkflowHistoryEventsInput) -> Any:
        return self.next.fetch_workflow_history_events(input)

    def list_workflows(self, input: ListWorkflowsInput) -> Any:
        return self.next.list_workflows(input)

    async def count_workflows(self, input: CountWorkflowsInput) -> Any:
        return await self.next.count_workflows(input)

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        return await self.next.query_workflow(input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        await self.next.signal_workflow(input)

    async def terminate_workflow(self, input: TerminateWorkflowInput) -> None:
        await self.next.terminate_workflow(input)

    # standalone activities
    async def start_activity(self, input: StartActivityInput) -> Any:
        return await self.next.start_activity(input)

    async def cancel_activity(self, input: CancelActivityInput) -> None:
        await self.next.cancel_activity(input)

    async def terminate_activity(self, input: TerminateActivityInput) -> None:
        await self.next.terminate_activity(input)

    async def pause_activity(self, input: PauseActivityInput) -> None:
        await self.next.pause_activity(input)

    async def unpause_activity(self, input: UnpauseActivityInput) -> None:
        await self.next.unpause_activity(input)

    async def update_activity_options(self, input: UpdateActivityOptionsInput) -> Any:
        return await self.next.update_activity_options(input)

    async def describe_activity(self, input: DescribeActivityInput) -> Any:
        return await self.next.describe_activity(input)

    def list_activities(self, input: ListActivitiesInput) -> Any:
        return self.next.list_activities(input)

    async def count_activities(self, input: CountActivitiesInput) -> Any:
        return await self.next.count_activities(input)

    # updates
    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> Any:
        return await self.next.start_workflow_update(input)

    async def start_update_with_start_workflow(
        self, input: StartWorkflowUpdateWithStartInput
    ) -> Any:
        return await self.next.start_update_with_start_workflow(input)

    # async activities
    async def heartbeat_async_activity(self, input: HeartbeatAsyncActivityInput) -> None:
        await self.next.heartbeat_async_activity(input)

    async def complete_async_activity(self, input: CompleteAsyncActivityInput) -> None:
        await self.next.complete_async_activity(input)

    async def fail_async_activity(self, input: FailAsyncActivityInput) -> None:
        await self.next.fail_async_activity(input)

    async def report_cancellation_async_activity(
        self, input: ReportCancellationAsyncActivityInput
    ) -> None:
        await self.next.report_cancellation_async_activity(input)

    # schedules
    async def create_schedule(self, input: CreateScheduleInput) -> Any:
        return await self.next.create_schedule(input)

    def list_schedules(self, input: ListSchedulesInput) -> Any:
        return self.next.list_schedules(input)

    async def backfill_schedule(self, input: BackfillScheduleInput) -> None:
        await self.next.backfill_schedule(input)

    async def delete_schedule(self, input: DeleteScheduleInput) -> None:
        await self.next.delete_schedule(input)

    async def describe_schedule(self, input: DescribeScheduleInput) -> Any:
        return await self.next.describe_schedule(input)

    async def pause_schedule(self, input: PauseScheduleInput) -> None:
        await self.next.pause_schedule(input)

    async def trigger_schedule(self, input: TriggerScheduleInput) -> None:
        await self.next.trigger_schedule(input)

    async def unpause_schedule(self, input: UnpauseScheduleInput) -> None:
        await self.next.unpause_schedule(input)

    async def update_schedule(self, input: UpdateScheduleInput) -> None:
        await self.next.update_schedule(input)

    # worker versioning
    async def update_worker_build_id_compatibility(
        self, input: UpdateWorkerBuildIdCompatibilityInput
    ) -> None:
        await self.next.update_worker_build_id_compatibility(input)

    async def get_worker_build_id_compatibility(
        self, input: GetWorkerBuildIdCompatibilityInput
    ) -> Any:
        return await self.next.get_worker_build_id_compatibility(input)

    async def get_worker_task_reachability(self, input: GetWorkerTaskReachabilityInput) -> Any:
        return await self.next.get_worker_task_reachability(input)

    # nexus operations
    async def start_nexus_operation(self, input: StartNexusOperationInput) -> Any:
        return await self.next.start_nexus_operation(input)

    async def describe_nexus_operation(self, input: DescribeNexusOperationInput) -> Any:
        return await self.next.describe_nexus_operation(input)

    async def get_nexus_operation_result(self, input: GetNexusOperationResultInput) -> Any:
        return await self.next.get_nexus_operation_result(input)

    async def cancel_nexus_operation(self, input: CancelNexusOperationInput) -> None:
        await self.next.cancel_nexus_operation(input)

    async def terminate_nexus_operation(self, input: TerminateNexusOperationInput) -> None:
        await self.next.terminate_nexus_operation(input)

    def list_nexus_operations(self, input: ListNexusOperationsInput) -> Any:
        return self.next.list_nexus_operations(input)

    async def count_nexus_operations(self, input: CountNexusOperationsInput) -> Any:
        return await self.next.count_nexus_operations(input)
