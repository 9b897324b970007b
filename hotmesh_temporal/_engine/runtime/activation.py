"""The activation protocol between the engine and a workflow instance.

The engine turns history events into an :class:`Activation` (a list of jobs), hands it
to the workflow instance, and gets back the list of commands the workflow code issued
while it ran until every coroutine was blocked. Commands are later matched against the
command events recorded in history (replay) or turned into new events (first run).

Payloads here are ``hotmesh_temporal.api.common.v1.Payload`` objects and failures are
``hotmesh_temporal.api.failure.v1.Failure`` objects, already passed through the payload
codec (the instance only applies the payload converter, never a codec).

Sequence numbers (``seq``) are allocated by the instance, one counter per kind
(activities and local activities share one, as in temporalio; timer, child workflow,
signal-external, cancel-external), starting at 1, in the order the workflow code asks
for them, so they are the same on every replay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Union

Payload = Any  # hotmesh_temporal.api.common.v1.Payload
Failure = Any  # hotmesh_temporal.api.failure.v1.Failure


# --------------------------------------------------------------------------- jobs


@dataclass
class InitializeWorkflow:
    """First job of a run: construct the workflow object and start its run method."""

    workflow_type: str
    arguments: Sequence[Payload]
    headers: Mapping[str, Payload] = field(default_factory=dict)
    randomness_seed: int = 0
    last_completion_result: Sequence[Payload] | None = None
    continued_failure: Failure | None = None
    memo: Mapping[str, Payload] = field(default_factory=dict)
    search_attributes: Mapping[str, Payload] = field(default_factory=dict)


@dataclass
class FireTimer:
    seq: int


@dataclass
class ResolveActivity:
    """An activity (or local activity) reached a final state.

    Exactly one of ``completed`` / ``failed`` / ``cancelled`` describes the outcome.
    ``completed`` holds the result payload (None for a ``None`` result with no payload).
    ``failed`` and ``cancelled`` hold a Failure whose outermost info is
    ``activity_failure_info`` wrapping the cause (application, timeout or cancelled
    failure), exactly as Temporal delivers it to workflow code.
    """

    seq: int
    completed: Payload | None = None
    failed: Failure | None = None
    cancelled: Failure | None = None
    is_local: bool = False
    has_completed: bool = False  # True when ``completed`` is meaningful (result may be empty)
    backoff: LocalActivityBackoff | None = None  # local: retry after a workflow timer


@dataclass
class LocalActivityBackoff:
    """Temporal's DoBackoff: a local activity's next attempt waits longer than its
    ``local_retry_threshold``, so the workflow sleeps on a timer and schedules it again."""

    attempt: int
    backoff_duration: timedelta
    original_schedule_time: datetime


@dataclass
class SignalWorkflow:
    signal_name: str
    input: Sequence[Payload] = field(default_factory=list)
    identity: str = ""
    headers: Mapping[str, Payload] = field(default_factory=dict)


@dataclass
class CancelWorkflow:
    reason: str = ""


@dataclass
class NotifyHasPatch:
    patch_id: str


@dataclass
class DoUpdate:
    id: str
    protocol_instance_id: str
    name: str
    input: Sequence[Payload] = field(default_factory=list)
    headers: Mapping[str, Payload] = field(default_factory=dict)
    run_validator: bool = True
    identity: str = ""


@dataclass
class ResolveChildWorkflowStart:
    seq: int
    run_id: str | None = None  # set when started
    failed_cause: str | None = None  # "WORKFLOW_ALREADY_EXISTS" when the id is taken
    cancelled: Failure | None = None


@dataclass
class ResolveChildWorkflow:
    seq: int
    completed: Payload | None = None
    has_completed: bool = False
    failed: Failure | None = None  # child_workflow_execution_failure_info wrapping cause
    cancelled: Failure | None = None


@dataclass
class ResolveSignalExternalWorkflow:
    seq: int
    failure: Failure | None = None


@dataclass
class ResolveRequestCancelExternalWorkflow:
    seq: int
    failure: Failure | None = None


Job = Union[
    InitializeWorkflow,
    FireTimer,
    ResolveActivity,
    SignalWorkflow,
    CancelWorkflow,
    NotifyHasPatch,
    DoUpdate,
    ResolveChildWorkflowStart,
    ResolveChildWorkflow,
    ResolveSignalExternalWorkflow,
    ResolveRequestCancelExternalWorkflow,
]


@dataclass
class Activation:
    run_id: str
    timestamp: datetime  # workflow time for this activation (workflow.now())
    is_replaying: bool
    history_length: int
    jobs: list[Job]
    continue_as_new_suggested: bool = False
    history_size: int = 0  # bytes, as of the start of this task


# ----------------------------------------------------------------------- commands


@dataclass
class ScheduleActivity:
    seq: int
    activity_id: str
    activity_type: str
    task_queue: str
    arguments: Sequence[Payload]
    headers: Mapping[str, Payload] = field(default_factory=dict)
    schedule_to_close_timeout: timedelta | None = None
    schedule_to_start_timeout: timedelta | None = None
    start_to_close_timeout: timedelta | None = None
    heartbeat_timeout: timedelta | None = None
    retry_policy: Any = None  # hotmesh_temporal.common.RetryPolicy or None (server default)
    cancellation_type: int = 0  # ActivityCancellationType value
    is_local: bool = False
    local_retry_threshold: timedelta | None = None  # local activities only
    attempt: int = 1  # local activities rescheduled after a timer backoff start later
    original_schedule_time: datetime | None = None  # ... and keep their first schedule
    # The summary given when scheduling: {"summary": Payload}, recorded on the event.
    user_metadata: Mapping[str, Payload] | None = None


@dataclass
class LocalActivityMarker:
    """A local activity that ran to an outcome during this workflow task: recorded as
    a ``core_local_activity`` MarkerRecorded event where its ScheduleActivity was."""

    seq: int
    activity_id: str
    activity_type: str
    attempt: int
    complete_time: datetime | None  # None for a cancellation recorded before an outcome
    original_schedule_time: datetime
    result: Payload | None = None
    failure: Failure | None = None  # the activity's own failure (not wrapped)
    backoff: timedelta | None = None  # set when the retry continues after a timer
    user_metadata: Mapping[str, Payload] | None = None  # its ScheduleActivity's


@dataclass
class RequestCancelActivity:
    seq: int
    is_local: bool = False


@dataclass
class StartTimer:
    seq: int
    duration: timedelta
    user_metadata: Mapping[str, Payload] | None = None  # {"summary": Payload}


@dataclass
class CancelTimer:
    seq: int


@dataclass
class CompleteWorkflow:
    result: Payload | None


@dataclass
class FailWorkflow:
    failure: Failure


@dataclass
class CancelWorkflowExecution:
    pass


@dataclass
class ContinueAsNew:
    workflow_type: str
    task_queue: str
    arguments: Sequence[Payload]
    run_timeout: timedelta | None = None
    task_timeout: timedelta | None = None
    memo: Mapping[str, Payload] | None = None
    headers: Mapping[str, Payload] = field(default_factory=dict)
    search_attributes: Mapping[str, Payload] | None = None
    retry_policy: Any = None
    backoff_start_interval: timedelta | None = None


@dataclass
class SetPatchMarker:
    patch_id: str
    deprecated: bool = False


@dataclass
class StartChildWorkflow:
    seq: int
    workflow_id: str
    workflow_type: str
    task_queue: str
    arguments: Sequence[Payload]
    namespace: str = ""
    execution_timeout: timedelta | None = None
    run_timeout: timedelta | None = None
    task_timeout: timedelta | None = None
    parent_close_policy: int = 1  # ParentClosePolicy value (TERMINATE)
    id_reuse_policy: int = 1
    retry_policy: Any = None
    cron_schedule: str = ""
    headers: Mapping[str, Payload] = field(default_factory=dict)
    memo: Mapping[str, Payload] | None = None
    search_attributes: Mapping[str, Payload] | None = None
    cancellation_type: int = 1  # ChildWorkflowCancellationType value
    # Static summary and details: {"summary": Payload, "details": Payload}, either absent.
    user_metadata: Mapping[str, Payload] | None = None


@dataclass
class CancelChildWorkflow:
    seq: int
    # The message given to the handle's cancel(msg), as temporalio forwards it.
    reason: str = ""


@dataclass
class SignalExternalWorkflow:
    seq: int
    workflow_id: str
    run_id: str
    signal_name: str
    arguments: Sequence[Payload]
    namespace: str = ""
    headers: Mapping[str, Payload] = field(default_factory=dict)
    child_workflow_only: bool = False


@dataclass
class RequestCancelExternalWorkflow:
    seq: int
    workflow_id: str
    run_id: str
    namespace: str = ""
    reason: str = ""


@dataclass
class UpsertSearchAttributes:
    search_attributes: Mapping[str, Payload]


@dataclass
class ModifyWorkflowProperties:
    upserted_memo: Mapping[str, Payload]


@dataclass
class UpdateResponse:
    """Accept, reject or complete an update (protocol messages in Temporal)."""

    protocol_instance_id: str
    accepted: bool = False
    rejected: Failure | None = None
    completed: Payload | None = None
    has_completed: bool = False
    failed: Failure | None = None


Command = Union[
    ScheduleActivity,
    LocalActivityMarker,
    RequestCancelActivity,
    StartTimer,
    CancelTimer,
    CompleteWorkflow,
    FailWorkflow,
    CancelWorkflowExecution,
    ContinueAsNew,
    SetPatchMarker,
    StartChildWorkflow,
    CancelChildWorkflow,
    SignalExternalWorkflow,
    RequestCancelExternalWorkflow,
    UpsertSearchAttributes,
    ModifyWorkflowProperties,
    UpdateResponse,
]


@dataclass
class ActivationCompletion:
    """What the instance returns for one activation.

    ``failure`` is set when workflow code raised an exception that must fail the
    workflow *task* (not the workflow): the engine then discards ``commands`` and
    retries the task later. ``NondeterminismError`` from the instance is reported the
    same way.
    """

    commands: list[Command]
    failure: BaseException | None = None
