import uuid

import pytest

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.message_passing.waiting_for_handlers_and_compensation.workflows import (
    OrderWorkflow,
    charge,
    refund,
)


@pytest.mark.parametrize("cancel", [False, True])
async def test_handlers_finish_before_the_workflow_ends(client: Client, cancel: bool):
    from samples.message_passing.waiting_for_handlers_and_compensation.__main__ import (
        order_with_extras,
    )

    task_queue = str(uuid.uuid4())
    async with Worker(
        client, task_queue=task_queue, workflows=[OrderWorkflow], activities=[charge, refund]
    ):
        outcome = await order_with_extras(client, task_queue, str(uuid.uuid4()), cancel)
    if cancel:
        assert outcome == (
            "CancelledError, refunds ['refund-charge-gift-wrap', 'refund-charge-express']"
        )
    else:
        assert outcome == "completed, charges ['charge-gift-wrap', 'charge-express']"
