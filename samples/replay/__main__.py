"""Run: ``python -m samples.replay``"""

import asyncio
import os

from hotmesh_temporal import workflow
from hotmesh_temporal.client import Client, WorkflowHistory
from hotmesh_temporal.worker import Replayer, Worker
from samples.replay.workflows import OnboardingV1, OnboardingV2, create_account, send_welcome_email

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "replay"


async def record_history(client: Client, task_queue: str, workflow_id: str) -> WorkflowHistory:
    """Run the workflow on V1 code and return its history."""
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[OnboardingV1],
        activities=[create_account, send_welcome_email],
    ):
        handle = await client.start_workflow(
            OnboardingV1.run, "ada", id=workflow_id, task_queue=task_queue
        )
        await handle.result()
    return await handle.fetch_history()


async def check_code(history: WorkflowHistory, workflow_class: type) -> str:
    try:
        await Replayer(workflows=[workflow_class]).replay_workflow(history)
    except workflow.NondeterminismError as err:
        return f"{workflow_class.__name__} does not replay the history: {err}"
    return f"{workflow_class.__name__} replays the history"


async def main() -> None:
    client = await Client.connect(DSN)
    history = await record_history(client, TASK_QUEUE, "replay-workflow")
    # Histories travel as JSON: export them from production, check them in CI.
    history = WorkflowHistory.from_json(history.workflow_id, history.to_json())
    print(f"Recorded {len(history.events)} events")
    for workflow_class in (OnboardingV1, OnboardingV2):
        print(await check_code(history, workflow_class))


if __name__ == "__main__":
    asyncio.run(main())
