"""Hello signal: the client sends messages into a running workflow; a last signal ends it.

Run: ``python -m samples.hello.hello_signal``
"""

import asyncio
import os

from hotmesh_temporal import workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "hello-signal"


@workflow.defn
class GuestBookWorkflow:
    def __init__(self) -> None:
        self._entries: list[str] = []
        self._closed = False

    @workflow.run
    async def run(self) -> list[str]:
        # Sleeps until a signal makes the condition true; no polling, no busy loop.
        await workflow.wait_condition(lambda: self._closed)
        return [f"Hello, {name}!" for name in self._entries]

    @workflow.signal
    async def sign(self, name: str) -> None:
        self._entries.append(name)

    @workflow.signal
    def close_book(self) -> None:
        self._closed = True


async def main() -> None:
    client = await Client.connect(DSN)
    async with Worker(client, task_queue=TASK_QUEUE, workflows=[GuestBookWorkflow]):
        handle = await client.start_workflow(
            GuestBookWorkflow.run, id="hello-signal-workflow", task_queue=TASK_QUEUE
        )
        for name in ["Ada", "Grace", "Edsger"]:
            await handle.signal(GuestBookWorkflow.sign, name)
        await handle.signal(GuestBookWorkflow.close_book)
        print(f"Result: {await handle.result()}")


if __name__ == "__main__":
    asyncio.run(main())
