"""Cancelling a running local activity from workflow code reaches its attempt, as
temporalio 1.35's core does it (issue 20). Observed with temporalio's own worker on a
``temporal server start-dev``, for an async activity and a sync one in a thread pool,
each cancellation type, an activity that gives in and one that swallows the
cancellation and returns:

* every attempt is cancelled, ABANDON included: ``is_cancelled()`` turns True with
  ``cancel_requested`` details, an async activity gets ``asyncio.CancelledError``
  ("Activity cancelled"), a thread activity gets temporalio's ``CancelledError``
  ("Cancelled") raised in its thread;
* TRY_CANCEL and ABANDON resolve the workflow at once with ``ActivityError`` "Local
  Activity cancelled" caused by ``CancelledError`` "Activity cancelled", and record a
  ``core_local_activity`` marker there (attempt 0, no completion time, that failure);
  what the attempt does afterwards is dropped;
* WAIT_CANCELLATION_COMPLETED waits for the attempt: one that gives in resolves as
  "Local Activity cancelled" caused by "Cancelled" (its marker: attempt 1, that
  failure), one that swallows the cancellation and returns gives its result.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.worker import Replayer, Worker

seen: dict[str, list] = {}


def _record_cancellation(key: str, err: BaseException) -> None:
    seen.setdefault(key, []).append(
        (
            f"{type(err).__module__.split('.')[0]}.{type(err).__name__}",
            str(err),
            activity.is_cancelled(),
            activity.cancellation_details().cancel_requested,  # type: ignore[union-attr]
        )
    )


@activity.defn
async def quick() -> str:
    await asyncio.sleep(0.3)
    return "quick"


@activity.defn
async def long_async(key: str, swallow: bool) -> str:
    try:
        for _ in range(300):
            await asyncio.sleep(0.1)
        return "finished"
    except BaseException as err:
        _record_cancellation(key, err)
        if not swallow:
            raise
        await asyncio.sleep(0.3)
        seen[key].append("swallowed")
        return "swallowed"


@activity.defn
def long_sync(key: str, swallow: bool) -> str:
    try:
        for _ in range(300):
            time.sleep(0.1)  # no heartbeat: interrupted where it stands
        return "finished"
    except BaseException as err:
        _record_cancellation(key, err)
        if not swallow:
            raise
        time.sleep(0.3)
        seen[key].append("swallowed")
        return "swallowed"


@workflow.defn
class CancelsItsLocalActivity:
    @workflow.run
    async def run(self, key: str, sync: bool, kind: str, swallow: bool, via_task: bool) -> str:
        fn: Any = long_sync if sync else long_async
        options: dict[str, Any] = {
            "args": [key, swallow],
            "start_to_close_timeout": timedelta(seconds=60),
            "cancellation_type": workflow.ActivityCancellationType[kind],
        }
        if via_task:  # cancelling the task that awaits it
            handle: Any = asyncio.ensure_future(workflow.execute_local_activity(fn, **options))
        else:
            handle = workflow.start_local_activity(fn, **options)
        await workflow.execute_local_activity(quick, start_to_close_timeout=timedelta(seconds=5))
        handle.cancel()
        try:
            outcome = f"result {await handle!r}"
        except Exception as err:
            cause = err.__cause__
            retry_state = getattr(err, "retry_state", None)
            outcome = (
                f"{type(err).__name__}: {err} / {type(cause).__name__}: {cause} / "
                f"{retry_state.name if retry_state else None}"
            )
        await workflow.execute_local_activity(quick, start_to_close_timeout=timedelta(seconds=5))
        return outcome


GAVE_IN_ASYNC = ("asyncio.CancelledError", "Activity cancelled", True, True)
GAVE_IN_THREAD = ("hotmesh_temporal.CancelledError", "Cancelled", True, True)
NOT_WAITED = "ActivityError: Local Activity cancelled / CancelledError: Activity cancelled / CANCEL_REQUESTED"
WAITED = "ActivityError: Local Activity cancelled / CancelledError: Cancelled / CANCEL_REQUESTED"
# The long activity's marker (between the two quick ones): attempt, failure, result.
NOT_WAITED_MARKER = (0, "Activity cancelled", "canceled_failure_info", False)
WAITED_MARKER = (1, "Cancelled", "canceled_failure_info", False)
SWALLOWED_MARKER = (1, None, None, True)

# (sync, cancellation type, swallow): the workflow's outcome and the marker, as
# temporalio 1.35 gave them.
CASES = [
    (sync, kind, swallow)
    for sync in (False, True)
    for kind in ("TRY_CANCEL", "WAIT_CANCELLATION_COMPLETED", "ABANDON")
    for swallow in (False, True)
]


def _expected(kind: str, swallow: bool) -> tuple[str, tuple]:
    if kind != "WAIT_CANCELLATION_COMPLETED":
        return NOT_WAITED, NOT_WAITED_MARKER
    if swallow:
        return "result 'swallowed'", SWALLOWED_MARKER
    return WAITED, WAITED_MARKER


def _markers(history: Any) -> list[tuple]:
    out = []
    for event in history.events:
        if not event.HasField("marker_recorded_event_attributes"):
            continue
        attrs = event.marker_recorded_event_attributes
        data = json.loads(attrs.details["data"].payloads[0].data)
        failure = attrs.failure if attrs.HasField("failure") else None
        out.append(
            (
                data["activity_type"],
                data["attempt"],
                failure.message if failure else None,
                failure.WhichOneof("failure_info") if failure else None,
                "result" in attrs.details,
                data["complete_time"] is None,
            )
        )
    return out


async def _wait_for_record(key: str, length: int) -> list:
    for _ in range(200):  # a bound on the wait, not a timing assertion
        if len(seen.get(key, [])) >= length:
            break
        await asyncio.sleep(0.05)
    return seen.get(key, [])


async def _run_case(client: Any, task_queue: str, case: tuple, via_task: bool = False) -> Any:
    sync, kind, swallow = case
    key = f"{case}-{uuid.uuid4()}"
    handle = await client.start_workflow(
        CancelsItsLocalActivity.run,
        args=[key, sync, kind, swallow, via_task],
        id=f"wf-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    outcome = await asyncio.wait_for(handle.result(), 60)
    record = await _wait_for_record(key, 2 if swallow else 1)
    return outcome, record, await handle.fetch_history()


@pytest.fixture
def thread_pool():
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        yield pool


@pytest.mark.parametrize("case", CASES, ids=["-".join(map(str, case)) for case in CASES])
async def test_cancelling_a_running_local_activity(client, task_queue, thread_pool, case):
    sync, kind, swallow = case
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[CancelsItsLocalActivity],
        activities=[quick, long_async, long_sync],
        activity_executor=thread_pool,
    ):
        outcome, record, history = await _run_case(client, task_queue, case)
    expected_outcome, expected_marker = _expected(kind, swallow)
    assert outcome == expected_outcome
    gave_in = GAVE_IN_THREAD if sync else GAVE_IN_ASYNC
    assert record == ([gave_in, "swallowed"] if swallow else [gave_in])
    attempt, message, info, has_result = expected_marker
    long_name = "long_sync" if sync else "long_async"
    assert _markers(history) == [
        ("quick", 1, None, None, True, False),
        (long_name, attempt, message, info, has_result, attempt == 0),
        ("quick", 1, None, None, True, False),
    ]
    await Replayer(workflows=[CancelsItsLocalActivity]).replay_workflow(history)


@pytest.mark.parametrize(
    "case", [(False, "TRY_CANCEL", False), (True, "WAIT_CANCELLATION_COMPLETED", False)]
)
async def test_cancelling_the_task_awaiting_a_local_activity(client, task_queue, thread_pool, case):
    sync, kind, swallow = case
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[CancelsItsLocalActivity],
        activities=[quick, long_async, long_sync],
        activity_executor=thread_pool,
    ):
        outcome, record, _ = await _run_case(client, task_queue, case, via_task=True)
    assert outcome == _expected(kind, swallow)[0]
    assert record == [GAVE_IN_THREAD if sync else GAVE_IN_ASYNC]


ran: list[str] = []


@activity.defn
async def never_starts(key: str) -> str:
    ran.append(key)
    return "ran"


@workflow.defn
class CancelsBeforeAwaiting:
    """Cancels the handle at once, before its task first ran (as exp'd on temporalio:
    the awaiting code gets plain CancelledError, whatever the cancellation type)."""

    @workflow.run
    async def run(self, key: str, local: bool, kind: str) -> str:
        options: dict[str, Any] = {
            "start_to_close_timeout": timedelta(seconds=5),
            "cancellation_type": workflow.ActivityCancellationType[kind],
        }
        if local:
            handle = workflow.start_local_activity(never_starts, key, **options)
        else:
            handle = workflow.start_activity(never_starts, key, **options)
        handle.cancel()
        try:
            return f"result {await handle!r}"
        except BaseException as err:  # noqa: BLE001 - what the awaiting code gets
            return f"{type(err).__module__}.{type(err).__name__}: {err!s} / {err.__cause__!r}"


KINDS = ("TRY_CANCEL", "WAIT_CANCELLATION_COMPLETED", "ABANDON")


@pytest.mark.parametrize("local", [True, False], ids=["local", "remote"])
@pytest.mark.parametrize("kind", KINDS)
async def test_cancelling_a_handle_before_it_ran(client, task_queue, local, kind):
    """As temporalio 1.35: plain ``asyncio.CancelledError`` (no message, no cause) in
    the awaiting code; no activity task for a remote activity; for a local one, Core's
    cancel marker (attempt 0, "Activity cancelled", a completion time only with
    WAIT_CANCELLATION_COMPLETED); the activity never runs."""
    key = f"{kind}-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[CancelsBeforeAwaiting],
        activities=[never_starts],
    ):
        handle = await client.start_workflow(
            CancelsBeforeAwaiting.run,
            args=[key, local, kind],
            id=f"wf-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        assert await asyncio.wait_for(handle.result(), 30) == (
            "asyncio.exceptions.CancelledError:  / None"
        )
    history = await handle.fetch_history()
    kinds = [event.WhichOneof("attributes") for event in history.events]
    assert "activity_task_scheduled_event_attributes" not in kinds
    waits = kind == "WAIT_CANCELLATION_COMPLETED"
    expected = [
        ("never_starts", 0, "Activity cancelled", "canceled_failure_info", False, not waits)
    ]
    assert _markers(history) == (expected if local else [])
    assert key not in ran
    await Replayer(workflows=[CancelsBeforeAwaiting]).replay_workflow(history)
