"""Client and worker interceptors: every call goes through the chain, in order, and
headers set by an interceptor travel with the workflow."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from hotmesh_temporal import workflow
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
    store = await client._engine_store()
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
