"""Worker(patch_activation_callback=...) decides whether a new patch activates, as in
temporalio (issue 20); history decides on replay."""

from __future__ import annotations

import asyncio
import uuid

from hotmesh_temporal import workflow
from hotmesh_temporal.worker import PatchActivationInput, Replayer, Worker


@workflow.defn
class PatchedWorkflow:
    @workflow.run
    async def run(self) -> list:
        return [workflow.patched("feature-x"), workflow.patched("feature-x")]


def _markers(history) -> int:
    return sum(1 for e in history.events if e.HasField("marker_recorded_event_attributes"))


async def test_the_callback_decides_new_patches(client, task_queue):
    asked: list[PatchActivationInput] = []

    def decline(input: PatchActivationInput) -> bool:
        asked.append(input)
        return False

    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[PatchedWorkflow],
        patch_activation_callback=decline,
    ):
        handle = await client.start_workflow(
            PatchedWorkflow.run, id=f"patch-cb-{uuid.uuid4()}", task_queue=task_queue
        )
        assert await handle.result() == [False, False]
    # Asked once per patch (the answer is memoized), with the workflow's info.
    assert [(a.patch_id, a.workflow_info.workflow_id) for a in asked] == [("feature-x", handle.id)]
    history = await handle.fetch_history()
    assert _markers(history) == 0
    await Replayer(workflows=[PatchedWorkflow]).replay_workflow(history)

    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[PatchedWorkflow],
        patch_activation_callback=lambda input: True,
    ):
        activated = await client.start_workflow(
            PatchedWorkflow.run, id=f"patch-cb-{uuid.uuid4()}", task_queue=task_queue
        )
        assert await activated.result() == [True, True]
    assert _markers(await activated.fetch_history()) == 1


async def test_a_callback_answering_a_non_bool_fails_the_task(client, task_queue):
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[PatchedWorkflow],
        patch_activation_callback=lambda input: "yes",
    ):
        handle = await client.start_workflow(
            PatchedWorkflow.run, id=f"patch-cb-{uuid.uuid4()}", task_queue=task_queue
        )
        for _ in range(100):
            history = await handle.fetch_history()
            failed = [
                e for e in history.events if e.HasField("workflow_task_failed_event_attributes")
            ]
            if failed:
                break

            await asyncio.sleep(0.05)
        assert failed[0].workflow_task_failed_event_attributes.failure.message == (
            "Patch activation callback must return true or false"
        )
        await handle.terminate()
