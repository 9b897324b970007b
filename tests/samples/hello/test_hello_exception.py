import uuid

import pytest

from hotmesh_temporal.client import Client, WorkflowFailureError
from hotmesh_temporal.exceptions import ActivityError, ApplicationError
from hotmesh_temporal.worker import Worker
from samples.hello.hello_exception import AddressWorkflow, describe_chain, validate_postcode


async def test_activity_failure_reaches_the_client_as_a_chain(client: Client):
    task_queue = str(uuid.uuid4())
    async with Worker(
        client, task_queue=task_queue, workflows=[AddressWorkflow], activities=[validate_postcode]
    ):
        with pytest.raises(WorkflowFailureError) as failure:
            await client.execute_workflow(
                AddressWorkflow.run, "SW1A", id=str(uuid.uuid4()), task_queue=task_queue
            )
    activity_error = failure.value.cause
    assert isinstance(activity_error, ActivityError)
    application_error = activity_error.cause
    assert isinstance(application_error, ApplicationError)
    assert application_error.type == "InvalidPostcode"
    assert application_error.message == "postcode 'SW1A' is not numeric"
    assert application_error.details == ({"postcode": "SW1A"},)
    assert [link.split(":")[0] for link in describe_chain(failure.value)] == [
        "WorkflowFailureError",
        "ActivityError",
        "ApplicationError",
    ]


async def test_valid_postcode_passes(client: Client):
    task_queue = str(uuid.uuid4())
    async with Worker(
        client, task_queue=task_queue, workflows=[AddressWorkflow], activities=[validate_postcode]
    ):
        result = await client.execute_workflow(
            AddressWorkflow.run, "75001", id=str(uuid.uuid4()), task_queue=task_queue
        )
    assert result == "75001"
