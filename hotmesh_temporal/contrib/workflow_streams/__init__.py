"""Workflow streams: a workflow's durable, offset-addressed channel of items that
outside code subscribes to (temporalio.contrib.workflow_streams' API).

The workflow constructs a :class:`WorkflowStream` in ``@workflow.init`` and publishes
with ``stream.topic(name).publish(value)``; activities and clients publish and
subscribe through :class:`WorkflowStreamClient`. Built on signals, updates and
queries, so it runs wherever workflows run.
"""

from ._client import TopicHandle, WorkflowStreamClient
from ._stream import WorkflowStream, WorkflowTopicHandle
from ._types import (
    PollInput,
    PollResult,
    PublishEntry,
    PublisherState,
    PublishInput,
    WorkflowStreamItem,
    WorkflowStreamState,
)

__all__ = [
    "PollInput",
    "PollResult",
    "PublishEntry",
    "PublishInput",
    "PublisherState",
    "TopicHandle",
    "WorkflowStream",
    "WorkflowStreamClient",
    "WorkflowStreamItem",
    "WorkflowStreamState",
    "WorkflowTopicHandle",
]
