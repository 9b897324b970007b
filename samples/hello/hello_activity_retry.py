"""Hello activity retry: an activity fails three times and the retry policy carries it through.

Run: ``python -m samples.hello.hello_activity_retry``
"""

import asyncio
import os
from datetime import timedelta

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.worker import Worker

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "hello-activity-retry"
FLAKY_ATTEMPTS = 3


@activity.defn
async def flaky_greeting(name: str) -> str:
    attempt = activity.info().attempt
    if attempt <= FLAKY_ATTEMPTS:
        print(f"  attempt {attempt}: the greeting service is down")
        raise RuntimeError(f"greeting service unavailable (attempt {attempt})")
    print(f"  attempt {attempt}: success")
    return f"Hello, {name}! (after {attempt} attempts)"


@workflow.defn
class RetryingGreetingWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            flaky_greeting,
            name,
            start_to_close_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=100),
                backoff_coefficient=2.0,
                maximum_attempts=10,
            ),
        )


async def main() -> None:
    client = await Client.connect(DSN)
    async with Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[RetryingGreetingWorkflow],
        activities=[flaky_greeting],
    ):
        result = await client.execute_workflow(
            RetryingGreetingWorkflow.run,
            "World",
            id="hello-activity-retry-workflow",
            task_queue=TASK_QUEUE,
        )
        print(f"Result: {result}")


if __name__ == "__main__":
    asyncio.run(main())
