"""Hello exception: an activity keeps failing and the failure travels to the client as a chain.

Run: ``python -m samples.hello.hello_exception``
"""

import asyncio
import logging
import os
from datetime import timedelta

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client, WorkflowFailureError
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.exceptions import ActivityError, ApplicationError
from hotmesh_temporal.worker import Worker

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "hello-exception"


@activity.defn
async def validate_postcode(postcode: str) -> str:
    if not postcode.isdigit():
        raise ApplicationError(
            f"postcode {postcode!r} is not numeric", {"postcode": postcode}, type="InvalidPostcode"
        )
    return postcode


@workflow.defn
class AddressWorkflow:
    @workflow.run
    async def run(self, postcode: str) -> str:
        return await workflow.execute_activity(
            validate_postcode,
            postcode,
            start_to_close_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=50), maximum_attempts=2
            ),
        )


def describe_chain(err: BaseException) -> list:
    """Each link of the cause chain as 'TypeName: message'."""
    links = []
    current = err
    while current is not None:
        links.append(f"{type(current).__name__}: {current}")
        current = current.__cause__
    return links


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)  # the failed attempts are expected here
    client = await Client.connect(DSN)
    async with Worker(
        client, task_queue=TASK_QUEUE, workflows=[AddressWorkflow], activities=[validate_postcode]
    ):
        try:
            await client.execute_workflow(
                AddressWorkflow.run, "SW1A", id="hello-exception-workflow", task_queue=TASK_QUEUE
            )
        except WorkflowFailureError as err:
            assert isinstance(err.cause, ActivityError)
            assert isinstance(err.cause.cause, ApplicationError)
            print("Workflow failed; the cause chain:")
            for depth, link in enumerate(describe_chain(err)):
                print(f"{'  ' * depth}{link}")
            application_error = err.cause.cause
            print(f"Error type: {application_error.type}, details: {application_error.details}")


if __name__ == "__main__":
    asyncio.run(main())
