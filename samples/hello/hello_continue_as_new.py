"""Hello continue-as-new: a long-running loop starts a fresh run (and history) every iteration.

Run: ``python -m samples.hello.hello_continue_as_new``
"""

import asyncio
import os
from dataclasses import dataclass, field

from hotmesh_temporal import workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "hello-continue-as-new"


@dataclass
class Tally:
    remaining: int
    run_ids_seen: list[str] = field(default_factory=list)


@workflow.defn
class CountdownWorkflow:
    @workflow.run
    async def run(self, tally: Tally) -> list[str]:
        tally.run_ids_seen.append(workflow.info().run_id)
        if tally.remaining > 0:
            workflow.logger.info("%d runs to go", tally.remaining)
            # Ends this run and starts the next with the same workflow id.
            workflow.continue_as_new(Tally(tally.remaining - 1, tally.run_ids_seen))
        return tally.run_ids_seen


async def main() -> None:
    client = await Client.connect(DSN)
    async with Worker(client, task_queue=TASK_QUEUE, workflows=[CountdownWorkflow]):
        handle = await client.start_workflow(
            CountdownWorkflow.run,
            Tally(remaining=4),
            id="hello-continue-as-new-workflow",
            task_queue=TASK_QUEUE,
        )
        run_ids = await handle.result()
        print(f"Result: {len(run_ids)} runs, {len(set(run_ids))} distinct run ids")
        print(f"First run was the one started: {run_ids[0] == handle.first_execution_run_id}")


if __name__ == "__main__":
    asyncio.run(main())
