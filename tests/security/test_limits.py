"""Temporal's limits, per deployment (table limits): payload sizes, history count and
size, the continue-as-new suggestion, id and name lengths; and strings Postgres cannot
store, refused with INVALID_ARGUMENT before any SQL (issue 14). Each limit is tested at
its warning and its hard threshold, lowered in a deployment of the test's own."""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import asyncpg
import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal._engine.store.dsn import split_schema, with_schema
from hotmesh_temporal.api.enums.v1 import WorkflowTaskFailedCause
from hotmesh_temporal.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from hotmesh_temporal.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from hotmesh_temporal.exceptions import ApplicationError, TerminatedError
from hotmesh_temporal.service import RPCError, RPCStatusCode
from hotmesh_temporal.worker import Worker

# ------------------------------------------------------------------ deployments


@pytest.fixture
async def deployment_with(pg_dsn: str) -> AsyncIterator[Callable]:
    """Connect to a fresh schema whose limits table was changed as given."""
    base, _ = split_schema(pg_dsn)
    made: list[tuple[str, Client]] = []

    async def connect(**limits: int) -> Client:
        schema = f"hm_lim_{secrets.token_hex(4)}"
        first = await Client.connect(with_schema(base, schema))  # migrates
        await first.service_client.close()
        admin = await asyncpg.connect(base)
        try:
            for column, value in limits.items():
                await admin.execute(f"UPDATE {schema}.limits SET {column} = $1", value)
        finally:
            await admin.close()
        client = await Client.connect(with_schema(base, schema))  # reads them
        made.append((schema, client))
        return client

    yield connect
    admin = await asyncpg.connect(base)
    try:
        for schema, client in made:
            await client.service_client.close()
            await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await admin.close()


def _id() -> str:
    return f"lim-{uuid.uuid4()}"


async def _history(handle) -> list:
    return [e async for e in handle.fetch_history_events()]


def _type(event) -> str:
    from hotmesh_temporal.api.enums.v1 import EventType

    return EventType.Name(event.event_type)


# ------------------------------------------------------------------- payloads


@workflow.defn
class Echo:
    @workflow.run
    async def run(self, size: int) -> str:
        return "x" * size


async def test_a_client_payload_over_the_blob_limit_is_refused(deployment_with, caplog) -> None:
    client = await deployment_with(blob_size_warn=2_000, blob_size_error=10_000)
    # The warning threshold on the client side is temporalio's payload_limits option.
    with pytest.raises(RPCError) as err:
        await client.start_workflow(Echo.run, "y" * 20_000, id=_id(), task_queue="nowhere")
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert err.value.message == "Blob data size exceeds limit."
    handle = await client.start_workflow(Echo.run, 1, id=_id(), task_queue="nowhere")
    with pytest.raises(RPCError, match="Blob data size exceeds limit."):
        await handle.signal("anything", "y" * 20_000)
    with caplog.at_level(logging.WARNING, logger="hotmesh_temporal"):
        await handle.signal("anything", "y" * 9_000)
    # Under this deployment's error limit and under the client's warning size
    # (temporalio's payload_limits, 512 KiB by default): taken, no warning.
    assert "TMPRL1103" not in caplog.text
    await handle.terminate()


async def test_a_client_payload_over_the_warning_size_is_logged(client, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="hotmesh_temporal"):
        handle = await client.start_workflow(
            Echo.run, "y" * (600 * 1024), id=_id(), task_queue=f"nowhere-{uuid.uuid4()}"
        )
    assert (
        "[TMPRL1103] Attempted to upload payloads with size that exceeded the warning limit."
        in (caplog.text)
    )
    await handle.terminate()


async def test_a_workflow_result_over_the_blob_limit_fails_its_task(
    deployment_with, caplog
) -> None:
    client = await deployment_with(blob_size_warn=2_000, blob_size_error=10_000)
    task_queue = f"big-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[Echo]):
        with caplog.at_level(logging.WARNING):
            warned = await client.start_workflow(Echo.run, 5_000, id=_id(), task_queue=task_queue)
            assert await warned.result() == "x" * 5_000  # over the warning size: kept
            assert "exceeded the warning limit" in caplog.text
            big = await client.start_workflow(Echo.run, 20_000, id=_id(), task_queue=task_queue)
            await asyncio.sleep(1.0)
        # temporalio fails the task (and retries it); the run does not close with a
        # result the server would refuse, nor does the worker loop on a raw error.
        assert (await big.describe()).status == WorkflowExecutionStatus.RUNNING
        assert (
            "[TMPRL1103] Attempted to upload payloads with size that exceeded the error limit."
            in (caplog.text)
        )
    # History shows why, as temporalio's run shows it (WorkflowTaskFailed).
    failed = [e for e in await _history(big) if _type(e) == "EVENT_TYPE_WORKFLOW_TASK_FAILED"]
    assert failed, "no WorkflowTaskFailed in history"
    attrs = failed[0].workflow_task_failed_event_attributes
    assert attrs.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_PAYLOADS_TOO_LARGE
    assert attrs.failure.message == (
        "[TMPRL1103] Attempted to upload payloads with size that exceeded the error limit."
    )
    assert attrs.failure.application_failure_info.type == "PayloadsTooLarge"
    await big.terminate()


async def test_disable_payload_error_limit_lets_the_result_through(deployment_with) -> None:
    client = await deployment_with(blob_size_warn=2_000, blob_size_error=10_000)
    task_queue = f"big-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=task_queue, workflows=[Echo], disable_payload_error_limit=True
    ):
        handle = await client.start_workflow(Echo.run, 20_000, id=_id(), task_queue=task_queue)
        assert await handle.result() == "x" * 20_000


# -------------------------------------------------------------------- history


@workflow.defn
class Sleeper:
    @workflow.run
    async def run(self, sleeps: int) -> list:
        seen = []
        for _ in range(sleeps):
            await workflow.sleep(timedelta(milliseconds=1))
            info = workflow.info()
            seen.append([info.get_current_history_length(), info.is_continue_as_new_suggested()])
        return seen


@pytest.mark.parametrize(
    "limits, reason",
    [
        ({"history_count_warn": 10, "history_count_error": 30}, "count"),
        ({"history_size_warn": 2_000, "history_size_error": 6_000}, "size"),
    ],
    ids=["count", "size"],
)
async def test_a_history_over_the_hard_limit_terminates_the_run(
    deployment_with, caplog, limits, reason
) -> None:
    client = await deployment_with(**limits)
    task_queue = f"long-{uuid.uuid4()}"
    with caplog.at_level(logging.WARNING):
        async with Worker(client, task_queue=task_queue, workflows=[Sleeper]):
            handle = await client.start_workflow(Sleeper.run, 40, id=_id(), task_queue=task_queue)
            with pytest.raises(WorkflowFailureError) as err:
                await handle.result()
    message = f"Workflow history {reason} exceeds limit."
    assert isinstance(err.value.cause, TerminatedError)
    assert err.value.cause.message == message
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
    *_, failed, last = await _history(handle)
    assert _type(last) == "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED"
    assert last.workflow_execution_terminated_event_attributes.reason == message
    assert last.workflow_execution_terminated_event_attributes.identity == "history-service"
    # The task that would reach the limit is not kept (as the server refuses it): it
    # shows as failed with cause FORCE_CLOSE_COMMAND, no timer it started is left.
    assert _type(failed) == "EVENT_TYPE_WORKFLOW_TASK_FAILED"
    assert failed.workflow_task_failed_event_attributes.cause == (
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND
    )
    assert f"history {reason} exceeds warn limit." in caplog.text


async def test_continue_as_new_is_suggested_at_the_deployments_threshold(deployment_with) -> None:
    client = await deployment_with(history_count_suggest_can=12)
    task_queue = f"can-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[Sleeper]):
        seen = await client.execute_workflow(Sleeper.run, 4, id=_id(), task_queue=task_queue)
    # The suggestion is fixed when a task starts (Temporal records it in
    # WorkflowTaskStarted), whose id is the history length workflow code reads.
    assert [suggested for _, suggested in seen] == [length >= 12 for length, _ in seen]
    assert not seen[0][1] and seen[-1][1]


# --------------------------------------------------------- ids, names, strings

_HOSTILE = {
    "NUL": "bad\x00id",
    "lone surrogate": "bad\ud800id",
    "too long (ASCII)": "i" * 1001,
    "too long in UTF-8 bytes": "\u00e9" * 501,  # 501 characters, 1002 bytes
}


@pytest.fixture(params=list(_HOSTILE), ids=list(_HOSTILE))
def hostile(request) -> str:
    return _HOSTILE[request.param]


async def _refused(call) -> RPCError:
    with pytest.raises(RPCError) as err:
        await call
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT, err.value
    return err.value


async def test_hostile_strings_in_every_identifier_are_refused(client, hostile) -> None:
    queue = f"q-{uuid.uuid4()}"
    too_long = len(hostile.encode("utf-8", "surrogatepass")) > 1000
    err = await _refused(client.start_workflow("Echo", 1, id=hostile, task_queue=queue))
    if too_long:
        assert (
            err.message
            == f"WorkflowId exceeds maximum allowed length ({len(hostile.encode())}/1000)"
        )
    err = await _refused(client.start_workflow("Echo", 1, id=_id(), task_queue=hostile))
    if too_long:
        assert err.message == "taskQueue length exceeds limit"
    await _refused(client.start_workflow(hostile, 1, id=_id(), task_queue=queue))
    handle = await client.start_workflow("Echo", 1, id=_id(), task_queue=queue)
    err = await _refused(handle.signal(hostile))
    if too_long:
        assert err.message == "SignalName length exceeds limit."
    addressed = client.get_workflow_handle(hostile)
    calls = (
        lambda: addressed.signal("s"),
        lambda: addressed.query("q"),
        addressed.describe,
        addressed.terminate,
        addressed.cancel,
    )
    for call in calls:
        # An over-long id names no workflow (NOT_FOUND, as lookups answer) or is
        # refused; an unstorable one is refused. Never a raw database error.
        with pytest.raises(RPCError) as err:
            await call()
        allowed = {RPCStatusCode.INVALID_ARGUMENT}
        if too_long:
            allowed.add(RPCStatusCode.NOT_FOUND)
        assert err.value.status in allowed, err.value
    await _refused(
        handle.start_update("u", id=hostile, wait_for_stage=WorkflowUpdateStage.ACCEPTED)
    )
    await _refused(
        client.start_activity(
            "noop", id=hostile, task_queue=queue, start_to_close_timeout=timedelta(seconds=5)
        )
    )
    await _refused(
        client.start_activity(
            "noop", id=_id(), task_queue=hostile, start_to_close_timeout=timedelta(seconds=5)
        )
    )
    action = ScheduleActionStartWorkflow("Echo", id=_id(), task_queue=queue)
    await _refused(client.create_schedule(hostile, Schedule(action=action, spec=ScheduleSpec())))
    hostile_action = ScheduleActionStartWorkflow("Echo", id=hostile, task_queue=queue)
    await _refused(
        client.create_schedule(_id(), Schedule(action=hostile_action, spec=ScheduleSpec()))
    )
    if not too_long:  # names Temporal does not limit: only unstorable ones refused
        await _refused(handle.query(hostile))
        await _refused(handle.start_update(hostile, wait_for_stage=WorkflowUpdateStage.ACCEPTED))
        await _refused(
            client.start_workflow("Echo", 1, id=_id(), task_queue=queue, memo={hostile: 1})
        )
        await _refused(client.list_workflows(f"WorkflowId = '{hostile}'").__anext__())
        key = SearchAttributeKey.for_keyword(hostile)
        await _refused(
            client.start_workflow(
                "Echo",
                1,
                id=_id(),
                task_queue=queue,
                search_attributes=TypedSearchAttributes([SearchAttributePair(key, "x")]),
            )
        )
    await handle.terminate()
    # Nothing was written for the refused starts.
    assert len([w async for w in client.list_workflows(f"TaskQueue = '{queue}'")]) == 1


def test_a_worker_on_an_invalid_task_queue_fails_at_construction(client, hostile) -> None:
    with pytest.raises(ValueError, match="invalid task_queue"):
        Worker(client, task_queue=hostile, workflows=[Echo])


# ------------------------------------------------ failures the database must keep


CJK_MESSAGE = "\u6f22" * 2_700  # ~8 KB in UTF-8: over NOTIFY's 8000-byte payload


@workflow.defn
class Refuses:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update
    async def refuse(self, message: str) -> None:
        raise ApplicationError(message)


@workflow.defn
class FailsWith:
    @workflow.run
    async def run(self, message: str) -> None:
        raise ApplicationError(message, non_retryable=True)


@pytest.mark.parametrize(
    "message", [CJK_MESSAGE, "nul\x00inside", "\ud83d" + "lone"], ids=["cjk", "nul", "surrogate"]
)
async def test_failure_messages_close_runs_and_updates(client, message) -> None:
    """A run failing, or an update failing, with a message of ~8 KB of multibyte text
    (over NOTIFY's 8000-byte limit), a NUL or a lone surrogate closes as usual: the
    characters Postgres cannot store become U+FFFD, and the rest arrives intact."""
    kept = message.replace("\x00", "\ufffd").replace("\ud83d", "\ufffd")
    task_queue = f"fail-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[FailsWith, Refuses]):
        handle = await client.start_workflow(
            FailsWith.run, message, id=_id(), task_queue=task_queue
        )
        with pytest.raises(WorkflowFailureError) as err:
            await asyncio.wait_for(handle.result(), 10)
        assert err.value.cause.message == kept
        assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
        refusing = await client.start_workflow(Refuses.run, id=_id(), task_queue=task_queue)
        with pytest.raises(WorkflowUpdateFailedError) as update_err:
            await asyncio.wait_for(refusing.execute_update(Refuses.refuse, "x"), 10)
        assert update_err.value.cause.message == "x"
        with pytest.raises(WorkflowUpdateFailedError) as update_err:
            await asyncio.wait_for(refusing.execute_update(Refuses.refuse, message), 10)
        assert update_err.value.cause.message == kept
        await refusing.terminate()


# --------------------------------------------------------- activity failures


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


@activity.defn
async def breaks_badly(kind: str) -> None:
    if kind == "str":
        raise Unprintable()
    raise ApplicationError("details", object(), non_retryable=True)


@workflow.defn
class CallsBroken:
    @workflow.run
    async def run(self, kind: str) -> str:
        from hotmesh_temporal.common import RetryPolicy

        try:
            await workflow.execute_activity(
                breaks_badly,
                kind,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except Exception as err:  # noqa: BLE001
            return f"{type(err.cause).__name__}: {err.cause}"
        return "no failure"


@pytest.mark.parametrize("kind", ["str", "details"])
async def test_an_activity_failure_that_cannot_be_encoded_still_fails_the_attempt(
    client, kind
) -> None:
    task_queue = f"broken-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=task_queue, workflows=[CallsBroken], activities=[breaks_badly]
    ):
        outcome = await asyncio.wait_for(
            client.execute_workflow(CallsBroken.run, kind, id=_id(), task_queue=task_queue), 20
        )
    assert outcome.startswith("ApplicationError: Failed building exception result:"), outcome


# ------------------------------------------- commands naming what cannot be stored


@activity.defn
async def noop() -> None:
    return None


@workflow.defn
class SchedulesOnAHostileQueue:
    @workflow.run
    async def run(self, what: str) -> None:
        if what == "activity queue":
            await workflow.execute_activity(
                noop, task_queue="q" * 10_000, start_to_close_timeout=timedelta(seconds=5)
            )
        elif what == "activity id":
            await workflow.execute_activity(
                noop, activity_id="a" * 3_000, start_to_close_timeout=timedelta(seconds=5)
            )
        else:
            await workflow.execute_child_workflow(
                "Anything", id="c\u00e9" * 1_500, task_queue=workflow.info().task_queue
            )


@pytest.mark.parametrize("what", ["activity queue", "activity id", "child id"])
async def test_a_command_with_an_over_long_name_fails_the_task_clearly(
    client, caplog, what
) -> None:
    """Scheduling an activity on a 10 KB task queue (or with an over-long activity or
    child id) fails the workflow task with the server's message, as Temporal does,
    instead of a raw Postgres error on every retry; the run stays running and can be
    terminated."""
    task_queue = f"hostile-{uuid.uuid4()}"
    with caplog.at_level(logging.WARNING):
        async with Worker(
            client, task_queue=task_queue, workflows=[SchedulesOnAHostileQueue], activities=[noop]
        ):
            handle = await client.start_workflow(
                SchedulesOnAHostileQueue.run, what, id=_id(), task_queue=task_queue
            )
            await asyncio.sleep(1.0)
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    assert "BadCommandAttributesError" in caplog.text
    assert "exceeds" in caplog.text
    assert "asyncpg" not in caplog.text and "index row" not in caplog.text
    await handle.terminate()
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED


# ------------------------------------- events arriving at a run over its history limit


@workflow.defn
class Sink:
    @workflow.run
    async def run(self) -> None:
        await workflow.sleep(timedelta(seconds=2))
        await workflow.wait_condition(lambda: False)

    @workflow.signal
    def poke(self, n: int) -> None:
        pass


async def _terminated_for_history(handle) -> None:
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
    last = (await _history(handle))[-1]
    assert _type(last) == "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED"
    attrs = last.workflow_execution_terminated_event_attributes
    assert attrs.reason == "Workflow history count exceeds limit."
    assert attrs.identity == "history-service"


async def test_a_signal_to_a_run_over_the_history_limit_is_refused_and_ends_it(
    deployment_with,
) -> None:
    """As on a Temporal server (no worker, limit 40: the signal that finds 41 events is
    refused with INVALID_ARGUMENT and the run terminated; at exactly 40 it is taken)."""
    client = await deployment_with(history_count_warn=5, history_count_error=10)
    handle = await client.start_workflow(Sink.run, id=_id(), task_queue=f"none-{uuid.uuid4()}")
    for n in range(9):  # events 3..11: each finds at most 10 events, none over
        await handle.signal(Sink.poke, n)
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    with pytest.raises(RPCError) as err:
        await handle.signal(Sink.poke, 9)
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert err.value.message == "Workflow history count exceeds limit."
    await _terminated_for_history(handle)
    assert len(await _history(handle)) == 12  # 11 events, then the termination
    with pytest.raises(RPCError) as err:
        await handle.signal(Sink.poke, 10)
    assert err.value.status == RPCStatusCode.NOT_FOUND
    assert err.value.message == "workflow execution already completed"


async def test_a_cancel_request_to_a_run_over_the_history_limit_is_refused(
    deployment_with,
) -> None:
    client = await deployment_with(history_count_warn=5, history_count_error=10)
    handle = await client.start_workflow(Sink.run, id=_id(), task_queue=f"none-{uuid.uuid4()}")
    for n in range(9):
        await handle.signal(Sink.poke, n)
    with pytest.raises(RPCError) as err:
        await handle.cancel()
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert err.value.message == "Workflow history count exceeds limit."
    await _terminated_for_history(handle)


async def test_a_timer_firing_on_a_run_over_the_history_limit_terminates_it(
    deployment_with,
) -> None:
    """Events the engine itself delivers (a timer firing here; activity outcomes and
    child results go the same way) end a run whose history is over the limit."""
    client = await deployment_with(history_count_warn=5, history_count_error=12)
    task_queue = f"sink-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[Sink]):
        handle = await client.start_workflow(Sink.run, id=_id(), task_queue=task_queue)
        while len(await _history(handle)) < 5:  # its first task done: the timer started
            await asyncio.sleep(0.05)
    # No worker for its queue: the signals only add events (with a task scheduled
    # after the first: 13 events, over the limit of 12).
    for n in range(7):
        await handle.signal(Sink.poke, n)
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    # Any worker fires due timers; this one does not poll the run's queue.
    async with Worker(client, task_queue=f"other-{uuid.uuid4()}", workflows=[Echo]):
        for _ in range(200):
            if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                break
            await asyncio.sleep(0.05)
    await _terminated_for_history(handle)
    assert "EVENT_TYPE_TIMER_FIRED" not in [_type(e) for e in await _history(handle)]


# ------------------------------------------- activity results, failures, heartbeats


@activity.defn
async def reports_big(kind: str) -> str:
    info = activity.info()
    if kind == "heartbeat" and info.attempt == 1:
        activity.heartbeat("h" * 20_000)
        await asyncio.sleep(30)  # cancelled: the attempt failed with the heartbeat
    if kind == "heartbeat":
        return f"attempt {info.attempt} saw {len(info.heartbeat_details)} details"
    if kind == "message":
        raise ApplicationError("M" * 20_000, type="MyType")
    if kind == "details":
        raise ApplicationError("small", "d" * 20_000, type="MyType")
    return "r" * (5_000 if kind == "warn" else 20_000)


@workflow.defn
class CallsBig:
    @workflow.run
    async def run(self, kind: str) -> str:
        from hotmesh_temporal.common import RetryPolicy

        return await workflow.execute_activity(
            reports_big,
            kind,
            start_to_close_timeout=timedelta(seconds=20),
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=2, initial_interval=timedelta(seconds=0.1)),
        )


async def _activity_outcome(client, kind: str, **worker_options) -> tuple:
    """(the run's result or its failure's cause, the ActivityTaskFailed attributes)."""
    task_queue = f"big-act-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[CallsBig],
        activities=[reports_big],
        **worker_options,
    ):
        handle = await client.start_workflow(CallsBig.run, kind, id=_id(), task_queue=task_queue)
        try:
            outcome: object = await asyncio.wait_for(handle.result(), 30)
        except WorkflowFailureError as err:
            outcome = err.cause.cause  # ActivityError -> its cause
    failed = [
        e.activity_task_failed_event_attributes
        for e in await _history(handle)
        if _type(e) == "EVENT_TYPE_ACTIVITY_TASK_FAILED"
    ]
    return outcome, (failed[0] if failed else None)


async def test_an_activity_result_over_the_blob_limit_fails_the_attempt(
    deployment_with, caplog
) -> None:
    """temporalio fails the attempt with its retryable PayloadsTooLarge error (both
    attempts fail here); a result over only the warning size is delivered."""
    from hotmesh_temporal.api.enums.v1 import RetryState

    client = await deployment_with(blob_size_warn=2_000, blob_size_error=10_000)
    with caplog.at_level(logging.WARNING):
        outcome, _ = await _activity_outcome(client, "warn")
    assert outcome == "r" * 5_000
    assert "exceeded the warning limit" in caplog.text
    outcome, failed = await _activity_outcome(client, "result")
    assert isinstance(outcome, ApplicationError)
    assert outcome.type == "PayloadsTooLarge" and not outcome.non_retryable
    assert outcome.message == (
        "[TMPRL1103] Attempted to upload payloads with size that exceeded the error limit."
    )
    assert failed.retry_state == RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED


@pytest.mark.parametrize(
    "kind, text",
    [
        ("result", "Complete result exceeds size limit."),
        ("heartbeat", "Heartbeat details exceed size limit."),
    ],
)
async def test_without_the_sdk_check_the_servers_rule_fails_the_activity(
    deployment_with, kind, text
) -> None:
    from hotmesh_temporal.api.enums.v1 import RetryState
    from hotmesh_temporal.exceptions import ServerError

    client = await deployment_with(blob_size_warn=2_000, blob_size_error=10_000)
    outcome, failed = await _activity_outcome(client, kind, disable_payload_error_limit=True)
    assert isinstance(outcome, ServerError), outcome
    assert outcome.message == text and outcome.non_retryable
    assert failed.retry_state == RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE


async def test_heartbeat_details_over_the_blob_limit_fail_the_attempt(deployment_with) -> None:
    """The details are not recorded, the attempt fails (retryable PayloadsTooLarge) and
    the activity is cancelled; the next attempt runs without them."""
    client = await deployment_with(blob_size_warn=2_000, blob_size_error=10_000)
    outcome, _ = await _activity_outcome(client, "heartbeat")
    assert outcome == "attempt 2 saw 0 details"


@pytest.mark.parametrize("kind", ["message", "details"])
async def test_an_activity_failure_over_the_blob_limit_becomes_the_servers(
    deployment_with, kind
) -> None:
    """As the server does: a non-retryable ServerError "Failure exceeds size limit.",
    caused by the reported failure cut to the warning size, its details dropped."""
    from hotmesh_temporal.api.enums.v1 import RetryState
    from hotmesh_temporal.exceptions import ServerError

    client = await deployment_with(blob_size_warn=2_000, blob_size_error=10_000)
    outcome, failed = await _activity_outcome(client, kind)
    assert isinstance(outcome, ServerError), outcome
    assert outcome.message == "Failure exceeds size limit." and outcome.non_retryable
    assert failed.retry_state == RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE
    cause = outcome.cause
    assert isinstance(cause, ApplicationError) and cause.type == "MyType"
    assert not cause.details
    if kind == "message":
        assert 1_900 < len(cause.message) <= 2_000 and set(cause.message) == {"M"}
    else:
        assert cause.message == "small"
    assert failed.failure.cause.ByteSize() <= 2_000


# ------------------------------------------------------------------------- memo

MEMO_TOO_LARGE = "Memo size exceeds limit."
MEMO_UPSERT_REFUSED = (
    "BadModifyWorkflowPropertiesAttributes: ModifyWorkflowPropertiesCommandAttributes. "
    "Memo exceeds size limit."
)


async def test_a_client_memo_over_the_memo_limit_is_refused(deployment_with, caplog) -> None:
    """As a Temporal server answers start, signal-with-start and create_schedule (the
    schedule's memo or its action's); temporalio warns past 2 KiB before sending."""
    client = await deployment_with(memo_size_warn=1_000, memo_size_error=5_000)
    queue = f"nowhere-{uuid.uuid4()}"
    big = {"big": "m" * 7_000}
    with caplog.at_level(logging.WARNING, logger="hotmesh_temporal"):
        for call in (
            lambda: client.start_workflow(Echo.run, 1, id=_id(), task_queue=queue, memo=big),
            lambda: client.start_workflow(
                Echo.run, 1, id=_id(), task_queue=queue, memo=big, start_signal="s"
            ),
            lambda: client.create_schedule(
                _id(),
                Schedule(
                    action=ScheduleActionStartWorkflow("Echo", id=_id(), task_queue=queue),
                    spec=ScheduleSpec(),
                ),
                memo=big,
            ),
            lambda: client.create_schedule(
                _id(),
                Schedule(
                    action=ScheduleActionStartWorkflow(
                        "Echo", id=_id(), task_queue=queue, memo=big
                    ),
                    spec=ScheduleSpec(),
                ),
            ),
        ):
            err = await _refused(call())
            assert err.message == MEMO_TOO_LARGE
    # temporalio's client-side warning (memo_warn_size, 2 KiB) with the encoded size.
    assert (
        "[TMPRL1103] Attempted to upload memo with size that exceeded the warning limit. "
        "size=7040 limit=2048" in caplog.text
    )
    # 4,000 bytes of memo: under this deployment's error limit, taken.
    handle = await client.start_workflow(
        Echo.run, 1, id=_id(), task_queue=queue, memo={"big": "m" * 4_000}
    )
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    assert len([w async for w in client.list_workflows(f"TaskQueue = '{queue}'")]) == 1
    await handle.terminate()


@workflow.defn
class UpsertsMemo:
    @workflow.run
    async def run(self, size: int) -> str:
        workflow.upsert_memo({"second": "s" * size})
        await workflow.sleep(timedelta(milliseconds=1))
        return "kept"


async def test_a_memo_upsert_over_the_memo_limit_terminates_the_run(deployment_with) -> None:
    """The memo the upsert leaves (merged with the started one) is what counts: each
    part alone is under the limit. The Temporal server fails the task with cause
    BAD_MODIFY_WORKFLOW_PROPERTIES_ATTRIBUTES and terminates the run."""
    client = await deployment_with(memo_size_error=5_000)
    task_queue = f"memo-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[UpsertsMemo]):
        small = await client.start_workflow(
            UpsertsMemo.run, 1_000, id=_id(), task_queue=task_queue, memo={"first": "f" * 3_000}
        )
        assert await small.result() == "kept"
        handle = await client.start_workflow(
            UpsertsMemo.run, 3_000, id=_id(), task_queue=task_queue, memo={"first": "f" * 3_000}
        )
        with pytest.raises(WorkflowFailureError) as err:
            await asyncio.wait_for(handle.result(), 10)
    assert isinstance(err.value.cause, TerminatedError)
    assert err.value.cause.message == MEMO_UPSERT_REFUSED
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
    events = await _history(handle)
    assert [_type(e) for e in events] == [
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_TASK_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_FAILED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED",
    ]
    failed = events[3].workflow_task_failed_event_attributes
    assert failed.cause == (
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_MODIFY_WORKFLOW_PROPERTIES_ATTRIBUTES
    )
    assert failed.failure.message == MEMO_UPSERT_REFUSED
    terminated = events[4].workflow_execution_terminated_event_attributes
    assert terminated.reason == MEMO_UPSERT_REFUSED
    assert terminated.identity == "history-service"
    assert set(await (await handle.describe()).memo()) == {"first"}  # nothing was kept


@workflow.defn
class PassesMemo:
    @workflow.run
    async def run(self, how: str) -> str:
        if how == "continue":
            workflow.continue_as_new("done", memo={"big": "m" * 7_000})
        if how == "child":
            await workflow.execute_child_workflow(
                PassesMemo.run,
                "done",
                id=f"{workflow.info().workflow_id}-child",
                memo={"big": "m" * 7_000},
            )
        return how


@pytest.mark.parametrize("how", ["continue", "child"])
async def test_a_child_or_next_run_memo_over_the_limit_fails_the_task(
    deployment_with, caplog, how
) -> None:
    """temporalio's check: the workflow task fails with PAYLOADS_TOO_LARGE and its
    memo message, and is retried; the run stays running."""
    client = await deployment_with(memo_size_error=5_000)
    task_queue = f"memo-{uuid.uuid4()}"
    with caplog.at_level(logging.WARNING):
        async with Worker(client, task_queue=task_queue, workflows=[PassesMemo]):
            handle = await client.start_workflow(
                PassesMemo.run, how, id=_id(), task_queue=task_queue
            )
            for _ in range(100):
                failed = [
                    e
                    for e in await _history(handle)
                    if _type(e) == "EVENT_TYPE_WORKFLOW_TASK_FAILED"
                ]
                if failed:
                    break
                await asyncio.sleep(0.05)
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    attrs = failed[0].workflow_task_failed_event_attributes
    assert attrs.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_PAYLOADS_TOO_LARGE
    message = "[TMPRL1103] Attempted to upload memo with size that exceeded the error limit."
    assert attrs.failure.message == message
    assert attrs.failure.application_failure_info.type == "PayloadsTooLarge"
    await handle.terminate()


@workflow.defn
class Counter:
    def __init__(self) -> None:
        self.count = 0

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update
    def bump(self) -> int:
        self.count += 1
        return self.count


async def test_an_update_whose_task_would_reach_the_history_limit_fails(deployment_with) -> None:
    """The task accepting and completing the update is refused (the run is terminated),
    so the update ends as an accepted update whose run closed: what a Temporal server
    answers (WorkflowUpdateFailedError, AcceptedUpdateCompletedWorkflow)."""
    client = await deployment_with(history_count_warn=5, history_count_error=12)
    task_queue = f"upd-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[Counter]):
        handle = await client.start_workflow(Counter.run, id=_id(), task_queue=task_queue)
        assert await handle.execute_update(Counter.bump) == 1  # history: 9 events
        with pytest.raises(WorkflowUpdateFailedError) as err:  # would make 14
            await asyncio.wait_for(handle.execute_update(Counter.bump), 10)
    cause = err.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "AcceptedUpdateCompletedWorkflow"
    assert cause.message == (
        "Workflow Update failed because the Workflow completed before the Update completed."
    )
    await _terminated_for_history(handle)
    assert "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED" not in [
        _type(e) for e in (await _history(handle))[9:]
    ]


@activity.defn
async def completes_later() -> str:
    activity.raise_complete_async()


@workflow.defn
class WaitsForLater:
    @workflow.run
    async def run(self) -> str:
        from hotmesh_temporal.common import RetryPolicy

        return await workflow.execute_activity(
            completes_later,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=2),
        )


@pytest.mark.parametrize(
    "call, text",
    [
        ("complete", "Complete result exceeds size limit."),
        ("heartbeat", "Heartbeat details exceed size limit."),
        ("fail", "Failure exceeds size limit."),
    ],
)
async def test_an_async_activity_report_over_the_blob_limit_fails_it(
    deployment_with, call, text
) -> None:
    """Through the client (an async activity handle) the server's rule applies, as on
    a dev server: the call is taken (a heartbeat answers as if cancelled) and the
    activity fails for good with a ServerError saying why."""
    from hotmesh_temporal.client import AsyncActivityCancelledError
    from hotmesh_temporal.exceptions import ServerError

    client = await deployment_with(blob_size_warn=2_000, blob_size_error=10_000)
    task_queue = f"later-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=task_queue, workflows=[WaitsForLater], activities=[completes_later]
    ):
        handle = await client.start_workflow(WaitsForLater.run, id=_id(), task_queue=task_queue)
        later = client.get_async_activity_handle(
            workflow_id=handle.id, run_id=None, activity_id="1"
        )
        for _ in range(200):  # until the attempt has started (an empty heartbeat is taken)
            try:
                await later.heartbeat()
                break
            except RPCError:
                await asyncio.sleep(0.05)
        if call == "complete":
            await later.complete("r" * 20_000)
        elif call == "heartbeat":
            with pytest.raises(AsyncActivityCancelledError):
                await later.heartbeat("h" * 20_000)
        else:
            await later.fail(ApplicationError("M" * 20_000))
        with pytest.raises(WorkflowFailureError) as err:
            await asyncio.wait_for(handle.result(), 10)
    cause = err.value.cause.cause
    assert isinstance(cause, ServerError) and cause.message == text and cause.non_retryable


async def test_signal_with_start_on_a_run_over_the_history_limit_is_refused(
    deployment_with,
) -> None:
    """As on a Temporal server: INVALID_ARGUMENT with the reason, the run terminated,
    no new run started."""
    client = await deployment_with(history_count_warn=5, history_count_error=10)
    queue = f"none-{uuid.uuid4()}"
    handle = await client.start_workflow(Sink.run, id=_id(), task_queue=queue)
    for n in range(9):
        await handle.signal(Sink.poke, n)
    with pytest.raises(RPCError) as err:
        await client.start_workflow(
            Sink.run, id=handle.id, task_queue=queue, start_signal="poke", start_signal_args=[9]
        )
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert err.value.message == "Workflow history count exceeds limit."
    await _terminated_for_history(handle)
    assert len([w async for w in client.list_workflows(f"WorkflowId = '{handle.id}'")]) == 1
