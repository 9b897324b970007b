"""Serialization contexts: every conversion gets temporalio's context for what it
converts — the workflow's own payloads WorkflowSerializationContext, an activity's
arguments and result its ActivitySerializationContext (is_local for local activities),
a child's payloads the child's context — on the client, in workflow code, in activity
attempts, and through AsyncActivityHandle.with_context.

The codec below writes the context it encoded with into the payload and refuses to
decode in any other context, so every payload must be decoded in the context it was
encoded in; the payload converter records the contexts it was given."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from typing_extensions import Self

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.api.common.v1 import Payload
from hotmesh_temporal.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
    ScheduleState,
)
from hotmesh_temporal.converter import (
    ActivitySerializationContext,
    DataConverter,
    DefaultFailureConverter,
    DefaultPayloadConverter,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from hotmesh_temporal.exceptions import ActivityError, ApplicationError, ChildWorkflowError
from hotmesh_temporal.worker import Worker

SEEN_BY_CONVERTER: list[SerializationContext] = []
SEEN_BY_CODEC: list[tuple[str, SerializationContext | None]] = []


class ContextCheckingCodec(PayloadCodec, WithSerializationContext):
    """Tags payloads with the encoding context; decoding in another context fails."""

    def __init__(self, context: SerializationContext | None = None) -> None:
        self.context = context

    def with_context(self, context: SerializationContext) -> Self:
        return type(self)(context)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        SEEN_BY_CODEC.append(("encode", self.context))
        return [
            Payload(
                metadata={"encoding": b"binary/ctx", "ctx": repr(self.context).encode()},
                data=p.SerializeToString(),
            )
            for p in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        SEEN_BY_CODEC.append(("decode", self.context))
        out = []
        for p in payloads:
            if p.metadata.get("encoding") != b"binary/ctx":
                out.append(p)
                continue
            written = p.metadata["ctx"].decode()
            if written != repr(self.context):
                raise ValueError(f"encoded in {written}, decoded in {self.context!r}")
            out.append(Payload.FromString(p.data))
        return out


class ContextRecordingConverter(DefaultPayloadConverter, WithSerializationContext):
    def with_context(self, context: SerializationContext) -> Self:
        SEEN_BY_CONVERTER.append(context)
        return self


ASYNC_TOKENS: dict[str, bytes] = {}


@activity.defn
async def echo(value: str) -> str:
    return f"{value}!"


@activity.defn
async def finish_elsewhere() -> str:
    ASYNC_TOKENS[activity.info().workflow_id] = activity.info().task_token
    activity.raise_complete_async()


@workflow.defn
class ContextChild:
    @workflow.run
    async def run(self, value: str) -> str:
        return f"child:{value}"


@workflow.defn
class ContextParent:
    @workflow.run
    async def run(self, value: str) -> list[str]:
        timeout = timedelta(seconds=30)
        return [
            await workflow.execute_activity(
                echo, value, activity_id="act-1", start_to_close_timeout=timeout
            ),
            await workflow.execute_local_activity(
                echo, value, activity_id="local-1", start_to_close_timeout=timeout
            ),
            await workflow.execute_child_workflow(
                ContextChild.run, value, id=f"{workflow.info().workflow_id}-child"
            ),
            await workflow.execute_activity(
                finish_elsewhere, activity_id="async-1", start_to_close_timeout=timeout
            ),
        ]


def _activity_context(
    client: Client, workflow_id: str, task_queue: str, activity_id: str, type_: str, local: bool
) -> ActivitySerializationContext:
    return ActivitySerializationContext(
        namespace=client.namespace,
        activity_id=activity_id,
        activity_type=type_,
        activity_task_queue=task_queue,
        workflow_id=workflow_id,
        workflow_type="ContextParent",
        is_local=local,
    )


async def _complete_async(client: Client, context: ActivitySerializationContext) -> None:
    assert context.workflow_id is not None
    for _ in range(500):
        token = ASYNC_TOKENS.get(context.workflow_id)
        if token is not None:
            handle = client.get_async_activity_handle(task_token=token)
            await handle.with_context(context).complete("async!")
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the async activity never started")


async def test_each_conversion_gets_its_context(client, task_queue):
    converter = dataclasses.replace(
        DataConverter.default,
        payload_converter_class=ContextRecordingConverter,
        payload_codec=ContextCheckingCodec(),
    )
    ctx_client = Client(**{**client.config(), "data_converter": converter})
    workflow_id = f"ctx-{uuid.uuid4()}"
    SEEN_BY_CODEC.clear()
    SEEN_BY_CONVERTER.clear()
    async_context = _activity_context(
        client, workflow_id, task_queue, "async-1", "finish_elsewhere", False
    )
    async with Worker(
        ctx_client,
        task_queue=task_queue,
        workflows=[ContextParent, ContextChild],
        activities=[echo, finish_elsewhere],
    ):
        handle = await ctx_client.start_workflow(
            ContextParent.run, "v", id=workflow_id, task_queue=task_queue
        )
        await _complete_async(ctx_client, async_context)
        result = await asyncio.wait_for(handle.result(), 60)
    # Decoding in another context than the encoding one would have failed a task.
    assert result == ["v!", "v!", "child:v", "async!"]

    expected = [
        WorkflowSerializationContext(namespace=client.namespace, workflow_id=workflow_id),
        WorkflowSerializationContext(
            namespace=client.namespace, workflow_id=f"{workflow_id}-child"
        ),
        _activity_context(client, workflow_id, task_queue, "act-1", "echo", False),
        _activity_context(client, workflow_id, task_queue, "local-1", "echo", True),
        async_context,
    ]
    for context in expected:
        assert ("encode", context) in SEEN_BY_CODEC, context
        assert ("decode", context) in SEEN_BY_CODEC, context
        assert context in SEEN_BY_CONVERTER, context


async def test_async_activity_handle_with_context_binds_the_converter(client, task_queue):
    """As temporalio: with_context gives a handle whose converter has the context (a
    context-dependent codec needs it to complete the activity readably), and the same
    handle when the converter has no context-aware part."""
    converter = dataclasses.replace(DataConverter.default, payload_codec=ContextCheckingCodec())
    ctx_client = Client(**{**client.config(), "data_converter": converter})
    workflow_id = f"ctx-{uuid.uuid4()}"
    handle = ctx_client.get_async_activity_handle(task_token=b"unused")
    bound = handle.with_context(
        _activity_context(client, workflow_id, task_queue, "a", "finish_elsewhere", False)
    )
    assert bound is not handle
    assert bound._data_converter_override is not None
    codec: Any = bound._data_converter_override.payload_codec
    assert codec.context.activity_id == "a"
    # A converter with no context-aware part gives back the same handle.
    plain = client.get_async_activity_handle(task_token=b"unused")
    assert plain.with_context(codec.context) is plain


def _context_client(client: Client, **parts: Any) -> Client:
    converter = dataclasses.replace(
        DataConverter.default, payload_codec=ContextCheckingCodec(), **parts
    )
    return Client(**{**client.config(), "data_converter": converter})


@workflow.defn
class MemoWorkflow:
    @workflow.run
    async def run(self) -> str:
        return "done"


async def test_memo_decodes_in_the_workflows_context(client, task_queue):
    """describe() and list_workflows() decode the memo (and the static summary) in the
    workflow's context, where start encoded them (the codec refuses any other)."""
    ctx_client = _context_client(client)
    workflow_id = f"ctx-memo-{uuid.uuid4()}"
    async with Worker(ctx_client, task_queue=task_queue, workflows=[MemoWorkflow]):
        handle = await ctx_client.start_workflow(
            MemoWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
            memo={"owner": "me"},
            static_summary="sum",
        )
        await handle.result()
    context = WorkflowSerializationContext(namespace=client.namespace, workflow_id=workflow_id)
    described = await handle.describe()
    assert described.data_converter.payload_codec.context == context
    assert await described.memo() == {"owner": "me"}
    assert await described.memo_value("owner", type_hint=str) == "me"
    assert await described.static_summary() == "sum"
    listed = [e async for e in ctx_client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    assert len(listed) == 1
    assert await listed[0].memo() == {"owner": "me"}


async def test_schedule_action_payloads_use_the_actions_workflow_context(client, task_queue):
    """As temporalio, a schedule's start-workflow action encodes its arguments and memo
    in the context of the action's workflow id."""
    ctx_client = _context_client(client)
    schedule_id = f"ctx-sched-{uuid.uuid4()}"
    action_id = f"{schedule_id}-wf"
    SEEN_BY_CODEC.clear()
    handle = await ctx_client.create_schedule(
        schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow(
                "MemoWorkflow", "arg", id=action_id, task_queue=task_queue, memo={"k": "v"}
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
            state=ScheduleState(paused=True),
        ),
    )
    try:
        context = WorkflowSerializationContext(namespace=client.namespace, workflow_id=action_id)
        assert SEEN_BY_CODEC and set(SEEN_BY_CODEC) == {("encode", context)}
        action = (await handle.describe()).schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        decoder = ctx_client.data_converter.with_context(context)
        assert await decoder.decode(list(action.args)) == ["arg"]
    finally:
        await handle.delete()


FAILURE_CONTEXTS: list[SerializationContext | None] = []


class ContextRecordingFailureConverter(DefaultFailureConverter, WithSerializationContext):
    """Records the context each failure was converted back in."""

    def __init__(self, context: SerializationContext | None = None) -> None:
        super().__init__()
        self.context = context

    def with_context(self, context: SerializationContext) -> Self:
        return type(self)(context)

    def from_failure(self, failure: Any, payload_converter: Any) -> BaseException:
        FAILURE_CONTEXTS.append(self.context)
        return super().from_failure(failure, payload_converter)


@activity.defn
async def always_fails() -> None:
    raise ApplicationError("activity broke", non_retryable=True)


@workflow.defn
class FailingChild:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("child broke", non_retryable=True)


@workflow.defn
class FailureContextParent:
    @workflow.run
    async def run(self) -> list[str]:
        caught = []
        try:
            await workflow.execute_activity(
                always_fails, activity_id="fails-1", start_to_close_timeout=timedelta(seconds=30)
            )
        except ActivityError as err:
            caught.append(str(err.cause))
        try:
            await workflow.execute_child_workflow(
                FailingChild.run, id=f"{workflow.info().workflow_id}-child"
            )
        except ChildWorkflowError as err:
            caught.append(str(err.cause))
        missing = workflow.get_external_workflow_handle(f"{workflow.info().workflow_id}-missing")
        try:
            await missing.signal("anything")
        except ApplicationError as err:
            caught.append(err.type or "")
        return caught


async def test_activity_and_child_failures_convert_in_their_context(client, task_queue):
    """Inside workflow code, an activity's failure is converted with the failure
    converter in the activity's context and a child's in the child's, as temporalio."""
    ctx_client = _context_client(client, failure_converter_class=ContextRecordingFailureConverter)
    workflow_id = f"ctx-fail-{uuid.uuid4()}"
    FAILURE_CONTEXTS.clear()
    async with Worker(
        ctx_client,
        task_queue=task_queue,
        workflows=[FailureContextParent, FailingChild],
        activities=[always_fails],
    ):
        result = await ctx_client.execute_workflow(
            FailureContextParent.run, id=workflow_id, task_queue=task_queue
        )
    assert result[:2] == ["activity broke", "child broke"] and len(result) == 3
    activity_context = ActivitySerializationContext(
        namespace=client.namespace,
        activity_id="fails-1",
        activity_type="always_fails",
        activity_task_queue=task_queue,
        workflow_id=workflow_id,
        workflow_type="FailureContextParent",
        is_local=False,
    )
    child_context = WorkflowSerializationContext(
        namespace=client.namespace, workflow_id=f"{workflow_id}-child"
    )
    assert activity_context in FAILURE_CONTEXTS
    assert child_context in FAILURE_CONTEXTS
    # An external workflow's failure: the signalled workflow's context.
    assert (
        WorkflowSerializationContext(
            namespace=client.namespace, workflow_id=f"{workflow_id}-missing"
        )
        in FAILURE_CONTEXTS
    )
