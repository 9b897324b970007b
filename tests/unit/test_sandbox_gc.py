"""The sandbox's call guard refuses calls of workflow code, not of code that merely
runs in the workflow's thread meanwhile: a garbage collection during a step runs other
libraries' gc callbacks and objects' finalizers there (hypothesis's gc timer, a socket
closed by ``__del__``). Refused, they failed silently ("Exception ignored in ...") and
left undone what they were doing."""

from __future__ import annotations

import gc
import time

import pytest

from hotmesh_temporal._engine.runtime import determinism
from hotmesh_temporal.worker.workflow_sandbox import SandboxRestrictions
from hotmesh_temporal.worker.workflow_sandbox._restrictions import (
    RestrictedWorkflowAccessError,
    refused_calls,
)

REFUSALS = refused_calls(SandboxRestrictions.default)


class _Cycle:
    """A reference cycle whose finalizer reads the clock, as a finalizer may."""

    finalized: list[float] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        _Cycle.finalized.append(time.perf_counter())


def test_the_guard_still_refuses_a_direct_call() -> None:
    with pytest.raises(RestrictedWorkflowAccessError):
        with determinism.refusing(REFUSALS):
            time.perf_counter()


def test_gc_callbacks_and_finalizers_in_a_guarded_step_are_not_refused() -> None:
    timed: list[float] = []

    def timer(phase: str, info: dict) -> None:
        timed.append(time.perf_counter())

    gc.callbacks.append(timer)  # added after the guard's own, as a library would
    _Cycle.finalized.clear()
    try:
        with determinism.refusing(REFUSALS):
            _Cycle()
            gc.collect()
    finally:
        gc.callbacks.remove(timer)
    assert len(timed) == 2  # start and stop
    assert len(_Cycle.finalized) == 1
