"""Hello async activity completion: an activity returns without a result; someone else sends it.

The activity hands its task token to an approver (here a task in the same process; in
real life a person, a webhook or another system) and calls ``activity.raise_complete_async()``.
The approver completes the activity later through ``client.get_async_activity_handle``.

Run: ``python -m samples.hello.hello_async_activity_completion``
"""

import asyncio
import os
from datetime import timedelta

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "hello-async-activity-completion"


_approvals_in_progress: set = set()


async def approve_later(client: Client, task_token: bytes, expense: str) -> None:
    """The approver: decides after a while and completes the activity by its token."""
    await asyncio.sleep(0.5)
    handle = client.get_async_activity_handle(task_token=task_token)
    await handle.complete(f"{expense}: approved")


@activity.defn
async def request_approval(expense: str) -> str:
    # activity.client() is the client of the worker running this activity.
    approval = asyncio.create_task(
        approve_later(activity.client(), activity.info().task_token, expense)
    )
    _approvals_in_progress.add(approval)
    approval.add_done_callback(_approvals_in_progress.discard)
    activity.raise_complete_async()


@workflow.defn
class ExpenseWorkflow:
    @workflow.run
    async def run(self, expense: str) -> str:
        return await workflow.execute_activity(
            request_approval, expense, start_to_close_timeout=timedelta(seconds=30)
        )


async def main() -> None:
    client = await Client.connect(DSN)
    async with Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[ExpenseWorkflow],
        activities=[request_approval],
    ):
        result = await client.execute_workflow(
            ExpenseWorkflow.run,
            "train ticket, 42 EUR",
            id="hello-async-activity-completion-workflow",
            task_queue=TASK_QUEUE,
        )
        print(f"Result: {result}")


if __name__ == "__main__":
    asyncio.run(main())
