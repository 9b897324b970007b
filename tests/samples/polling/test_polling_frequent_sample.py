import uuid

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.polling.frequent.workflows import (
    PollRequest,
    ReportWorkflow,
    poll_for_report,
    service,
)


async def test_activity_polls_until_the_report_is_ready(client: Client):
    task_queue = str(uuid.uuid4())
    report_id = f"r-{uuid.uuid4().hex[:6]}"
    async with Worker(
        client, task_queue=task_queue, workflows=[ReportWorkflow], activities=[poll_for_report]
    ):
        handle = await client.start_workflow(
            ReportWorkflow.run,
            PollRequest(report_id=report_id, interval_seconds=0.05),
            id=str(uuid.uuid4()),
            task_queue=task_queue,
        )
        assert await handle.result() == f"report {report_id}: 42 rows"
    assert service.requests[report_id] == service.ready_after
