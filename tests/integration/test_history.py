"""History export (fetch_history, fetch_history_events, WorkflowHistory JSON) and
replay of exported histories on a real Postgres."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.api.common.v1 import Payload
from hotmesh_temporal.api.history.v1 import HistoryEvent
from hotmesh_temporal.client import (
    WorkflowFailureError,
    WorkflowHistory,
    WorkflowHistoryEventFilterType,
)
from hotmesh_temporal.converter import DataConverter, PayloadCodec
from hotmesh_temporal.exceptions import ActivityError, ApplicationError
from hotmesh_temporal.service import RPCError
from hotmesh_temporal.worker import Replayer, Worker


def wf_id() -> str:
    return f"wf-{uuid.uuid4()}"


@activity.defn
async def shout(value: str) -> str:
    return value.upper()


@workflow.defn(name="HistoryWorkflow")
class HistoryWorkflow:
    def __init__(self) -> None:
        self.names: list = []

    @workflow.run
    async def run(self, greeting: str) -> str:
        loud = await workflow.execute_activity(
            shout, greeting, start_to_close_timeout=timedelta(seconds=10)
        )
        await workflow.sleep(timedelta(milliseconds=50))
        await workflow.wait_condition(lambda: bool(self.names))
        return f"{loud} {self.names[0]}"

    @workflow.signal
    def name(self, value: str) -> None:
        self.names.append(value)


@workflow.defn(name="HistoryWorkflow")
class ChangedHistoryWorkflow:
    """Same type name, but a timer where the activity was: replay must refuse it."""

    @workflow.run
    async def run(self, greeting: str) -> str:
        await workflow.sleep(timedelta(milliseconds=50))
        return greeting


async def _run_to_completion(client, task_queue) -> tuple:
    workflow_id = wf_id()
    async with Worker(
        client, task_queue=task_queue, workflows=[HistoryWorkflow], activities=[shout]
    ):
        handle = await client.start_workflow(
            HistoryWorkflow.run, "hello", id=workflow_id, task_queue=task_queue
        )
        await handle.signal(HistoryWorkflow.name, "ann")
        assert await handle.result() == "HELLO ann"
    return handle, await handle.fetch_history()


async def test_fetch_history_gives_temporal_events(client, task_queue):
    handle, history = await _run_to_completion(client, task_queue)
    assert history.workflow_id == handle.id
    assert history.run_id == handle.result_run_id
    assert all(isinstance(e, HistoryEvent) for e in history.events)
    assert [e.event_id for e in history.events] == list(range(1, len(history.events) + 1))
    kinds = [e.WhichOneof("attributes") for e in history.events]
    assert kinds[0] == "workflow_execution_started_event_attributes"
    assert kinds[-1] == "workflow_execution_completed_event_attributes"
    assert "activity_task_scheduled_event_attributes" in kinds
    assert "timer_started_event_attributes" in kinds
    assert "workflow_execution_signaled_event_attributes" in kinds
    start = history.events[0].workflow_execution_started_event_attributes
    assert start.workflow_type.name == "HistoryWorkflow"
    assert start.task_queue.name == task_queue
    scheduled = next(
        e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
    )
    assert scheduled.activity_task_scheduled_event_attributes.activity_type.name == "shout"
    assert history.events[0].event_time.ToDatetime().year >= 2024


async def test_json_export_is_temporal_format_and_round_trips(client, task_queue):
    _, history = await _run_to_completion(client, task_queue)
    exported = json.loads(history.to_json())
    first = exported["events"][0]
    assert first["eventId"] == "1"
    assert first["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
    assert first["eventTime"].endswith("Z")
    assert "workflowExecutionStartedEventAttributes" in first
    types = [e["eventType"] for e in exported["events"]]
    assert "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED" in types
    again = WorkflowHistory.from_json(history.workflow_id, history.to_json())
    assert again == history
    assert again.to_json_dict() == history.to_json_dict()
    await Replayer(workflows=[HistoryWorkflow]).replay_workflow(again)


async def test_start_event_carries_static_summary_and_details(client, task_queue):
    # A Temporal server records the start's user metadata on WorkflowExecutionStarted.
    handle = await client.start_workflow(
        HistoryWorkflow.run,
        "hi",
        id=wf_id(),
        task_queue=task_queue,
        static_summary="nightly report",
        static_details="**all** regions",
    )
    plain = await client.start_workflow(
        HistoryWorkflow.run, "hi", id=wf_id(), task_queue=task_queue
    )
    try:
        started = (await handle.fetch_history()).events[0]
        meta = started.user_metadata
        decoded = await client.data_converter.decode([meta.summary, meta.details])
        assert decoded == ["nightly report", "**all** regions"]
        exported = json.loads((await handle.fetch_history()).to_json())["events"][0]
        assert set(exported["userMetadata"]) == {"summary", "details"}
        assert not (await plain.fetch_history()).events[0].HasField("user_metadata")
        later = [e async for e in handle.fetch_history_events(page_size=1)]
        assert later[0].user_metadata == meta and not later[1].HasField("user_metadata")
    finally:
        await handle.terminate()
        await plain.terminate()


@workflow.defn
class SummaryChild:
    @workflow.run
    async def run(self) -> str:
        return "child done"


@workflow.defn
class SummaryWorkflow:
    """Every command that takes a summary, once with it and once without."""

    @workflow.run
    async def run(self) -> str:
        ten = timedelta(seconds=10)
        await workflow.execute_activity(shout, "a", start_to_close_timeout=ten, summary="shouting")
        await workflow.execute_activity(shout, "b", start_to_close_timeout=ten)
        await workflow.execute_local_activity(
            shout, "c", start_to_close_timeout=ten, summary="local shout"
        )
        await workflow.execute_local_activity(shout, "d", start_to_close_timeout=ten)
        await workflow.sleep(timedelta(milliseconds=10), summary="napping")
        await workflow.sleep(timedelta(milliseconds=10))
        with contextlib.suppress(asyncio.TimeoutError):
            await workflow.wait_condition(
                lambda: False, timeout=timedelta(milliseconds=10), timeout_summary="giving up"
            )
        await workflow.execute_child_workflow(
            SummaryChild.run,
            id=f"{workflow.info().workflow_id}-child",
            static_summary="the child",
            static_details="**details**",
        )
        await workflow.execute_child_workflow(
            SummaryChild.run, id=f"{workflow.info().workflow_id}-child-2"
        )
        return "done"


async def _summaries(client, history) -> list:
    """(event attributes kind, decoded summary or None) of each event that can carry one."""
    kinds = {
        "activity_task_scheduled_event_attributes",
        "marker_recorded_event_attributes",
        "timer_started_event_attributes",
        "start_child_workflow_execution_initiated_event_attributes",
    }
    out = []
    for event in history.events:
        kind = event.WhichOneof("attributes")
        if kind not in kinds:
            continue
        meta = event.user_metadata if event.HasField("user_metadata") else None
        summary = (await client.data_converter.decode([meta.summary]))[0] if meta else None
        out.append((kind.removesuffix("_event_attributes"), summary))
    return out


async def test_scheduled_events_carry_the_summaries_given(client, task_queue):
    # As on a Temporal server: each command's summary is the user metadata of its event.
    async with Worker(
        client, task_queue=task_queue, workflows=[SummaryWorkflow, SummaryChild], activities=[shout]
    ):
        handle = await client.start_workflow(SummaryWorkflow.run, id=wf_id(), task_queue=task_queue)
        assert await handle.result() == "done"
    history = await handle.fetch_history()
    assert await _summaries(client, history) == [
        ("activity_task_scheduled", "shouting"),
        ("activity_task_scheduled", None),
        ("marker_recorded", "local shout"),
        ("marker_recorded", None),
        ("timer_started", "napping"),
        ("timer_started", None),
        ("timer_started", "giving up"),
        ("start_child_workflow_execution_initiated", "the child"),
        ("start_child_workflow_execution_initiated", None),
    ]
    initiated = next(
        e
        for e in history.events
        if e.HasField("start_child_workflow_execution_initiated_event_attributes")
    )
    details = await client.data_converter.decode([initiated.user_metadata.details])
    assert details == ["**details**"]
    # Paged one event at a time, each page still finds its event's metadata.
    paged = [e async for e in handle.fetch_history_events(page_size=1)]
    assert paged == list(history.events)
    # JSON export keeps them (Temporal's "userMetadata"), and the history replays.
    exported = json.loads(history.to_json())["events"]
    assert sum("userMetadata" in e for e in exported) == 5
    await Replayer(workflows=[SummaryWorkflow]).replay_workflow(history)


async def test_replay_of_changed_code_reports_nondeterminism(client, task_queue):
    _, history = await _run_to_completion(client, task_queue)
    with pytest.raises(workflow.NondeterminismError, match="ActivityTaskScheduled"):
        await Replayer(workflows=[ChangedHistoryWorkflow]).replay_workflow(history)
    result = await Replayer(workflows=[ChangedHistoryWorkflow]).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert isinstance(result.replay_failure, workflow.NondeterminismError)


async def test_pages_and_close_event_filter(client, task_queue):
    handle, history = await _run_to_completion(client, task_queue)
    pages = handle.fetch_history_events(page_size=3)
    seen = [e async for e in pages]
    assert [e.event_id for e in seen] == [e.event_id for e in history.events]
    first_page = handle.fetch_history_events(page_size=2)
    await first_page.fetch_next_page()
    assert len(first_page.current_page) == 2 and first_page.next_page_token
    resumed = handle.fetch_history_events(next_page_token=first_page.next_page_token)
    assert [e.event_id async for e in resumed] == [e.event_id for e in history.events[2:]]
    closing = await handle.fetch_history(
        event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT
    )
    assert [e.WhichOneof("attributes") for e in closing.events] == [
        "workflow_execution_completed_event_attributes"
    ]


async def test_wait_new_event_streams_until_the_run_closes(client, task_queue):
    async with Worker(
        client, task_queue=task_queue, workflows=[HistoryWorkflow], activities=[shout]
    ):
        handle = await client.start_workflow(
            HistoryWorkflow.run, "hi", id=wf_id(), task_queue=task_queue
        )
        events: list = []

        async def follow() -> None:
            async for event in handle.fetch_history_events(wait_new_event=True):
                events.append(event)

        follower = asyncio.create_task(follow())
        await asyncio.sleep(0.5)
        assert not follower.done()  # still waiting: the workflow waits for a signal
        await handle.signal(HistoryWorkflow.name, "bo")
        await asyncio.wait_for(follower, 10)
    assert events[-1].HasField("workflow_execution_completed_event_attributes")
    assert [e.event_id for e in events] == list(range(1, len(events) + 1))


async def test_unknown_workflow_is_not_found(client):
    with pytest.raises(RPCError, match="not found"):
        await client.get_workflow_handle("no-such-workflow").fetch_history()


async def test_bad_page_token_is_a_clear_error(client):
    events = client.get_workflow_handle("x").fetch_history_events(next_page_token=b"junk")
    with pytest.raises(ValueError, match="page token"):
        await events.fetch_next_page()


async def test_map_histories_of_listed_workflows(client, task_queue):
    handle, history = await _run_to_completion(client, task_queue)
    query = f"WorkflowId = '{handle.id}'"
    histories = [h async for h in client.list_workflows(query).map_histories()]
    assert histories == [history]


@activity.defn
async def refuse(value: str) -> str:
    raise ApplicationError("refused", non_retryable=True)


@workflow.defn(name="HistoryEndings")
class EndingsWorkflow:
    @workflow.run
    async def run(self, mode: str) -> str:
        if mode == "fail-activity":
            try:
                await workflow.execute_activity(
                    refuse, mode, start_to_close_timeout=timedelta(seconds=5)
                )
            except ActivityError:
                pass
            raise ApplicationError("workflow gives up")
        await workflow.sleep(timedelta(seconds=30))
        return mode


async def test_every_ending_exports_and_replays(client, task_queue):
    """Events the database writes (failures, cancellation, termination, timeouts) are
    Temporal events too: they export, parse back unchanged and replay."""
    async with Worker(
        client, task_queue=task_queue, workflows=[EndingsWorkflow], activities=[refuse]
    ):
        failed = await client.start_workflow(
            EndingsWorkflow.run, "fail-activity", id=wf_id(), task_queue=task_queue
        )
        cancelled = await client.start_workflow(
            EndingsWorkflow.run, "cancel", id=wf_id(), task_queue=task_queue
        )
        terminated = await client.start_workflow(
            EndingsWorkflow.run, "terminate", id=wf_id(), task_queue=task_queue
        )
        timed_out = await client.start_workflow(
            EndingsWorkflow.run,
            "time out",
            id=wf_id(),
            task_queue=task_queue,
            run_timeout=timedelta(milliseconds=300),
        )
        await asyncio.sleep(0.3)
        await cancelled.cancel()
        await terminated.terminate("enough", reason="test")
        for handle in (failed, cancelled, terminated, timed_out):
            with pytest.raises(WorkflowFailureError):
                await handle.result()
    endings = []
    for handle in (failed, cancelled, terminated, timed_out):
        history = await handle.fetch_history()
        again = WorkflowHistory.from_json(history.workflow_id, history.to_json())
        assert again == history
        await Replayer(workflows=[EndingsWorkflow]).replay_workflow(again)
        endings.append(history.events[-1].WhichOneof("attributes"))
    assert endings == [
        "workflow_execution_failed_event_attributes",
        "workflow_execution_canceled_event_attributes",
        "workflow_execution_terminated_event_attributes",
        "workflow_execution_timed_out_event_attributes",
    ]


class ReversingCodec(PayloadCodec):
    """A toy codec: payload bytes reversed, marked with an encoding."""

    async def encode(self, payloads):
        return [
            Payload(metadata={"encoding": b"binary/reversed"}, data=p.SerializeToString()[::-1])
            for p in payloads
        ]

    async def decode(self, payloads):
        return [Payload.FromString(p.data[::-1]) for p in payloads]


async def test_replay_with_the_data_converter_the_workflow_ran_with(dsn, task_queue):
    from hotmesh_temporal.client import Client

    converter = dataclasses.replace(DataConverter.default, payload_codec=ReversingCodec())
    coded = await Client.connect(dsn, data_converter=converter)
    try:
        _, history = await _run_to_completion(coded, task_queue)
    finally:
        await coded.service_client.close()
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.input.payloads[0].metadata["encoding"] == b"binary/reversed"
    await Replayer(workflows=[HistoryWorkflow], data_converter=converter).replay_workflow(history)
    result = await Replayer(workflows=[HistoryWorkflow]).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert isinstance(result.replay_failure, RuntimeError)  # cannot read the payloads


async def test_close_event_filter_waits_for_the_close(client, task_queue):
    async with Worker(
        client, task_queue=task_queue, workflows=[HistoryWorkflow], activities=[shout]
    ):
        handle = await client.start_workflow(
            HistoryWorkflow.run, "hey", id=wf_id(), task_queue=task_queue
        )
        events = handle.fetch_history_events(
            wait_new_event=True, event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT
        )
        waiting = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(0.5)
        assert not waiting.done()
        await handle.signal(HistoryWorkflow.name, "cy")
        closing = await asyncio.wait_for(waiting, 10)
    assert closing.HasField("workflow_execution_completed_event_attributes")
    with pytest.raises(StopAsyncIteration):
        await events.__anext__()
