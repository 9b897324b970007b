"""ActivityEnvironment: activity code runs with a full activity context, no worker."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from typing import Any

import pytest

from hotmesh_temporal import activity
from hotmesh_temporal.activity import ActivityCancellationDetails
from hotmesh_temporal.common import MetricMeter
from hotmesh_temporal.converter import DataConverter, DefaultPayloadConverter
from hotmesh_temporal.exceptions import CancelledError
from hotmesh_temporal.testing import ActivityEnvironment


@activity.defn
async def describe_async(greeting: str) -> str:
    info = activity.info()
    return f"{greeting} from {info.activity_type}/{info.activity_id} attempt {info.attempt}"


@activity.defn
def describe_sync(greeting: str, punctuation: str = "!") -> str:
    return f"{greeting} {activity.info().workflow_id}{punctuation}"


def test_default_info_matches_temporalio_defaults() -> None:
    info = ActivityEnvironment.default_info()
    assert info.activity_id == "test"
    assert info.activity_type == "unknown"
    assert info.attempt == 1
    assert info.task_token == b"test"
    assert info.workflow_run_id == "test-run"
    assert info.scheduled_time.timestamp() == 0
    assert info.heartbeat_details == []
    assert info.is_local is False


async def test_async_activity_sees_the_info() -> None:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, activity_type="Greet", attempt=3)
    assert await env.run(describe_async, "hi") == "hi from Greet/test attempt 3"


def test_sync_activity_with_kwargs() -> None:
    env = ActivityEnvironment()
    assert env.run(describe_sync, "hello", punctuation="?") == "hello test?"


def test_plain_function_runs_in_activity_context() -> None:
    env = ActivityEnvironment()
    assert env.run(activity.in_activity) is True
    assert activity.in_activity() is False


async def test_heartbeats_reach_on_heartbeat() -> None:
    seen: list[Any] = []

    @activity.defn
    async def beats() -> None:
        activity.heartbeat("one", 1)
        activity.heartbeat()

    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: seen.append(details)
    await env.run(beats)
    assert seen == [("one", 1), ()]


async def test_cancel_async_activity() -> None:
    started = asyncio.Event()

    @activity.defn
    async def waits_forever() -> str:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            assert activity.is_cancelled()
            details = activity.cancellation_details()
            assert details is not None and details.cancel_requested
            raise
        return "not cancelled"

    env = ActivityEnvironment()
    task = asyncio.ensure_future(env.run(waits_forever))
    await started.wait()
    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_wait_for_cancelled_async() -> None:
    @activity.defn
    async def waits() -> str:
        await activity.wait_for_cancelled()
        details = activity.cancellation_details()
        assert details is not None
        return f"cancelled, timed out: {details.timed_out}"

    env = ActivityEnvironment()
    task = asyncio.ensure_future(env.run(waits))
    await asyncio.sleep(0.05)
    env.cancel(ActivityCancellationDetails(timed_out=True))
    # The activity task itself is cancelled too, as in temporalio.
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cancelled_before_run_cancels_at_once() -> None:
    env = ActivityEnvironment()
    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await env.run(describe_async, "never")


async def test_cancel_sync_activity_raises_on_heartbeat() -> None:
    ready = threading.Event()

    @activity.defn
    def loops_with_heartbeats() -> str:
        ready.set()
        for _ in range(500):
            activity.heartbeat()
            time.sleep(0.01)
        return "finished"

    env = ActivityEnvironment()
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(None, env.run, loops_with_heartbeats)
    await loop.run_in_executor(None, ready.wait)
    env.cancel()
    with pytest.raises(CancelledError):
        await future


async def test_sync_activity_without_thread_cancel_exception_polls() -> None:
    ready = threading.Event()

    @activity.defn(no_thread_cancel_exception=True)
    def polls() -> str:
        ready.set()
        while not activity.is_cancelled():
            activity.heartbeat()
            time.sleep(0.01)
        return "saw cancel"

    env = ActivityEnvironment()
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(None, env.run, polls)
    await loop.run_in_executor(None, ready.wait)
    env.cancel()
    assert await future == "saw cancel"


async def test_worker_shutdown_signal() -> None:
    @activity.defn
    async def waits_for_shutdown() -> bool:
        await activity.wait_for_worker_shutdown()
        return activity.is_worker_shutdown()

    env = ActivityEnvironment()
    task = asyncio.ensure_future(env.run(waits_for_shutdown))
    await asyncio.sleep(0.05)
    assert not task.done()
    env.worker_shutdown()
    assert await task is True


def test_worker_shutdown_sync() -> None:
    @activity.defn
    def checks() -> bool:
        activity.wait_for_worker_shutdown_sync(5)
        return activity.is_worker_shutdown()

    env = ActivityEnvironment()
    env.worker_shutdown()
    assert env.run(checks) is True


def test_payload_converter_and_metric_meter() -> None:
    converter = DataConverter.default.payload_converter
    env = ActivityEnvironment()
    assert env.run(activity.payload_converter) is converter
    assert env.run(activity.metric_meter) is MetricMeter.noop

    class MyConverter(DefaultPayloadConverter):
        pass

    mine = MyConverter()
    env.payload_converter = mine
    assert env.run(activity.payload_converter) is mine
    env.payload_converter = MyConverter  # a class is instantiated, as in temporalio
    made = env.run(lambda: [activity.payload_converter(), activity.payload_converter()])
    assert isinstance(made[0], MyConverter) and made[0] is made[1]
    meter = MetricMeter.noop.with_additional_attributes({"k": "v"})
    env.metric_meter = meter
    assert env.run(activity.metric_meter) is meter


async def test_client_is_given_to_async_activities_only() -> None:
    marker = object()
    env = ActivityEnvironment(client=marker)  # type: ignore[arg-type]

    @activity.defn
    async def reads_client() -> Any:
        return activity.client()

    @activity.defn
    def reads_client_sync() -> Any:
        return activity.client()

    assert await env.run(reads_client) is marker
    with pytest.raises(RuntimeError, match="No client"):
        env.run(reads_client_sync)
    with pytest.raises(RuntimeError, match="No client"):
        await ActivityEnvironment().run(reads_client)
