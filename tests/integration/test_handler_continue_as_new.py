"""workflow.continue_as_new() called from a message handler, as temporalio treats it:
from a signal handler it ends the run like the run method would; from an update
handler (or a validator that tries to change the workflow) it is a bug in the
workflow: the workflow task fails and is retried, the run and the update's caller
are left as they were."""

from __future__ import annotations

import logging
import uuid

from hotmesh_temporal import workflow
from hotmesh_temporal.client import WorkflowExecutionStatus
from hotmesh_temporal.worker import Worker

# How many times each handler ran (all attempts of all workflow tasks).
RENEW_CALLS: list[int] = []
VALIDATOR_CALLS: list[int] = []


@workflow.defn
class RenewingWorkflow:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self, phase: str) -> str:
        if phase == "continued":
            return "continued"
        await workflow.wait_condition(lambda: self.done)
        return phase

    @workflow.update
    async def renew(self) -> str:
        RENEW_CALLS.append(1)
        if len(RENEW_CALLS) < 3:  # the first two attempts are buggy
            workflow.continue_as_new("continued")
        return "stayed"

    @workflow.update
    def note(self) -> str:
        return "noted"

    @note.validator
    def check_note(self) -> None:
        VALIDATOR_CALLS.append(1)
        if len(VALIDATOR_CALLS) < 2:  # the first attempt tries to change the workflow
            workflow.upsert_memo({"noted": True})

    @workflow.signal
    def restart(self) -> None:
        workflow.continue_as_new("continued")

    @workflow.signal
    def finish(self) -> None:
        self.done = True


def wf_id() -> str:
    return f"can-handler-{uuid.uuid4()}"


async def _history_types(client, run_id: str) -> list[str]:
    store = (await client._engine()).store
    events = await store.fetchval("events_after", uuid.UUID(run_id), 0)
    return [e["type"] for e in events]


def _task_failures(caplog) -> list[str]:
    return [
        str(r.exc_info[1])
        for r in caplog.records
        if r.exc_info and "Failed activation" in r.getMessage()
    ]


async def _update_then_finish(client, task_queue, caplog, update, answer: str):
    """Send ``update`` to a new run, check the caller's answer, finish the run."""
    with caplog.at_level(logging.WARNING, logger="hotmesh_temporal"):
        async with Worker(client, task_queue=task_queue, workflows=[RenewingWorkflow]):
            handle = await client.start_workflow(
                RenewingWorkflow.run, "first", id=wf_id(), task_queue=task_queue
            )
            assert await handle.execute_update(update) == answer
            await handle.signal(RenewingWorkflow.finish)
            assert await handle.result() == "first"
    return handle


async def test_continue_as_new_from_an_update_handler_fails_the_workflow_task(
    client, task_queue, caplog
):
    RENEW_CALLS.clear()
    # The caller waits through the failed attempts and gets the answer of the
    # attempt whose handler returned.
    handle = await _update_then_finish(client, task_queue, caplog, RenewingWorkflow.renew, "stayed")
    assert len(RENEW_CALLS) == 3
    assert _task_failures(caplog).count("Cannot continue as new from an update handler") == 2
    # The run never continued as new: one run, accepted and completed once.
    description = await handle.describe()
    assert description.run_id == handle.result_run_id
    assert description.status == WorkflowExecutionStatus.COMPLETED
    types = await _history_types(client, handle.result_run_id)
    assert "WorkflowExecutionContinuedAsNew" not in types
    assert types.count("WorkflowExecutionUpdateAccepted") == 1
    assert types.count("WorkflowExecutionUpdateCompleted") == 1


async def test_validator_changing_the_workflow_fails_the_task_not_the_update(
    client, task_queue, caplog
):
    VALIDATOR_CALLS.clear()
    # Not rejected: the retried task runs the validator again, which passes.
    await _update_then_finish(client, task_queue, caplog, RenewingWorkflow.note, "noted")
    assert len(VALIDATOR_CALLS) == 2
    failures = _task_failures(caplog)
    assert len(failures) == 1 and "upsert_memo" in failures[0], failures


async def test_continue_as_new_from_a_signal_handler_continues_the_run(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[RenewingWorkflow]):
        handle = await client.start_workflow(
            RenewingWorkflow.run, "first", id=wf_id(), task_queue=task_queue
        )
        await handle.signal(RenewingWorkflow.restart)
        # Following runs, the result is the new run's.
        assert await handle.result() == "continued"
    first_run = await _history_types(client, handle.result_run_id)
    assert first_run[-1] == "WorkflowExecutionContinuedAsNew"
    assert (await handle.describe()).run_id != handle.result_run_id
