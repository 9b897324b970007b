"""Client for starting and managing workflows, with ``temporalio.client``'s API.

``Client.connect("postgresql://...")`` talks to that database; a Temporal-style
``host:port`` means the default database (``HOTMESH_DSN``, else a local Postgres on
127.0.0.1:5432, else an embedded one). Every operation is a SQL function call.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import (
    Any,
    Generic,
    TypeVar,
    cast,
)

import hotmesh_temporal.common
import hotmesh_temporal.converter
import hotmesh_temporal.exceptions
from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal._engine.runtime import visibility
from hotmesh_temporal._engine.runtime.completion import new_run_start
from hotmesh_temporal._engine.runtime.ids import new_run_id
from hotmesh_temporal._engine.runtime.list_filter import (
    STATUS_NAMES,
)
from hotmesh_temporal._engine.runtime.updates import request_json
from hotmesh_temporal._engine.runtime.visibility import encode_search_attributes, payload_json
from hotmesh_temporal._engine.service import limits as _limits
from hotmesh_temporal._engine.service.engine import Engine, RunRef
from hotmesh_temporal._engine.service.errors import call as _call
from hotmesh_temporal.activity import ActivityCancellationDetails  # noqa: F401  (re-exported)
from hotmesh_temporal.client import _schedule as _schedule_ops
from hotmesh_temporal.client import _telemetry as telemetry
from hotmesh_temporal.client._activity import (  # noqa: F401  (public names)
    ActivityExecution,
    ActivityExecutionAsyncIterator,
    ActivityExecutionCount,
    ActivityExecutionCountAggregationGroup,
    ActivityExecutionDescription,
    ActivityExecutionOptions,
    ActivityExecutionStatus,
    ActivityFailureError,
    ActivityHandle,
    ActivityOptionsKey,
    ActivityOptionsKeys,
    ActivityOptionsUpdate,
    PendingActivityState,
    StandaloneActivityCalls,
    StandaloneActivityClient,
)
from hotmesh_temporal.client._async_activity import (  # noqa: F401  (public names)
    AsyncActivityCalls,
    AsyncActivityCancelledError,
    AsyncActivityHandle,
    AsyncActivityIDReference,
    async_activity_handle,
)
from hotmesh_temporal.client._interceptor import *  # noqa: F401,F403  (public names)
from hotmesh_temporal.client._interceptor import (
    BackfillScheduleInput,
    CancelWorkflowInput,
    CountWorkflowsInput,
    CreateScheduleInput,
    DeleteScheduleInput,
    DescribeScheduleInput,
    DescribeWorkflowInput,
    FetchWorkflowHistoryEventsInput,
    ListSchedulesInput,
    ListWorkflowsInput,
    OutboundInterceptor,
    PauseScheduleInput,
    QueryWorkflowInput,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    StartWorkflowUpdateWithStartInput,
    TerminateWorkflowInput,
    TriggerScheduleInput,
    UnpauseScheduleInput,
    UpdateScheduleInput,
    UpdateWithStartStartWorkflowInput,
    UpdateWithStartUpdateWorkflowInput,
)
from hotmesh_temporal.client._paging import PagedAsyncIterator
from hotmesh_temporal.client._plugin import (  # noqa: F401  (public names)
    ClientConfig,
    Plugin,
    configure_through_plugins,
    connect_through_plugins,
)
from hotmesh_temporal.client._schedule import (  # noqa: F401  (re-exported)
    Schedule,
    ScheduleAction,
    ScheduleActionExecution,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionResult,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleAsyncIterator,
    ScheduleBackfill,
    ScheduleCalendarSpec,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleInfo,
    ScheduleIntervalSpec,
    ScheduleListAction,
    ScheduleListActionStartWorkflow,
    ScheduleListDescription,
    ScheduleListInfo,
    ScheduleListSchedule,
    ScheduleListState,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from hotmesh_temporal.common import HeaderCodecBehavior  # noqa: F401  (re-exported)
from hotmesh_temporal.converter import (  # noqa: F401  (re-exported, as temporalio.client does)
    ActivitySerializationContext,
    DataConverter,
    SerializationContext,
    StorageDriverActivityInfo,
    StorageDriverSelectContext,
    StorageDriverStoreContext,
    StorageDriverWorkflowInfo,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from hotmesh_temporal.envconfig import ClientConnectConfig  # noqa: F401  (re-exported)
from hotmesh_temporal.service import (  # noqa: F401  (public names, as in temporalio.client)
    ConnectConfig,
    DnsLoadBalancingConfig,
    GrpcCompression,
    HttpConnectProxyConfig,
    KeepAliveConfig,
    OperatorService,
    PayloadLimitsConfig,
    RetryConfig,
    RPCError,
    RPCStatusCode,
    ServiceClient,
    TLSConfig,
    WorkflowService,
    _refuse_bad_names,
    _refuse_large_memo,
)
from hotmesh_temporal.workflow import (  # noqa: F401  (re-exported, as temporalio.client does)
    AnyType,
    CallableAsyncNoParam,
    CallableAsyncSingleParam,
    CallableSyncNoParam,
    CallableSyncSingleParam,
    MethodAsyncNoParam,
    MethodAsyncSingleParam,
    MethodSyncOrAsyncNoParam,
    MethodSyncOrAsyncSingleParam,
    MultiParamSpec,
    ParamType,
)
from hotmesh_temporal.workflow._definition import UPDATE_ATTR, workflow_type_and_result_type

logger = logging.getLogger(__name__)

# The reason Temporal's frontend records when a terminate request gives none.
_DEFAULT_TERMINATE_REASON = "terminated by user via frontend"

SelfType = TypeVar("SelfType")
ReturnType = TypeVar("ReturnType", covariant=True)
LocalReturnType = TypeVar("LocalReturnType", covariant=True)

_ARG_UNSET: Any = hotmesh_temporal.common._arg_unset


class WorkflowExecutionStatus(IntEnum):
    """Status of a workflow run (Temporal's values)."""

    RUNNING = 1
    COMPLETED = 2
    FAILED = 3
    CANCELED = 4
    TERMINATED = 5
    CONTINUED_AS_NEW = 6
    TIMED_OUT = 7


class WorkflowHistoryEventFilterType(IntEnum):
    """Which history events to fetch (Temporal's ``HistoryEventFilterType``)."""

    ALL_EVENT = 1
    CLOSE_EVENT = 2


class WorkflowFailureError(hotmesh_temporal.exceptions.TemporalError):
    """A workflow run ended without a result: failed, cancelled, terminated or timed
    out. ``cause`` says which."""

    def __init__(self, *, cause: BaseException) -> None:
        super().__init__("Workflow execution failed")
        self.__cause__ = cause

    @property
    def cause(self) -> BaseException:
        assert self.__cause__ is not None
        return self.__cause__


class WorkflowContinuedAsNewError(hotmesh_temporal.exceptions.TemporalError):
    """The run continued as new and ``result(follow_runs=False)`` was asked for."""

    def __init__(self, new_execution_run_id: str) -> None:
        super().__init__("Workflow continued as new")
        self._new_execution_run_id = new_execution_run_id

    @property
    def new_execution_run_id(self) -> str:
        return self._new_execution_run_id


class WorkflowQueryFailedError(hotmesh_temporal.exceptions.TemporalError):
    """A query could not be answered: unknown query name, bad arguments, or the
    handler raised."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self._message = message

    @property
    def message(self) -> str:
        return self._message


class RPCTimeoutOrCancelledError(hotmesh_temporal.exceptions.TemporalError):
    """A client call ran out of time (its ``rpc_timeout``) or was cancelled."""


class WorkflowQueryRejectedError(hotmesh_temporal.exceptions.TemporalError):
    """The query's reject condition matched the workflow's status."""

    def __init__(self, status: WorkflowExecutionStatus | None) -> None:
        super().__init__(f"Query rejected, status: {status}")
        self._status = status

    @property
    def status(self) -> WorkflowExecutionStatus | None:
        return self._status


class Client(StandaloneActivityClient):
    """A client of one namespace of a hotmesh_temporal database."""

    @classmethod
    async def connect(
        cls,
        target_host: str,
        *,
        namespace: str = "default",
        api_key: str | None = None,
        data_converter: hotmesh_temporal.converter.DataConverter = hotmesh_temporal.converter.DataConverter.default,
        plugins: Sequence[Any] = [],
        interceptors: Sequence[Any] = [],
        default_workflow_query_reject_condition: hotmesh_temporal.common.QueryRejectCondition
        | None = None,
        tls: bool | TLSConfig | None = None,
        retry_config: RetryConfig | None = None,
        keep_alive_config: KeepAliveConfig | None = KeepAliveConfig.default,
        connect_timeout: timedelta | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        identity: str | None = None,
        lazy: bool = False,
        runtime: Any = None,
        http_connect_proxy_config: HttpConnectProxyConfig | None = None,
        dns_load_balancing_config: DnsLoadBalancingConfig | None = None,
        grpc_compression: GrpcCompression = GrpcCompression.GZIP,
        payload_limits: PayloadLimitsConfig = PayloadLimitsConfig(),  # noqa: B008 (temporalio's default)
        header_codec_behavior: hotmesh_temporal.common.HeaderCodecBehavior = hotmesh_temporal.common.HeaderCodecBehavior.NO_CODEC,
    ) -> Client:
        """Connect to the database that ``target_host`` names (see module docs).

        ``tls`` asks for a verified TLS connection to Postgres. Keywords that configure
        a gRPC connection (keep-alive, proxies, compression) are accepted and have no
        effect here.
        """
        service_client = await connect_through_plugins(
            plugins,
            ConnectConfig(
                target_host=target_host,
                api_key=api_key,
                tls=tls,
                retry_config=retry_config,
                keep_alive_config=keep_alive_config,
                rpc_metadata=rpc_metadata,
                identity=identity or "",
                lazy=lazy,
                runtime=runtime,
                http_connect_proxy_config=http_connect_proxy_config,
                dns_load_balancing_config=dns_load_balancing_config,
                grpc_compression=grpc_compression,
                payload_limits=payload_limits,
                connect_timeout=connect_timeout,
            ),
            ServiceClient.connect,
        )
        return cls(
            service_client,
            namespace=namespace,
            data_converter=data_converter,
            plugins=plugins,
            interceptors=interceptors,
            default_workflow_query_reject_condition=default_workflow_query_reject_condition,
            header_codec_behavior=header_codec_behavior,
        )

    def __init__(
        self,
        service_client: ServiceClient,
        *,
        namespace: str = "default",
        data_converter: hotmesh_temporal.converter.DataConverter = hotmesh_temporal.converter.DataConverter.default,
        plugins: Sequence[Any] = [],
        interceptors: Sequence[Any] = [],
        default_workflow_query_reject_condition: hotmesh_temporal.common.QueryRejectCondition
        | None = None,
        header_codec_behavior: hotmesh_temporal.common.HeaderCodecBehavior = hotmesh_temporal.common.HeaderCodecBehavior.NO_CODEC,
    ) -> None:
        self._config: dict[str, Any] = dict(
            configure_through_plugins(
                ClientConfig(
                    service_client=service_client,
                    namespace=namespace,
                    data_converter=data_converter,
                    plugins=plugins,
                    interceptors=telemetry.with_env_tracing(interceptors),
                    default_workflow_query_reject_condition=default_workflow_query_reject_condition,
                    header_codec_behavior=header_codec_behavior,
                )
            )
        )
        self._impl = _build_outbound_chain(_ClientImpl(self), self._config["interceptors"])

    def config(self, *, active_config: bool = False) -> dict[str, Any]:
        """The options of this client: ``Client(**client.config())`` builds a twin."""
        return dict(self._config)

    # ------------------------------------------------------------- properties

    @property
    def service_client(self) -> ServiceClient:
        return self._config["service_client"]

    @property
    def workflow_service(self) -> WorkflowService:
        """Raw workflow-service calls: namespaces, delete_workflow_execution,
        describe_task_queue (hotmesh_temporal.service.WorkflowService)."""
        return self.service_client.workflow_service

    @property
    def operator_service(self) -> OperatorService:
        """Raw operator-service calls: custom search attributes."""
        return self.service_client.operator_service

    @property
    def namespace(self) -> str:
        return self._config["namespace"]

    @property
    def identity(self) -> str:
        return self.service_client.config.identity

    @property
    def data_converter(self) -> hotmesh_temporal.converter.DataConverter:
        return self._config["data_converter"]

    @property
    def rpc_metadata(self) -> Mapping[str, str | bytes]:
        return self.service_client.config.rpc_metadata

    @rpc_metadata.setter
    def rpc_metadata(self, value: Mapping[str, str | bytes]) -> None:
        self.service_client.config.rpc_metadata = value

    @property
    def api_key(self) -> str | None:
        return self.service_client.config.api_key

    @api_key.setter
    def api_key(self, value: str | None) -> None:
        self.service_client.config.api_key = value

    async def _engine(self) -> Engine:
        return await self.service_client._engine()

    # ---------------------------------------------------------------- start

    async def start_workflow(
        self,
        workflow: str | Callable[..., Awaitable[Any]],
        arg: Any = _ARG_UNSET,
        *,
        args: Sequence[Any] = [],
        id: str,
        task_queue: str,
        result_type: type | None = None,
        execution_timeout: timedelta | None = None,
        run_timeout: timedelta | None = None,
        task_timeout: timedelta | None = None,
        id_reuse_policy: hotmesh_temporal.common.WorkflowIDReusePolicy = hotmesh_temporal.common.WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy: hotmesh_temporal.common.WorkflowIDConflictPolicy = hotmesh_temporal.common.WorkflowIDConflictPolicy.UNSPECIFIED,
        retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
        cron_schedule: str = "",
        memo: Mapping[str, Any] | None = None,
        search_attributes: Any = None,
        static_summary: str | None = None,
        static_details: str | None = None,
        start_delay: timedelta | None = None,
        start_signal: str | None = None,
        start_signal_args: Sequence[Any] = [],
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
        request_eager_start: bool = False,
        priority: hotmesh_temporal.common.Priority = hotmesh_temporal.common.Priority(),
        versioning_override: Any = None,
        stack_level: int = 2,
    ) -> WorkflowHandle[Any, Any]:
        """Start a workflow run and return its handle without waiting for it."""
        name, result_hint = workflow_type_and_result_type(workflow)
        hotmesh_temporal.common._warn_on_deprecated_search_attributes(
            search_attributes, stack_level
        )
        return await self._impl.start_workflow(
            StartWorkflowInput(
                workflow=name,
                args=list(hotmesh_temporal.common._arg_or_args(arg, args)),
                id=id,
                task_queue=task_queue,
                execution_timeout=execution_timeout,
                run_timeout=run_timeout,
                task_timeout=task_timeout,
                id_reuse_policy=id_reuse_policy,
                id_conflict_policy=id_conflict_policy,
                retry_policy=retry_policy,
                cron_schedule=cron_schedule,
                memo=memo,
                search_attributes=search_attributes,
                start_delay=start_delay,
                headers={},
                start_signal=start_signal,
                start_signal_args=start_signal_args,
                static_summary=static_summary,
                static_details=static_details,
                ret_type=result_type or result_hint,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
                request_eager_start=request_eager_start,
                priority=priority,
                versioning_override=versioning_override,
            )
        )

    async def execute_workflow(
        self,
        workflow: str | Callable[..., Awaitable[Any]],
        arg: Any = _ARG_UNSET,
        *,
        args: Sequence[Any] = [],
        id: str,
        task_queue: str,
        result_type: type | None = None,
        execution_timeout: timedelta | None = None,
        run_timeout: timedelta | None = None,
        task_timeout: timedelta | None = None,
        id_reuse_policy: hotmesh_temporal.common.WorkflowIDReusePolicy = hotmesh_temporal.common.WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy: hotmesh_temporal.common.WorkflowIDConflictPolicy = hotmesh_temporal.common.WorkflowIDConflictPolicy.UNSPECIFIED,
        retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
        cron_schedule: str = "",
        memo: Mapping[str, Any] | None = None,
        search_attributes: Any = None,
        static_summary: str | None = None,
        static_details: str | None = None,
        start_delay: timedelta | None = None,
        start_signal: str | None = None,
        start_signal_args: Sequence[Any] = [],
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
        request_eager_start: bool = False,
        priority: hotmesh_temporal.common.Priority = hotmesh_temporal.common.Priority(),
        versioning_override: Any = None,
    ) -> Any:
        """Start a workflow run and wait for its result."""
        handle = await self.start_workflow(
            workflow,
            arg,
            args=args,
            id=id,
            task_queue=task_queue,
            result_type=result_type,
            execution_timeout=execution_timeout,
            run_timeout=run_timeout,
            task_timeout=task_timeout,
            id_reuse_policy=id_reuse_policy,
            id_conflict_policy=id_conflict_policy,
            retry_policy=retry_policy,
            cron_schedule=cron_schedule,
            memo=memo,
            search_attributes=search_attributes,
            static_summary=static_summary,
            static_details=static_details,
            start_delay=start_delay,
            start_signal=start_signal,
            start_signal_args=start_signal_args,
            rpc_metadata=rpc_metadata,
            rpc_timeout=rpc_timeout,
            request_eager_start=request_eager_start,
            priority=priority,
            versioning_override=versioning_override,
            stack_level=3,
        )
        return await handle.result()

    # ---------------------------------------------------- update with start

    async def execute_update_with_start_workflow(
        self,
        update: str | Callable,
        arg: Any = _ARG_UNSET,
        *,
        start_workflow_operation: WithStartWorkflowOperation[Any, Any],
        args: Sequence[Any] = [],
        id: str | None = None,
        result_type: type | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> Any:
        """Start the workflow unless it runs (per the operation's id_conflict_policy),
        send it the update, and wait for the update's result."""
        handle = await self._start_update_with_start(
            update,
            arg,
            args=args,
            start_workflow_operation=start_workflow_operation,
            wait_for_stage=WorkflowUpdateStage.COMPLETED,
            id=id,
            result_type=result_type,
            rpc_metadata=rpc_metadata,
            rpc_timeout=rpc_timeout,
        )
        return await handle.result()

    async def start_update_with_start_workflow(
        self,
        update: str | Callable,
        arg: Any = _ARG_UNSET,
        *,
        start_workflow_operation: WithStartWorkflowOperation[Any, Any],
        wait_for_stage: WorkflowUpdateStage,
        args: Sequence[Any] = [],
        id: str | None = None,
        result_type: type | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> WorkflowUpdateHandle[Any]:
        """Start the workflow unless it runs, send it the update, and return the
        update's handle once it reached ``wait_for_stage``."""
        return await self._start_update_with_start(
            update,
            arg,
            wait_for_stage=wait_for_stage,
            args=args,
            id=id,
            result_type=result_type,
            start_workflow_operation=start_workflow_operation,
            rpc_metadata=rpc_metadata,
            rpc_timeout=rpc_timeout,
        )

    async def _start_update_with_start(
        self,
        update: str | Callable,
        arg: Any = _ARG_UNSET,
        *,
        wait_for_stage: WorkflowUpdateStage,
        args: Sequence[Any] = [],
        id: str | None = None,
        result_type: type | None = None,
        start_workflow_operation: WithStartWorkflowOperation[Any, Any],
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> WorkflowUpdateHandle[Any]:
        if wait_for_stage == WorkflowUpdateStage.ADMITTED:
            raise ValueError("ADMITTED wait stage not supported")
        operation = start_workflow_operation
        if operation._used:
            raise RuntimeError("WithStartWorkflowOperation cannot be reused")
        operation._used = True
        name, result_hint = _update_name_and_result_type(update)
        start_input = operation._start_workflow_input

        def on_start(reply: Mapping[str, Any]) -> None:
            run_id = str(reply["run_id"])
            operation._workflow_handle.set_result(
                WorkflowHandle(
                    self,
                    start_input.id,
                    first_execution_run_id=run_id,
                    result_run_id=run_id,
                    result_type=start_input.ret_type,
                )
            )

        def on_start_error(err: BaseException) -> None:
            if not operation._workflow_handle.done():
                operation._workflow_handle.set_exception(err)

        try:
            return await self._impl.start_update_with_start_workflow(
                StartWorkflowUpdateWithStartInput(
                    start_workflow_input=start_input,
                    update_workflow_input=UpdateWithStartUpdateWorkflowInput(
                        update_id=id,
                        update=name,
                        args=list(hotmesh_temporal.common._arg_or_args(arg, args)),
                        wait_for_stage=wait_for_stage,
                        headers={},
                        ret_type=result_type or result_hint,
                    ),
                    rpc_metadata=rpc_metadata,
                    rpc_timeout=rpc_timeout,
                    _on_start=on_start,
                    _on_start_error=on_start_error,
                )
            )
        except BaseException as err:
            on_start_error(err)  # also when an interceptor failed before the start
            if isinstance(err, asyncio.CancelledError):
                raise WorkflowUpdateRPCTimeoutOrCancelledError() from err
            raise

    # ------------------------------------------------------------ schedules

    async def create_schedule(
        self,
        id: str,
        schedule: Schedule,
        *,
        trigger_immediately: bool = False,
        backfill: Sequence[ScheduleBackfill] = [],
        memo: Mapping[str, Any] | None = None,
        search_attributes: Any = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> ScheduleHandle:
        """Create a schedule (ScheduleAlreadyRunningError when the id is taken) and
        return its handle. Any worker connected to this database fires it."""
        return await self._impl.create_schedule(
            CreateScheduleInput(
                id=id,
                schedule=schedule,
                trigger_immediately=trigger_immediately,
                backfill=backfill,
                memo=memo,
                search_attributes=search_attributes,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
            )
        )

    def get_schedule_handle(self, id: str) -> ScheduleHandle:
        """A handle to the schedule with this id."""
        return ScheduleHandle(self, id)

    async def list_schedules(
        self,
        query: str | None = None,
        *,
        page_size: int = 1000,
        next_page_token: bytes | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> ScheduleAsyncIterator:
        """Iterate over this namespace's schedules, ordered by id; ``query`` filters
        with ``Key = value`` terms joined by AND."""
        return self._impl.list_schedules(
            ListSchedulesInput(
                page_size=page_size,
                next_page_token=next_page_token,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
                query=query,
            )
        )

    # -------------------------------------------------------------- handles

    def get_workflow_handle(
        self,
        workflow_id: str,
        *,
        run_id: str | None = None,
        first_execution_run_id: str | None = None,
        result_type: type | None = None,
    ) -> WorkflowHandle[Any, Any]:
        """A handle to an existing workflow (its latest run unless ``run_id`` is given)."""
        return WorkflowHandle(
            self,
            workflow_id,
            run_id=run_id,
            result_run_id=run_id,
            first_execution_run_id=first_execution_run_id,
            result_type=result_type,
        )

    def get_workflow_handle_for(
        self,
        workflow: Callable[..., Awaitable[Any]],
        workflow_id: str,
        *,
        run_id: str | None = None,
        first_execution_run_id: str | None = None,
    ) -> WorkflowHandle[Any, Any]:
        """A typed handle: the result type comes from the run method's annotation."""
        _, result_type = workflow_type_and_result_type(workflow)
        return self.get_workflow_handle(
            workflow_id,
            run_id=run_id,
            first_execution_run_id=first_execution_run_id,
            result_type=result_type,
        )

    def get_async_activity_handle(
        self,
        *,
        workflow_id: str | None = None,
        run_id: str | None = None,
        activity_id: str | None = None,
        task_token: bytes | None = None,
    ) -> AsyncActivityHandle:
        """A handle to an activity that completes asynchronously: by ``task_token``
        alone, or by ``workflow_id``, ``run_id`` (None: the current run) and
        ``activity_id``."""
        return async_activity_handle(self, workflow_id, run_id, activity_id, task_token)

    # ------------------------------------------------------------ visibility

    def list_workflows(
        self,
        query: str | None = None,
        *,
        limit: int | None = None,
        page_size: int = 1000,
        next_page_token: bytes | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> WorkflowExecutionAsyncIterator:
        """Runs matching a Temporal list filter (all runs when ``query`` is unset),
        newest start first unless the filter has an ORDER BY. Nothing is queried
        until the iterator is first advanced, so a bad filter raises then."""
        return self._impl.list_workflows(
            ListWorkflowsInput(
                query=query,
                page_size=page_size,
                next_page_token=next_page_token,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
                limit=limit,
            )
        )

    async def count_workflows(
        self,
        query: str | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> WorkflowExecutionCount:
        """How many runs match a list filter; with ``GROUP BY ExecutionStatus``, also
        how many per status."""
        return await self._impl.count_workflows(
            CountWorkflowsInput(query=query, rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout)
        )


def _search_attributes_json(attributes: Any) -> dict[str, Any] | None:
    encoded = encode_search_attributes(attributes)
    reserved = visibility.reserved_names(encoded)
    if reserved:
        raise RPCError(
            f"search attribute {reserved[0]} is reserved by system",
            RPCStatusCode.INVALID_ARGUMENT,
            b"",
        )
    return payload_json(encoded)


async def _count_workflows(client: Client, input: CountWorkflowsInput) -> WorkflowExecutionCount:
    engine = await client._engine()
    counted = await _call(engine.count_workflows(client.namespace, input.query))
    if not counted.grouped:
        return WorkflowExecutionCount(count=counted.count, groups=[])
    groups = [
        WorkflowExecutionCountAggregationGroup(count=n, group_values=[STATUS_NAMES[status]])
        for status, n in counted.by_status
    ]
    return WorkflowExecutionCount(count=sum(g.count for g in groups), groups=groups)


async def _list_workflows_page(
    client: Client, query: str | None, page_size: int, token: bytes | None
) -> tuple[list[WorkflowExecution], bytes | None]:
    """One page of list_workflows and the token of the next (None after the last)."""
    engine = await client._engine()
    found = await _call(engine.list_workflows(client.namespace, query, page_size, token))
    page = [
        WorkflowExecution(
            **_execution_fields(row), _context_free_data_converter=client.data_converter
        )
        for row in found.rows
    ]
    return page, found.next_token


class WorkflowHandle(Generic[SelfType, ReturnType]):
    """A handle to a workflow, or to one run of it."""

    def __init__(
        self,
        client: Client,
        id: str,
        *,
        run_id: str | None = None,
        result_run_id: str | None = None,
        first_execution_run_id: str | None = None,
        result_type: type | None = None,
        start_workflow_response: Any = None,
    ) -> None:
        self._client = client
        self._id = id
        self._run_id = run_id
        self._result_run_id = result_run_id
        self._first_execution_run_id = first_execution_run_id
        self._result_type = result_type

    @property
    def id(self) -> str:
        return self._id

    @property
    def run_id(self) -> str | None:
        return self._run_id

    @property
    def result_run_id(self) -> str | None:
        return self._result_run_id

    @property
    def first_execution_run_id(self) -> str | None:
        return self._first_execution_run_id

    async def _engine(self) -> Engine:
        return await self._client._engine()

    async def _resolve_run(self, run_id: str | None) -> Mapping[str, Any]:
        return await _find_run(self._client, self._id, run_id)

    async def result(
        self,
        *,
        follow_runs: bool = True,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> ReturnType:
        """Wait for the run to close and return its result, following continue-as-new
        (and retries) to the newest run unless ``follow_runs`` is False."""
        run_id = self._result_run_id or str((await self._resolve_run(None))["run_id"])
        engine = await self._engine()
        waiter = engine.close_waiter()
        dc = _for_workflow(self._client, self._id)
        while True:
            row = await _call(waiter.wait_closed(run_id))
            status = row["status"]
            if row["new_run_id"] is not None and follow_runs:
                run_id = str(row["new_run_id"])
                continue
            if status == WorkflowExecutionStatus.COMPLETED:
                values = await dc.decode(
                    h.parse_payloads(row["result"]),
                    [self._result_type] if self._result_type else None,
                )
                if len(values) > 1:
                    warnings.warn(f"Expected single result, got {len(values)}", stacklevel=2)
                return cast(ReturnType, values[0] if values else None)
            if status == WorkflowExecutionStatus.FAILED:
                failure = h.parse_failure(row["failure"])
                raise WorkflowFailureError(cause=await dc.decode_failure(failure))
            if status == WorkflowExecutionStatus.CANCELED:
                raise WorkflowFailureError(
                    cause=hotmesh_temporal.exceptions.CancelledError("Workflow cancelled")
                )
            if status == WorkflowExecutionStatus.TERMINATED:
                reason, details = await self._termination(engine, run_id)
                raise WorkflowFailureError(
                    cause=hotmesh_temporal.exceptions.TerminatedError(
                        reason or "Workflow terminated", *details
                    )
                )
            if status == WorkflowExecutionStatus.TIMED_OUT:
                raise WorkflowFailureError(
                    cause=hotmesh_temporal.exceptions.TimeoutError(
                        "Workflow timed out",
                        type=hotmesh_temporal.exceptions.TimeoutType.START_TO_CLOSE,
                        last_heartbeat_details=[],
                    )
                )
            if status == WorkflowExecutionStatus.CONTINUED_AS_NEW:
                raise WorkflowContinuedAsNewError(str(row["new_run_id"]))
            raise RuntimeError(f"unexpected workflow status {status}")

    async def _termination(self, engine: Engine, run_id: str) -> tuple:
        events = await engine.events_after(run_id, 0)
        for ev in reversed(events):
            if ev["type"] == "WorkflowExecutionTerminated":
                details = await _for_workflow(self._client, self._id).decode(
                    h.parse_payloads(ev["attrs"].get("details"))
                )
                return ev["attrs"].get("reason", ""), details
        return "", []

    # HotMesh's job reads (additive; not part of temporalio's API).

    async def status(self) -> int:
        """HotMesh's job semaphore: 0 completed, 1 + open activities while running,
        -1 failed, cancelled, terminated or timed out."""
        return await _hotmesh_extras.semaphore(self)

    async def state(self) -> dict[str, Any]:
        """``{"metadata": {jid, rid, type, status, started, closed}, "data": result}``;
        data is the result once the run completed, else None."""
        return await _hotmesh_extras.handle_state(self)

    async def export(self, allow: Sequence[str] | None = None) -> dict[str, Any]:
        """The run as one document with the sections in ``allow`` (default all):
        ``data``, ``state``, ``status`` and ``timeline`` (the history, one entry per event,
        activities with their type)."""
        return await _hotmesh_extras.export_handle(self, allow)

    async def describe(
        self,
        *,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> WorkflowExecutionDescription:
        """Status, type, task queue, times and memo of the run."""
        return await self._client._impl.describe_workflow(
            DescribeWorkflowInput(
                id=self._id, run_id=self._run_id, rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout
            )
        )

    async def cancel(
        self,
        *,
        reason: str = "",
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        """Ask the run to cancel: workflow code sees asyncio.CancelledError at its
        next await and decides what to do."""
        await self._client._impl.cancel_workflow(
            CancelWorkflowInput(
                id=self._id,
                run_id=self._run_id,
                first_execution_run_id=self._first_execution_run_id,
                reason=reason,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
            )
        )

    async def signal(
        self,
        signal: str | Callable,
        arg: Any = _ARG_UNSET,
        *,
        args: Sequence[Any] = [],
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        """Send a signal: it is recorded in history and delivered to the workflow's
        handler (or buffered until a handler for its name exists)."""
        await self._client._impl.signal_workflow(
            SignalWorkflowInput(
                id=self._id,
                run_id=self._run_id,
                signal=_handler_name(signal, "signal"),
                args=list(hotmesh_temporal.common._arg_or_args(arg, args)),
                headers={},
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
            )
        )

    async def query(
        self,
        query: str | Callable,
        arg: Any = _ARG_UNSET,
        *,
        args: Sequence[Any] = [],
        result_type: type | None = None,
        reject_condition: hotmesh_temporal.common.QueryRejectCondition | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> Any:
        """Ask a worker to run the workflow's query handler and return its answer.
        Queries never change the workflow and are not recorded in history."""
        name = _handler_name(query, "query")
        if result_type is None and not isinstance(query, str):
            result_type = _return_type(query)
        return await self._client._impl.query_workflow(
            QueryWorkflowInput(
                id=self._id,
                run_id=self._run_id,
                query=name,
                args=list(hotmesh_temporal.common._arg_or_args(arg, args)),
                reject_condition=reject_condition
                or self._client._config["default_workflow_query_reject_condition"],
                headers={},
                ret_type=result_type,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
            )
        )

    async def execute_update(
        self,
        update: str | Callable,
        arg: Any = _ARG_UNSET,
        *,
        args: Sequence[Any] = [],
        id: str | None = None,
        result_type: type | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> Any:
        """Send an update and wait for its result (WorkflowUpdateFailedError when the
        validator rejects it or the handler fails)."""
        handle = await self._start_update(
            update,
            arg,
            args=args,
            wait_for_stage=WorkflowUpdateStage.COMPLETED,
            id=id,
            result_type=result_type,
            rpc_metadata=rpc_metadata,
            rpc_timeout=rpc_timeout,
        )
        return await handle.result()

    async def start_update(
        self,
        update: str | Callable,
        arg: Any = _ARG_UNSET,
        *,
        wait_for_stage: WorkflowUpdateStage,
        args: Sequence[Any] = [],
        id: str | None = None,
        result_type: type | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> WorkflowUpdateHandle[Any]:
        """Send an update and return its handle once it reached ``wait_for_stage``
        (ACCEPTED or COMPLETED)."""
        return await self._start_update(
            update,
            arg,
            wait_for_stage=wait_for_stage,
            args=args,
            id=id,
            result_type=result_type,
            rpc_metadata=rpc_metadata,
            rpc_timeout=rpc_timeout,
        )

    async def _start_update(
        self,
        update: str | Callable,
        arg: Any = _ARG_UNSET,
        *,
        wait_for_stage: WorkflowUpdateStage,
        args: Sequence[Any] = [],
        id: str | None = None,
        result_type: type | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> WorkflowUpdateHandle[Any]:
        if wait_for_stage == WorkflowUpdateStage.ADMITTED:
            raise ValueError("ADMITTED wait stage not supported")
        name, result_hint = _update_name_and_result_type(update)
        return await self._client._impl.start_workflow_update(
            StartWorkflowUpdateInput(
                id=self._id,
                run_id=self._run_id,
                first_execution_run_id=self._first_execution_run_id,
                update_id=id,
                update=name,
                args=list(hotmesh_temporal.common._arg_or_args(arg, args)),
                wait_for_stage=wait_for_stage,
                headers={},
                ret_type=result_type or result_hint,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
            )
        )

    def get_update_handle(
        self,
        id: str,
        *,
        workflow_run_id: str | None = None,
        result_type: type | None = None,
    ) -> WorkflowUpdateHandle[Any]:
        """A handle to an update sent before (to this handle's run unless
        ``workflow_run_id`` is given)."""
        return WorkflowUpdateHandle(
            self._client,
            id,
            self._id,
            workflow_run_id=workflow_run_id or self._run_id,
            result_type=result_type,
        )

    def get_update_handle_for(
        self,
        update: Callable,
        id: str,
        *,
        workflow_run_id: str | None = None,
    ) -> WorkflowUpdateHandle[Any]:
        """A typed handle to an update sent before: the result type comes from the
        update method."""
        _, result_type = _update_name_and_result_type(update)
        return self.get_update_handle(id, workflow_run_id=workflow_run_id, result_type=result_type)

    async def terminate(
        self,
        *args: Any,
        reason: str | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        """End the run at once, without running any more workflow code."""
        await self._client._impl.terminate_workflow(
            TerminateWorkflowInput(
                id=self._id,
                run_id=self._run_id,
                first_execution_run_id=self._first_execution_run_id,
                args=list(args),
                reason=reason,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
            )
        )

    async def fetch_history(
        self,
        *,
        event_filter_type: WorkflowHistoryEventFilterType = WorkflowHistoryEventFilterType.ALL_EVENT,
        skip_archival: bool = False,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> WorkflowHistory:
        """The run's whole history (all pages of :py:meth:`fetch_history_events`)."""
        events = [
            event
            async for event in self.fetch_history_events(
                event_filter_type=event_filter_type,
                skip_archival=skip_archival,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
            )
        ]
        return WorkflowHistory(workflow_id=self.id, events=events)

    def fetch_history_events(
        self,
        *,
        page_size: int | None = None,
        next_page_token: bytes | None = None,
        wait_new_event: bool = False,
        event_filter_type: WorkflowHistoryEventFilterType = WorkflowHistoryEventFilterType.ALL_EVENT,
        skip_archival: bool = False,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> WorkflowHistoryEventAsyncIterator:
        """History events as an async iterator that reads nothing until iterated.

        ``wait_new_event`` keeps the iterator open until the run closes, yielding
        events as they are recorded; ``CLOSE_EVENT`` yields only the closing event."""
        return self._client._impl.fetch_workflow_history_events(
            FetchWorkflowHistoryEventsInput(
                id=self._id,
                run_id=self._run_id,
                page_size=page_size,
                next_page_token=next_page_token,
                wait_new_event=wait_new_event,
                event_filter_type=event_filter_type,
                skip_archival=skip_archival,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
            )
        )


def _build_outbound_chain(
    innermost: OutboundInterceptor, interceptors: Sequence[Any]
) -> OutboundInterceptor:
    """Wrap ``innermost`` so the first interceptor in the list is called first."""
    chain = innermost
    for interceptor in reversed(list(interceptors)):
        chain = interceptor.intercept_client(chain)
    return chain


def _not_implemented(feature: str, *, sync: bool = False) -> Callable[..., Any]:
    """An innermost call for a client operation this package does not offer yet."""

    def fail(self: Any, input: Any) -> Any:
        raise NotImplementedError(f"{feature} is not supported by hotmesh_temporal yet")

    if sync:
        return fail

    async def fail_async(self: Any, input: Any) -> Any:
        fail(self, input)

    return fail_async


def _rpc_metric(operation: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Record the call in the client runtime's metrics as Temporal's core records the
    RPC ``operation`` (request, request_latency, request_failure)."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def call(self: _ClientImpl, input: Any) -> Any:
            begun = time.monotonic()
            try:
                result = await fn(self, input)
            except BaseException:
                self._metrics().request(operation, time.monotonic() - begun, failed=True)
                raise
            self._metrics().request(operation, time.monotonic() - begun, failed=False)
            return result

        return call

    return wrap


class _ClientImpl(AsyncActivityCalls, StandaloneActivityCalls, OutboundInterceptor):
    """The innermost link of the client chain: does each call against the database."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._client_metrics: Any = None

    def _metrics(self) -> Any:
        if self._client_metrics is None:
            from hotmesh_temporal.runtime import Runtime, _client_metrics

            runtime = self._client.service_client.config.runtime or Runtime.default()
            self._client_metrics = _client_metrics(runtime, self._client.namespace)
        return self._client_metrics

    async def _engine(self) -> Engine:
        return await self._client._engine()

    def _ref(self, workflow_id: str, run_id: str | None) -> RunRef:
        return RunRef(self._client.namespace, workflow_id, run_id)

    async def _encode_headers(self, headers: Mapping[str, Any]) -> dict[str, Any]:
        """Headers as stored: run through the codec when header_codec_behavior is CODEC."""
        if not headers:
            return {}
        codec = self._client.data_converter.payload_codec
        if (
            codec is None
            or self._client._config["header_codec_behavior"]
            != hotmesh_temporal.common.HeaderCodecBehavior.CODEC
        ):
            return dict(headers)
        keys = list(headers)
        encoded = await codec.encode([headers[k] for k in keys])
        return dict(zip(keys, encoded, strict=False))

    @_rpc_metric("StartWorkflowExecution")
    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        if not input.id:
            raise ValueError("id is required")
        if not input.task_queue:
            raise RPCError("missing task queue name", RPCStatusCode.INVALID_ARGUMENT, b"")
        _check_id_policies(input.id_reuse_policy, input.id_conflict_policy)
        client = self._client
        engine = await self._engine()
        start = await self._new_run_request(input)
        request_id = str(uuid.uuid4())
        if input.start_signal:
            start["signal"] = await _signal_event(
                client,
                input.id,
                input.start_signal,
                input.start_signal_args,
                await self._encode_headers(input.headers),
                request_id,
                workflow_type=input.workflow,
            )
        # The run's close is kept for result() from now on (no first look needed).
        engine.close_waiter().expect(start["run_id"])
        local = engine.local_worker_for(client.namespace, input.task_queue, input.workflow)
        if local is not None:
            start["eager_worker"] = local.config.identity
        reply: dict[str, Any] = {}
        try:
            if input.start_signal:  # may signal a running workflow: once per request id
                reply = await _call(engine.signal_with_start(request_id, start))
            else:  # a retry finds the run it started by its run id
                reply = await _call(engine.start_workflow(start))
        finally:
            if local is not None:  # it held room for the task: take it, or let go
                local.take_started_run(reply.get("task"))
        _raise_if_refused(reply)
        if reply["status"] == "already_started":
            raise hotmesh_temporal.exceptions.WorkflowAlreadyStartedError(
                input.id, input.workflow, run_id=str(reply["run_id"])
            )
        actual_run_id = str(reply["run_id"])
        handle: WorkflowHandle[Any, Any] = WorkflowHandle(
            client,
            input.id,
            # As temporalio's start handle: no run_id, so signal, query, cancel, terminate
            # and describe address the latest run (after continue-as-new, retries, cron).
            run_id=None,
            result_run_id=actual_run_id,
            # The run the start answered with, also when it is an existing run
            # (USE_EXISTING, signal-with-start), as Temporal's start response gives it.
            first_execution_run_id=actual_run_id,
            result_type=input.ret_type,
        )
        # temporalio's flag for a start whose first workflow task went straight to a worker.
        eager = bool(input.request_eager_start and reply.get("task"))
        setattr(handle, "__temporal_eagerly_started", eager)
        return handle

    async def _new_run_request(self, input: Any) -> dict[str, Any]:
        """The start_workflow() argument for a StartWorkflowInput or an
        UpdateWithStartStartWorkflowInput (payloads, memo and headers encoded)."""
        dc = _for_workflow(self._client, input.id, workflow_type=input.workflow)
        engine = await self._engine()
        _check_names(engine, WorkflowId=input.id, TaskQueue=input.task_queue)
        _check_names(engine, WorkflowType=input.workflow)
        payloads = await dc.encode(list(input.args)) if input.args else []
        _check_payloads(self._client, engine, payloads)
        memo_json = None
        if input.memo:
            encoded = await dc.encode(list(input.memo.values()))
            memo_json = {
                k: p.to_json_dict() for k, p in zip(input.memo.keys(), encoded, strict=False)
            }
            _refuse_large_memo(
                engine.store.limits,
                self._client.service_client.config.payload_limits.memo_warn_size,
                memo_json,
            )
        start_delay = input.start_delay
        if input.cron_schedule:
            engine = await self._engine()
            start_delay = await engine.cron_start_delay(input.cron_schedule, start_delay)
        user_metadata = await visibility.encode_user_metadata(
            dc, input.static_summary, input.static_details
        )
        return new_run_start(
            namespace=self._client.namespace,
            workflow_id=input.id,
            run_id=new_run_id(),
            workflow_type=input.workflow,
            task_queue=input.task_queue,
            arguments=payloads,
            execution_timeout=input.execution_timeout,
            run_timeout=input.run_timeout,
            task_timeout=input.task_timeout,
            memo_json=memo_json,
            search_attributes_json=_search_attributes_json(input.search_attributes),
            headers=await self._encode_headers(input.headers),
            identity=self._client.identity,
            retry_policy=input.retry_policy,
            cron_schedule=input.cron_schedule,
            start_delay=start_delay,
            id_reuse_policy=int(input.id_reuse_policy),
            id_conflict_policy=int(input.id_conflict_policy),
            user_metadata=user_metadata,
        )

    @_rpc_metric("UpdateWorkflowExecution")
    async def start_workflow_update(
        self, input: StartWorkflowUpdateInput
    ) -> WorkflowUpdateHandle[Any]:
        """Admit the update to the run, then wait for the stage it asks for."""
        engine = await self._engine()
        request = await self._update_request(input, input.id)
        async with _expecting_update(engine) as row_id:
            reply = await _call(
                engine.request_update(self._ref(input.id, input.run_id), request, row_id)
            )
            reply = dict(reply, update_id=request["meta"]["updateId"])
            return await _handle_after_admission(
                self._client, input.id, reply, input, input.rpc_timeout
            )

    async def start_update_with_start_workflow(
        self, input: StartWorkflowUpdateWithStartInput
    ) -> WorkflowUpdateHandle[Any]:
        """Start the workflow (or use the running one, per its id_conflict_policy)
        and admit the update, in one transaction; then wait as start_update does."""
        start_input = input.start_workflow_input
        engine = await self._engine()
        async with _expecting_update(engine) as row_id:
            try:
                start = await self._new_run_request(start_input)
                request = await self._update_request(input.update_workflow_input, start_input.id)
                # As on Temporal: an update of this id the latest run completed (even a
                # closed run) answers with its outcome, and no run starts.
                completed = await self._completed_update(start_input.id, input)
                if completed is not None:
                    reply = {"status": "existing", "run_id": completed["run_id"]}
                    reply["update"] = completed
                else:
                    reply = await _call(engine.start_workflow_with_update(start, request, row_id))
                _raise_if_refused(reply)
                if reply["status"] == "already_started":
                    # As on Temporal: an update already known by this id is attached
                    # to, whatever the conflict and reuse policies say.
                    existing = await self._existing_update(start_input.id, input)
                    if existing is not None:
                        reply = {"run_id": existing["run_id"], "update": existing}
                    else:
                        raise hotmesh_temporal.exceptions.WorkflowAlreadyStartedError(
                            start_input.id, start_input.workflow, run_id=str(reply["run_id"])
                        )
            except BaseException as err:
                input._on_start_error(err)
                raise
            input._on_start(reply)
            update_reply = dict(reply["update"], update_id=request["meta"]["updateId"])
            return await _handle_after_admission(
                self._client,
                start_input.id,
                update_reply,
                input.update_workflow_input,
                input.rpc_timeout,
            )

    async def _completed_update(
        self, workflow_id: str, input: StartWorkflowUpdateWithStartInput
    ) -> Mapping[str, Any] | None:
        """The update of ``input``'s explicit id that the workflow's latest run
        completed, if any (one the run's close abandoned did not complete)."""
        existing = await self._existing_update(workflow_id, input)
        if existing is None or existing.get("state") != UPDATE_ROW_COMPLETED:
            return None
        failure = (existing.get("outcome") or {}).get("failure") or {}
        info = failure.get("applicationFailureInfo") or {}
        if info.get("type") == "AcceptedUpdateCompletedWorkflow":
            return None
        return existing

    async def _existing_update(
        self, workflow_id: str, input: StartWorkflowUpdateWithStartInput
    ) -> Mapping[str, Any] | None:
        """The update of ``input``'s explicit id on the workflow's latest run, if any."""
        update_id = input.update_workflow_input.update_id
        if not update_id:
            return None
        engine = await self._engine()
        reply = await _call(
            engine.find_update(RunRef(self._client.namespace, workflow_id, None), update_id)
        )
        return reply if reply.get("status") == "ok" else None

    async def _update_request(self, input: Any, workflow_id: str) -> dict[str, Any]:
        """The update.v1.Request JSON of an update input (payloads encoded)."""
        # An update-with-start's update has no run to name yet.
        run_id = input.run_id if isinstance(input, StartWorkflowUpdateInput) else None
        dc = _for_workflow(self._client, workflow_id, run_id=run_id)
        engine = await self._engine()
        _check_names(engine, WorkflowId=workflow_id)
        if input.update_id:
            _check_names(engine, UpdateId=input.update_id)
        payloads = await dc.encode(list(input.args)) if input.args else []
        _check_payloads(self._client, engine, payloads)
        return request_json(
            input.update_id or str(uuid.uuid4()),
            input.update,
            payloads,
            await self._encode_headers(input.headers),
            self._client.identity,
        )

    @_rpc_metric("DescribeWorkflowExecution")
    async def describe_workflow(self, input: DescribeWorkflowInput) -> WorkflowExecutionDescription:
        row = await _find_run(self._client, input.id, input.run_id)
        engine = await self._engine()
        activities = await _call(engine.pending_activities(row["run_id"]))
        return WorkflowExecutionDescription._from_row(row, activities, self._client)

    @_rpc_metric("RequestCancelWorkflowExecution")
    async def cancel_workflow(self, input: CancelWorkflowInput) -> None:
        engine = await self._engine()
        status = await _call(
            engine.request_cancel_workflow(
                self._ref(input.id, input.run_id),
                input.reason,
                self._client.identity,
                str(uuid.uuid4()),  # a retry after a lost connection is applied once
            )
        )
        if status == "not_running":
            return  # as on Temporal: cancelling a closed run is not an error
        _raise_for_status(status, input.id)

    @_rpc_metric("SignalWorkflowExecution")
    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        engine = await self._engine()
        request_id = str(uuid.uuid4())  # a retry after a lost connection is applied once
        event = await _signal_event(
            self._client,
            input.id,
            input.signal,
            input.args,
            await self._encode_headers(input.headers),
            request_id,
            run_id=input.run_id,
        )
        status = await _call(
            engine.signal_workflow(self._ref(input.id, input.run_id), event, request_id)
        )
        _raise_for_status(status, input.id)

    @_rpc_metric("QueryWorkflow")
    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        client = self._client
        engine = await self._engine()
        _check_names(engine, WorkflowId=input.id)
        dc = _for_workflow(client, input.id, run_id=input.run_id)
        payloads = await dc.encode(list(input.args)) if input.args else []
        _check_payloads(client, engine, payloads)
        query_id = uuid.uuid4()
        request = {"name": input.query, "args": h.payloads(payloads)}
        header = h.header(await self._encode_headers(input.headers))
        if header:
            request["header"] = header
        reply = await _call(engine.ask_query(query_id, self._ref(input.id, input.run_id), request))
        if reply["status"] == "not_found":
            raise RPCError(f"workflow not found for ID: {input.id}", RPCStatusCode.NOT_FOUND, b"")
        status = WorkflowExecutionStatus(reply["run_status"])
        if _rejects(input.reject_condition, status):
            await engine.cancel_query(query_id)
            raise WorkflowQueryRejectedError(status)
        waiter = engine.answer_waiter()
        timeout = input.rpc_timeout.total_seconds() if input.rpc_timeout else 30.0
        try:
            answer = await waiter.wait(str(query_id), lambda: engine.take_answer(query_id), timeout)
        except asyncio.TimeoutError as timed_out:
            await engine.cancel_query(query_id)
            raise RPCError(
                "query timed out: no worker answered (is a worker running for task queue?)",
                RPCStatusCode.DEADLINE_EXCEEDED,
                b"",
            ) from timed_out
        if "error" in answer:
            raise WorkflowQueryFailedError(answer["error"])
        result = h.parse_payloads(answer.get("result"))
        values = await dc.decode(result, [input.ret_type] if input.ret_type else None)
        return values[0] if values else None

    @_rpc_metric("TerminateWorkflowExecution")
    async def terminate_workflow(self, input: TerminateWorkflowInput) -> None:
        engine = await self._engine()
        dc = _for_workflow(self._client, input.id, run_id=input.run_id)
        details = await dc.encode(list(input.args)) if input.args else []
        status = await _call(
            engine.terminate_workflow(
                self._ref(input.id, input.run_id),
                input.reason or _DEFAULT_TERMINATE_REASON,
                h.payloads(details),
                str(uuid.uuid4()),  # a retry after a lost connection is applied once
            )
        )
        _raise_for_status(status, input.id)

    def list_workflows(self, input: ListWorkflowsInput) -> WorkflowExecutionAsyncIterator:
        return WorkflowExecutionAsyncIterator(self._client, input)

    @_rpc_metric("CountWorkflowExecutions")
    async def count_workflows(self, input: CountWorkflowsInput) -> WorkflowExecutionCount:
        return await _count_workflows(self._client, input)

    # Operations other features add. Each replaces its placeholder here with the
    # real implementation.
    def fetch_workflow_history_events(
        self, input: FetchWorkflowHistoryEventsInput
    ) -> WorkflowHistoryEventAsyncIterator:
        return WorkflowHistoryEventAsyncIterator(self._client, input)

    # Schedules: the work lives in _schedule_types (one function per operation).
    @_rpc_metric("CreateSchedule")
    async def create_schedule(self, input: CreateScheduleInput) -> ScheduleHandle:
        return await _schedule_ops.create_schedule(self._client, input)

    def list_schedules(self, input: ListSchedulesInput) -> ScheduleAsyncIterator:
        return ScheduleAsyncIterator(self._client, input)

    async def backfill_schedule(self, input: BackfillScheduleInput) -> None:
        await _schedule_ops.backfill_schedule(self._client, input)

    async def delete_schedule(self, input: DeleteScheduleInput) -> None:
        await _schedule_ops.delete_schedule(self._client, input)

    async def describe_schedule(self, input: DescribeScheduleInput) -> ScheduleDescription:
        return await _schedule_ops.describe_schedule(self._client, input)

    async def pause_schedule(self, input: PauseScheduleInput) -> None:
        await _schedule_ops.pause_schedule(self._client, input)

    async def trigger_schedule(self, input: TriggerScheduleInput) -> None:
        await _schedule_ops.trigger_schedule(self._client, input)

    async def unpause_schedule(self, input: UnpauseScheduleInput) -> None:
        await _schedule_ops.pause_schedule(self._client, input)

    async def update_schedule(self, input: UpdateScheduleInput) -> None:
        await _schedule_ops.update_schedule(self._client, input)

    update_worker_build_id_compatibility = _not_implemented("worker build id compatibility")
    get_worker_build_id_compatibility = _not_implemented("worker build id compatibility")
    get_worker_task_reachability = _not_implemented("worker task reachability")
    start_nexus_operation = _not_implemented("nexus operations")
    describe_nexus_operation = _not_implemented("nexus operations")
    get_nexus_operation_result = _not_implemented("nexus operations")
    cancel_nexus_operation = _not_implemented("nexus operations")
    terminate_nexus_operation = _not_implemented("nexus operations")
    list_nexus_operations = _not_implemented("nexus operations", sync=True)
    count_nexus_operations = _not_implemented("nexus operations")


def _for_workflow(
    client: Client,
    workflow_id: str,
    *,
    run_id: str | None = None,
    workflow_type: str | None = None,
) -> DataConverter:
    """The client's data converter in the context of one workflow, as temporalio
    gives it for that workflow's inputs and outputs. External storage stores on
    behalf of that workflow, named as temporalio names it: with its type when
    starting it, with the run id the call targets otherwise."""
    target = StorageDriverWorkflowInfo(
        namespace=client.namespace, id=workflow_id, run_id=run_id or None, type=workflow_type
    )
    return client.data_converter.with_context(
        WorkflowSerializationContext(namespace=client.namespace, workflow_id=workflow_id)
    )._with_store_target(target)


async def _signal_event(
    client: Client,
    workflow_id: str,
    name: str,
    args: Sequence[Any],
    headers: Mapping[str, Any] | None,
    request_id: str,
    *,
    run_id: str | None = None,
    workflow_type: str | None = None,
) -> dict[str, Any]:
    engine = await client._engine()
    _check_names(engine, SignalName=name)
    dc = _for_workflow(client, workflow_id, run_id=run_id, workflow_type=workflow_type)
    payloads = await dc.encode(list(args)) if args else []
    _check_payloads(client, engine, payloads)
    return h.event(
        "WorkflowExecutionSignaled",
        h.strip_none(
            {
                "signalName": name,
                "input": h.payloads(payloads),
                "identity": client.identity,
                "header": h.header(headers),
                "requestId": request_id,
            }
        ),
    )


async def _find_run(client: Client, workflow_id: str, run_id: str | None) -> Mapping[str, Any]:
    """The run's execution row (the latest run when ``run_id`` is None)."""
    engine = await client._engine()
    row = await _call(engine.find_run(RunRef(client.namespace, workflow_id, run_id)))
    if row is None or row["run_id"] is None:
        if run_id:  # Temporal's wording when a run id was given
            raise RPCError(
                f'workflow execution not found for workflow ID "{workflow_id}" '
                f'and run ID "{run_id}"',
                RPCStatusCode.NOT_FOUND,
                b"",
            )
        raise RPCError(f"workflow not found for ID: {workflow_id}", RPCStatusCode.NOT_FOUND, b"")
    return row


def _handler_name(handler: Any, kind: str) -> str:
    if isinstance(handler, str):
        return handler
    defn = getattr(handler, f"_defn_{kind}", None) or getattr(
        handler, f"__temporal_{kind}_definition", None
    )
    name = getattr(defn, "name", None)
    if name:
        return name
    if defn is not None and getattr(defn, "dynamic", False):
        raise RuntimeError(f"Cannot invoke dynamic {kind} definition")
    return getattr(handler, "__name__", str(handler))


def _check_id_policies(reuse: Any, conflict: Any) -> None:
    """The combination Temporal's frontend refuses before starting anything."""
    terminate_if_running = hotmesh_temporal.common.WorkflowIDReusePolicy.TERMINATE_IF_RUNNING
    if reuse == terminate_if_running and conflict:
        raise RPCError(
            "Invalid WorkflowIDReusePolicy: WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING "
            "cannot be used together with a WorkflowIDConflictPolicy.",
            RPCStatusCode.INVALID_ARGUMENT,
            b"",
        )


def _raise_for_status(status: str, workflow_id: str) -> None:
    if status.startswith("invalid_argument:"):
        # The run's history is over a hard limit: it was terminated instead (the
        # server's reason, e.g. "Workflow history count exceeds limit.").
        raise RPCError(status.partition(":")[2], RPCStatusCode.INVALID_ARGUMENT, b"")
    if status == "not_found":
        raise RPCError(f"workflow not found for ID: {workflow_id}", RPCStatusCode.NOT_FOUND, b"")
    if status == "not_running":
        raise RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b"")


def _rejects(condition: Any, status: WorkflowExecutionStatus) -> bool:
    QRC = hotmesh_temporal.common.QueryRejectCondition
    if condition == QRC.NOT_OPEN:
        return status != WorkflowExecutionStatus.RUNNING
    if condition == QRC.NOT_COMPLETED_CLEANLY:
        return status not in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED)
    return False


def _return_type(fn: Any) -> type | None:
    try:
        import typing

        return typing.get_type_hints(fn).get("return")
    except Exception:
        return None


def _raise_if_refused(reply: Mapping[str, Any]) -> None:
    """start_workflow's refusal: the start's search attributes (schema/0013), or a
    signal-with-start finding the running workflow over a hard history limit."""
    if reply["status"] == "invalid_argument":
        raise RPCError(reply["message"], RPCStatusCode.INVALID_ARGUMENT, b"")


def _execution_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of client.WorkflowExecution for one executions row."""
    info = visibility.raw_info(row)
    legacy, typed = visibility.decode_both(row["search_attributes"])
    return dict(
        close_time=row["close_time"],
        execution_time=row["execution_time"],
        history_length=info.history_length,
        id=row["workflow_id"],
        namespace=row["namespace"],
        parent_id=info.parent_execution.workflow_id if info.parent_execution else None,
        parent_run_id=info.parent_execution.run_id if info.parent_execution else None,
        root_id=info.root_execution.workflow_id,
        root_run_id=info.root_execution.run_id,
        raw_info=info,
        run_id=str(row["run_id"]),
        search_attributes=legacy,
        start_time=row["start_time"],
        status=WorkflowExecutionStatus(row["status"]),
        task_queue=row["task_queue"],
        typed_search_attributes=typed,
        workflow_type=row["workflow_type"],
    )


logger = logging.getLogger("hotmesh_temporal")


def _check_names(engine: Engine, **names: str) -> None:
    _refuse_bad_names(engine.store.limits, **names)


def _check_payloads(client: Client, engine: Engine, payloads: Sequence[Any]) -> None:
    """Temporal's blob-size limits on what a client sends: a warning past
    ``payload_limits.payloads_warn_size``, INVALID_ARGUMENT past the deployment's
    blob_size_error (the server's "Blob data size exceeds limit.")."""
    if not payloads:
        return
    size = sum(p.ByteSize() for p in payloads)
    if size > engine.store.limits.blob_size_error:
        raise RPCError(_limits.BLOB_TOO_LARGE, RPCStatusCode.INVALID_ARGUMENT, b"")
    warn = client.service_client.config.payload_limits.payloads_warn_size
    if warn and size > warn:
        logger.warning("%s size=%d limit=%d", _limits.PAYLOADS_WARNING, size, warn)


@dataclass(frozen=True)
class WorkflowExecution:
    """One workflow run as listed or described."""

    close_time: datetime | None
    execution_time: datetime | None
    history_length: int
    id: str
    namespace: str
    parent_id: str | None
    parent_run_id: str | None
    root_id: str | None
    root_run_id: str | None
    raw_info: Any
    run_id: str
    search_attributes: Mapping[str, Any]
    start_time: datetime
    status: WorkflowExecutionStatus | None
    task_queue: str
    typed_search_attributes: hotmesh_temporal.common.TypedSearchAttributes
    workflow_type: str
    _context_free_data_converter: Any = dataclasses.field(repr=False, compare=False)

    @property
    def data_converter(self) -> Any:
        """The client's converter in this workflow's serialization context (the one
        its memo and metadata were encoded in), as temporalio gives it."""
        return self._context_free_data_converter.with_context(
            WorkflowSerializationContext(namespace=self.namespace, workflow_id=self.id)
        )

    async def memo(self) -> Mapping[str, Any]:
        """The run's memo, each value decoded without a type hint."""
        return await self.data_converter._decode_memo(self.raw_info.memo)

    async def memo_value(
        self, key: str, default: Any = _ARG_UNSET, *, type_hint: type | None = None
    ) -> Any:
        """One memo value, decoded (KeyError when missing and no default is given)."""
        return await self.data_converter._decode_memo_field(
            self.raw_info.memo, key, default, type_hint
        )


@dataclass(frozen=True)
class WorkflowExecutionDescription(WorkflowExecution):
    """A run as ``WorkflowHandle.describe()`` sees it."""

    raw_description: Any
    _static_summary: str | None = None
    _static_details: str | None = None
    _metadata_decoded: bool = False

    async def static_summary(self) -> str | None:
        """The static summary given when the run started (None if none was)."""
        await self._decode_metadata()
        return self._static_summary

    async def static_details(self) -> str | None:
        """The static details given when the run started (None if none were)."""
        await self._decode_metadata()
        return self._static_details

    async def _decode_metadata(self) -> None:
        if self._metadata_decoded:
            return
        summary, details = await visibility.decode_user_metadata(
            self.data_converter, self.raw_description.execution_config.user_metadata
        )
        # Decoded once, on first use (the description is frozen like its base class).
        object.__setattr__(self, "_static_summary", summary)
        object.__setattr__(self, "_static_details", details)
        object.__setattr__(self, "_metadata_decoded", True)

    @staticmethod
    def _from_row(
        row: Mapping[str, Any], activities: Sequence[Mapping[str, Any]], client: Client
    ) -> WorkflowExecutionDescription:
        fields = _execution_fields(row)
        return WorkflowExecutionDescription(
            **fields,
            _context_free_data_converter=client.data_converter,
            raw_description=visibility.describe_response(row, activities, fields["raw_info"]),
        )


# ================================================================== workflow updates


class WorkflowUpdateFailedError(hotmesh_temporal.exceptions.TemporalError):
    """The update was rejected (by its validator, or no handler) or its handler failed;
    ``cause`` is the error the workflow reported."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__("Workflow update failed")
        self.__cause__ = cause

    @property
    def cause(self) -> BaseException:
        assert self.__cause__
        return self.__cause__


class WorkflowUpdateRPCTimeoutOrCancelledError(RPCTimeoutOrCancelledError):
    """Waiting for an update timed out or was cancelled. The update itself goes on:
    only this call gave up."""

    def __init__(self) -> None:
        super().__init__("Timeout or cancellation waiting for update")


class WorkflowUpdateStage(IntEnum):
    """How far an update must get before ``start_update`` returns (Temporal's
    UpdateWorkflowExecutionLifecycleStage values)."""

    ADMITTED = 1
    ACCEPTED = 2
    COMPLETED = 3


class WorkflowUpdateHandle(Generic[LocalReturnType]):
    """A handle to one update of a workflow: wait for its result with ``result()``."""

    def __init__(
        self,
        client: Client,
        id: str,
        workflow_id: str,
        *,
        workflow_run_id: str | None = None,
        result_type: type | None = None,
        known_outcome: Mapping[str, Any] | None = None,
    ) -> None:
        self._client = client
        self._id = id
        self._workflow_id = workflow_id
        self._workflow_run_id = workflow_run_id
        self._result_type = result_type
        self._known_outcome = known_outcome
        self._row_id: uuid.UUID | None = None  # the updates row, once known
        self._row_state = -1  # its state when last read

    @property
    def id(self) -> str:
        """The update's id."""
        return self._id

    @property
    def workflow_id(self) -> str:
        """The id of the workflow the update was sent to."""
        return self._workflow_id

    @property
    def workflow_run_id(self) -> str | None:
        """The run the update was sent to, when known."""
        return self._workflow_run_id

    async def result(
        self,
        *,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> LocalReturnType:
        """Wait for the update to finish and return its result; raise
        WorkflowUpdateFailedError when it failed or was rejected."""
        await self._poll_until_outcome(rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout)
        assert self._known_outcome is not None
        dc = _for_workflow(self._client, self._workflow_id)
        if "failure" in self._known_outcome:
            failure = h.parse_failure(self._known_outcome["failure"])
            raise WorkflowUpdateFailedError(await dc.decode_failure(failure))
        payloads = h.parse_payloads(self._known_outcome.get("success"))
        if not payloads:
            return cast(LocalReturnType, None)
        values = await dc.decode(payloads, [self._result_type] if self._result_type else None)
        if len(values) > 1:
            warnings.warn(f"Expected single update result, got {len(values)}", stacklevel=2)
        return cast(LocalReturnType, values[0] if values else None)

    async def _poll_until_outcome(
        self,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        if self._known_outcome is not None:
            return
        await _wait_for_update(self, UPDATE_ROW_COMPLETED, rpc_timeout)

    def _take_reply(self, reply: Mapping[str, Any]) -> None:
        """Remember what the database said about this update."""
        self._row_id = uuid.UUID(str(reply["id"]))
        self._row_state = reply["state"]
        self._workflow_run_id = str(reply["run_id"])
        if reply["state"] == UPDATE_ROW_ABORTED:
            raise RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b"")
        if reply["state"] >= UPDATE_ROW_COMPLETED:
            self._known_outcome = reply["outcome"]


# States of an update's row (schema/0003_updates.sql).
UPDATE_ROW_ACCEPTED, UPDATE_ROW_COMPLETED, UPDATE_ROW_ABORTED = 1, 2, 3


async def _find_update_reply(
    handle: WorkflowUpdateHandle[Any], engine: Engine
) -> Mapping[str, Any]:
    """The update's row by workflow / run / update id."""
    ref = RunRef(handle._client.namespace, handle._workflow_id, handle._workflow_run_id)
    reply = await _call(engine.find_update(ref, handle._id))
    if reply["status"] == "not_found":
        raise RPCError(
            f"workflow not found for ID: {handle._workflow_id}", RPCStatusCode.NOT_FOUND, b""
        )
    if reply["status"] == "update_not_found":
        raise RPCError(f'update "{handle._id}" not found', RPCStatusCode.NOT_FOUND, b"")
    return reply


async def _wait_for_update(
    handle: WorkflowUpdateHandle[Any], state: int, rpc_timeout: timedelta | None
) -> None:
    """Wait (woken by 'u|<row id>' notifications) until the update's row reaches
    ``state``; a row aborted by its run closing raises RPCError as Temporal does."""
    engine = await handle._client._engine()
    if handle._row_id is None:
        handle._take_reply(await _find_update_reply(handle, engine))
    if handle._row_state >= state:
        return
    waiter = engine.update_waiter()
    try:
        reply = await waiter.wait_for_state(
            str(handle._row_id),
            state,
            rpc_timeout.total_seconds() if rpc_timeout else None,
            known_state=handle._row_state,
        )
    except asyncio.TimeoutError as err:
        raise WorkflowUpdateRPCTimeoutOrCancelledError() from err
    except asyncio.CancelledError as err:
        raise WorkflowUpdateRPCTimeoutOrCancelledError() from err
    handle._take_reply(reply)


@contextlib.asynccontextmanager
async def _expecting_update(engine: Engine) -> AsyncIterator[uuid.UUID]:
    """A row id for a new update, listened for before the update is sent (so waiting
    for it needs no first look at the database)."""
    waiter = engine.update_waiter()
    row_id = uuid.uuid4()
    await waiter.expect(str(row_id))
    try:
        yield row_id
    finally:
        waiter.forget(str(row_id))


def _update_name_and_result_type(update: str | Callable) -> tuple:
    """The update's name and, for a decorated handler, its return type."""
    if isinstance(update, str):
        return update, None
    defn = getattr(update, UPDATE_ATTR, None)
    if defn is None:
        raise RuntimeError(
            f"update definition not found on {getattr(update, '__qualname__', update)}"
        )
    if defn.name is None:
        raise RuntimeError("Cannot invoke dynamic update definition")
    return defn.name, defn.ret_type


async def _handle_after_admission(
    client: Client,
    workflow_id: str,
    reply: Mapping[str, Any],
    input: Any,
    rpc_timeout: timedelta | None,
) -> WorkflowUpdateHandle[Any]:
    """Turn request_update()'s reply into a handle, waiting for the asked stage."""
    if reply["status"] == "not_found":
        raise RPCError(f"workflow not found for ID: {workflow_id}", RPCStatusCode.NOT_FOUND, b"")
    if reply["status"] == "not_running":
        raise RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b"")
    handle: WorkflowUpdateHandle[Any] = WorkflowUpdateHandle(
        client,
        reply["update_id"],
        workflow_id,
        workflow_run_id=str(reply["run_id"]),
        result_type=input.ret_type,
    )
    handle._take_reply(reply)
    # As Temporal: the call returns once the workflow has accepted (or rejected) it...
    await _wait_for_update(handle, UPDATE_ROW_ACCEPTED, rpc_timeout)
    # ...and waits on for the outcome when COMPLETED was asked for.
    if input.wait_for_stage == WorkflowUpdateStage.COMPLETED:
        await handle._poll_until_outcome()
    return handle


class WithStartWorkflowOperation(Generic[SelfType, ReturnType]):
    """How to start the workflow of an update-with-start call (when it is not
    running); ``id_conflict_policy`` says what to do when it is."""

    def __init__(
        self,
        workflow: str | Callable[..., Awaitable[Any]],
        arg: Any = _ARG_UNSET,
        *,
        args: Sequence[Any] = [],
        id: str,
        task_queue: str,
        id_conflict_policy: hotmesh_temporal.common.WorkflowIDConflictPolicy,
        result_type: type | None = None,
        execution_timeout: timedelta | None = None,
        run_timeout: timedelta | None = None,
        task_timeout: timedelta | None = None,
        id_reuse_policy: hotmesh_temporal.common.WorkflowIDReusePolicy = hotmesh_temporal.common.WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
        cron_schedule: str = "",
        memo: Mapping[str, Any] | None = None,
        search_attributes: Any = None,
        static_summary: str | None = None,
        static_details: str | None = None,
        start_delay: timedelta | None = None,
        priority: hotmesh_temporal.common.Priority = hotmesh_temporal.common.Priority(),
        versioning_override: Any = None,
        stack_level: int = 2,
    ) -> None:
        name, result_hint = workflow_type_and_result_type(workflow)
        if id_conflict_policy == hotmesh_temporal.common.WorkflowIDConflictPolicy.UNSPECIFIED:
            raise ValueError("WorkflowIDConflictPolicy is required")
        self._start_workflow_input = UpdateWithStartStartWorkflowInput(
            workflow=name,
            args=list(hotmesh_temporal.common._arg_or_args(arg, args)),
            id=id,
            task_queue=task_queue,
            execution_timeout=execution_timeout,
            run_timeout=run_timeout,
            task_timeout=task_timeout,
            id_reuse_policy=id_reuse_policy,
            id_conflict_policy=id_conflict_policy,
            retry_policy=retry_policy,
            cron_schedule=cron_schedule,
            memo=memo,
            search_attributes=search_attributes,
            start_delay=start_delay,
            headers={},
            static_summary=static_summary,
            static_details=static_details,
            ret_type=result_type or result_hint,
            priority=priority,
            versioning_override=versioning_override,
        )
        self._workflow_handle: asyncio.Future[WorkflowHandle[SelfType, ReturnType]] = (
            asyncio.Future()
        )
        self._used = False

    async def workflow_handle(self) -> WorkflowHandle[SelfType, ReturnType]:
        """The started (or existing) workflow's handle, once the call got that far."""
        return await self._workflow_handle


@dataclass
class WorkflowExecutionCount:
    """The answer of count_workflows: ``count``, and ``groups`` for a GROUP BY."""

    count: int
    groups: Sequence[WorkflowExecutionCountAggregationGroup]


@dataclass
class WorkflowExecutionCountAggregationGroup:
    """One group of a GROUP BY count: its values (a status name) and its count."""

    count: int
    group_values: Sequence[Any]


class WorkflowExecutionAsyncIterator(PagedAsyncIterator[WorkflowExecution]):
    """Runs from list_workflows, fetched a page at a time as iteration needs them."""

    async def _fetch_page(
        self, page_size: int, token: bytes | None
    ) -> tuple[Sequence[WorkflowExecution], bytes | None]:
        return await _list_workflows_page(self._client, self._input.query, page_size, token)

    async def map_histories(
        self,
        *,
        event_filter_type: WorkflowHistoryEventFilterType = WorkflowHistoryEventFilterType.ALL_EVENT,
        skip_archival: bool = False,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> AsyncIterator[WorkflowHistory]:
        """The history of each listed run, fetched as the iteration reaches it."""
        async for execution in self:
            handle = self._client.get_workflow_handle(execution.id, run_id=execution.run_id)
            yield await handle.fetch_history(
                event_filter_type=event_filter_type,
                skip_archival=skip_archival,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
            )


# Last, and in module form: the HotMesh extras read this module's types.
from hotmesh_temporal.client import _hotmesh_extras  # noqa: E402
from hotmesh_temporal.client._history import (  # noqa: E402  (they refer to Client)
    WorkflowHistory,
    WorkflowHistoryEventAsyncIterator,
)
