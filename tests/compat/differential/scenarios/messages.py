"""Signals, queries and updates: delivery, ordering, unknown names, validators, stages, ids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..harness import Ctx, outcome, scenario
from ..observe import history_events


def mailbox(ctx: Ctx) -> type:
    """A workflow that collects signals and updates until told to finish."""
    wf = ctx.wf
    exceptions = ctx.sdk.exceptions

    @ctx.defn(name="Mailbox")
    class Mailbox:
        def __init__(self) -> None:
            self.items: list[Any] = []
            self.done = False

        @ctx.run
        async def run(self) -> list:
            await wf.wait_condition(lambda: self.done)
            return self.items

        @wf.signal
        async def add(self, item: Any) -> None:
            self.items.append(item)

        @wf.signal
        def finish(self) -> None:
            self.done = True

        def anything(self, name: str, args: Any) -> None:
            self.items.append(f"dynamic:{name}")

        # The dynamic handler's parameter types, resolved with this SDK's RawValue.
        anything.__annotations__ = {"name": str, "args": Sequence[ctx.sdk.common.RawValue]}
        anything = wf.signal(dynamic=True)(anything)

        @wf.query
        def count(self) -> int:
            return len(self.items)

        @wf.query
        def broken(self) -> int:
            raise exceptions.ApplicationError("query broke", type="QueryErr")

        @wf.update
        async def push(self, item: str) -> int:
            self.items.append(item)
            return len(self.items)

        @push.validator
        def validate_push(self, item: str) -> None:
            if item == "bad":
                raise ValueError("bad item rejected")

        @wf.update
        def explode(self) -> None:
            raise exceptions.ApplicationError("update failed", "why", type="UpdErr")

        @wf.update
        async def slow(self) -> str:
            await wf.wait_condition(lambda: "go" in self.items)
            return "slow done"

    return Mailbox


async def start_mailbox(ctx: Ctx, name: str) -> Any:
    return await ctx.client.start_workflow("Mailbox", id=ctx.id(name), task_queue=ctx.task_queue)


@scenario("signals")
async def signal_order_and_dynamic(ctx: Ctx) -> dict:
    async with ctx.running([mailbox(ctx)]):
        handle = await start_mailbox(ctx, "Signals")
        for i in range(3):
            await handle.signal("add", i)
        await handle.signal("who_knows", "x")
        await handle.signal("finish")
        observed = await outcome(handle.result())
        observed["history"] = history_events(await handle.fetch_history(), keys=True)
    observed["history"] = [e for e in observed["history"] if "WORKFLOW_TASK" not in str(e)]
    return observed


@scenario("signals")
async def signal_closed_workflow(ctx: Ctx) -> dict:
    async with ctx.running([mailbox(ctx)]):
        handle = await start_mailbox(ctx, "SignalClosed")
        await handle.signal("finish")
        await handle.result()
        return await outcome(handle.signal("add", 1))


@scenario("signals")
async def signal_unknown_workflow(ctx: Ctx) -> dict:
    handle = ctx.client.get_workflow_handle(ctx.id("NoSuchWorkflow"))
    return await outcome(handle.signal("add", 1))


@scenario("queries")
async def query_after_signal_and_errors(ctx: Ctx) -> dict:
    async with ctx.running([mailbox(ctx)]):
        handle = await start_mailbox(ctx, "Queries")
        await handle.signal("add", "a")
        observed: dict[str, Any] = {"after_signal": await outcome(handle.query("count"))}
        observed["unknown"] = await outcome(handle.query("nope"))
        observed["raises"] = await outcome(handle.query("broken"))
        await handle.signal("finish")
        await handle.result()
        observed["after_close"] = await outcome(handle.query("count"))
        observed["reject_not_open"] = await outcome(
            handle.query("count", reject_condition=ctx.sdk.common.QueryRejectCondition.NOT_OPEN)
        )
    return observed


@scenario("queries")
async def query_unknown_workflow(ctx: Ctx) -> dict:
    return await outcome(ctx.client.get_workflow_handle(ctx.id("Missing")).query("count"))


@scenario("updates")
async def update_result_validator_and_failure(ctx: Ctx) -> dict:
    async with ctx.running([mailbox(ctx)]):
        handle = await start_mailbox(ctx, "Updates")
        observed: dict[str, Any] = {
            "ok": await outcome(handle.execute_update("push", "x")),
            "rejected": await outcome(handle.execute_update("push", "bad")),
            "fails": await outcome(handle.execute_update("explode")),
            "unknown": await outcome(handle.execute_update("no_such_update")),
        }
        await handle.signal("finish")
        observed["result"] = await outcome(handle.result())
        observed["after_close"] = await outcome(handle.execute_update("push", "late"))
        history = history_events(await handle.fetch_history())
        observed["history"] = [e for e in history if "UPDATE" in str(e)]
    return observed


@scenario("updates")
async def update_stages_and_ids(ctx: Ctx) -> dict:
    stage = ctx.sdk.client.WorkflowUpdateStage
    async with ctx.running([mailbox(ctx)]):
        handle = await start_mailbox(ctx, "UpdateStages")
        slow = await handle.start_update("slow", id="upd-1", wait_for_stage=stage.ACCEPTED)
        observed: dict[str, Any] = {"id": slow.id, "workflow_id": slow.workflow_id}
        same = await handle.start_update("slow", id="upd-1", wait_for_stage=stage.ACCEPTED)
        observed["same_id_same_handle_id"] = same.id
        await handle.signal("add", "go")
        observed["result"] = await slow.result()
        observed["second_handle_result"] = await same.result()
        observed["by_id"] = await handle.get_update_handle("upd-1").result()
        dup = await outcome(handle.execute_update("push", "y", id="upd-1"))
        observed["reused_id_after_completion"] = dup
        observed["unknown_id"] = await outcome(handle.get_update_handle("nope").result())
        await handle.signal("finish")
        observed["items"] = await handle.result()
    return observed


@scenario("updates")
async def update_with_start(ctx: Ctx) -> dict:
    client = ctx.sdk.client
    common = ctx.sdk.common
    async with ctx.running([mailbox(ctx)]):
        op = client.WithStartWorkflowOperation(
            "Mailbox",
            id=ctx.id("UpdateWithStart"),
            task_queue=ctx.task_queue,
            id_conflict_policy=common.WorkflowIDConflictPolicy.USE_EXISTING,
        )
        first = await ctx.client.execute_update_with_start_workflow(
            "push", "one", start_workflow_operation=op
        )
        op2 = client.WithStartWorkflowOperation(
            "Mailbox",
            id=ctx.id("UpdateWithStart"),
            task_queue=ctx.task_queue,
            id_conflict_policy=common.WorkflowIDConflictPolicy.USE_EXISTING,
        )
        second = await ctx.client.execute_update_with_start_workflow(
            "push", "two", start_workflow_operation=op2
        )
        h1, h2 = await op.workflow_handle(), await op2.workflow_handle()
        same_run = h1.first_execution_run_id == h2.first_execution_run_id
        await h1.signal("finish")
        items = await h1.result()
    return {"first": first, "second": second, "same_run": same_run, "items": items}
