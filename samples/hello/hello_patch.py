"""Hello patch: change workflow code while workflows started on the old code are still running.

Three versions of one workflow type, ``Brewing``, deployed one after the other:

1. ``BrewingV1`` boils the water with an activity, then waits for a ``serve`` signal.
2. ``BrewingV2`` boils it with a new activity behind ``workflow.patched``: a workflow
   started on V1 replays the old branch, a new one takes the new branch.
3. ``BrewingV3`` calls ``workflow.deprecate_patch`` and keeps only the new branch, once
   no workflow that took the old branch is left running.

Run: ``python -m samples.hello.hello_patch``
"""

import asyncio
import os
from datetime import timedelta

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "hello-patch"
PATCH_ID = "kettle-instead-of-pan"
STEP = dict(start_to_close_timeout=timedelta(seconds=5))


@activity.defn
async def boil_in_pan() -> str:
    return "boiled in a pan"


@activity.defn
async def boil_in_kettle() -> str:
    return "boiled in a kettle"


class _ServeOnSignal:
    def __init__(self) -> None:
        self.boiled = ""
        self.served = False

    @workflow.signal
    def serve(self) -> None:
        self.served = True

    @workflow.query
    def water(self) -> str:
        return self.boiled

    async def _serve(self) -> str:
        await workflow.wait_condition(lambda: self.served)
        return f"tea served, water {self.boiled}"


@workflow.defn(name="Brewing")
class BrewingV1(_ServeOnSignal):
    @workflow.run
    async def run(self) -> str:
        self.boiled = await workflow.execute_activity(boil_in_pan, **STEP)
        return await self._serve()


@workflow.defn(name="Brewing")
class BrewingV2(_ServeOnSignal):
    @workflow.run
    async def run(self) -> str:
        if workflow.patched(PATCH_ID):
            self.boiled = await workflow.execute_activity(boil_in_kettle, **STEP)
        else:
            self.boiled = await workflow.execute_activity(boil_in_pan, **STEP)
        return await self._serve()


@workflow.defn(name="Brewing")
class BrewingV3(_ServeOnSignal):
    @workflow.run
    async def run(self) -> str:
        workflow.deprecate_patch(PATCH_ID)
        self.boiled = await workflow.execute_activity(boil_in_kettle, **STEP)
        return await self._serve()


ACTIVITIES = [boil_in_pan, boil_in_kettle]


async def start_and_wait_until_boiled(client: Client, workflow_id: str, task_queue: str):
    handle = await client.start_workflow("Brewing", id=workflow_id, task_queue=task_queue)
    while not await handle.query("water"):
        await asyncio.sleep(0.1)
    return handle


async def run_patch_demo(client: Client, task_queue: str = TASK_QUEUE) -> dict:
    """Deploy V1, V2 and V3 in turn; return each workflow's result by name."""
    async with Worker(client, task_queue=task_queue, workflows=[BrewingV1], activities=ACTIVITIES):
        started_on_v1 = await start_and_wait_until_boiled(
            client, f"brew-v1-{task_queue}", task_queue
        )
    async with Worker(client, task_queue=task_queue, workflows=[BrewingV2], activities=ACTIVITIES):
        started_on_v2 = await start_and_wait_until_boiled(
            client, f"brew-v2-{task_queue}", task_queue
        )
        await started_on_v1.signal("serve")  # replays the V1 history on V2 code
        v1_result = await started_on_v1.result()
    async with Worker(client, task_queue=task_queue, workflows=[BrewingV3], activities=ACTIVITIES):
        started_on_v3 = await start_and_wait_until_boiled(
            client, f"brew-v3-{task_queue}", task_queue
        )
        await started_on_v2.signal("serve")  # has the patch marker: fine on V3 code
        await started_on_v3.signal("serve")
        return {
            "started on V1": v1_result,
            "started on V2": await started_on_v2.result(),
            "started on V3": await started_on_v3.result(),
        }


async def main() -> None:
    client = await Client.connect(DSN)
    for started_on, result in (await run_patch_demo(client)).items():
        print(f"Result of the workflow {started_on}: {result}")


if __name__ == "__main__":
    asyncio.run(main())
