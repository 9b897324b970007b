"""Hello child workflow: a parent workflow runs a child workflow and uses its result.

Run: ``python -m samples.hello.hello_child_workflow``
"""

import asyncio
import os

from hotmesh_temporal import workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "hello-child-workflow"


@workflow.defn
class InitialsWorkflow:
    @workflow.run
    async def run(self, full_name: str) -> str:
        return "".join(part[0].upper() + "." for part in full_name.split())


@workflow.defn
class NameBadgesWorkflow:
    @workflow.run
    async def run(self, names: list[str]) -> list[str]:
        badges = []
        for index, name in enumerate(names):
            initials = await workflow.execute_child_workflow(
                InitialsWorkflow.run, name, id=f"{workflow.info().workflow_id}-child-{index}"
            )
            badges.append(f"{name} ({initials})")
        return badges


async def main() -> None:
    client = await Client.connect(DSN)
    async with Worker(
        client, task_queue=TASK_QUEUE, workflows=[NameBadgesWorkflow, InitialsWorkflow]
    ):
        result = await client.execute_workflow(
            NameBadgesWorkflow.run,
            ["ada lovelace", "alan mathison turing"],
            id="hello-child-workflow-workflow",
            task_queue=TASK_QUEUE,
        )
        print(f"Result: {result}")


if __name__ == "__main__":
    asyncio.run(main())
