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
from hotmesh_temporal.client import Client
from hotmesh_temporal.converter import (
    ActivitySerializationContext,
    DataConverter,
    DefaultPayloadConverter,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)
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
