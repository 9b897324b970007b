"""Standalone activities on the client: activities started by ``Client.start_activity``
rather than by a workflow, as ``temporalio.client`` offers them. ``client.py``
re-exports the public names; the SQL side is ``_engine/standalone_activities.py``.
"""

from __future__ import annotations

import contextlib
import uuid
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import hotmesh_temporal.common
import hotmesh_temporal.exceptions
from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal._engine.runtime import visibility
from hotmesh_temporal._engine.runtime.ids import new_run_id
from hotmesh_temporal._engine.runtime.list_filter import ACTIVITIES
from hotmesh_temporal._engine.runtime.visibility import decode_both
from hotmesh_temporal._engine.service import standalone_activities as sa
from hotmesh_temporal._engine.service.engine import ActivityRef, Engine
from hotmesh_temporal._engine.service.errors import call
from hotmesh_temporal.client._interceptor import (
    CancelActivityInput,
    CountActivitiesInput,
    DescribeActivityInput,
    ListActivitiesInput,
    PauseActivityInput,
    StartActivityInput,
    TerminateActivityInput,
    UnpauseActivityInput,
    UpdateActivityOptionsInput,
)
from hotmesh_temporal.client._paging import PagedAsyncIterator
from hotmesh_temporal.common import ActivityIDConflictPolicy, ActivityIDReusePolicy
from hotmesh_temporal.converter import ActivitySerializationContext, StorageDriverActivityInfo
from hotmesh_temporal.service import RPCError, RPCStatusCode, _refuse_bad_names
from hotmesh_temporal.workflow._api import _activity_type_and_result_type

if TYPE_CHECKING:
    from hotmesh_temporal.client._client import Client

ReturnType = TypeVar("ReturnType", covariant=True)
LocalReturnType = TypeVar("LocalReturnType")
# An activity by name, or its function, method or callable class: type checkers infer
# the handle's result type from an annotated callable.
_ActivityCallable = str | Callable[..., Awaitable[LocalReturnType]] | Callable[..., LocalReturnType]
ActivityOptionValueType = TypeVar("ActivityOptionValueType")
_ARG_UNSET: Any = hotmesh_temporal.common._arg_unset


class ActivityFailureError(hotmesh_temporal.exceptions.TemporalError):
    """A standalone activity ended without a result; ``cause`` says why (the
    application error, a timeout, cancellation or termination)."""

    def __init__(self, *, cause: BaseException) -> None:
        super().__init__("Activity execution failed")
        self.__cause__ = cause

    @property
    def cause(self) -> BaseException:
        assert self.__cause__
        return self.__cause__


class ActivityExecutionStatus(IntEnum):
    """Status of a standalone activity (Temporal's values)."""

    UNSPECIFIED = 0
    RUNNING = 1
    COMPLETED = 2
    FAILED = 3
    CANCELED = 4
    TERMINATED = 5
    TIMED_OUT = 6
    PAUSED = 7


class PendingActivityState(IntEnum):
    """What a running activity is doing (Temporal's values)."""

    UNSPECIFIED = 0
    SCHEDULED = 1
    STARTED = 2
    CANCEL_REQUESTED = 3
    PAUSED = 4
    PAUSE_REQUESTED = 5


# ------------------------------------------------------------------ options


@dataclass(frozen=True)
class ActivityOptionsKey(Generic[ActivityOptionValueType]):
    """One option ``ActivityHandle.update_options`` can change (experimental); use
    the keys on :class:`ActivityOptionsKeys`."""

    name: str

    def value_set(
        self, value: ActivityOptionValueType
    ) -> ActivityOptionsUpdate[ActivityOptionValueType]:
        return ActivityOptionsUpdate(self, value)

    def value_unset(self) -> ActivityOptionsUpdate[ActivityOptionValueType]:
        return ActivityOptionsUpdate(self, None)


@dataclass(frozen=True)
class ActivityOptionsUpdate(Generic[ActivityOptionValueType]):
    """A change of one option; a value of None clears it (experimental)."""

    key: ActivityOptionsKey[ActivityOptionValueType]
    value: ActivityOptionValueType | None


class ActivityOptionsKeys:
    """The options ``ActivityHandle.update_options`` can change (experimental)."""

    task_queue: ActivityOptionsKey[str] = ActivityOptionsKey("task_queue.name")
    schedule_to_close_timeout: ActivityOptionsKey[timedelta] = ActivityOptionsKey(
        "schedule_to_close_timeout"
    )
    schedule_to_start_timeout: ActivityOptionsKey[timedelta] = ActivityOptionsKey(
        "schedule_to_start_timeout"
    )
    start_to_close_timeout: ActivityOptionsKey[timedelta] = ActivityOptionsKey(
        "start_to_close_timeout"
    )
    heartbeat_timeout: ActivityOptionsKey[timedelta] = ActivityOptionsKey("heartbeat_timeout")
    start_delay: ActivityOptionsKey[timedelta] = ActivityOptionsKey("start_delay")
    retry_policy: ActivityOptionsKey[hotmesh_temporal.common.RetryPolicy] = ActivityOptionsKey(
        "retry_policy"
    )
    priority: ActivityOptionsKey[hotmesh_temporal.common.Priority] = ActivityOptionsKey("priority")


@dataclass(frozen=True)
class ActivityExecutionOptions:
    """An activity's options as they are now (experimental)."""

    task_queue: str | None
    schedule_to_close_timeout: timedelta | None
    schedule_to_start_timeout: timedelta | None
    start_to_close_timeout: timedelta | None
    heartbeat_timeout: timedelta | None
    start_delay: timedelta | None
    retry_policy: hotmesh_temporal.common.RetryPolicy | None
    priority: hotmesh_temporal.common.Priority | None

    @staticmethod
    def _from_json(options: Mapping[str, Any]) -> ActivityExecutionOptions:
        return ActivityExecutionOptions(
            task_queue=options.get("task_queue"),
            schedule_to_close_timeout=sa.seconds_to_timedelta(options.get("schedule_to_close")),
            schedule_to_start_timeout=sa.seconds_to_timedelta(options.get("schedule_to_start")),
            start_to_close_timeout=sa.seconds_to_timedelta(options.get("start_to_close")),
            heartbeat_timeout=sa.seconds_to_timedelta(options.get("heartbeat_timeout")),
            start_delay=sa.seconds_to_timedelta(options.get("start_delay")),
            retry_policy=sa.retry_policy_from_options(options)
            if "retry_policy" in options
            else None,
            priority=sa.priority_from_options(options) if "priority" in options else None,
        )


# ---------------------------------------------------------------- executions


@dataclass(frozen=True, eq=False, kw_only=True)
class ActivityExecution:
    """A standalone activity as list_activities shows it. ``raw_info`` is the
    database row as a dict (temporalio gives a protobuf message here)."""

    activity_id: str
    activity_run_id: str | None
    activity_type: str
    close_time: datetime | None
    execution_duration: timedelta | None
    execution_time: datetime | None
    namespace: str
    schedule_time: datetime
    status: ActivityExecutionStatus
    task_queue: str
    typed_search_attributes: hotmesh_temporal.common.TypedSearchAttributes
    raw_info: Any = field(repr=False)

    @staticmethod
    def _fields(row: Mapping[str, Any]) -> dict:

        start, close = _time(row["start_time"]), _time(row.get("close_time"))
        return dict(
            activity_id=row["activity_id"],
            activity_run_id=str(row["run_id"]),
            activity_type=row["activity_type"],
            close_time=close,
            execution_duration=None if close is None else close - start,
            execution_time=_time(row.get("execution_time")),
            namespace=row["namespace"],
            schedule_time=start,
            status=ActivityExecutionStatus(row["status"]),
            task_queue=row["task_queue"],
            typed_search_attributes=decode_both(row.get("search_attributes"))[1],
        )


@dataclass(frozen=True, eq=False, kw_only=True)
class ActivityExecutionDescription(ActivityExecution):
    """Everything ``ActivityHandle.describe`` tells about a standalone activity.
    Input, outcome, heartbeat details and last failure are only there when asked for
    (the ``include_*`` arguments of describe)."""

    attempt: int
    canceled_reason: str | None
    current_retry_interval: timedelta | None
    expiration_time: datetime | None
    heartbeat_timeout: timedelta | None
    last_attempt_complete_time: datetime | None
    last_deployment_version: hotmesh_temporal.common.WorkerDeploymentVersion | None
    last_heartbeat_time: datetime | None
    last_started_time: datetime | None
    last_worker_identity: str | None
    next_attempt_schedule_time: datetime | None
    priority: hotmesh_temporal.common.Priority
    retry_policy: hotmesh_temporal.common.RetryPolicy | None
    run_state: PendingActivityState | None
    schedule_to_close_timeout: timedelta | None
    schedule_to_start_timeout: timedelta | None
    start_to_close_timeout: timedelta | None
    start_delay: timedelta | None
    total_heartbeat_count: int
    raw_callbacks: Sequence[Any] = field(repr=False)
    raw_input: list[Any] | None = field(repr=False)
    raw_outcome: Mapping[str, Any] | None = field(repr=False)
    data_converter: Any = field(repr=False)

    def has_heartbeat_details(self) -> bool:
        return bool(self.raw_info.get("heartbeat_details"))

    async def heartbeat_details(self, type_hints: list[type] | None = None) -> list[Any] | None:
        if not self.has_heartbeat_details():
            return None
        return await self.data_converter.decode(
            h.parse_payloads(self.raw_info["heartbeat_details"]), type_hints
        )

    def has_last_failure(self) -> bool:
        return bool(self.raw_info.get("last_failure"))

    async def last_failure(self) -> BaseException | None:
        if not self.has_last_failure():
            return None
        return await self.data_converter.decode_failure(
            h.parse_failure(self.raw_info["last_failure"])
        )

    def has_input(self) -> bool:
        return self.raw_input is not None

    async def input(self, type_hints: list[type] | None = None) -> list[Any] | None:
        if self.raw_input is None:
            return None
        return await self.data_converter.decode(self.raw_input, type_hints)

    def has_result(self) -> bool:
        return self.raw_outcome is not None and "result" in self.raw_outcome

    async def result(self, type_hint: type | None = None) -> Any | None:
        if not self.has_result():
            return None
        return await _decode_result(self.data_converter, self.raw_outcome["result"], type_hint)  # type: ignore[index]

    def has_outcome_failure(self) -> bool:
        return self.raw_outcome is not None and "failure" in self.raw_outcome

    async def outcome_failure(self) -> BaseException | None:
        if not self.has_outcome_failure():
            return None
        return await self.data_converter.decode_failure(
            h.parse_failure(self.raw_outcome["failure"])
        )  # type: ignore[index]

    @classmethod
    def _from_json(
        cls, row: Mapping[str, Any], input: DescribeActivityInput, data_converter: Any
    ) -> ActivityExecutionDescription:
        task = row.get("task") or {}
        options = row["options"]
        closed = row.get("close_time") is not None
        retry_at = _next_attempt_time(task)
        raw_info = dict(row)
        raw_info["heartbeat_details"] = (
            task.get("heartbeat_details") or row.get("heartbeat_details")
            if input.include_heartbeat_details
            else None
        )
        raw_info["last_failure"] = (
            task.get("last_failure") or row.get("last_failure")
            if input.include_last_failure
            else None
        )
        schedule_to_close = sa.seconds_to_timedelta(options.get("schedule_to_close"))
        fields = cls._fields(row)
        return cls(
            **fields,
            raw_info=raw_info,
            attempt=task.get("attempt") or row["attempt"],
            canceled_reason=row.get("canceled_reason") or None,
            current_retry_interval=(
                retry_at - _time(row["last_attempt_complete_time"])
                if retry_at and row.get("last_attempt_complete_time")
                else None
            ),
            expiration_time=fields["schedule_time"] + schedule_to_close
            if schedule_to_close
            else None,
            heartbeat_timeout=sa.seconds_to_timedelta(options.get("heartbeat_timeout")),
            last_attempt_complete_time=_time(row.get("last_attempt_complete_time")),
            last_deployment_version=None,
            last_heartbeat_time=_time(task.get("last_heartbeat") or row.get("last_heartbeat_time")),
            last_started_time=_time(row.get("last_started_time")),
            last_worker_identity=row.get("last_worker_identity") or None,
            next_attempt_schedule_time=retry_at,
            priority=sa.priority_from_options(options),
            retry_policy=sa.retry_policy_from_options(options),
            run_state=None if closed else _run_state(row, task),
            schedule_to_close_timeout=schedule_to_close,
            schedule_to_start_timeout=sa.seconds_to_timedelta(options.get("schedule_to_start")),
            start_to_close_timeout=sa.seconds_to_timedelta(options.get("start_to_close")),
            start_delay=sa.seconds_to_timedelta(options.get("start_delay")),
            total_heartbeat_count=row.get("heartbeat_count") or 0,
            raw_callbacks=[],
            raw_input=h.parse_payloads(row.get("input")) if input.include_input else None,
            raw_outcome=_outcome(row) if input.include_outcome else None,
            data_converter=data_converter,
        )


def _time(value: Any) -> datetime | None:
    return None if value is None else h.parse_time(value)


def _next_attempt_time(task: Mapping[str, Any]) -> datetime | None:
    """When a retry waiting out its backoff becomes runnable."""
    if not task or task.get("leased_by") or task.get("attempt", 1) <= 1:
        return None
    if task.get("visible_at") in (None, "infinity"):
        return None
    return _time(task["visible_at"])


def _run_state(row: Mapping[str, Any], task: Mapping[str, Any]) -> PendingActivityState:
    started = bool(task.get("leased_by"))
    if row.get("paused"):
        return PendingActivityState.PAUSE_REQUESTED if started else PendingActivityState.PAUSED
    if row.get("cancel_requested"):
        return PendingActivityState.CANCEL_REQUESTED
    return PendingActivityState.STARTED if started else PendingActivityState.SCHEDULED


def _outcome(row: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if row.get("status") == ActivityExecutionStatus.COMPLETED:
        return {"result": row.get("result") or {}}
    if row.get("failure"):
        return {"failure": row["failure"]}
    return None


async def _decode_result(data_converter: Any, result: Any, type_hint: type | None) -> Any:
    values = await data_converter.decode(
        h.parse_payloads(result), [type_hint] if type_hint else None
    )
    if not values:
        return None
    if len(values) > 1:
        warnings.warn(f"Expected single activity result, got {len(values)}", stacklevel=2)
    return values[0]


@dataclass(frozen=True)
class ActivityExecutionCount:
    """The answer of count_activities."""

    count: int
    groups: Sequence[ActivityExecutionCountAggregationGroup]


@dataclass(frozen=True)
class ActivityExecutionCountAggregationGroup:
    """One group of a count_activities ``GROUP BY ExecutionStatus``."""

    count: int
    group_values: Sequence[Any]


class ActivityExecutionAsyncIterator(PagedAsyncIterator[ActivityExecution]):
    """Pages of list_activities; use it with ``async for``."""

    async def _fetch_page(
        self, page_size: int, token: bytes | None
    ) -> tuple[Sequence[ActivityExecution], bytes | None]:
        return await _list_page(self._client, self._input.query, page_size, token)


async def _list_page(
    client: Client, query: str | None, page_size: int, token: bytes | None
) -> tuple[list[ActivityExecution], bytes | None]:
    engine = await client._engine()
    found = await call(
        engine.list_standalone_activities(client.namespace, query, page_size, token, ACTIVITIES)
    )
    page = [ActivityExecution(**ActivityExecution._fields(r), raw_info=dict(r)) for r in found.rows]
    return page, found.next_token


async def _count(client: Client, query: str | None) -> ActivityExecutionCount:
    engine = await client._engine()
    counted = await call(engine.count_standalone_activities(client.namespace, query, ACTIVITIES))
    if not counted.grouped:
        return ActivityExecutionCount(count=counted.count, groups=[])
    groups = [
        ActivityExecutionCountAggregationGroup(
            count=n, group_values=[ACTIVITIES.status_names[status]]
        )
        for status, n in counted.by_status
    ]
    return ActivityExecutionCount(count=sum(g.count for g in groups), groups=groups)


# -------------------------------------------------------------------- handle


class ActivityHandle(Generic[ReturnType]):
    """A handle to a standalone activity (the latest run of its id unless a run id
    is given)."""

    def __init__(
        self,
        client: Client,
        id: str,
        *,
        run_id: str | None = None,
        result_type: type | None = None,
    ) -> None:
        self._client = client
        self._id = id
        self._run_id = run_id
        self._result_type = result_type
        self._known_outcome: Mapping[str, Any] | None = None

    @property
    def id(self) -> str:
        return self._id

    @property
    def run_id(self) -> str | None:
        return self._run_id

    @property
    def _data_converter(self) -> Any:
        return _activity_data_converter(self._client, self._id)

    async def result(
        self,
        *,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> ReturnType:
        """Wait for the activity to close; its result, or ActivityFailureError."""
        if self._known_outcome is None:
            engine = await self._client._engine()
            async with _time_unlocked(engine):
                row = await engine.wait_for_standalone_activity_outcome(
                    self._client.namespace, self._id, self._run_id
                )
            if row is None:
                raise _not_found(self._id)
            self._known_outcome = dict(row)
        outcome = self._known_outcome
        if outcome["status"] == ActivityExecutionStatus.COMPLETED:
            return await _decode_result(self._data_converter, outcome["result"], self._result_type)
        failure = h.parse_failure(outcome["failure"])
        raise ActivityFailureError(cause=await self._data_converter.decode_failure(failure))

    async def cancel(
        self,
        *,
        reason: str | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        """Ask for cancellation: a scheduled activity is canceled at once; a running
        one learns of it when it heartbeats (it cannot be retried any more)."""
        await self._client._impl.cancel_activity(
            CancelActivityInput(
                activity_id=self._id,
                activity_run_id=self._run_id,
                reason=reason,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
            )
        )

    async def terminate(
        self,
        *,
        reason: str | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        """Close the activity at once; a running attempt is told at its next heartbeat."""
        await self._client._impl.terminate_activity(
            TerminateActivityInput(
                activity_id=self._id,
                activity_run_id=self._run_id,
                reason=reason,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
            )
        )

    async def pause(
        self,
        *,
        reason: str | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        """Hold back the next attempt (a running one goes on) until unpause (experimental)."""
        await self._client._impl.pause_activity(
            PauseActivityInput(
                activity_id=self._id,
                activity_run_id=self._run_id,
                reason=reason,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
            )
        )

    async def unpause(
        self,
        *,
        reason: str | None = None,
        jitter: timedelta | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        """Let a paused activity run again, at a random moment within ``jitter``
        (experimental)."""
        await self._client._impl.unpause_activity(
            UnpauseActivityInput(
                activity_id=self._id,
                activity_run_id=self._run_id,
                reason=reason,
                jitter=jitter,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
            )
        )

    async def update_options(
        self,
        updates: Sequence[ActivityOptionsUpdate[Any]],
        *,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> ActivityExecutionOptions:
        """Change the named options, leaving the others as they are (experimental)."""
        if not updates:
            raise ValueError(
                "update_options requires at least one update; use "
                "restore_original_options() to revert options"
            )
        names = [update.key.name for update in updates]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"update_options received more than one update for {name}")
        return await self._client._impl.update_activity_options(
            UpdateActivityOptionsInput(
                activity_id=self._id,
                activity_run_id=self._run_id,
                updates=updates,
                restore_original=False,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
            )
        )

    async def restore_original_options(
        self,
        *,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> ActivityExecutionOptions:
        """Go back to the options the activity was started with (experimental)."""
        return await self._client._impl.update_activity_options(
            UpdateActivityOptionsInput(
                activity_id=self._id,
                activity_run_id=self._run_id,
                updates=[],
                restore_original=True,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
            )
        )

    async def describe(
        self,
        *,
        include_input: bool = False,
        include_outcome: bool = False,
        include_heartbeat_details: bool = False,
        include_last_failure: bool = False,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> ActivityExecutionDescription:
        """Status, options, attempt state and (when asked) input and outcome."""
        return await self._client._impl.describe_activity(
            DescribeActivityInput(
                activity_id=self._id,
                activity_run_id=self._run_id,
                include_input=include_input,
                include_outcome=include_outcome,
                include_heartbeat_details=include_heartbeat_details,
                include_last_failure=include_last_failure,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
            )
        )


def _activity_data_converter(
    client: Client,
    activity_id: str,
    activity_type: str | None = None,
    task_queue: str | None = None,
) -> Any:
    return client.data_converter.with_context(
        ActivitySerializationContext(
            namespace=client.namespace,
            activity_id=activity_id,
            activity_type=activity_type,
            activity_task_queue=task_queue,
            is_local=False,
            workflow_id=None,
            workflow_type=None,
        )
    )._with_store_target(
        StorageDriverActivityInfo(
            namespace=client.namespace, id=activity_id, type=activity_type or None
        )
    )


def _time_unlocked(engine: Engine) -> Any:
    """In a time-skipping test environment, waiting for a result lets the clock skip,
    as waiting for a workflow's result does (its close waiter holds the clock)."""
    skipper = getattr(engine.close_waiter(), "_skipper", None)
    return skipper.unlocked() if skipper is not None else contextlib.nullcontext()


def _not_found(activity_id: str) -> RPCError:
    return RPCError(f"activity not found for ID: {activity_id}", RPCStatusCode.NOT_FOUND, b"")


def _raise_for_status(status: str, activity_id: str) -> None:
    if status == "not_found":
        raise _not_found(activity_id)
    if status == "not_running":
        raise RPCError(
            "activity execution is already closed", RPCStatusCode.FAILED_PRECONDITION, b""
        )


def _run_uuid(run_id: str | None) -> uuid.UUID | None:
    return uuid.UUID(run_id) if run_id else None


# ----------------------------------------------------------- innermost calls


class StandaloneActivityCalls:
    """The innermost client-chain calls for standalone activities; mixed into the
    client's ``_ClientImpl`` (which provides ``_client`` and
    ``_encode_headers``)."""

    _client: Client

    async def start_activity(self, input: StartActivityInput) -> ActivityHandle[Any]:
        _check_start(input)
        client = self._client
        engine = await self._client._engine()
        _refuse_bad_names(
            engine.store.limits,
            ActivityId=input.id,
            TaskQueue=input.task_queue,
            ActivityType=input.activity_type,
        )
        dc = _activity_data_converter(client, input.id, input.activity_type, input.task_queue)
        payloads = await dc.encode(list(input.args)) if input.args else []
        start = {
            "namespace": client.namespace,
            "activity_id": input.id,
            "activity_type": input.activity_type,
            "run_id": new_run_id(),
            "id_reuse_policy": int(input.id_reuse_policy),
            "id_conflict_policy": int(input.id_conflict_policy),
            "options": sa.options_json(
                task_queue=input.task_queue,
                schedule_to_close=input.schedule_to_close_timeout,
                schedule_to_start=input.schedule_to_start_timeout,
                start_to_close=input.start_to_close_timeout,
                heartbeat_timeout=input.heartbeat_timeout,
                start_delay=input.start_delay,
                retry_policy=input.retry_policy,
                priority=input.priority,
            ),
            "input": h.payloads(payloads),
            "header": h.header(await self._encode_headers(input.headers)),  # type: ignore[attr-defined]
            "search_attributes": _client._search_attributes_json(input.search_attributes),
            "user_metadata": await visibility.encode_user_metadata(dc, input.summary, None),
            "identity": client.identity,
        }
        engine = await self._client._engine()
        reply = await call(engine.start_standalone_activity(h.strip_none(start)))
        if reply["status"] == "already_started":
            raise hotmesh_temporal.exceptions.ActivityAlreadyStartedError(
                input.id, input.activity_type, run_id=str(reply["run_id"])
            )
        return ActivityHandle(
            client, input.id, run_id=str(reply["run_id"]), result_type=input.result_type
        )

    async def _activity(self, activity_id: str, run_id: str | None) -> tuple[Engine, ActivityRef]:
        engine = await self._client._engine()
        return engine, ActivityRef(self._client.namespace, activity_id, _run_uuid(run_id))

    async def cancel_activity(self, input: CancelActivityInput) -> None:
        engine, ref = await self._activity(input.activity_id, input.activity_run_id)
        status = await call(
            engine.cancel_standalone_activity(ref, input.reason, self._client.identity)
        )
        _raise_for_status(status, input.activity_id)

    async def terminate_activity(self, input: TerminateActivityInput) -> None:
        engine, ref = await self._activity(input.activity_id, input.activity_run_id)
        status = await call(
            engine.terminate_standalone_activity(ref, input.reason, self._client.identity)
        )
        _raise_for_status(status, input.activity_id)

    async def pause_activity(self, input: PauseActivityInput) -> None:
        engine, ref = await self._activity(input.activity_id, input.activity_run_id)
        status = await call(engine.pause_standalone_activity(ref, True, None))
        _raise_for_status(status, input.activity_id)

    async def unpause_activity(self, input: UnpauseActivityInput) -> None:
        jitter = input.jitter.total_seconds() if input.jitter else None
        engine, ref = await self._activity(input.activity_id, input.activity_run_id)
        status = await call(engine.pause_standalone_activity(ref, False, jitter))
        _raise_for_status(status, input.activity_id)

    async def update_activity_options(
        self, input: UpdateActivityOptionsInput
    ) -> ActivityExecutionOptions:
        if input.restore_original and input.updates:
            raise ValueError("restore_original cannot be combined with individual option updates")
        engine, ref = await self._activity(input.activity_id, input.activity_run_id)
        reply = await call(
            engine.update_standalone_activity_options(
                ref, sa.option_changes(input.updates), input.restore_original
            )
        )
        _raise_for_status(reply["status"], input.activity_id)
        return ActivityExecutionOptions._from_json(reply["options"])

    async def describe_activity(self, input: DescribeActivityInput) -> ActivityExecutionDescription:
        engine, ref = await self._activity(input.activity_id, input.activity_run_id)
        row = await call(engine.describe_standalone_activity(ref))
        if row is None:
            raise _not_found(input.activity_id)
        dc = _activity_data_converter(
            self._client, row["activity_id"], row["activity_type"], row["task_queue"]
        )
        return ActivityExecutionDescription._from_json(row, input, dc)

    def list_activities(self, input: ListActivitiesInput) -> ActivityExecutionAsyncIterator:
        return ActivityExecutionAsyncIterator(self._client, input)

    async def count_activities(self, input: CountActivitiesInput) -> ActivityExecutionCount:
        return await _count(self._client, input.query)


def _check_start(input: StartActivityInput) -> None:
    if not input.id:
        raise ValueError("id is required")
    if not input.task_queue:
        raise ValueError("task_queue is required")
    if not (input.start_to_close_timeout or input.schedule_to_close_timeout):
        raise ValueError("Activity must have start_to_close_timeout or schedule_to_close_timeout")
    if input.start_delay is not None and input.start_delay < timedelta(0):
        raise ValueError("start_delay must be non-negative")


# ------------------------------------------------------------ Client methods


class StandaloneActivityClient:
    """``Client``'s standalone-activity methods (``Client`` inherits them)."""

    _impl: Any

    async def start_activity(
        self,
        activity: _ActivityCallable[LocalReturnType],
        arg: Any = _ARG_UNSET,
        *,
        args: Sequence[Any] = [],
        id: str,
        task_queue: str,
        result_type: type | None = None,
        schedule_to_close_timeout: timedelta | None = None,
        schedule_to_start_timeout: timedelta | None = None,
        start_to_close_timeout: timedelta | None = None,
        heartbeat_timeout: timedelta | None = None,
        id_reuse_policy: ActivityIDReusePolicy = ActivityIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy: ActivityIDConflictPolicy = ActivityIDConflictPolicy.FAIL,
        retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
        search_attributes: hotmesh_temporal.common.TypedSearchAttributes | None = None,
        summary: str | None = None,
        priority: hotmesh_temporal.common.Priority = hotmesh_temporal.common.Priority.default,
        start_delay: timedelta | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> ActivityHandle[LocalReturnType]:
        """Start an activity that belongs to no workflow; a worker of ``task_queue``
        runs it. Either timeout of an attempt's end (start-to-close or
        schedule-to-close) is required. Raises ActivityAlreadyStartedError when the
        id policies refuse the id."""

        name, annotated_result_type = _activity_type_and_result_type(activity)
        return await self._impl.start_activity(
            StartActivityInput(
                activity_type=name,
                args=hotmesh_temporal.common._arg_or_args(arg, args),
                id=id,
                task_queue=task_queue,
                result_type=result_type or annotated_result_type,
                schedule_to_close_timeout=schedule_to_close_timeout,
                start_to_close_timeout=start_to_close_timeout,
                schedule_to_start_timeout=schedule_to_start_timeout,
                heartbeat_timeout=heartbeat_timeout,
                id_reuse_policy=id_reuse_policy,
                id_conflict_policy=id_conflict_policy,
                retry_policy=retry_policy,
                priority=priority,
                search_attributes=search_attributes,
                summary=summary,
                start_delay=start_delay,
                headers={},
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
            )
        )

    async def execute_activity(
        self,
        activity: _ActivityCallable[LocalReturnType],
        arg: Any = _ARG_UNSET,
        *,
        args: Sequence[Any] = [],
        id: str,
        task_queue: str,
        result_type: type | None = None,
        schedule_to_close_timeout: timedelta | None = None,
        schedule_to_start_timeout: timedelta | None = None,
        start_to_close_timeout: timedelta | None = None,
        heartbeat_timeout: timedelta | None = None,
        id_reuse_policy: ActivityIDReusePolicy = ActivityIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy: ActivityIDConflictPolicy = ActivityIDConflictPolicy.FAIL,
        retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
        search_attributes: hotmesh_temporal.common.TypedSearchAttributes | None = None,
        summary: str | None = None,
        priority: hotmesh_temporal.common.Priority = hotmesh_temporal.common.Priority.default,
        start_delay: timedelta | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> LocalReturnType:
        """start_activity, then wait for the result (ActivityFailureError if none)."""
        handle = await self.start_activity(
            activity,
            arg,
            args=args,
            id=id,
            task_queue=task_queue,
            result_type=result_type,
            schedule_to_close_timeout=schedule_to_close_timeout,
            schedule_to_start_timeout=schedule_to_start_timeout,
            start_to_close_timeout=start_to_close_timeout,
            heartbeat_timeout=heartbeat_timeout,
            id_reuse_policy=id_reuse_policy,
            id_conflict_policy=id_conflict_policy,
            retry_policy=retry_policy,
            search_attributes=search_attributes,
            summary=summary,
            priority=priority,
            start_delay=start_delay,
            rpc_metadata=rpc_metadata,
            rpc_timeout=rpc_timeout,
        )
        return await handle.result()

    # A callable class or a method is started exactly as a function is: its activity
    # definition gives the name and result type.
    start_activity_class = start_activity
    start_activity_method = start_activity
    execute_activity_class = execute_activity
    execute_activity_method = execute_activity

    def list_activities(
        self,
        query: str,
        *,
        limit: int | None = None,
        page_size: int = 1000,
        next_page_token: bytes | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> ActivityExecutionAsyncIterator:
        """Standalone activities matching a list filter (ActivityId, ActivityType,
        RunId, TaskQueue, ExecutionStatus, StartTime, ScheduleTime, ExecutionTime,
        CloseTime and search attributes). Nothing is read before iteration."""
        return self._impl.list_activities(
            ListActivitiesInput(
                query=query,
                page_size=page_size,
                next_page_token=next_page_token,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
                limit=limit,
            )
        )

    async def count_activities(
        self,
        query: str | None = None,
        *,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> ActivityExecutionCount:
        """How many standalone activities match a list filter (``GROUP BY
        ExecutionStatus`` counts per status)."""
        return await self._impl.count_activities(
            CountActivitiesInput(query=query, rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout)
        )

    def get_activity_handle(
        self,
        activity_id: str,
        *,
        run_id: str | None = None,
        result_type: type | None = None,
    ) -> ActivityHandle[Any]:
        """A handle to a standalone activity (the latest run of the id by default)."""
        return ActivityHandle(self, activity_id, run_id=run_id, result_type=result_type)  # type: ignore[arg-type]


# Last, and in module form: _client imports this module for Client's base class, and this
# module reads _client's helpers only at call time.
from hotmesh_temporal.client import _client  # noqa: E402
