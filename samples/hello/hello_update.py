"""Hello update: a client changes a workflow's state and gets a reply, with a validator in front.

Run: ``python -m samples.hello.hello_update``
"""

import asyncio
import os

from hotmesh_temporal import workflow
from hotmesh_temporal.client import Client, WorkflowUpdateFailedError
from hotmesh_temporal.worker import Worker

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "hello-update"
GREETINGS = {"english": "Hello", "french": "Bonjour", "welsh": "Shwmae"}


@workflow.defn
class MultilingualGreetingWorkflow:
    def __init__(self) -> None:
        self._language = "english"
        self._done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self._done)
        return f"{GREETINGS[self._language]}, World!"

    @workflow.update
    def set_language(self, language: str) -> str:
        """Switch language; reply with the previous one."""
        previous, self._language = self._language, language
        return previous

    @set_language.validator
    def check_language(self, language: str) -> None:
        # A rejected update leaves no trace in the workflow's history.
        if language not in GREETINGS:
            raise ValueError(f"{language} is not supported")

    @workflow.signal
    def finish(self) -> None:
        self._done = True


async def main() -> None:
    client = await Client.connect(DSN)
    async with Worker(client, task_queue=TASK_QUEUE, workflows=[MultilingualGreetingWorkflow]):
        handle = await client.start_workflow(
            MultilingualGreetingWorkflow.run, id="hello-update-workflow", task_queue=TASK_QUEUE
        )
        previous = await handle.execute_update(MultilingualGreetingWorkflow.set_language, "welsh")
        print(f"Language changed from {previous}")
        try:
            await handle.execute_update(MultilingualGreetingWorkflow.set_language, "klingon")
        except WorkflowUpdateFailedError as err:
            print(f"Update rejected: {err.cause}")
        await handle.signal(MultilingualGreetingWorkflow.finish)
        print(f"Result: {await handle.result()}")


if __name__ == "__main__":
    asyncio.run(main())
