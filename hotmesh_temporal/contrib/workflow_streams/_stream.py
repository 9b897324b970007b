"""The workflow side: an append-only log of items that outside code subscribes to.

Publishing from outside is a signal, subscribing a long-polling update (it returns
when there are items past the subscriber's offset), and reading without waiting a
query. All state lives in the workflow object, so it replays like any workflow state.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Generic, NoReturn, TypeVar

from hotmesh_temporal import workflow
from hotmesh_temporal.api.common.v1 import Payload
from hotmesh_temporal.exceptions import ApplicationError

from ._types import (
    STREAM_DRAINING_ERROR_TYPE,
    TRUNCATED_OFFSET_ERROR_TYPE,
    PollInput,
    PollResult,
    PublisherState,
    PublishInput,
    WorkflowStreamState,
    _WorkflowStreamWireItem,
    decode_payload,
    encode_payload,
)

T = TypeVar("T")

PUBLISH_SIGNAL = "__temporal_workflow_stream_publish"
POLL = "__temporal_workflow_stream_poll"
OFFSET_QUERY = "__temporal_workflow_stream_offset"
# A poll answer stays under this many bytes of items (more_ready says there is more).
MAX_POLL_RESPONSE_BYTES = 1_000_000


class WorkflowStream:
    """A workflow's stream. Construct it once, in ``@workflow.init``: that registers
    the publish signal, the poll update and query, and the offset query."""

    def __init__(self, prior_state: WorkflowStreamState | None = None) -> None:
        caller = sys._getframe(1).f_code.co_name
        if caller != "__init__":
            raise RuntimeError(
                "WorkflowStream must be constructed directly from the workflow's "
                f"@workflow.init method, not from {caller!r}."
            )
        if workflow.get_signal_handler(PUBLISH_SIGNAL) is not None:
            raise RuntimeError(
                "WorkflowStream is already registered on this workflow; construct it "
                "at most once, in @workflow.init."
            )
        state = prior_state or WorkflowStreamState()
        self._log: list[tuple[str, Payload]] = [
            (item.topic, decode_payload(item.data)) for item in state.log
        ]
        self._base_offset = state.base_offset
        self._publishers = {
            pid: PublisherState(p.sequence, p.last_seen) for pid, p in state.publishers.items()
        }
        self._detaching = False
        self._topic_types: dict[str, Any] = {}
        workflow.set_signal_handler(PUBLISH_SIGNAL, self._on_publish)
        workflow.set_update_handler(POLL, self._on_poll, validator=self._validate_poll)
        workflow.set_query_handler(POLL, self._read)
        workflow.set_query_handler(OFFSET_QUERY, self._end_offset)

    def topic(self, name: str, *, type: Any = None) -> WorkflowTopicHandle[Any]:
        """A handle publishing to ``name``; a topic is bound to one type per stream
        (omit ``type`` for a topic of mixed values)."""
        bound = Any if type is None else type
        if bound is Payload:
            raise RuntimeError(
                "Cannot bind a topic to type=Payload: publish Payload values on a topic "
                "of any type (they are sent as they are)."
            )
        known = self._topic_types.get(name)
        if known is not None and known != bound:
            raise RuntimeError(
                f"Topic {name!r} is already bound to type {known!r} on this workflow "
                f"stream; refusing to rebind to {bound!r}."
            )
        self._topic_types[name] = bound
        return WorkflowTopicHandle(self, name, bound)

    def get_state(
        self, *, publisher_ttl: timedelta = timedelta(seconds=900)
    ) -> WorkflowStreamState:
        """The stream's state for the next run; publishers idle for longer than
        ``publisher_ttl`` are forgotten (keep it above publishers' retry time)."""
        now = workflow.now()
        return WorkflowStreamState(
            log=[
                _WorkflowStreamWireItem(topic, encode_payload(payload))
                for topic, payload in self._log
            ],
            base_offset=self._base_offset,
            publishers={
                pid: p for pid, p in self._publishers.items() if now - p.last_seen < publisher_ttl
            },
        )

    def detach_pollers(self) -> None:
        """Answer waiting polls now and refuse new ones (``StreamDraining``), so this
        run can continue-as-new; publishes are still taken."""
        self._detaching = True

    async def continue_as_new(
        self,
        build_args: Callable[[WorkflowStreamState], Sequence[Any]],
        *,
        publisher_ttl: timedelta = timedelta(seconds=900),
    ) -> NoReturn:
        """Detach pollers, wait for every handler, and continue-as-new with the
        arguments ``build_args`` makes from the stream's state."""
        self.detach_pollers()
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(args=build_args(self.get_state(publisher_ttl=publisher_ttl)))

    def truncate(self, up_to_offset: int) -> None:
        """Drop the items before ``up_to_offset`` (offsets stay as they were)."""
        drop = up_to_offset - self._base_offset
        if drop <= 0:
            return
        if drop > len(self._log):
            end = self._base_offset + len(self._log)
            raise ApplicationError(
                f"Cannot truncate to offset {up_to_offset}: valid range is "
                f"[{self._base_offset}, {end})",
                type="TruncateOutOfRange",
            )
        del self._log[:drop]
        self._base_offset = up_to_offset

    # ---------------------------------------------------------------- handlers

    def _append(self, topic: str, value: Any) -> None:
        payload = (
            value
            if isinstance(value, Payload)
            else workflow.payload_converter().to_payloads([value])[0]
        )
        self._log.append((topic, payload))

    def _on_publish(self, batch: PublishInput) -> None:
        if batch.publisher_id:
            last = self._publishers.get(batch.publisher_id)
            if last is not None and batch.sequence <= last.sequence:
                return  # a batch taken already (the publisher retried)
            self._publishers[batch.publisher_id] = PublisherState(batch.sequence, workflow.now())
        for entry in batch.items:
            self._log.append((entry.topic, decode_payload(entry.data)))

    def _validate_poll(self, request: PollInput) -> None:
        if self._detaching:
            raise ApplicationError(
                "Workflow pollers are detached for continue-as-new",
                type=STREAM_DRAINING_ERROR_TYPE,
            )

    async def _on_poll(self, request: PollInput) -> PollResult:
        # The condition reads the base offset each time: a truncate may move it.
        await workflow.wait_condition(
            lambda: (
                request.from_offset < self._base_offset
                or request.from_offset < self._base_offset + len(self._log)
                or self._detaching
            )
        )
        if request.from_offset != 0 and request.from_offset < self._base_offset:
            raise ApplicationError(
                f"Requested offset {request.from_offset} has been truncated. "
                f"Current base offset is {self._base_offset}.",
                type=TRUNCATED_OFFSET_ERROR_TYPE,
            )
        return self._read(request)

    def _read(self, request: PollInput) -> PollResult:
        start = max(request.from_offset, self._base_offset)
        wanted = set(request.topics)
        result = PollResult(next_offset=self._base_offset + len(self._log))
        size = 0
        for index in range(start - self._base_offset, len(self._log)):
            topic, payload = self._log[index]
            if wanted and topic not in wanted:
                continue
            data = encode_payload(payload)
            if result.items and size + len(data) + len(topic) > MAX_POLL_RESPONSE_BYTES:
                result.next_offset = self._base_offset + index
                result.more_ready = True
                break
            size += len(data) + len(topic)
            result.items.append(_WorkflowStreamWireItem(topic, data, self._base_offset + index))
        return result

    def _end_offset(self) -> int:
        return self._base_offset + len(self._log)


class WorkflowTopicHandle(Generic[T]):
    """Publishes to one topic of a workflow's own stream."""

    def __init__(self, stream: WorkflowStream, name: str, type: Any) -> None:
        self._stream = stream
        self._name = name
        self._type = type

    @property
    def name(self) -> str:
        return self._name

    @property
    def type(self) -> Any:
        return self._type

    def publish(self, value: T | Payload) -> None:
        """Append ``value`` (converted with the workflow's payload converter; a
        Payload goes as it is)."""
        self._stream._append(self._name, value)
