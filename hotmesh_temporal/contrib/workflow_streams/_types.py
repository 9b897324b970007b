"""The stream's data types: what travels in its signal, update and queries, and the
state a run hands to the next one through continue-as-new.

Item values travel as whole ``Payload`` messages, serialized and base64-encoded,
because a JSON converter can only pass a Payload through when it is the top-level
argument. A payload codec applies once, to the signal/update/query envelope.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from hotmesh_temporal.api.common.v1 import Payload

T = TypeVar("T")

# ApplicationError types of the poll update's refusals, which subscribers act on.
STREAM_DRAINING_ERROR_TYPE = "StreamDraining"
TRUNCATED_OFFSET_ERROR_TYPE = "TruncatedOffset"


def encode_payload(payload: Payload) -> str:
    return base64.b64encode(payload.SerializeToString()).decode("ascii")


def decode_payload(wire: str) -> Payload:
    payload = Payload()
    payload.ParseFromString(base64.b64decode(wire))
    return payload


@dataclass
class WorkflowStreamItem(Generic[T]):
    """One item a subscriber receives: its topic, its value (decoded as the
    subscription's ``result_type`` asks) and its offset in the stream."""

    topic: str
    data: T
    offset: int = 0


@dataclass
class PublishEntry:
    """One published item as sent: the topic and the base64 of the serialized Payload."""

    topic: str
    data: str


@dataclass
class PublishInput:
    """A batch of published items. ``publisher_id`` and ``sequence`` let the workflow
    drop a batch it already took (a publisher retrying after a lost reply)."""

    items: list[PublishEntry] = field(default_factory=list)
    publisher_id: str = ""
    sequence: int = 0


@dataclass
class PollInput:
    """What a subscriber asks for: items of these topics (all when empty) from an
    offset on. The update waits for items; the query answers at once."""

    topics: list[str] = field(default_factory=list)
    from_offset: int = 0


@dataclass
class _WorkflowStreamWireItem:
    topic: str
    data: str
    offset: int = 0


@dataclass
class PollResult:
    """A poll's answer: items, the offset to poll from next, and whether more were
    ready than fit (poll again at once)."""

    items: list[_WorkflowStreamWireItem] = field(default_factory=list)
    next_offset: int = 0
    more_ready: bool = False


@dataclass
class PublisherState:
    """The last batch taken from one publisher, and when (idle publishers are
    forgotten at continue-as-new)."""

    sequence: int
    last_seen: datetime


@dataclass
class WorkflowStreamState:
    """A stream's state handed to the next run through continue-as-new. Type the
    carrying field as ``WorkflowStreamState | None`` so the converter rebuilds it."""

    log: list[_WorkflowStreamWireItem] = field(default_factory=list)
    base_offset: int = 0
    publishers: dict[str, PublisherState] = field(default_factory=dict)
