"""Client and worker interceptors: every call goes through the chain, in order, and
headers set by an interceptor travel with the workflow."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from hotmesh_temporal import activity, worker, workflow
from hotmesh_temporal.api.common.v1 import Payload
from hotmesh_temporal.client import (
    CancelWorkflowInput,
    Client,
    DescribeWorkflowInput,
    Interceptor,
    OutboundInterceptor,
    QueryWorkflowInput,
    SignalWorkflowInput,
    StartWorkflowInput,
    TerminateWorkflowInput,
    WorkflowFailureError,
)
from hotmesh_temporal.common import HeaderCodecBehavior
from hotmesh_temporal.converter import DataConverter, PayloadCodec
from hotmesh_temporal.converter import default as default_converter
from hotmesh_temporal.exceptions import CancelledError, TerminatedError
from hotmesh_temporal.worker import Worker


def wf_id() -> str:
    return f"icpt-{uuid.uuid4()}"


def header_payload(value: str) -> Payload:
    return default_converter().payload_converter.to_payloads([value])[0]


class RecordingClientInterceptor(Interceptor):
    """Records each call as (label, method) and adds a header where the Input has one."""

    def __init__(self, label: str, calls: list[Any]) -> None:
        self.label = label
        self.calls = calls

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _RecordingOutbound(next, self)


class _RecordingOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, root: RecordingClientInterceptor) -> None:
        super().__init__(next)
        self.root = root

    def _record(self, method: str, input: Any) -> None:
        self.root.calls.append((self.root.label, method, input))
        if hasattr(input, "headers"):
            input.headers = {**input.headers, self.root.label: header_payload(method)}

    async def start_workflow(self, input: StartWorkflowInput) -> Any:
        self._record("start_workflow", input)
        return await super().start_workflow(input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        self._record("signal_workflow", input)
        await super().signal_workflow(input)

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        self._record("query_workflow", input)
        return await super().query_workflow(input)

    async def describe_workflow(self, input: DescribeWorkflowInput) -> Any:
        self._record("describe_workflow", input)
        return await super().describe_workflow(input)

    async def cancel_workflow(self, input: CancelWorkflowInput) -> None:
        self._record("cancel_workflow", input)
        await super().cancel_workflow(input)

    async def terminate_workflow(self, input: TerminateWorkflowInput) -> None:
        self._record("terminate_workflow", input)
        await super().terminate_workflow(input)


@workflow.defn
class WaitingWorkflow:
    def __init__(self) -> None:
        self.signals: list[str] = []

    @workflow.run
    async def run(self, name: str) -> str:
        await workflow.wait_condition(lambda: len(self.signals) >= 2)
        return f"{name}:{','.join(self.signals)}"

    @workflow.signal
    def poke(self, value: str) -> None:
        self.signals.append(value)

    @workflow.query
    def seen(self) -> list[str]:
        return self.signals


async def _started_header(client: Client, run_id: str) -> dict:
    store = (await client._engine()).store
    events = await store.fetchval("events_after", uuid.UUID(run_id), 0)
    started = next(e for e in events if e["type"] == "WorkflowExecutionStarted")
    return (started["attrs"].get("header") or {}).get("fields") or {}


async def test_client_calls_pass_through_chain_in_order(client: Client, task_queue: str):
    calls: list[Any] = []
    chained = Client(
        **{
            **client.config(),
            "interceptors": [
                RecordingClientInterceptor("outer", calls),
                RecordingClientInterceptor("inner", calls),
            ],
        }
    )
    async with Worker(chained, task_queue=task_queue, workflows=[WaitingWorkflow]):
        handle = await chained.start_workflow(
            WaitingWorkflow.run, "w", id=wf_id(), task_queue=task_queue
        )
        await handle.signal(WaitingWorkflow.poke, "a")
        await handle.signal("poke", "b")
        assert await handle.result() == "w:a,b"
        assert await handle.query(WaitingWorkflow.seen) == ["a", "b"]
        assert (await handle.describe()).workflow_type == "WaitingWorkflow"

    methods = [(label, method) for label, method, _ in calls]
    assert methods[:2] == [("outer", "start_workflow"), ("inner", "start_workflow")]
    assert methods.count(("outer", "signal_workflow")) == 2
    assert ("inner", "query_workflow") in methods
    assert ("inner", "describe_workflow") in methods
    # The outer interceptor's Input is the one the inner one receives.
    start_inputs = [i for _, m, i in calls if m == "start_workflow"]
    assert start_inputs[0] is start_inputs[1]
    assert start_inputs[0].workflow == "WaitingWorkflow"
    assert start_inputs[0].args == ["w"]
    # Headers added by the interceptors are stored on WorkflowExecutionStarted.
    fields = await _started_header(client, handle.result_run_id)
    assert set(fields) == {"outer", "inner"}
    assert Payload.from_json_dict(fields["outer"]) == header_payload("start_workflow")


async def test_interceptor_can_rewrite_arguments_and_see_cancel_terminate(client, task_queue):
    calls: list[Any] = []

    class Rename(RecordingClientInterceptor):
        def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
            class Out(_RecordingOutbound):
                async def start_workflow(self, input: StartWorkflowInput) -> Any:
                    input.args = ["renamed"]
                    return await super().start_workflow(input)

            return Out(next, self)

    chained = Client(**{**client.config(), "interceptors": [Rename("r", calls)]})
    async with Worker(chained, task_queue=task_queue, workflows=[WaitingWorkflow]):
        handle = await chained.start_workflow(
            WaitingWorkflow.run, "original", id=wf_id(), task_queue=task_queue
        )
        await handle.signal("poke", "x")
        await handle.signal("poke", "y")
        assert await handle.result() == "renamed:x,y"

        second = await chained.start_workflow(
            WaitingWorkflow.run, "z", id=wf_id(), task_queue=task_queue
        )
        await second.terminate("stop", reason="enough")
        with pytest.raises(WorkflowFailureError) as err:
            await second.result()
        assert isinstance(err.value.cause, TerminatedError)

        third = await chained.start_workflow(
            WaitingWorkflow.run, "c", id=wf_id(), task_queue=task_queue
        )
        await third.cancel()
        with pytest.raises(WorkflowFailureError) as err:
            await third.result()
        assert isinstance(err.value.cause, CancelledError)
    methods = [m for _, m, _ in calls]
    assert "cancel_workflow" in methods and "terminate_workflow" in methods
    terminate = next(i for _, m, i in calls if m == "terminate_workflow")
    assert terminate.reason == "enough" and list(terminate.args) == ["stop"]


async def test_operations_not_offered_yet_raise_not_implemented(client: Client):
    from hotmesh_temporal.client import CountNexusOperationsInput

    with pytest.raises(NotImplementedError, match="nexus"):
        await client._impl.count_nexus_operations(
            CountNexusOperationsInput(query=None, rpc_metadata={}, rpc_timeout=None)
        )


# ------------------------------------------------------------------ worker side

HEADER_KEY = "tenant"


def _header_value(headers: Any) -> Any:
    payload = (headers or {}).get(HEADER_KEY)
    if payload is None:
        return None
    return default_converter().payload_converter.from_payloads([payload])[0]


class TenantClientInterceptor(Interceptor):
    """Puts a 'tenant' header on every start, signal and query."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        tenant = self.tenant

        class Out(OutboundInterceptor):
            def _tag(self, input: Any) -> None:
                input.headers = {**input.headers, HEADER_KEY: header_payload(tenant)}

            async def start_workflow(self, input: StartWorkflowInput) -> Any:
                self._tag(input)
                return await super().start_workflow(input)

            async def signal_workflow(self, input: SignalWorkflowInput) -> None:
                self._tag(input)
                await super().signal_workflow(input)

            async def query_workflow(self, input: QueryWorkflowInput) -> Any:
                self._tag(input)
                return await super().query_workflow(input)

        return Out(next)


SEEN: list[tuple] = []


class PropagatingWorkerInterceptor(worker.Interceptor):
    """Records the tenant header at every inbound call and copies the run's header
    onto every activity, local activity, child workflow and continue-as-new."""

    def intercept_activity(
        self, next: worker.ActivityInboundInterceptor
    ) -> worker.ActivityInboundInterceptor:
        class Inbound(worker.ActivityInboundInterceptor):
            async def execute_activity(self, input: worker.ExecuteActivityInput) -> Any:
                SEEN.append(
                    ("activity", activity.info().activity_type, _header_value(input.headers))
                )
                return await super().execute_activity(input)

        return Inbound(next)

    def workflow_interceptor_class(
        self, input: worker.WorkflowInterceptorClassInput
    ) -> type[worker.WorkflowInboundInterceptor]:
        return PropagatingWorkflowInbound


class PropagatingWorkflowInbound(worker.WorkflowInboundInterceptor):
    def init(self, outbound: worker.WorkflowOutboundInterceptor) -> None:
        super().init(PropagatingWorkflowOutbound(outbound))

    async def execute_workflow(self, input: worker.ExecuteWorkflowInput) -> Any:
        if not workflow.unsafe.is_replaying():
            SEEN.append(("run", workflow.info().workflow_type, _header_value(input.headers)))
        return await super().execute_workflow(input)

    async def handle_signal(self, input: worker.HandleSignalInput) -> None:
        if not workflow.unsafe.is_replaying():
            SEEN.append(("signal", input.signal, _header_value(input.headers)))
        await super().handle_signal(input)

    async def handle_query(self, input: worker.HandleQueryInput) -> Any:
        SEEN.append(("query", input.query, _header_value(input.headers)))
        return await super().handle_query(input)


class PropagatingWorkflowOutbound(worker.WorkflowOutboundInterceptor):
    def _run_header(self) -> dict:
        value = workflow.info().headers.get(HEADER_KEY)
        return {HEADER_KEY: value} if value is not None else {}

    def start_activity(self, input: worker.StartActivityInput) -> workflow.ActivityHandle:
        input.headers = {**input.headers, **self._run_header()}
        return super().start_activity(input)

    def start_local_activity(
        self, input: worker.StartLocalActivityInput
    ) -> workflow.ActivityHandle:
        input.headers = {**input.headers, **self._run_header()}
        return super().start_local_activity(input)

    async def start_child_workflow(self, input: worker.StartChildWorkflowInput) -> Any:
        input.headers = {**input.headers, **self._run_header()}
        return await super().start_child_workflow(input)

    def continue_as_new(self, input: worker.ContinueAsNewInput) -> Any:
        input.headers = {**input.headers, **self._run_header()}
        return super().continue_as_new(input)


@activity.defn
async def greet(name: str) -> str:
    return f"hello {name}"


@workflow.defn
class ParentWorkflow:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self, round: int) -> str:
        if round == 1:
            workflow.continue_as_new(2)
        await workflow.wait_condition(lambda: self.go)
        remote = await workflow.execute_activity(
            greet, "remote", start_to_close_timeout=timedelta(seconds=10)
        )
        return remote

    @workflow.signal
    def proceed(self) -> None:
        self.go = True

    @workflow.query
    def ready(self) -> bool:
        return self.go


async def test_headers_reach_workflow_signals_queries_and_activities(
    client: Client, task_queue: str
):
    SEEN.clear()
    tenant_client = Client(**{**client.config(), "interceptors": [TenantClientInterceptor("acme")]})
    async with Worker(
        tenant_client,
        task_queue=task_queue,
        workflows=[ParentWorkflow],
        activities=[greet],
        interceptors=[PropagatingWorkerInterceptor()],
    ):
        handle = await tenant_client.start_workflow(
            ParentWorkflow.run, 1, id=wf_id(), task_queue=task_queue
        )
        # Signal the second run (the first one continues as new at once).
        latest = tenant_client.get_workflow_handle(handle.id)
        for _ in range(200):
            if (await latest.describe()).run_id != handle.result_run_id:
                break
            await asyncio.sleep(0.05)
        await latest.signal(ParentWorkflow.proceed)
        assert await handle.result() == "hello remote"
        assert await latest.query(ParentWorkflow.ready) is True
    assert ("run", "ParentWorkflow", "acme") in SEEN  # both runs: continue-as-new kept it
    assert SEEN.count(("run", "ParentWorkflow", "acme")) == 2
    assert ("signal", "proceed", "acme") in SEEN
    assert ("query", "ready", "acme") in SEEN
    assert SEEN.count(("activity", "greet", "acme")) == 1
    assert all(value == "acme" for *_, value in SEEN), SEEN


class ReversingCodec(PayloadCodec):
    """A toy codec: reverses the serialized payload under its own encoding."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload(metadata={"encoding": b"binary/reversed"}, data=p.SerializeToString()[::-1])
            for p in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload.FromString(p.data[::-1])
            if p.metadata.get("encoding") == b"binary/reversed"
            else p
            for p in payloads
        ]


async def test_header_codec_behavior_codec_encodes_headers_at_rest(client: Client, task_queue: str):
    SEEN.clear()
    converter = dataclasses.replace(DataConverter.default, payload_codec=ReversingCodec())
    coded = Client(
        **{
            **client.config(),
            "data_converter": converter,
            "interceptors": [TenantClientInterceptor("globex")],
            "header_codec_behavior": HeaderCodecBehavior.CODEC,
        }
    )
    async with Worker(
        coded,
        task_queue=task_queue,
        workflows=[ParentWorkflow],
        activities=[greet],
        interceptors=[PropagatingWorkerInterceptor()],
    ):
        handle = await coded.start_workflow(
            ParentWorkflow.run, 2, id=wf_id(), task_queue=task_queue
        )
        await handle.signal(ParentWorkflow.proceed)
        assert await handle.result() == "hello remote"
    # Workflow, signal and activity interceptors saw the decoded header...
    assert {("run", "ParentWorkflow", "globex"), ("signal", "proceed", "globex")} <= set(SEEN)
    assert ("activity", "greet", "globex") in SEEN
    # ...while history holds it encoded, on the start and on the activity.
    store = (await client._engine()).store
    events = await store.fetchval("events_after", uuid.UUID(handle.result_run_id), 0)
    headers = [
        e["attrs"]["header"]["fields"][HEADER_KEY]
        for e in events
        if e["type"] in ("WorkflowExecutionStarted", "ActivityTaskScheduled")
    ]
    assert len(headers) == 2
    assert all(
        Payload.from_json_dict(p).metadata["encoding"] == b"binary/reversed" for p in headers
    )


@workflow.defn
class ChildWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            greet, name, start_to_close_timeout=timedelta(seconds=10)
        )


@workflow.defn
class FamilyWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_child_workflow(
            ChildWorkflow.run, "child", id=f"{workflow.info().workflow_id}-child"
        )


async def test_headers_reach_child_workflows_and_their_activities(client: Client, task_queue: str):
    SEEN.clear()
    tenant_client = Client(
        **{**client.config(), "interceptors": [TenantClientInterceptor("initech")]}
    )
    async with Worker(
        tenant_client,
        task_queue=task_queue,
        workflows=[FamilyWorkflow, ChildWorkflow],
        activities=[greet],
        interceptors=[PropagatingWorkerInterceptor()],
    ):
        handle = await tenant_client.start_workflow(
            FamilyWorkflow.run, id=wf_id(), task_queue=task_queue
        )
        assert await handle.result() == "hello child"
    assert ("run", "FamilyWorkflow", "initech") in SEEN
    assert ("run", "ChildWorkflow", "initech") in SEEN
    assert ("activity", "greet", "initech") in SEEN
    # The child's start carries the header in history.
    child = tenant_client.get_workflow_handle(f"{handle.id}-child")
    fields = await _started_header(client, (await child.describe()).run_id)
    assert (
        _header_value(fields and {HEADER_KEY: Payload.from_json_dict(fields[HEADER_KEY])})
        == "initech"
    )


@workflow.defn
class LocalActivityWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_local_activity(
            greet, name, start_to_close_timeout=timedelta(seconds=10)
        )


async def test_local_activities_go_through_activity_interceptors_with_headers(
    client: Client, task_queue: str
):
    SEEN.clear()
    tenant_client = Client(
        **{**client.config(), "interceptors": [TenantClientInterceptor("hooli")]}
    )
    async with Worker(
        tenant_client,
        task_queue=task_queue,
        workflows=[LocalActivityWorkflow],
        activities=[greet],
        interceptors=[PropagatingWorkerInterceptor()],
    ):
        result = await tenant_client.execute_workflow(
            LocalActivityWorkflow.run, "local", id=wf_id(), task_queue=task_queue
        )
    assert result == "hello local"
    assert ("activity", "greet", "hooli") in SEEN
