"""Activity cancellation and worker shutdown, against temporalio 1.35 (issue 20).

Thread activities: the same activity written against each SDK runs in that SDK's
``ActivityEnvironment`` (temporalio's raises cancellation inside the activity's thread
through its Rust bridge) and is cancelled from another thread; both must raise at the
same points, shielded blocks included. Then, on a real worker and Postgres: a thread
activity interrupted where it stands (no heartbeat needed), one that shields itself,
worker shutdown (what the activity sees, the failure recorded, the log), and a process
pool whose process dies (BrokenProcessPool fails the attempt and the worker).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
import temporalio.activity
import temporalio.converter
import temporalio.testing

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.service import RPCError
from hotmesh_temporal.testing import ActivityEnvironment
from hotmesh_temporal.worker import SharedStateManager, Worker

# --------------------------------------------------- thread cancellation, side by side


def define_activities(act: Any, log: list[str], in_shield: threading.Event) -> dict[str, Any]:
    """Three sync activities written against one SDK's ``activity`` module."""

    def recorded(fn: Any) -> Any:
        def run() -> str:
            log.append("start")
            try:
                result = fn()
            except BaseException as err:
                log.append(f"raised {type(err).__name__}: {err}")
                raise
            log.append(f"returned {result}")
            return result

        run.__name__ = fn.__name__
        return run

    def spins() -> str:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # no heartbeat: interrupted where it stands
            time.sleep(0.01)
        return "never interrupted"

    def shields() -> str:
        with act.shield_thread_cancel_exception():
            in_shield.set()
            while not act.is_cancelled():
                time.sleep(0.01)
            time.sleep(0.1)  # work the shield protects, after the cancel came
            log.append("shield done")
        return "after the shield"

    def checks() -> str:
        in_shield.set()
        while not act.is_cancelled():
            time.sleep(0.01)
        return "saw the cancel"

    return {
        "spins": act.defn(name="spins")(recorded(spins)),
        "shields": act.defn(name="shields")(recorded(shields)),
        "checks": act.defn(name="checks", no_thread_cancel_exception=True)(recorded(checks)),
    }


def run_cancelled(env: Any, act: Any, name: str) -> list[str]:
    """Run activity ``name`` in ``env`` on a thread and cancel it once it is running."""
    log: list[str] = []
    in_shield = threading.Event()
    fn = define_activities(act, log, in_shield)[name]
    thread = threading.Thread(target=lambda: _swallow(env.run, fn))
    thread.start()
    if name == "spins":
        time.sleep(0.2)
    else:
        assert in_shield.wait(5)
    env.cancel()
    thread.join(10)
    assert not thread.is_alive()
    return log


def _swallow(run: Any, fn: Any) -> None:
    try:
        run(fn)
    except BaseException:  # noqa: BLE001 - the log holds what was raised
        pass


@pytest.mark.parametrize("name", ["spins", "shields", "checks"])
def test_thread_cancellation_matches_temporalio(name):
    expected = run_cancelled(temporalio.testing.ActivityEnvironment(), temporalio.activity, name)
    ours = run_cancelled(ActivityEnvironment(), activity, name)
    assert ours == expected
    assert expected[0] == "start"
    assert (
        expected[-1]
        == {
            "spins": "raised CancelledError: Cancelled",
            "shields": "raised CancelledError: Cancelled",
            "checks": "returned saw the cancel",
        }[name]
    )


# ------------------------------------------------------------ on a worker and Postgres

SEEN: dict[str, Any] = {}
GATE = threading.Event()


@activity.defn
def spins_in_thread() -> str:
    SEEN["thread started"] = True
    GATE.set()
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            time.sleep(0.01)
    except BaseException as err:
        SEEN["thread raised"] = f"{type(err).__name__}: {err}"
        raise
    return "never interrupted"


@activity.defn
def shields_in_thread() -> str:
    log = SEEN.setdefault("shield log", [])
    try:
        with activity.shield_thread_cancel_exception():
            GATE.set()
            while not activity.is_cancelled():
                activity.heartbeat()
                time.sleep(0.02)
            time.sleep(0.2)
            log.append("shielded work done")
    except BaseException as err:
        log.append(f"{type(err).__name__}: {err}")
        raise
    return "after the shield"


@activity.defn
async def sleeps_through_shutdown() -> str:
    GATE.set()
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError as err:
        details = activity.cancellation_details()
        SEEN["async cancel"] = (
            str(err),
            activity.is_worker_shutdown(),
            details is not None and details.worker_shutdown,
            details is not None and details.cancel_requested,
        )
        raise
    return "slept"


@workflow.defn
class RunsOne:
    @workflow.run
    async def run(self, name: str, cancel_after: float) -> str:
        handle = workflow.start_activity(
            name,
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=1),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        if cancel_after:
            await workflow.sleep(cancel_after)
            handle.cancel()
        try:
            return await handle
        except Exception as err:  # noqa: BLE001 - the scenario reports what came back
            return f"{type(err).__name__}: {type(err.__cause__).__name__}"


async def _end(handle: Any) -> None:
    """Terminate the scenario's run if the worker left it running."""
    try:
        await handle.terminate("scenario over")
    except RPCError:
        pass  # it closed already


def _events(history: Any, field: str) -> list[Any]:
    return [getattr(e, field) for e in history.events if e.HasField(field)]


async def test_thread_activity_is_interrupted_by_worker_shutdown(client, task_queue):
    """No heartbeat: shutting the worker down still interrupts the thread, and the
    attempt fails with core's worker-shutdown failure."""
    SEEN.clear()
    GATE.clear()
    executor = concurrent.futures.ThreadPoolExecutor(2)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[RunsOne],
        activities=[spins_in_thread],
        activity_executor=executor,
        graceful_shutdown_timeout=timedelta(milliseconds=200),
    )
    handle = None
    async with worker:
        handle = await client.start_workflow(
            RunsOne.run,
            args=["spins_in_thread", 0],
            id=f"shut-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        assert await asyncio.to_thread(GATE.wait, 10)
    executor.shutdown(wait=True)
    assert SEEN["thread raised"] == "CancelledError: Cancelled"
    history = await handle.fetch_history()
    [failed] = _events(history, "activity_task_failed_event_attributes")
    assert failed.failure.message == (
        "Worker is shutting down and this activity did not complete in time"
    )
    assert failed.failure.application_failure_info.type == "WorkerShutdown"
    assert not failed.failure.application_failure_info.non_retryable
    await _end(handle)


async def test_async_activity_at_worker_shutdown(client, task_queue, caplog):
    SEEN.clear()
    GATE.clear()
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[RunsOne],
        activities=[sleeps_through_shutdown],
        graceful_shutdown_timeout=timedelta(milliseconds=300),
    )
    with caplog.at_level(logging.DEBUG):
        async with worker:
            handle = await client.start_workflow(
                RunsOne.run,
                args=["sleeps_through_shutdown", 0],
                id=f"shut-{uuid.uuid4()}",
                task_queue=task_queue,
            )
            assert await asyncio.to_thread(GATE.wait, 10)
    # temporalio: the task is cancelled with "Activity cancelled"; the details say
    # worker shutdown; the log says it began and completes the attempt as cancelled
    # (DEBUG), with no "Completing activity as failed" warning.
    assert SEEN["async cancel"] == ("Activity cancelled", True, True, False)
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert (
        logging.INFO,
        "Beginning worker shutdown, will wait 0:00:00.300000 before cancelling activities",
    ) in messages
    assert any(m.startswith("Completing as cancelled") for _, m in messages)
    assert not any(m.startswith("Completing activity as failed") for _, m in messages)
    history = await handle.fetch_history()
    [failed] = _events(history, "activity_task_failed_event_attributes")
    assert failed.failure.application_failure_info.type == "WorkerShutdown"
    await _end(handle)


async def test_shielded_thread_activity_finishes_its_block_then_is_cancelled(client, task_queue):
    SEEN.clear()
    GATE.clear()
    with concurrent.futures.ThreadPoolExecutor(2) as executor:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[RunsOne],
            activities=[shields_in_thread],
            activity_executor=executor,
        ):
            result = await client.execute_workflow(
                RunsOne.run,
                args=["shields_in_thread", 0.5],
                id=f"shield-{uuid.uuid4()}",
                task_queue=task_queue,
            )
    assert SEEN["shield log"] == ["shielded work done", "CancelledError: Cancelled"]
    assert result == "ActivityError: CancelledError"


# ------------------------------------------------------------------ BrokenProcessPool


@activity.defn
def dies() -> str:
    os._exit(1)


@pytest.fixture
def shared_state():
    with multiprocessing.Manager() as mgr:
        yield SharedStateManager.create_from_multiprocessing(mgr)


def temporalio_failure_of(err: BaseException) -> Any:
    from temporalio.api.failure.v1 import Failure

    failure = Failure()
    temporalio.converter.DataConverter.default.failure_converter.to_failure(
        err, temporalio.converter.DataConverter.default.payload_converter, failure
    )
    return failure


async def test_broken_process_pool_fails_the_attempt_and_the_worker(
    client, task_queue, shared_state, caplog
):
    fatal: list[BaseException] = []

    async def on_fatal_error(err: BaseException) -> None:
        fatal.append(err)

    pool = concurrent.futures.ProcessPoolExecutor(1)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[RunsOne],
        activities=[dies],
        activity_executor=pool,
        shared_state_manager=shared_state,
        on_fatal_error=on_fatal_error,
    )
    handle = await client.start_workflow(
        RunsOne.run, args=["dies", 0], id=f"broken-{uuid.uuid4()}", task_queue=task_queue
    )
    body_cancelled = False
    with caplog.at_level(logging.ERROR), pytest.raises(RuntimeError) as raised:
        async with worker:
            try:
                await asyncio.sleep(30)  # the worker's failure cancels this, as temporalio's
            except asyncio.CancelledError:
                body_cancelled = True
                raise
    pool.shutdown(wait=False)
    assert body_cancelled
    assert str(raised.value) == "Activity worker failed"
    cause = raised.value.__cause__
    assert isinstance(cause, concurrent.futures.process.BrokenProcessPool)
    assert fatal == [raised.value]
    assert any(r.getMessage() == "Worker failed, shutting down" for r in caplog.records)

    # The attempt's failure is the error as temporalio's converter encodes it.
    expected = temporalio_failure_of(cause)
    history = await handle.fetch_history()
    [failed] = _events(history, "activity_task_failed_event_attributes")
    assert failed.failure.message == expected.message
    assert failed.failure.application_failure_info.type == expected.application_failure_info.type
    await _end(handle)
