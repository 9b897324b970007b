"""Histories with workflow updates, produced here, replay in temporalio's Replayer.

One workflow source is executed twice, with ``hotmesh_temporal``'s and with
``temporalio``'s modules: the first runs on Postgres (update-with-start, an accepted
update, a rejected one, a failed one, one that waits while others run), its history is
exported in Temporal's JSON, and temporalio replays it with the second. A changed
update handler must be reported as nondeterminism, which shows that temporalio's core
really matched the update events rather than skipping them.
"""

from __future__ import annotations

import sys
import types
import uuid

import pytest
from temporalio import exceptions as t_exceptions
from temporalio import workflow as t_workflow
from temporalio.client import WorkflowHistory as TWorkflowHistory
from temporalio.worker import Replayer as TReplayer
from temporalio.worker import UnsandboxedWorkflowRunner

from hotmesh_temporal import exceptions as h_exceptions
from hotmesh_temporal import workflow as h_workflow
from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal.client import (
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from hotmesh_temporal.common import WorkflowIDConflictPolicy
from hotmesh_temporal.worker import Worker

CART = """
@wf.defn(name="UpdateCart", **defn_options)
class Cart:
    def __init__(self) -> None:
        self.items = []
        self.done = False
        self.open = False

    @wf.run
    async def run(self) -> list:
        await wf.wait_condition(lambda: self.done)
        return self.items

    @wf.update
    async def add(self, item: str) -> int:
        self.items.append(item)
        return len(self.items)

    @add.validator
    def check_add(self, item: str) -> None:
        if not item:
            raise ValueError("empty item")

    @wf.update
    async def slow_add(self, item: str) -> int:
        await wf.wait_condition(lambda: self.open)
        if SLOW_SLEEP:
            await wf.sleep(SLOW_SLEEP)
        self.items.append(item)
        return len(self.items)

    @wf.update
    def fail(self) -> None:
        raise exceptions.ApplicationError("out of stock", type="CartError")

    @wf.signal
    def open_gate(self) -> None:
        self.open = True

    @wf.update
    def finish(self) -> str:
        self.done = True
        return "done"
"""


def build(wf: types.ModuleType, exceptions: types.ModuleType, slow_sleep: float, **defn_options):
    """The Cart class for one SDK, defined at the top level of a module of its own (as
    both SDKs want workflow classes)."""
    name = f"{__name__}_cart_{wf.__name__.split('.')[0]}_{str(slow_sleep).replace('.', '_')}"
    module = types.ModuleType(name)
    module.__dict__.update(
        wf=wf, exceptions=exceptions, defn_options=defn_options, SLOW_SLEEP=slow_sleep
    )
    sys.modules[name] = module
    exec(compile(CART, name, "exec"), module.__dict__)  # noqa: S102 - the fixed source above
    return module.Cart


HCart = build(h_workflow, h_exceptions, 0.1)


async def run_cart(client, task_queue) -> dict:  # noqa: F811
    """Run the scenario on Postgres; return the history in Temporal's JSON."""
    async with Worker(client, task_queue=task_queue, workflows=[HCart]):
        start = WithStartWorkflowOperation(
            HCart.run,
            id=f"update-replay-{uuid.uuid4()}",
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        assert (
            await client.execute_update_with_start_workflow(
                HCart.add, "a", start_workflow_operation=start
            )
            == 1
        )
        handle = await start.workflow_handle()
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(HCart.add, "")
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(HCart.fail)
        slow = await handle.start_update(
            HCart.slow_add, "s", wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        assert await handle.execute_update(HCart.add, "b") == 2
        await handle.signal(HCart.open_gate)
        assert await slow.result() == 3
        await handle.execute_update(HCart.finish)
        assert await handle.result() == ["a", "b", "s"]
    store = (await client._engine()).store
    run = await store.fetchrow("find_run", client.namespace, handle.id, None)
    events = await store.fetchval("events_after", run["run_id"], 0)
    return h.rows_to_history_json(events)


async def replay(history: dict, workflow_class: type) -> None:
    replayer = TReplayer(workflows=[workflow_class], workflow_runner=UnsandboxedWorkflowRunner())
    await replayer.replay_workflow(TWorkflowHistory.from_json("update-replay", history))


async def test_update_history_replays_in_temporalio(client, task_queue):  # noqa: F811
    history = await run_cart(client, task_queue)
    kinds = [e["eventType"] for e in history["events"]]
    assert kinds.count("EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED") == 5
    assert kinds.count("EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED") == 5
    await replay(history, build(t_workflow, t_exceptions, 0.1, sandboxed=False))
    # The same history with an update handler that no longer sleeps: temporalio must
    # miss the timer the history has inside the update.
    with pytest.raises(t_workflow.NondeterminismError):
        await replay(history, build(t_workflow, t_exceptions, 0, sandboxed=False))
