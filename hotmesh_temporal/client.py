"""Client for starting and managing workflows, with ``temporalio.client``'s API.

``Client.connect("postgresql://...")`` talks to that database; a Temporal-style
``host:port`` means the default database (``HOTMESH_DSN``, else a local Postgres on
127.0.0.1:5432, else an embedded one). Every operation is a SQL function call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    Generic,
    List,
    Mapping,
    Optional,
    Sequence,
    Type,
    TypeVar,
    Union,
    cast,
    overload,
)

import hotmesh_temporal.common
import hotmesh_temporal.converter
import hotmesh_temporal.exceptions
from hotmesh_temporal._engine import history as h
from hotmesh_temporal._engine.completion import new_run_start
from hotmesh_temporal._engine.definitions import workflow_type_and_result_type
from hotmesh_temporal._engine.store import Store
from hotmesh_temporal._engine.waiter import CloseWaiter
from hotmesh_temporal._client_interceptor import *  # noqa: F401,F403  (public names)
from hotmesh_temporal._client_interceptor import (
    CancelWorkflowInput,
    DescribeWorkflowInput,
    Interceptor,
    OutboundInterceptor,
    QueryWorkflowInput,
    SignalWorkflowInput,
    StartWorkflowInput,
    TerminateWorkflowInput,
)
from hotmesh_temporal.service import RPCError, RPCStatusCode, ServiceClient

SelfType = TypeVar("SelfType")
ReturnType = TypeVar("ReturnType", covariant=True)

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


class WorkflowQueryRejectedError(hotmesh_temporal.exceptions.TemporalError):
    """The query's reject condition matched the workflow's status."""

    def __init__(self, status: Optional[WorkflowExecutionStatus]) -> None:
        super().__init__(f"Query rejected, status: {status}")
        self._status = status

    @property
    def status(self) -> Optional[WorkflowExecutionStatus]:
        return self._status


class Client:
    """A client of one namespace of a hotmesh_temporal database."""

    @classmethod
    async def connect(
        cls,
        target_host: str,
        *,
        namespace: str = "default",
        api_key: Optional[str] = None,
        data_converter: hotmesh_temporal.converter.DataConverter = hotmesh_temporal.converter.DataConverter.default,
        plugins: Sequence[Any] = [],
        interceptors: Sequence[Any] = [],
        default_workflow_query_reject_condition: Optional[hotmesh_temporal.common.QueryRejectCondition] = None,
        tls: Any = None,
        retry_config: Any = None,
        keep_alive_config: Any = None,
        connect_timeout: Optional[timedelta] = None,
        rpc_metadata: Mapping[str, Union[str, bytes]] = {},
        identity: Optional[str] = None,
        lazy: bool = False,
        runtime: Any = None,
        http_connect_proxy_config: Any = None,
        dns_load_balancing_config: Any = None,
        grpc_compression: Any = None,
        payload_limits: Any = None,
        header_codec_behavior: hotmesh_temporal.common.HeaderCodecBehavior = hotmesh_temporal.common.HeaderCodecBehavior.NO_CODEC,
    ) -> "Client":
        """Connect to the database that ``target_host`` names (see module docs).

        Keywords that configure a gRPC connection (tls, keep-alive, proxies,
        compression) are accepted and have no effect here.
        """
        service_client = await ServiceClient.connect(
            target_host, identity=identity, lazy=lazy, connect_timeout=connect_timeout,
            rpc_metadata=rpc_metadata, api_key=api_key,
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
        default_workflow_query_reject_condition: Optional[hotmesh_temporal.common.QueryRejectCondition] = None,
        header_codec_behavior: hotmesh_temporal.common.HeaderCodecBehavior = hotmesh_temporal.common.HeaderCodecBehavior.NO_CODEC,
    ) -> None:
        self._config: Dict[str, Any] = dict(
            service_client=service_client,
            namespace=namespace,
            data_converter=data_converter,
            plugins=plugins,
            interceptors=interceptors,
            default_workflow_query_reject_condition=default_workflow_query_reject_condition,
            header_codec_behavior=header_codec_behavior,
        )
        self._impl = _build_outbound_chain(_ClientImpl(self), interceptors)

    def config(self, *, active_config: bool = False) -> Dict[str, Any]:
        """The options of this client: ``Client(**client.config())`` builds a twin."""
        return dict(self._config)

    # ------------------------------------------------------------- properties

    @property
    def service_client(self) -> ServiceClient:
        return self._config["service_client"]

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
    def rpc_metadata(self) -> Mapping[str, Union[str, bytes]]:
        return self.service_client.config.rpc_metadata

    @rpc_metadata.setter
    def rpc_metadata(self, value: Mapping[str, Union[str, bytes]]) -> None:
        self.service_client.config.rpc_metadata = value

    @property
    def api_key(self) -> Optional[str]:
        return self.service_client.config.api_key

    @api_key.setter
    def api_key(self, value: Optional[str]) -> None:
        self.service_client.config.api_key = value

    async def _engine_store(self) -> Store:
        return await self.service_client._store()

    # ---------------------------------------------------------------- start

    async def start_workflow(
        self,
        workflow: Union[str, Callable[..., Awaitable[Any]]],
        arg: Any = _ARG_UNSET,
        *,
        args: Sequence[Any] = [],
        id: str,
        task_queue: str,
        result_type: Optional[type] = None,
        execution_timeout: Optional[timedelta] = None,
        run_timeout: Optional[timedelta] = None,
        task_timeout: Optional[timedelta] = None,
        id_reuse_policy: hotmesh_temporal.common.WorkflowIDReusePolicy = hotmesh_temporal.common.WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy: hotmesh_temporal.common.WorkflowIDConflictPolicy = hotmesh_temporal.common.WorkflowIDConflictPolicy.UNSPECIFIED,
        retry_policy: Optional[hotmesh_temporal.common.RetryPolicy] = None,
        cron_schedule: str = "",
        memo: Optional[Mapping[str, Any]] = None,
        search_attributes: Any = None,
        static_summary: Optional[str] = None,
        static_details: Optional[str] = None,
        start_delay: Optional[timedelta] = None,
        start_signal: Optional[str] = None,
        start_signal_args: Sequence[Any] = [],
        rpc_metadata: Mapping[str, Union[str, bytes]] = {},
        rpc_timeout: Optional[timedelta] = None,
        request_eager_start: bool = False,
        priority: hotmesh_temporal.common.Priority = hotmesh_temporal.common.Priority(),
        versioning_override: Any = None,
        stack_level: int = 2,
    ) -> "WorkflowHandle[Any, Any]":
        """Start a workflow run and return its handle without waiting for it."""
        name, result_hint = workflow_type_and_result_type(workflow)
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
        workflow: Union[str, Callable[..., Awaitable[Any]]],
        arg: Any = _ARG_UNSET,
        *,
        args: Sequence[Any] = [],
        id: str,
        task_queue: str,
        result_type: Optional[type] = None,
        execution_timeout: Optional[timedelta] = None,
        run_timeout: Optional[timedelta] = None,
        task_timeout: Optional[timedelta] = None,
        id_reuse_policy: hotmesh_temporal.common.WorkflowIDReusePolicy = hotmesh_temporal.common.WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy: hotmesh_temporal.common.WorkflowIDConflictPolicy = hotmesh_temporal.common.WorkflowIDConflictPolicy.UNSPECIFIED,
        retry_policy: Optional[hotmesh_temporal.common.RetryPolicy] = None,
        cron_schedule: str = "",
        memo: Optional[Mapping[str, Any]] = None,
        search_attributes: Any = None,
        static_summary: Optional[str] = None,
        static_details: Optional[str] = None,
        start_delay: Optional[timedelta] = None,
        start_signal: Optional[str] = None,
        start_signal_args: Sequence[Any] = [],
        rpc_metadata: Mapping[str, Union[str, bytes]] = {},
        rpc_timeout: Optional[timedelta] = None,
        request_eager_start: bool = False,
        priority: hotmesh_temporal.common.Priority = hotmesh_temporal.common.Priority(),
        versioning_override: Any = None,
    ) -> Any:
        """Start a workflow run and wait for its result."""
        handle = await self.start_workflow(
            workflow, arg, args=args, id=id, task_queue=task_queue, result_type=result_type,
            execution_timeout=execution_timeout, run_timeout=run_timeout,
            task_timeout=task_timeout, id_reuse_policy=id_reuse_policy,
            id_conflict_policy=id_conflict_policy, retry_policy=retry_policy,
            cron_schedule=cron_schedule, memo=memo, search_attributes=search_attributes,
            static_summary=static_summary, static_details=static_details,
            start_delay=start_delay, start_signal=start_signal,
            start_signal_args=start_signal_args, rpc_metadata=rpc_metadata,
            rpc_timeout=rpc_timeout, request_eager_start=request_eager_start,
            priority=priority, versioning_override=versioning_override,
            stack_level=3,
        )
        return await handle.result()

    # -------------------------------------------------------------- handles

    def get_workflow_handle(
        self,
        workflow_id: str,
        *,
        run_id: Optional[str] = None,
        first_execution_run_id: Optional[str] = None,
        result_type: Optional[type] = None,
    ) -> "WorkflowHandle[Any, Any]":
        """A handle to an existing workflow (its latest run unless ``run_id`` is given)."""
        return WorkflowHandle(
            self, workflow_id, run_id=run_id, result_run_id=run_id,
            first_execution_run_id=first_execution_run_id, result_type=result_type,
        )

    def get_workflow_handle_for(
        self,
        workflow: Callable[..., Awaitable[Any]],
        workflow_id: str,
        *,
        run_id: Optional[str] = None,
        first_execution_run_id: Optional[str] = None,
    ) -> "WorkflowHandle[Any, Any]":
        """A typed handle: the result type comes from the run method's annotation."""
        _, result_type = workflow_type_and_result_type(workflow)
        return self.get_workflow_handle(
            workflow_id, run_id=run_id, first_execution_run_id=first_execution_run_id,
            result_type=result_type,
        )


class WorkflowHandle(Generic[SelfType, ReturnType]):
    """A handle to a workflow, or to one run of it."""

    def __init__(
        self,
        client: Client,
        id: str,
        *,
        run_id: Optional[str] = None,
        result_run_id: Optional[str] = None,
        first_execution_run_id: Optional[str] = None,
        result_type: Optional[type] = None,
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
    def run_id(self) -> Optional[str]:
        return self._run_id

    @property
    def result_run_id(self) -> Optional[str]:
        return self._result_run_id

    @property
    def first_execution_run_id(self) -> Optional[str]:
        return self._first_execution_run_id

    async def _store(self) -> Store:
        return await self._client._engine_store()

    async def _resolve_run(self, run_id: Optional[str]) -> Mapping[str, Any]:
        return await _find_run(self._client, self._id, run_id)

    async def result(
        self,
        *,
        follow_runs: bool = True,
        rpc_metadata: Mapping[str, Union[str, bytes]] = {},
        rpc_timeout: Optional[timedelta] = None,
    ) -> ReturnType:
        """Wait for the run to close and return its result, following continue-as-new
        (and retries) to the newest run unless ``follow_runs`` is False."""
        run_id = self._result_run_id or str((await self._resolve_run(None))["run_id"])
        store = await self._store()
        waiter = self._client.service_client._close_waiter(store)
        dc = self._client.data_converter
        while True:
            row = await waiter.wait_closed(run_id)
            status = row["status"]
            if row["new_run_id"] is not None and follow_runs:
                run_id = str(row["new_run_id"])
                continue
            if status == WorkflowExecutionStatus.COMPLETED:
                values = await dc.decode(
                    h.parse_payloads(row["result"]), [self._result_type] if self._result_type else None
                )
                if len(values) > 1:
                    warnings.warn(f"Expected single result, got {len(values)}")
                return cast(ReturnType, values[0] if values else None)
            if status == WorkflowExecutionStatus.FAILED:
                failure = h.parse_failure(row["failure"])
                raise WorkflowFailureError(cause=await dc.decode_failure(failure))
            if status == WorkflowExecutionStatus.CANCELED:
                raise WorkflowFailureError(
                    cause=hotmesh_temporal.exceptions.CancelledError("Workflow cancelled")
                )
            if status == WorkflowExecutionStatus.TERMINATED:
                reason, details = await self._termination(store, run_id)
                raise WorkflowFailureError(
                    cause=hotmesh_temporal.exceptions.TerminatedError(reason or "Workflow terminated", *details)
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

    async def _termination(self, store: Store, run_id: str) -> tuple:
        events = await store.fetchval("events_after", uuid.UUID(run_id), 0)
        for ev in reversed(events):
            if ev["type"] == "WorkflowExecutionTerminated":
                details = await self._client.data_converter.decode(
                    h.parse_payloads(ev["attrs"].get("details"))
                )
                return ev["attrs"].get("reason", ""), details
        return "", []

    async def describe(
        self,
        *,
        rpc_metadata: Mapping[str, Union[str, bytes]] = {},
        rpc_timeout: Optional[timedelta] = None,
    ) -> "WorkflowExecutionDescription":
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
        rpc_metadata: Mapping[str, Union[str, bytes]] = {},
        rpc_timeout: Optional[timedelta] = None,
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
        signal: Union[str, Callable],
        arg: Any = _ARG_UNSET,
        *,
        args: Sequence[Any] = [],
        rpc_metadata: Mapping[str, Union[str, bytes]] = {},
        rpc_timeout: Optional[timedelta] = None,
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
        query: Union[str, Callable],
        arg: Any = _ARG_UNSET,
        *,
        args: Sequence[Any] = [],
        result_type: Optional[type] = None,
        reject_condition: Optional[hotmesh_temporal.common.QueryRejectCondition] = None,
        rpc_metadata: Mapping[str, Union[str, bytes]] = {},
        rpc_timeout: Optional[timedelta] = None,
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

    async def terminate(
        self,
        *args: Any,
        reason: Optional[str] = None,
        rpc_metadata: Mapping[str, Union[str, bytes]] = {},
        rpc_timeout: Optional[timedelta] = None,
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


def _build_outbound_chain(innermost: OutboundInterceptor, interceptors: Sequence[Any]) -> OutboundInterceptor:
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


class _ClientImpl(OutboundInterceptor):
    """The innermost link of the client chain: does each call against the database."""

    def __init__(self, client: "Client") -> None:
        self._client = client

    async def _store(self) -> Store:
        return await self._client._engine_store()

    async def _encode_headers(self, headers: Mapping[str, Any]) -> Dict[str, Any]:
        """Headers as stored: run through the codec when header_codec_behavior is CODEC."""
        if not headers:
            return {}
        codec = self._client.data_converter.payload_codec
        if codec is None or self._client._config["header_codec_behavior"] != hotmesh_temporal.common.HeaderCodecBehavior.CODEC:
            return dict(headers)
        keys = list(headers)
        encoded = await codec.encode([headers[k] for k in keys])
        return dict(zip(keys, encoded))

    async def start_workflow(self, input: StartWorkflowInput) -> "WorkflowHandle[Any, Any]":
        if not input.id:
            raise ValueError("id is required")
        if not input.task_queue:
            raise ValueError("task_queue is required")
        client = self._client
        dc = client.data_converter
        store = await self._store()
        payloads = await dc.encode(list(input.args)) if input.args else []
        memo_json = None
        if input.memo:
            encoded = await dc.encode(list(input.memo.values()))
            memo_json = {k: p.to_json_dict() for k, p in zip(input.memo.keys(), encoded)}
        run_id = str(uuid.uuid4())
        start = new_run_start(
            namespace=client.namespace,
            workflow_id=input.id,
            run_id=run_id,
            workflow_type=input.workflow,
            task_queue=input.task_queue,
            arguments=payloads,
            execution_timeout=input.execution_timeout,
            run_timeout=input.run_timeout,
            task_timeout=input.task_timeout,
            memo_json=memo_json,
            headers=await self._encode_headers(input.headers),
            identity=client.identity,
            retry_policy=input.retry_policy,
            cron_schedule=input.cron_schedule,
            start_delay=input.start_delay,
            id_reuse_policy=int(input.id_reuse_policy),
            id_conflict_policy=int(input.id_conflict_policy),
        )
        if input.start_signal:
            start["signal"] = await _signal_event(
                client, input.start_signal, input.start_signal_args, await self._encode_headers(input.headers)
            )
        reply = await _call(store.fetchval("start_workflow", start))
        if reply["status"] == "already_started":
            raise hotmesh_temporal.exceptions.WorkflowAlreadyStartedError(
                input.id, input.workflow, run_id=str(reply["run_id"])
            )
        actual_run_id = str(reply["run_id"])
        return WorkflowHandle(
            client,
            input.id,
            run_id=actual_run_id,
            result_run_id=actual_run_id,
            first_execution_run_id=actual_run_id if reply["status"] == "started" else None,
            result_type=input.ret_type,
        )

    async def describe_workflow(self, input: DescribeWorkflowInput) -> "WorkflowExecutionDescription":
        row = await _find_run(self._client, input.id, input.run_id)
        return WorkflowExecutionDescription._from_row(row, self._client)

    async def cancel_workflow(self, input: CancelWorkflowInput) -> None:
        store = await self._store()
        status = await _call(store.fetchval(
            "request_cancel_workflow", self._client.namespace, input.id,
            uuid.UUID(input.run_id) if input.run_id else None, input.reason, self._client.identity,
        ))
        _raise_for_status(status, input.id)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        store = await self._store()
        event = await _signal_event(self._client, input.signal, input.args, await self._encode_headers(input.headers))
        status = await _call(store.fetchval(
            "signal_workflow", self._client.namespace, input.id,
            uuid.UUID(input.run_id) if input.run_id else None, event,
        ))
        _raise_for_status(status, input.id)

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        client = self._client
        store = await self._store()
        payloads = await client.data_converter.encode(list(input.args)) if input.args else []
        query_id = uuid.uuid4()
        request = {"name": input.query, "args": h.payloads(payloads)}
        header = h.header(await self._encode_headers(input.headers))
        if header:
            request["header"] = header
        reply = await _call(store.fetchval(
            "ask_query", query_id, client.namespace, input.id,
            uuid.UUID(input.run_id) if input.run_id else None, request,
        ))
        if reply["status"] == "not_found":
            raise RPCError(f"workflow not found for ID: {input.id}", RPCStatusCode.NOT_FOUND, b"")
        status = WorkflowExecutionStatus(reply["run_status"])
        if _rejects(input.reject_condition, status):
            await store.fetchval("cancel_query", query_id)
            raise WorkflowQueryRejectedError(status)
        waiter = client.service_client._answer_waiter(store)
        timeout = input.rpc_timeout.total_seconds() if input.rpc_timeout else 30.0
        try:
            answer = await waiter.wait(str(query_id), lambda: store.fetchval("take_answer", query_id), timeout)
        except asyncio.TimeoutError:
            await store.fetchval("cancel_query", query_id)
            raise RPCError(
                "query timed out: no worker answered (is a worker running for task queue?)",
                RPCStatusCode.DEADLINE_EXCEEDED, b"",
            )
        if "error" in answer:
            raise WorkflowQueryFailedError(answer["error"])
        result = h.parse_payloads(answer.get("result"))
        values = await client.data_converter.decode(result, [input.ret_type] if input.ret_type else None)
        return values[0] if values else None

    async def terminate_workflow(self, input: TerminateWorkflowInput) -> None:
        store = await self._store()
        details = await self._client.data_converter.encode(list(input.args)) if input.args else []
        status = await _call(store.fetchval(
            "terminate_workflow", self._client.namespace, input.id,
            uuid.UUID(input.run_id) if input.run_id else None, input.reason or "",
            h.payloads(details),
        ))
        _raise_for_status(status, input.id)

    # Operations other features add. Each replaces its placeholder here with the
    # real implementation.
    fetch_workflow_history_events = _not_implemented("fetch_history_events", sync=True)
    list_workflows = _not_implemented("list_workflows", sync=True)
    count_workflows = _not_implemented("count_workflows")
    start_activity = _not_implemented("standalone activities (start_activity)")
    cancel_activity = _not_implemented("standalone activities (cancel_activity)")
    terminate_activity = _not_implemented("standalone activities (terminate_activity)")
    pause_activity = _not_implemented("standalone activities (pause_activity)")
    unpause_activity = _not_implemented("standalone activities (unpause_activity)")
    update_activity_options = _not_implemented("standalone activities (update_activity_options)")
    describe_activity = _not_implemented("standalone activities (describe_activity)")
    list_activities = _not_implemented("standalone activities (list_activities)", sync=True)
    count_activities = _not_implemented("standalone activities (count_activities)")
    start_workflow_update = _not_implemented("workflow updates (start_workflow_update)")
    start_update_with_start_workflow = _not_implemented("update with start")
    heartbeat_async_activity = _not_implemented("async activity heartbeat")
    complete_async_activity = _not_implemented("async activity completion")
    fail_async_activity = _not_implemented("async activity failure")
    report_cancellation_async_activity = _not_implemented("async activity cancellation report")
    create_schedule = _not_implemented("schedules (create_schedule)")
    list_schedules = _not_implemented("schedules (list_schedules)", sync=True)
    backfill_schedule = _not_implemented("schedules (backfill)")
    delete_schedule = _not_implemented("schedules (delete)")
    describe_schedule = _not_implemented("schedules (describe)")
    pause_schedule = _not_implemented("schedules (pause)")
    trigger_schedule = _not_implemented("schedules (trigger)")
    unpause_schedule = _not_implemented("schedules (unpause)")
    update_schedule = _not_implemented("schedules (update)")


async def _signal_event(
    client: Client, name: str, args: Sequence[Any], headers: Optional[Mapping[str, Any]] = None
) -> Dict[str, Any]:
    payloads = await client.data_converter.encode(list(args)) if args else []
    return h.event(
        "WorkflowExecutionSignaled",
        h.strip_none(
            {
                "signalName": name,
                "input": h.payloads(payloads),
                "identity": client.identity,
                "header": h.header(headers),
            }
        ),
    )


async def _find_run(client: Client, workflow_id: str, run_id: Optional[str]) -> Mapping[str, Any]:
    """The run's execution row (the latest run when ``run_id`` is None)."""
    store = await client._engine_store()
    row = await _call(store.fetchrow(
        "find_run", client.namespace, workflow_id, uuid.UUID(run_id) if run_id else None
    ))
    if row is None or row["run_id"] is None:
        raise RPCError(f"workflow not found for ID: {workflow_id}", RPCStatusCode.NOT_FOUND, b"")
    return row


def _handler_name(handler: Any, kind: str) -> str:
    if isinstance(handler, str):
        return handler
    defn = getattr(handler, f"_defn_{kind}", None) or getattr(handler, f"__temporal_{kind}_definition", None)
    name = getattr(defn, "name", None)
    if name:
        return name
    if defn is not None and getattr(defn, "dynamic", False):
        raise RuntimeError(f"Cannot invoke dynamic {kind} definition")
    return getattr(handler, "__name__", str(handler))


def _raise_for_status(status: str, workflow_id: str) -> None:
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


def _return_type(fn: Any) -> Optional[type]:
    try:
        import typing

        return typing.get_type_hints(fn).get("return")
    except Exception:
        return None


async def _call(awaitable: Awaitable[Any]) -> Any:
    """Run one store call, turning a lost database into a clear RPCError."""
    import asyncpg

    try:
        return await awaitable
    except (OSError, asyncpg.exceptions.ConnectionDoesNotExistError,
            asyncpg.exceptions.CannotConnectNowError, asyncpg.exceptions.InterfaceError) as err:
        raise RPCError(f"database unavailable: {err}", RPCStatusCode.UNAVAILABLE, b"") from err


@dataclass(frozen=True)
class WorkflowExecution:
    """One workflow run as listed or described."""

    close_time: Optional[datetime]
    execution_time: Optional[datetime]
    history_length: int
    id: str
    namespace: str
    parent_id: Optional[str]
    parent_run_id: Optional[str]
    root_id: Optional[str]
    root_run_id: Optional[str]
    raw_info: Any
    run_id: str
    search_attributes: Mapping[str, Any]
    start_time: datetime
    status: Optional[WorkflowExecutionStatus]
    task_queue: str
    typed_search_attributes: hotmesh_temporal.common.TypedSearchAttributes
    workflow_type: str
    _context_free_data_converter: Any = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def data_converter(self) -> Any:
        return self._context_free_data_converter

    async def memo(self) -> Mapping[str, Any]:
        """The run's memo, decoded."""
        raw = (self.raw_info or {}).get("memo") or {}
        keys = list(raw)
        values = await self._context_free_data_converter.decode(
            [h.Payload.from_json_dict(raw[k]) for k in keys]
        )
        return dict(zip(keys, values))

    async def memo_value(self, key: str, default: Any = _ARG_UNSET, *, type_hint: Optional[type] = None) -> Any:
        """One memo value, decoded (KeyError when missing and no default is given)."""
        raw = (self.raw_info or {}).get("memo") or {}
        if key not in raw:
            if default is _ARG_UNSET:
                raise KeyError(f"Memo does not have a value for key {key}")
            return default
        values = await self._context_free_data_converter.decode(
            [h.Payload.from_json_dict(raw[key])], [type_hint] if type_hint else None
        )
        return values[0]


@dataclass(frozen=True)
class WorkflowExecutionDescription(WorkflowExecution):
    """A run as ``WorkflowHandle.describe()`` sees it."""

    raw_description: Any = None
    _static_summary: Optional[str] = None
    _static_details: Optional[str] = None
    _metadata_decoded: bool = False

    async def static_summary(self) -> Optional[str]:
        return self._static_summary

    async def static_details(self) -> Optional[str]:
        return self._static_details

    @staticmethod
    def _from_row(row: Mapping[str, Any], client: Client) -> "WorkflowExecutionDescription":
        parent = row["parent"] or {}
        raw = dict(row)
        return WorkflowExecutionDescription(
            close_time=row["close_time"],
            execution_time=row["execution_time"],
            history_length=int(row["next_event_id"]) - 1,
            id=row["workflow_id"],
            namespace=row["namespace"],
            parent_id=parent.get("workflow_id"),
            parent_run_id=parent.get("run_id"),
            root_id=None,
            root_run_id=None,
            raw_info=raw,
            run_id=str(row["run_id"]),
            search_attributes={},
            start_time=row["start_time"],
            status=WorkflowExecutionStatus(row["status"]),
            task_queue=row["task_queue"],
            typed_search_attributes=hotmesh_temporal.common.TypedSearchAttributes.empty,
            workflow_type=row["workflow_type"],
            _context_free_data_converter=client.data_converter,
            raw_description=raw,
        )
