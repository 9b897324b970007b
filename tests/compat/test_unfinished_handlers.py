"""Unfinished-handler warnings, side by side with temporalio 1.35 (issue 20).

The same workflow is written once against each SDK's ``workflow`` module. temporalio's
copy runs in temporalio's own workflow instance fed the activations a server would send
(tests/compat/temporalio_run.py); ours runs on a real worker and Postgres. Both must
give the same warnings (category and text, word for word) at the same points:
only when the run completes, fails, is cancelled or continues as new, never for a
handler that finished in the activation that completed the run, never for a handler
whose policy is ABANDON.
"""

from __future__ import annotations

import asyncio
import json
import uuid
import warnings
from typing import Any

import pytest
import temporalio.exceptions
import temporalio.workflow

from hotmesh_temporal import exceptions, workflow
from hotmesh_temporal.client import (
    WorkflowContinuedAsNewError,
    WorkflowFailureError,
    WorkflowUpdateStage,
)
from hotmesh_temporal.worker import Worker
from tests.compat.temporalio_run import TemporalioRun, command_kinds, defn, run_method

# How the run ends once ``finish`` is signalled (or when it is cancelled).
ENDINGS = ["complete", "fail", "continue_as_new", "cancel"]


def define(wf: Any, exc: Any) -> type:
    """The scenario's workflow, built with one SDK's ``workflow`` and ``exceptions``."""

    @defn(wf, name="UnfinishedHandlers", sandboxed=False)
    class UnfinishedHandlers:
        def __init__(self) -> None:
            self.finishing = False
            self.started = 0

        @run_method(wf)
        async def run(self, ending: str) -> str:
            await wf.wait_condition(lambda: self.finishing)
            if ending == "fail":
                raise exc.ApplicationError("failed on purpose", non_retryable=True)
            if ending == "continue_as_new":
                wf.continue_as_new("complete")
            return "done"

        @wf.signal
        def finish(self) -> None:
            self.finishing = True

        @wf.query
        def handlers_started(self) -> int:
            return self.started

        @wf.update
        async def stuck_update(self) -> None:
            self.started += 1
            await wf.wait_condition(lambda: False)

        @wf.update(unfinished_policy=wf.HandlerUnfinishedPolicy.ABANDON)
        async def quiet_update(self) -> None:
            self.started += 1
            await wf.wait_condition(lambda: False)

        @wf.update
        async def racing_update(self) -> str:
            # Woken by the same signal as the run: it ends in the activation that
            # completes the run, so it is not reported.
            self.started += 1
            await wf.wait_condition(lambda: self.finishing)
            return "raced"

        @wf.signal
        async def stuck_signal(self) -> None:
            self.started += 1
            await wf.wait_condition(lambda: False)

        @wf.signal(unfinished_policy=wf.HandlerUnfinishedPolicy.ABANDON)
        async def quiet_signal(self) -> None:
            self.started += 1
            await wf.wait_condition(lambda: False)

    return UnfinishedHandlers


UPDATES = [("stuck_update", "u-stuck"), ("quiet_update", "u-quiet"), ("racing_update", "u-race")]
SIGNALS = ["stuck_signal", "stuck_signal", "quiet_signal"]


def relevant(caught: list[warnings.WarningMessage]) -> list[tuple[str, str]]:
    return [
        (w.category.__name__, str(w.message))
        for w in caught
        if w.category.__name__
        in ("UnfinishedUpdateHandlersWarning", "UnfinishedSignalHandlersWarning")
    ]


async def temporalio_warnings(ending: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The warnings (and the last completion's commands) temporalio gives."""
    run = TemporalioRun(define(temporalio.workflow, temporalio.exceptions))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.start(ending)
        for name, update_id in UPDATES:
            assert "update_response" in command_kinds(run.update(name, update_id))
        for name in SIGNALS:
            run.signal(name)
        assert relevant(caught) == [], "no warning before the run ends"
        last = run.cancel("stop") if ending == "cancel" else run.signal("finish")
    return relevant(caught), command_kinds(last)


async def our_warnings(client: Any, task_queue: str, ending: str) -> list[tuple[str, str]]:
    cls = define(workflow, exceptions)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with Worker(client, task_queue=task_queue, workflows=[cls]):
            handle = await client.start_workflow(
                cls.run, ending, id=f"unfinished-{uuid.uuid4()}", task_queue=task_queue
            )
            for name, update_id in UPDATES:
                await handle.start_update(
                    name, id=update_id, wait_for_stage=WorkflowUpdateStage.ACCEPTED
                )
            for name in SIGNALS:
                await handle.signal(name)
            # Every handler has started before the run is told to end.
            for _ in range(200):
                if await handle.query(cls.handlers_started) == len(UPDATES) + len(SIGNALS):
                    break
                await asyncio.sleep(0.05)
            assert relevant(caught) == [], "no warning before the run ends"
            if ending == "cancel":
                await handle.cancel(reason="stop")
            else:
                await handle.signal(cls.finish)
            try:
                await handle.result(follow_runs=False)
            except WorkflowFailureError:
                pass
            except WorkflowContinuedAsNewError:
                await handle.terminate("the next run is not part of the scenario")
    return relevant(caught)


@pytest.mark.parametrize("ending", ENDINGS)
async def test_warnings_match_temporalio(client, task_queue, ending):
    expected, commands = await temporalio_warnings(ending)
    # The reference itself: updates first, then signals, ABANDON and the raced update
    # left out, and the run did end in that activation.
    assert [category for category, _ in expected] == [
        "UnfinishedUpdateHandlersWarning",
        "UnfinishedSignalHandlersWarning",
    ]
    updates = [{"name": "stuck_update", "id": "u-stuck"}]
    if ending == "cancel":  # the raced update never gets its signal
        updates.append({"name": "racing_update", "id": "u-race"})
    assert expected[0][1].endswith(json.dumps(updates))
    assert '[{"name": "stuck_signal", "count": 2}]' in expected[1][1]
    terminal = {
        "complete": "complete_workflow_execution",
        "fail": "fail_workflow_execution",
        "continue_as_new": "continue_as_new_workflow_execution",
        "cancel": "cancel_workflow_execution",
    }[ending]
    assert terminal in commands

    assert await our_warnings(client, task_queue, ending) == expected
