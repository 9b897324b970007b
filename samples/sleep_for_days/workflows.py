"""A monthly reminder: send an email, sleep 30 days, repeat until told to stop.

The sleep is a durable timer in the database: no process waits for it, and a worker
restarted in between picks the workflow up when the timer fires.
"""

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from hotmesh_temporal import activity, workflow

THIRTY_DAYS = timedelta(days=30).total_seconds()


@dataclass
class ReminderInput:
    email: str
    period_seconds: float = THIRTY_DAYS


@activity.defn
async def send_reminder(email: str, number: int) -> None:
    print(f"  reminder #{number} sent to {email}")


@workflow.defn
class MonthlyReminderWorkflow:
    def __init__(self) -> None:
        self._stopped = False
        self._sent = 0

    @workflow.run
    async def run(self, request: ReminderInput) -> int:
        while not self._stopped:
            self._sent += 1
            await workflow.execute_activity(
                send_reminder,
                args=[request.email, self._sent],
                start_to_close_timeout=timedelta(seconds=10),
            )
            try:
                # Sleeps a whole period unless the stop signal arrives first.
                await workflow.wait_condition(
                    lambda: self._stopped, timeout=timedelta(seconds=request.period_seconds)
                )
            except asyncio.TimeoutError:
                pass
        return self._sent

    @workflow.signal
    def stop(self) -> None:
        self._stopped = True

    @workflow.query
    def reminders_sent(self) -> int:
        return self._sent
