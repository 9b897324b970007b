"""The outside side of a workflow stream: publish in batches, subscribe by polling.

Publishing buffers values and sends them in one signal per batch (every
``batch_interval``, when ``max_batch_size`` is reached, or on ``force_flush``). Each
batch carries this publisher's id and a sequence number, and a failed send is retried
with the same number, so the workflow takes every batch exactly once.

Subscribing polls the stream's update from an offset; a handle without a run id
follows continue-as-new (a draining run refuses polls until the next run takes
over), and when the workflow has closed, the retained items are read with the poll
query before the subscription ends.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, Generic, TypeVar

from hotmesh_temporal import activity
from hotmesh_temporal.api.common.v1 import Payload
from hotmesh_temporal.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from hotmesh_temporal.common import RawValue
from hotmesh_temporal.converter import DataConverter, PayloadConverter
from hotmesh_temporal.exceptions import ApplicationError
from hotmesh_temporal.service import RPCError, RPCStatusCode

from ._stream import OFFSET_QUERY, POLL, PUBLISH_SIGNAL
from ._types import (
    STREAM_DRAINING_ERROR_TYPE,
    TRUNCATED_OFFSET_ERROR_TYPE,
    PollInput,
    PollResult,
    PublishEntry,
    PublishInput,
    WorkflowStreamItem,
    decode_payload,
    encode_payload,
)

T = TypeVar("T")

# RPC failures worth retrying a batch for: the database or the network, not a refusal.
_RETRYABLE = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
}
_CLOSED = {
    WorkflowExecutionStatus.COMPLETED,
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.CANCELED,
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT,
}


class WorkflowStreamClient:
    """Publishes to and subscribes from one workflow's stream. Use it as an async
    context manager to publish in batches; ``subscribe`` needs no context."""

    def __init__(
        self,
        handle: WorkflowHandle[Any, Any],
        *,
        client: Client | None = None,
        batch_interval: timedelta = timedelta(seconds=2),
        max_batch_size: int | None = None,
        max_retry_duration: timedelta = timedelta(seconds=600),
    ) -> None:
        self._handle = handle
        self._client = client
        self._batch_interval = batch_interval
        self._max_batch_size = max_batch_size
        self._max_retry_duration = max_retry_duration
        self._buffer: list[tuple[str, Any]] = []
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._publisher_id = uuid.uuid4().hex[:16]
        self._sequence = 0
        self._unsent: PublishInput | None = None  # a batch whose send failed
        self._unsent_since = 0.0
        self._topic_types: dict[str, Any] = {}

    @classmethod
    def create(
        cls,
        client: Client,
        workflow_id: str,
        *,
        batch_interval: timedelta = timedelta(seconds=2),
        max_batch_size: int | None = None,
        max_retry_duration: timedelta = timedelta(seconds=600),
    ) -> WorkflowStreamClient:
        """A stream client for ``workflow_id`` (following continue-as-new)."""
        return cls(
            client.get_workflow_handle(workflow_id),
            client=client,
            batch_interval=batch_interval,
            max_batch_size=max_batch_size,
            max_retry_duration=max_retry_duration,
        )

    @classmethod
    def from_within_activity(
        cls,
        *,
        batch_interval: timedelta = timedelta(seconds=2),
        max_batch_size: int | None = None,
        max_retry_duration: timedelta = timedelta(seconds=600),
    ) -> WorkflowStreamClient:
        """A stream client for the workflow that scheduled the running activity."""
        workflow_id = activity.info().workflow_id
        if workflow_id is None:
            raise RuntimeError(
                "from_within_activity requires an activity scheduled by a workflow; this "
                "activity has none. Use WorkflowStreamClient.create(activity.client(), "
                "workflow_id) with the target workflow id."
            )
        return cls.create(
            activity.client(),
            workflow_id,
            batch_interval=batch_interval,
            max_batch_size=max_batch_size,
            max_retry_duration=max_retry_duration,
        )

    async def __aenter__(self) -> WorkflowStreamClient:
        self._flusher = asyncio.get_running_loop().create_task(self._flush_periodically())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            try:
                await self._flusher
            except asyncio.CancelledError:
                pass
            self._flusher = None
        await self.flush()

    def topic(self, name: str, *, type: Any = None) -> TopicHandle[Any]:
        """A handle publishing to and subscribing from ``name``; a topic is bound to
        one type per client (omit ``type`` for a topic of mixed values)."""
        bound = Any if type is None else type
        if bound is Payload:
            raise RuntimeError(
                "Cannot bind a topic to type=Payload: publish Payload values on a topic "
                "of any type, and subscribe with result_type=RawValue for raw payloads."
            )
        known = self._topic_types.get(name)
        if known is not None and known != bound:
            raise RuntimeError(
                f"Topic {name!r} is already bound to type {known!r} on this client; "
                f"refusing to rebind to {bound!r}."
            )
        self._topic_types[name] = bound
        return TopicHandle(self, name, bound)

    async def flush(self) -> None:
        """Send everything buffered so far and wait until the workflow has it."""
        while self._unsent is not None or self._buffer:
            await self._send()

    async def get_offset(self) -> int:
        """The stream's end offset: the offset the next published item will get."""
        return await self._handle.query(OFFSET_QUERY, result_type=int)

    # ---------------------------------------------------------------- publishing

    def _publish(self, topic: str, value: Any, force_flush: bool) -> None:
        self._buffer.append((topic, value))
        full = self._max_batch_size is not None and len(self._buffer) >= self._max_batch_size
        if force_flush or full:
            self._wake.set()

    def _converter(self) -> PayloadConverter:
        if self._client is not None:
            return self._client.data_converter.payload_converter
        return DataConverter.default.payload_converter

    async def _send(self) -> None:
        async with self._lock:
            if self._unsent is None:
                if not self._buffer:
                    return
                entries, self._buffer = self._buffer, []
                converter = self._converter()
                self._sequence += 1
                self._unsent = PublishInput(
                    items=[
                        PublishEntry(
                            topic,
                            encode_payload(
                                value
                                if isinstance(value, Payload)
                                else converter.to_payloads([value])[0]
                            ),
                        )
                        for topic, value in entries
                    ],
                    publisher_id=self._publisher_id,
                    sequence=self._sequence,
                )
                self._unsent_since = time.monotonic()
            try:
                await self._handle.signal(PUBLISH_SIGNAL, self._unsent)
            except Exception:
                # Kept with its sequence number: a resend the workflow already took
                # is dropped there, so nothing is published twice.
                if time.monotonic() - self._unsent_since > self._max_retry_duration.total_seconds():
                    self._unsent = None
                    raise TimeoutError(
                        f"could not publish to workflow {self._handle.id} within "
                        f"{self._max_retry_duration}"
                    ) from None
                raise
            self._unsent = None

    async def _flush_periodically(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self._batch_interval.total_seconds())
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                await self._send()
            except RPCError as err:
                if err.status not in _RETRYABLE:
                    raise

    # ---------------------------------------------------------------- subscribing

    async def subscribe(
        self,
        topics: str | list[str] | None = None,
        from_offset: int = 0,
        *,
        result_type: Any = None,
        poll_cooldown: timedelta = timedelta(milliseconds=100),
    ) -> AsyncIterator[WorkflowStreamItem[Any]]:
        """Items of ``topics`` (all when None or empty) from ``from_offset`` on,
        decoded as ``result_type`` (``RawValue`` for the raw payload). Follows
        continue-as-new; ends after the workflow closed and its items were read."""
        if result_type is Payload:
            raise RuntimeError("Use result_type=RawValue for raw payloads")
        wanted = [topics] if isinstance(topics, str) else list(topics or [])
        offset = from_offset
        cooldown = poll_cooldown.total_seconds()
        while True:
            try:
                result = await self._handle.execute_update(
                    POLL, PollInput(wanted, offset), result_type=PollResult
                )
            except WorkflowUpdateFailedError as err:
                kind = err.cause.type if isinstance(err.cause, ApplicationError) else None
                if kind == STREAM_DRAINING_ERROR_TYPE:  # the run is handing over
                    await asyncio.sleep(max(cooldown, 0.05))
                    continue
                if kind == TRUNCATED_OFFSET_ERROR_TYPE:
                    result = await self._read_now(wanted, offset)
                else:
                    raise
            except RPCError:
                if not await self._closed():
                    if await self._continued():
                        continue
                    raise
                async for item in self._drain(wanted, offset, result_type):
                    yield item
                return
            for wire in result.items:
                yield self._item(wire.topic, wire.data, wire.offset, result_type)
            offset = result.next_offset
            if not result.items and not result.more_ready and cooldown > 0:
                await asyncio.sleep(cooldown)

    async def _read_now(self, topics: list[str], offset: int) -> PollResult:
        return await self._handle.query(POLL, PollInput(topics, offset), result_type=PollResult)

    async def _drain(
        self, topics: list[str], offset: int, result_type: Any
    ) -> AsyncIterator[WorkflowStreamItem[Any]]:
        """The items a closed run kept, read with the query (which does not wait)."""
        while True:
            result = await self._read_now(topics, offset)
            for wire in result.items:
                yield self._item(wire.topic, wire.data, wire.offset, result_type)
            offset = result.next_offset
            if not result.more_ready:
                return

    async def _status(self) -> WorkflowExecutionStatus | None:
        try:
            return (await self._handle.describe()).status
        except RPCError:
            return None

    async def _closed(self) -> bool:
        return await self._status() in _CLOSED

    async def _continued(self) -> bool:
        return await self._status() == WorkflowExecutionStatus.RUNNING

    def _item(
        self, topic: str, data: str, offset: int, result_type: Any
    ) -> WorkflowStreamItem[Any]:
        payload = decode_payload(data)
        if result_type is RawValue:
            value: Any = RawValue(payload)
        else:
            value = self._converter().from_payloads(
                [payload], [result_type] if result_type else None
            )[0]
        return WorkflowStreamItem(topic=topic, data=value, offset=offset)


class TopicHandle(Generic[T]):
    """Publishes to and subscribes from one topic through a stream client."""

    def __init__(self, client: WorkflowStreamClient, name: str, type: Any) -> None:
        self._client = client
        self._name = name
        self._type = type

    @property
    def name(self) -> str:
        return self._name

    @property
    def type(self) -> Any:
        return self._type

    def publish(self, value: T | Payload, *, force_flush: bool = False) -> None:
        """Buffer ``value`` for the next batch (``force_flush`` sends it now)."""
        self._client._publish(self._name, value, force_flush)

    async def subscribe(
        self, from_offset: int = 0, *, poll_cooldown: timedelta = timedelta(milliseconds=100)
    ) -> AsyncIterator[WorkflowStreamItem[T]]:
        """This topic's items from ``from_offset`` on, decoded as the bound type."""
        async for item in self._client.subscribe(
            [self._name],
            from_offset=from_offset,
            result_type=None if self._type is Any else self._type,
            poll_cooldown=poll_cooldown,
        ):
            yield item
