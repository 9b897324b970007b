"""workflow.patched / deprecate_patch on a real Postgres: Core's ``core_patch`` marker,
old runs keep their path when the code changes under them, new runs take the new one."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.worker import Replayer, Worker


def wf_id() -> str:
    return f"wf-{uuid.uuid4()}"


@activity.defn
async def old_step(value: str) -> str:
    return f"old:{value}"


@activity.defn
async def new_step(value: str) -> str:
    return f"new:{value}"


@workflow.defn(name="Versioned")
class VersionedV1:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self, value: str) -> str:
        result = await workflow.execute_activity(
            old_step, value, start_to_close_timeout=timedelta(seconds=10)
        )
        await workflow.wait_condition(lambda: self.go)
        return result

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


@workflow.defn(name="Versioned")
class VersionedV2:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self, value: str) -> str:
        step = new_step if workflow.patched("use-new-step") else old_step
        result = await workflow.execute_activity(
            step, value, start_to_close_timeout=timedelta(seconds=10)
        )
        await workflow.wait_condition(lambda: self.go)
        return result

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


@workflow.defn(name="Versioned")
class VersionedV3:
    """The old path is gone: the patch is deprecated."""

    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self, value: str) -> str:
        workflow.deprecate_patch("use-new-step")
        result = await workflow.execute_activity(
            new_step, value, start_to_close_timeout=timedelta(seconds=10)
        )
        await workflow.wait_condition(lambda: self.go)
        return result

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


def _worker(client, task_queue, cls):
    # No sticky cache: every task replays from history, as after a deploy.
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[cls],
        activities=[old_step, new_step],
        max_cached_workflows=0,
    )


async def _wait_for_activity(handle) -> None:
    import asyncio

    for _ in range(100):
        history = await handle.fetch_history()
        if any(e.HasField("activity_task_completed_event_attributes") for e in history.events):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the activity never completed")


def _patch_markers(history) -> list:
    out = []
    for event in history.events:
        if event.HasField("marker_recorded_event_attributes"):
            attrs = event.marker_recorded_event_attributes
            assert attrs.marker_name == "core_patch"
            out.append(json.loads(attrs.details["patch-data"].payloads[0].data))
    return out


async def test_running_workflow_keeps_its_path_after_the_patch(client, task_queue):
    async with _worker(client, task_queue, VersionedV1):
        old = await client.start_workflow(VersionedV1.run, "a", id=wf_id(), task_queue=task_queue)
        await _wait_for_activity(old)
    async with _worker(client, task_queue, VersionedV2):
        await old.signal(VersionedV2.proceed)
        assert await old.result() == "old:a"
        new = await client.start_workflow(VersionedV2.run, "b", id=wf_id(), task_queue=task_queue)
        await new.signal(VersionedV2.proceed)
        assert await new.result() == "new:b"
    assert _patch_markers(await old.fetch_history()) == []
    new_history = await new.fetch_history()
    assert _patch_markers(new_history) == [{"id": "use-new-step", "deprecated": False}]
    # Both histories replay against the patched code.
    await Replayer(workflows=[VersionedV2]).replay_workflow(await old.fetch_history())
    await Replayer(workflows=[VersionedV2]).replay_workflow(new_history)


async def test_patch_marker_does_not_shift_later_commands(client, task_queue):
    async with _worker(client, task_queue, VersionedV2):
        handle = await client.start_workflow(
            VersionedV2.run, "c", id=wf_id(), task_queue=task_queue
        )
        await handle.signal(VersionedV2.proceed)
        await handle.result()
    events = (await handle.fetch_history()).events
    kinds = [e.WhichOneof("attributes") for e in events]
    marker = kinds.index("marker_recorded_event_attributes")
    assert kinds[marker - 1] == "workflow_task_completed_event_attributes"
    assert kinds[marker + 1] == "activity_task_scheduled_event_attributes"
    scheduled = events[marker + 1].activity_task_scheduled_event_attributes
    assert scheduled.activity_id == "1"  # the same id the unpatched code gives it
    assert scheduled.retry_policy.maximum_interval.ToTimedelta() == timedelta(seconds=100)


async def test_deprecated_patch_replays_patched_histories(client, task_queue):
    async with _worker(client, task_queue, VersionedV2):
        patched = await client.start_workflow(
            VersionedV2.run, "d", id=wf_id(), task_queue=task_queue
        )
        await _wait_for_activity(patched)
    async with _worker(client, task_queue, VersionedV3):
        await patched.signal(VersionedV3.proceed)
        assert await patched.result() == "new:d"
        fresh = await client.start_workflow(VersionedV3.run, "e", id=wf_id(), task_queue=task_queue)
        await fresh.signal(VersionedV3.proceed)
        assert await fresh.result() == "new:e"
    assert _patch_markers(await fresh.fetch_history()) == [
        {"id": "use-new-step", "deprecated": True}
    ]
    await Replayer(workflows=[VersionedV3]).replay_workflow(await patched.fetch_history())


@workflow.defn(name="Versioned")
class NoPatchCall:
    @workflow.run
    async def run(self, value: str) -> str:
        return await workflow.execute_activity(
            new_step, value, start_to_close_timeout=timedelta(seconds=10)
        )


async def test_removing_an_undeprecated_patch_is_nondeterminism(client, task_queue):
    async with _worker(client, task_queue, VersionedV2):
        handle = await client.start_workflow(
            VersionedV2.run, "f", id=wf_id(), task_queue=task_queue
        )
        await handle.signal(VersionedV2.proceed)
        await handle.result()

    result = await Replayer(workflows=[NoPatchCall]).replay_workflow(
        await handle.fetch_history(), raise_on_replay_failure=False
    )
    assert isinstance(result.replay_failure, workflow.NondeterminismError)
