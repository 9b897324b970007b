"""Where workflow code runs: the worker's workflow task executor, off the event loop.

The worker's asyncio loop claims tasks, reports activity results, heartbeats and
listens for wake-ups; workflow code must never hold it. Every synchronous step of a
run (building its instance, one activation, one query) is handed to a thread of the
workflow task executor (the ``workflow_task_executor`` given to the Worker, else a
pool sized as temporalio sizes it). The thread installs the run's own deterministic
event loop (runtime/loop.py), runs workflow code until every coroutine is blocked and
returns the completion; the worker loop awaits that result.

Deadlock detection (as temporalio): a step that does not return within 2 seconds
fails its workflow task with ``_DeadlockError`` ("[TMPRL1101] Potential deadlock
detected..."). Like temporalio, the worker then raises ``_InterruptDeadlockError``
in the stuck thread (an asynchronous exception: it lands at the next Python bytecode,
so a pure-Python spin stops at once, while a blocking C call stops only when it
returns). The run is evicted and its task retried; the slot of the stuck task stays
taken until its thread gives up (temporalio's eviction waits for it the same way).
``debug_mode`` (or the TEMPORAL_DEBUG environment variable) turns the detector off.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import ctypes
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable
from typing import TypeVar

logger = logging.getLogger(__name__)  # the engine's own lines (no temporalio counterpart)

T = TypeVar("T")

DEADLOCK_TIMEOUT_SECONDS = 2

# temporalio's default pool when max_concurrent_workflow_tasks is not given.
DEFAULT_WORKFLOW_THREADS = 500

# Workflow steps running at once. With the GIL only one thread runs Python at a time:
# 50 CPU-heavy replays in 50 threads would each take 50 times longer (every one of
# them past the deadlock timeout), and the worker loop, one thread among 51, would
# wait its turn for the GIL behind all of them, holding back activity reports and
# heartbeats. Steps beyond this many wait for their turn on the loop (their deadlock
# clock starts when they run); a step given up as deadlocked gives its turn back. A
# task run ahead of its activity's report is tried only when a turn is free at once,
# and holds it for all its steps: the report waits for the task, and waiting behind
# other runs' CPU-heavy steps (a worker taking over runs replays them) could make the
# attempt miss its heartbeat or start-to-close timeout.
STEPS_AT_ONCE = 2

# How long the worker loop waits, blocked, for a step to finish before it awaits it
# (WorkflowTaskExecutor._run_now).
QUICK_STEP_SECONDS = 0.001


class _DeadlockError(Exception):
    """A workflow step did not yield within the deadlock timeout (temporalio's type and
    message, so logs and failure types read the same)."""

    @classmethod
    def for_stuck_thread(cls, thread_id: int | None, timeout: float) -> _DeadlockError:
        err = cls(
            f"[TMPRL1101] Potential deadlock detected: workflow didn't yield within "
            f"{timeout:g} second(s)."
        )
        frame = sys._current_frames().get(thread_id) if thread_id else None
        if frame is not None:
            stack = "".join(traceback.format_stack(frame))
            note = getattr(err, "add_note", None)  # Python 3.11+
            if note is not None:
                note(f"Stack of the workflow thread when it was found stuck:\n{stack}")
        return err


class _InterruptDeadlockError(BaseException):
    """Raised inside a stuck workflow thread to make it give up (a BaseException, so
    workflow code catching Exception does not swallow it)."""


def debug_mode_enabled(debug_mode: bool) -> bool:
    """temporalio's rule: the option, or a truthy TEMPORAL_DEBUG environment variable."""
    return debug_mode or bool(os.environ.get("TEMPORAL_DEBUG"))


class _Turns:
    """STEPS_AT_ONCE turns to run a workflow step, handed out first come first served."""

    def __init__(self, count: int) -> None:
        self._free = count
        self._waiting: collections.deque[asyncio.Future] = collections.deque()

    def take_if_free(self) -> bool:
        """Take a turn if one is free now (none is while steps wait for one)."""
        if self._free > 0:
            self._free -= 1
            return True
        return False

    async def take(self) -> None:
        """Take a turn, waiting for one."""
        if self.take_if_free():
            return
        granted = asyncio.get_running_loop().create_future()
        self._waiting.append(granted)
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.give_back()  # handed over just as we were cancelled: pass it on
            else:
                self._waiting.remove(granted)
            raise

    def give_back(self) -> None:
        """End a turn: the next waiter takes it over."""
        while self._waiting:
            granted = self._waiting.popleft()
            if not granted.done():
                granted.set_result(True)
                return
        self._free += 1


class _StepThread:
    """The thread running one step, while it may be interrupted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread_id: int | None = None
        self.interruptible = False

    def run(self, step: Callable[[], T]) -> T:
        with self.lock:
            self.thread_id = threading.get_ident()
            self.interruptible = True
        try:
            return step()
        finally:
            with self.lock:
                self.interruptible = False

    def interrupt(self) -> None:
        with self.lock:
            if self.interruptible and self.thread_id is not None:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self.thread_id), ctypes.py_object(_InterruptDeadlockError)
                )


class WorkflowTaskExecutor:
    """Runs workflow steps on threads, failing those that do not yield in time."""

    def __init__(
        self,
        executor: concurrent.futures.ThreadPoolExecutor | None,
        *,
        max_concurrent_workflow_tasks: int | None,
        debug_mode: bool,
    ) -> None:
        self._owned = executor is None
        self._executor = executor or concurrent.futures.ThreadPoolExecutor(
            max_workers=max_concurrent_workflow_tasks or DEFAULT_WORKFLOW_THREADS,
            thread_name_prefix="hotmesh_workflow_",
        )
        self.deadlock_timeout: float | None = (
            None if debug_mode_enabled(debug_mode) else DEADLOCK_TIMEOUT_SECONDS
        )
        # Steps the detector abandoned, by run id, until the worker waits for them.
        self.stuck: dict[str, asyncio.Future] = {}
        self.stuck_threads = 0  # abandoned steps whose thread still runs
        self._turns = _Turns(STEPS_AT_ONCE)

    @property
    def max_threads(self) -> int:
        return int(getattr(self._executor, "_max_workers", 0))

    def steps_for_run(self, run_id: str) -> RunSteps:
        """The runner of one run's steps, each taking its turn."""
        return RunSteps(self, run_id)

    def take_turn_if_free(self) -> bool:
        """Take a turn if one is free now, for a caller that runs several steps in a
        row (steps_in_turn) and then calls give_back_turn()."""
        return self._turns.take_if_free()

    def give_back_turn(self) -> None:
        self._turns.give_back()

    def steps_in_turn(self, run_id: str) -> RunSteps:
        """The runner of one run's steps for a caller already holding a turn."""
        return RunSteps(self, run_id, turn_held=True)

    async def run(self, step: Callable[[], T], run_id: str) -> T:
        await self._turns.take()
        try:
            return await self._run_now(step, run_id)
        finally:
            self._turns.give_back()

    async def _run_now(self, step: Callable[[], T], run_id: str) -> T:
        thread = _StepThread()
        # submit + wrap_future rather than loop.run_in_executor: a loop that is not
        # asyncio's own (trio-asyncio's) may accept only executors of its kind.
        submitted = self._executor.submit(thread.run, step)
        # Most steps take well under a millisecond. The worker loop waits that long for
        # the thread, blocked: the step runs on its own thread all the same (the loop
        # could hardly run meanwhile anyway, the step holding the GIL), and the result
        # comes back without waking the loop through its self-pipe (a send, an epoll
        # wake-up and a GIL hand-over: most of the hand-off's cost, bench/README.md).
        # A longer step is awaited as usual.
        try:
            return submitted.result(timeout=QUICK_STEP_SECONDS)
        except concurrent.futures.TimeoutError:
            # Either the wait ran out, or the step raised TimeoutError itself (asyncio's
            # is the same class); a step that ended just after the wait ran out is done
            # too: its own outcome, whatever it is, is the answer.
            if submitted.done():
                return submitted.result()
        future = asyncio.wrap_future(submitted)
        if self.deadlock_timeout is None:
            return await future
        done, _ = await asyncio.wait({future}, timeout=self.deadlock_timeout - QUICK_STEP_SECONDS)
        if done:
            return future.result()
        err = _DeadlockError.for_stuck_thread(thread.thread_id, self.deadlock_timeout)
        thread.interrupt()
        self.stuck[run_id] = future
        self.stuck_threads += 1
        future.add_done_callback(lambda done: self._thread_freed(run_id, done))
        logger.warning("workflow thread of run %s did not yield; interrupting it", run_id)
        raise err

    def _thread_freed(self, run_id: str, future: asyncio.Future) -> None:
        self.stuck_threads -= 1
        if self.stuck.get(run_id) is future:
            del self.stuck[run_id]
        if not future.cancelled():
            future.exception()  # retrieved: the interruption is expected, not news

    def shutdown(self) -> None:
        """Shut the pool down if the worker made it (a user's executor is theirs)."""
        if self._owned:
            self._executor.shutdown(wait=False, cancel_futures=True)


class RunSteps:
    """The steps of one run: RunDriver's ``run_step``, bound to the executor."""

    def __init__(
        self,
        executor: WorkflowTaskExecutor,
        run_id: str,
        *,
        turn_held: bool = False,
    ) -> None:
        self._executor = executor
        self._run_id = run_id
        self._turn_held = turn_held

    async def __call__(self, step: Callable[[], T]) -> T:
        if self._turn_held:
            return await self._executor._run_now(step, self._run_id)
        return await self._executor.run(step, self._run_id)
