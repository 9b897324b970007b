"""External storage as temporalio 1.35 drives it: whom each ``store()`` call is made on
behalf of (its context's ``target``, also the selector's), how payloads are batched
per driver, and the storage metrics of each workflow task.

The same workloads ran on temporalio's own client and worker against a Temporal dev
server, with the same recording driver and selector (``tools/record_external_storage.py``);
what they saw is in ``tests/fixtures/recorded/external_storage_temporalio.json``. Each
test runs a workload here and compares the calls with that recording.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import pathlib
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.api.common.v1 import Payload
from hotmesh_temporal.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
    ScheduleState,
    WithStartWorkflowOperation,
)
from hotmesh_temporal.common import WorkflowIDConflictPolicy
from hotmesh_temporal.converter import (
    DataConverter,
    ExternalStorage,
    StorageDriver,
    StorageDriverActivityInfo,
    StorageDriverClaim,
    StorageDriverRetrieveContext,
    StorageDriverSelectContext,
    StorageDriverStoreContext,
    StorageDriverWorkflowInfo,
)
from hotmesh_temporal.worker import Worker

RECORDED = json.loads(
    (
        pathlib.Path(__file__).parent.parent / "fixtures/recorded/external_storage_temporalio.json"
    ).read_text()
)
THRESHOLD = 1024
BIG = 2 * THRESHOLD


class RecordingDriver(StorageDriver):
    """Keeps payloads in memory and notes each store call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
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


@dataclasses.dataclass
class Recording:
    """What one workload handed the driver and the selector, and the task metrics."""

    driver: RecordingDriver
    prefix: str
    run_labels: dict[str, str] = dataclasses.field(default_factory=dict)

    def target(
        self, target: StorageDriverActivityInfo | StorageDriverWorkflowInfo | None
    ) -> dict[str, Any] | None:
        """``target`` as the recording writes it (ids without this run's prefix)."""
        if target is None:
            return None
        kind = "workflow" if isinstance(target, StorageDriverWorkflowInfo) else "activity"
        run_id = target.run_id
        return {
            "kind": kind,
            "namespace": target.namespace,
            "id": (target.id or "").removeprefix(self.prefix) or None,
            "run_id": None if run_id is None else self.run_labels.get(run_id, "<other run>"),
            "type": target.type,
        }

    def stores(self) -> list[dict[str, Any]]:
        return [
            {"target": self.target(c["target"]), "sizes": c["sizes"]}
            for c in self.driver.calls
            if c["op"] == "store"
        ]

    def selects(self) -> list[dict[str, Any]]:
        return [
            {"target": self.target(c["target"]), "size": c["size"]}
            for c in self.driver.calls
            if c["op"] == "select"
        ]


def _storing_client(client: Client, recording: RecordingDriver) -> Client:
    def select(context: StorageDriverSelectContext, payload: Payload) -> StorageDriver:
        recording.calls.append(
            {"op": "select", "target": context.target, "size": payload.ByteSize()}
        )
        return recording

    storage = ExternalStorage(
        drivers=[recording], driver_selector=select, payload_size_threshold=THRESHOLD
    )
    converter = dataclasses.replace(DataConverter.default, external_storage=storage)
    return Client(**{**client.config(), "data_converter": converter})


async def _run_workload(client: Client, task_queue: str, name: str) -> Recording:
    recording = Recording(RecordingDriver(), prefix=f"{uuid.uuid4().hex[:8]}-")
    storing = _storing_client(client, recording.driver)
    p = recording.prefix
    EDGE_STATE["calls"] = recording.driver.calls
    workflows = [LargeWorkflow, TwoLargeArguments, Parent, Child, Sink, Waiter, Sleeper, Edge]
    activities = [grow, pair, beat, later]
    async with Worker(storing, task_queue=task_queue, workflows=workflows, activities=activities):
        if name == "standalone":
            activity_handle = await storing.start_activity(
                grow,
                "I" * BIG,
                id=f"{p}act-standalone",
                task_queue=task_queue,
                start_to_close_timeout=timedelta(seconds=30),
            )
            await activity_handle.result()
            recording.run_labels[activity_handle.run_id or ""] = "<run of act-standalone>"
            return recording
        if name == "edges":
            ids = [f"{p}wf-edge"]
            await _edges(storing, task_queue, p)
        elif name == "more":
            ids = [f"{p}wf-waiter", f"{p}wf-sleeper"]
            waiter = await storing.start_workflow(
                Waiter.run,
                args=["I" * BIG, True],
                id=ids[0],
                task_queue=task_queue,
                start_signal="wake",
                start_signal_args=["s" * BIG],
            )
            await waiter.result()
            recording.run_labels[waiter.first_execution_run_id or ""] = "<first run of wf-waiter>"
            sleeper = await storing.start_workflow(Sleeper.run, id=ids[1], task_queue=task_queue)
            await sleeper.terminate("t" * BIG)
        elif name == "large":
            ids = [f"{p}wf-large"]
            await storing.execute_workflow(
                LargeWorkflow.run, "I" * BIG, id=ids[0], task_queue=task_queue
            )
        elif name == "batch":
            ids = [f"{p}wf-batch"]
            await storing.execute_workflow(
                TwoLargeArguments.run, args=["I" * BIG, "J" * BIG], id=ids[0], task_queue=task_queue
            )
        else:
            ids = [f"{p}wf-sink", f"{p}wf-parent", f"{p}wf-parent-child"]
            sink = await storing.start_workflow(Sink.run, id=ids[0], task_queue=task_queue)
            handle = await storing.start_workflow(
                Parent.run, args=["I" * BIG, ids[0]], id=ids[1], task_queue=task_queue
            )
            await sink.result()
            await handle.query(Parent.peek, "q" * BIG)
            await handle.execute_update(Parent.upd, "u" * BIG)
            await handle.signal(Parent.go_signal, "g" * BIG)
            await handle.result()
    for workflow_id in ids:
        run_id = (await client.get_workflow_handle(workflow_id).describe()).run_id
        recording.run_labels[run_id] = f"<run of {workflow_id.removeprefix(p)}>"
    return recording


async def _edges(client: Client, task_queue: str, p: str) -> None:
    """A schedule's start action, update-with-start, a heartbeat and an async
    activity completed through its handle."""
    EDGE_STATE["later_started"] = asyncio.Event()
    schedule = await client.create_schedule(
        f"{p}sched-edge",
        Schedule(
            action=ScheduleActionStartWorkflow(
                Edge.run, "P" * BIG, id=f"{p}wf-scheduled", task_queue=task_queue
            ),
            spec=ScheduleSpec(),
            state=ScheduleState(paused=True),
        ),
    )
    await schedule.delete()
    start = WithStartWorkflowOperation(
        Edge.run,
        "I" * BIG,
        id=f"{p}wf-edge",
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    await client.execute_update_with_start_workflow(
        Edge.touch, "u" * BIG, start_workflow_operation=start
    )
    await EDGE_STATE["later_started"].wait()
    await client.get_async_activity_handle(
        workflow_id=f"{p}wf-edge", run_id=None, activity_id="2"
    ).complete("L" * BIG)
    await (await start.workflow_handle()).result()


def _task_metrics(records: list[logging.LogRecord]) -> list[dict[str, Any]]:
    """The per-task storage metrics the worker logged, as the recording lists them."""
    out = []
    for record in records:
        for kind in ("download", "upload"):
            metrics = getattr(record, f"payload_{kind}_metrics", None)
            if metrics is not None and metrics.payload_count:
                out.append(
                    {
                        "kind": kind,
                        "count": metrics.payload_count,
                        "size": metrics.total_size,
                        "drivers": sorted(metrics.driver_names),
                    }
                )
    return sorted(out, key=lambda m: (m["kind"], m["size"], m["count"]))


@pytest.mark.parametrize("workload", ["large", "batch", "full", "more", "edges", "standalone"])
async def test_store_calls_and_targets_match_temporalio(client, task_queue, workload):
    """Every store() call names the workflow temporalio names (the started workflow,
    the run, a child, a signalled workflow, the parent for a child's result), with
    the same payloads in each batch; the selector sees the same targets. "more" covers
    signal-with-start, local activities, continue-as-new and terminate; "edges" a
    schedule, update-with-start, heartbeats and async activity completion; "standalone"
    an activity a client starts with no workflow."""
    recording = await _run_workload(client, task_queue, workload)
    expected = RECORDED[workload]
    assert recording.stores() == expected["stores"]
    assert recording.selects() == expected["selects"]


@pytest.mark.parametrize("workload", ["large", "batch", "full", "more", "edges", "standalone"])
async def test_activation_storage_metrics_match_temporalio(client, task_queue, workload, caplog):
    """Each workflow activation (and query) reports what it retrieved and stored
    through external storage, as temporalio reports each activation's: a task that
    resolves a local activity reports its two activations apart."""
    with caplog.at_level(logging.DEBUG, logger="hotmesh_temporal.worker"):
        await _run_workload(client, task_queue, workload)
    assert _task_metrics(caplog.records) == RECORDED[workload]["metrics"]
