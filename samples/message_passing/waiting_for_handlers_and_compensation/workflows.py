"""An order whose extras are charged by update handlers.

However the workflow ends, it first lets running handlers finish, so that no update
is left half done. If it is cancelled, it then refunds every charge, including charges
made by handlers that were still running when the cancellation arrived.
"""

import asyncio
from datetime import timedelta

from hotmesh_temporal import activity, workflow


@activity.defn
async def charge(extra: str) -> str:
    await asyncio.sleep(0.2)  # a slow payment provider
    return f"charge-{extra}"


@activity.defn
async def refund(charge_id: str) -> str:
    return f"refund-{charge_id}"


STEP = dict(start_to_close_timeout=timedelta(seconds=10))


@workflow.defn
class OrderWorkflow:
    def __init__(self) -> None:
        self.charged: list[str] = []
        self.refunded: list[str] = []
        self.finished = False

    @workflow.run
    async def run(self) -> list[str]:
        try:
            await workflow.wait_condition(lambda: self.finished)
        except asyncio.CancelledError:
            await self._refund_everything()
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.charged

    async def _refund_everything(self) -> None:
        # The cancellation reached the run, not the handlers: let their charges land first.
        await workflow.wait_condition(workflow.all_handlers_finished)
        for charge_id in self.charged:
            self.refunded.append(await workflow.execute_activity(refund, charge_id, **STEP))

    @workflow.update
    async def add_extra(self, extra: str) -> str:
        charge_id = await workflow.execute_activity(charge, extra, **STEP)
        self.charged.append(charge_id)
        return charge_id

    @workflow.signal
    def finish(self) -> None:
        self.finished = True

    @workflow.query
    def refunds(self) -> list[str]:
        return self.refunded
