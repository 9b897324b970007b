"""The deterministic event loop on its own: ready order, durable timers, refusals."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from hotmesh_temporal._engine.runtime import activation as c
from hotmesh_temporal._engine.runtime.loop import WorkflowEventLoop, running_workflow_loop


class Sink:
    def __init__(self) -> None:
        self.seq = 0
        self.commands: list[c.Command] = []

    def next_timer_seq(self) -> int:
        self.seq += 1
        return self.seq

    def add_command(self, command: c.Command) -> None:
        self.commands.append(command)

    def discard_unsent_command(self, command: c.Command) -> bool:
        if command in self.commands:
            self.commands.remove(command)
            return True
        return False


def test_callbacks_run_in_fifo_order_until_none_is_ready() -> None:
    loop, order = WorkflowEventLoop(Sink()), []
    loop.call_soon(order.append, 1)
    loop.call_soon(lambda: (order.append(2), loop.call_soon(order.append, 4)))
    loop.call_soon(order.append, 3)
    loop.run_once()
    assert order == [1, 2, 3, 4] and not loop.has_ready()


def test_call_later_is_a_durable_timer_and_fires_only_when_told() -> None:
    sink = Sink()
    loop, fired = WorkflowEventLoop(sink, start_time=100.0), []
    loop.call_later(5, fired.append, "a")
    loop.run_once()
    assert sink.commands == [c.StartTimer(seq=1, duration=timedelta(seconds=5))] and fired == []
    loop.fire_timer(1)
    loop.run_once()
    assert fired == ["a"]


def test_cancelling_an_unsent_timer_removes_it_and_a_sent_one_emits_cancel() -> None:
    sink = Sink()
    loop = WorkflowEventLoop(sink)
    loop.call_later(5, print).cancel()
    assert sink.commands == []
    handle = loop.call_later(5, print)
    sink.commands.clear()  # as if the activation that issued it was sent
    handle.cancel()
    assert sink.commands == [c.CancelTimer(seq=2)]


def test_running_installs_the_loop_for_asyncio_and_restores_the_previous() -> None:
    loop = WorkflowEventLoop(Sink())
    results = []

    async def work() -> None:
        lock, event = asyncio.Lock(), asyncio.Event()
        async with lock:
            event.set()
        results.append(
            (
                await asyncio.gather(asyncio.sleep(0, "x"), event.wait()),
                asyncio.get_running_loop() is loop,
            )
        )

    with loop.running():
        assert running_workflow_loop() is loop
        loop.create_task(work())
        loop.run_once()
    assert running_workflow_loop() is None
    assert results == [(["x", True], True)]


@pytest.mark.parametrize(
    "call",
    [
        lambda loop: loop.run_in_executor(None, print),
        lambda loop: loop.call_soon_threadsafe(print),
        lambda loop: loop.subprocess_exec(object, "ls"),
        lambda loop: loop.getaddrinfo("example.com", 80),
    ],
)
def test_non_deterministic_operations_raise_runtime_error(call) -> None:
    with pytest.raises(RuntimeError, match="not allowed in a workflow"):
        call(WorkflowEventLoop(Sink()))
