"""Handing a workflow step to the workflow task executor and getting its outcome back.

The worker loop first waits briefly, blocked, for the step (most end within it), then
awaits it. A step that ends just as that short wait runs out must give its own outcome,
never the wait's TimeoutError: under load that race failed a few workflow tasks in a
100,000-workflow run, each with a bare TimeoutError.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

import pytest

from hotmesh_temporal._engine.worker.activations import QUICK_STEP_SECONDS, WorkflowTaskExecutor


class _EndsAsTheWaitRunsOut(concurrent.futures.Future):
    """A step's future that completes, with the step's outcome, at the moment the quick
    wait gives up: result(timeout) raises TimeoutError and the future is done after."""

    def __init__(self, outcome: Callable[[], Any]) -> None:
        super().__init__()
        self._outcome = outcome
        self._raced = False

    def result(self, timeout: float | None = None) -> Any:
        if timeout is not None and not self._raced:
            self._raced = True
            try:
                self.set_result(self._outcome())
            except BaseException as err:  # the step's own exception
                self.set_exception(err)
            raise concurrent.futures.TimeoutError()
        return super().result(timeout)


class _RacingExecutor(concurrent.futures.ThreadPoolExecutor):
    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        step = args[0]  # _StepThread.run(step): the step is its one argument
        return _EndsAsTheWaitRunsOut(step)


async def _run(step: Callable[[], Any], executor: concurrent.futures.ThreadPoolExecutor) -> Any:
    tasks = WorkflowTaskExecutor(executor, max_concurrent_workflow_tasks=None, debug_mode=False)
    try:
        return await tasks.steps_for_run("run-1")(step)
    finally:
        tasks.shutdown()


async def test_a_step_ending_as_the_quick_wait_runs_out_gives_its_result() -> None:
    with _RacingExecutor(max_workers=1) as executor:
        assert await _run(lambda: 42, executor) == 42


async def test_a_step_ending_as_the_quick_wait_runs_out_gives_its_error() -> None:
    def fails() -> None:
        raise ValueError("the step's own error")

    with _RacingExecutor(max_workers=1) as executor:
        with pytest.raises(ValueError, match="the step's own error"):
            await _run(fails, executor)


async def test_a_step_raising_timeout_error_itself_is_not_mistaken_for_the_wait() -> None:
    def times_out() -> None:
        raise TimeoutError("the step's own timeout")

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
        with pytest.raises(TimeoutError, match="the step's own timeout"):
            await _run(times_out, executor)


async def test_a_step_longer_than_the_quick_wait_is_awaited_without_blocking_the_loop() -> None:
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    ticker = asyncio.ensure_future(ticking())
    await asyncio.sleep(0)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
        slow = QUICK_STEP_SECONDS * 100
        assert await _run(lambda: time.sleep(slow) or "slept", executor) == "slept"
    ticker.cancel()
    # The loop ran other work while the step slept (it was blocked for at most the
    # quick wait): many ticks, not one.
    assert ticks >= 10
