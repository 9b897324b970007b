"""The deprecated ``(self, name, *args)`` dynamic signal / query form still runs."""

from __future__ import annotations

import asyncio
import uuid
import warnings

from hotmesh_temporal import workflow
from hotmesh_temporal.worker import Worker

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)

    @workflow.defn
    class VarargDynamicWorkflow:
        def __init__(self) -> None:
            self.received: list[list] = []

        @workflow.run
        async def run(self) -> list[list]:
            await workflow.wait_condition(lambda: any(r[0] == "stop" for r in self.received))
            return self.received

        @workflow.signal(dynamic=True)
        def any_signal(self, name: str, *args) -> None:
            self.received.append([name, *args])

        @workflow.query(dynamic=True)
        def any_query(self, name: str, *args) -> list:
            return [name, len(self.received), *args]


async def test_vararg_dynamic_handlers_receive_name_and_decoded_args(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[VarargDynamicWorkflow]):
        handle = await client.start_workflow(
            VarargDynamicWorkflow.run, id=f"vararg-{uuid.uuid4()}", task_queue=task_queue
        )
        await handle.signal("add", args=[1, {"k": "v"}])
        for _ in range(100):
            answer = await handle.query("peek", args=["x", 2])
            if answer[1] == 1:
                break
            await asyncio.sleep(0.05)
        assert answer == ["peek", 1, "x", 2]
        await handle.signal("stop")
        assert await handle.result() == [["add", 1, {"k": "v"}], ["stop"]]
