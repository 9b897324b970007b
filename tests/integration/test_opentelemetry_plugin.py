"""OpenTelemetryPlugin / OpenTelemetryInterceptor and the replay-safe providers, on
real workers: spans made by workflow code join the caller's trace and are exported
once although the run is replayed at every task (max_cached_workflows=0); meters and
loggers drop what replays record; queries keep what they record."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

import pytest

pytest.importorskip("opentelemetry.sdk")

import opentelemetry.trace  # noqa: E402
from opentelemetry.sdk._logs import LoggerProvider  # noqa: E402
from opentelemetry.sdk._logs.export import (  # noqa: E402
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

from hotmesh_temporal import activity, workflow  # noqa: E402
from hotmesh_temporal.client import Client  # noqa: E402
from hotmesh_temporal.contrib.opentelemetry import (  # noqa: E402
    MetricsExporter,
    OpenTelemetryInterceptor,
    OpenTelemetryPlugin,
    ReplaySafeLoggerProvider,
    ReplaySafeMeterProvider,
    create_tracer_provider,
)
from hotmesh_temporal.runtime import MetricBuffer, Runtime, TelemetryConfig  # noqa: E402
from hotmesh_temporal.worker import Worker  # noqa: E402
from tests.integration.test_tracing import span_tree  # noqa: E402


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """A replay-safe global tracer provider exporting to memory (the global is
    swapped in and restored: OpenTelemetry sets it only once per process)."""
    exporter = InMemorySpanExporter()
    provider = create_tracer_provider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(opentelemetry.trace, "_TRACER_PROVIDER", provider)
    return exporter


def traced_client(client: Client, **plugin_options: bool) -> Client:
    return Client(
        **{
            **client.config(),
            "interceptors": [],
            "plugins": [OpenTelemetryPlugin(**plugin_options)],
        }
    )


@activity.defn
async def lookup(key: str) -> str:
    with opentelemetry.trace.get_tracer("test").start_as_current_span("activity-work"):
        return key.upper()


@workflow.defn
class TracedByPlugin:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self, key: str) -> str:
        tracer = opentelemetry.trace.get_tracer("test")
        with tracer.start_as_current_span("workflow-work"):
            found = await workflow.execute_activity(
                lookup, key, start_to_close_timeout=timedelta(seconds=10)
            )
        await workflow.wait_condition(lambda: self.go)
        with tracer.start_as_current_span("after-signal"):
            await asyncio.sleep(0)
        return found

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


async def run_traced(
    client: Client, task_queue: str, exporter: InMemorySpanExporter, **plugin_options: bool
) -> str:
    traced = traced_client(client, **plugin_options)
    tracer = opentelemetry.trace.get_tracer("test")
    async with Worker(
        traced,
        task_queue=task_queue,
        workflows=[TracedByPlugin],
        activities=[lookup],
        max_cached_workflows=0,  # every task replays the history first
    ):
        with tracer.start_as_current_span("caller"):
            handle = await traced.start_workflow(
                TracedByPlugin.run, "k", id=f"otel2-{uuid.uuid4()}", task_queue=task_queue
            )
            for _ in range(200):  # the signal after the activity's result was handled
                if any(s.name == "workflow-work" for s in exporter.get_finished_spans()):
                    break
                await asyncio.sleep(0.02)
            await handle.signal(TracedByPlugin.proceed)
        return await handle.result()


async def test_workflow_code_spans_join_the_trace_once_despite_replays(
    client, task_queue, exporter
):
    assert await run_traced(client, task_queue, exporter) == "K"
    spans = exporter.get_finished_spans()
    assert span_tree(spans) == [
        "caller",
        "  workflow-work",
        "    activity-work",
        "  after-signal",
    ]
    assert Counter(s.name for s in spans) == {
        "caller": 1,
        "workflow-work": 1,
        "activity-work": 1,
        "after-signal": 1,
    }
    assert len({s.context.trace_id for s in spans}) == 1
    by_name = {s.name: s for s in spans}
    work, done = by_name["workflow-work"], by_name["activity-work"]
    # A real duration: the workflow span covers the activity it awaited.
    assert work.start_time <= done.start_time and done.end_time <= work.end_time


async def test_temporal_spans_nest_and_survive_replays(client, task_queue, exporter):
    assert await run_traced(client, task_queue, exporter, add_temporal_spans=True) == "K"
    spans = exporter.get_finished_spans()
    assert span_tree(spans) == [
        "caller",
        "  StartWorkflow:TracedByPlugin",
        "    RunWorkflow:TracedByPlugin",
        "      workflow-work",
        "        StartActivity:lookup",
        "          RunActivity:lookup",
        "            activity-work",
        "      after-signal",
        "  SignalWorkflow:proceed",
        "    HandleSignal:proceed",
    ]
    assert all(n == 1 for n in Counter(s.name for s in spans).values())
    run = next(s for s in spans if s.name == "RunWorkflow:TracedByPlugin")
    assert run.kind == opentelemetry.trace.SpanKind.SERVER
    assert run.attributes["temporalWorkflowID"].startswith("otel2-")
    assert run.end_time > run.start_time


async def test_worker_refuses_a_tracer_provider_that_is_not_replay_safe(
    client, task_queue, monkeypatch
):
    from opentelemetry.sdk.trace import TracerProvider

    monkeypatch.setattr(opentelemetry.trace, "_TRACER_PROVIDER", TracerProvider())
    with pytest.raises(ValueError, match="ReplaySafeTracerProvider"):
        Worker(traced_client(client), task_queue=task_queue, workflows=[TracedByPlugin])


async def test_interceptor_on_the_worker_only_roots_traces_at_the_worker(
    client, task_queue, exporter
):
    # Given to the worker alone: the client sends no context, so the run and the
    # signal handler start traces of their own (an empty context is made current,
    # not whatever was ambient); the workflow's context still reaches the activity.
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[TracedByPlugin],
        activities=[lookup],
        interceptors=[OpenTelemetryInterceptor(add_temporal_spans=True)],
    ):
        handle = await client.start_workflow(
            TracedByPlugin.run, "w", id=f"otel2-{uuid.uuid4()}", task_queue=task_queue
        )
        # Signal once the activity's report is recorded. Without the plugin's
        # replay-safe provider a replay (a signal racing that report makes the worker
        # drop the task it ran ahead, and replay) would record workflow-work twice.
        for _ in range(250):
            events = (await handle.fetch_history()).events
            if any(e.HasField("activity_task_completed_event_attributes") for e in events):
                break
            await asyncio.sleep(0.02)
        await handle.signal(TracedByPlugin.proceed)
        assert await handle.result() == "W"
    tree = span_tree(exporter.get_finished_spans())
    assert sorted(line for line in tree if not line.startswith(" ")) == [
        "HandleSignal:proceed",
        "RunWorkflow:TracedByPlugin",
    ]
    run = tree.index("RunWorkflow:TracedByPlugin")
    assert tree[run : run + 6] == [
        "RunWorkflow:TracedByPlugin",
        "  workflow-work",
        "    StartActivity:lookup",
        "      RunActivity:lookup",
        "        activity-work",
        "  after-signal",
    ]


# ----------------------------------------------------------- replay-safe meters, logs


metric_reader = InMemoryMetricReader()
_meter_provider = MeterProvider(metric_readers=[metric_reader])
safe_meter = ReplaySafeMeterProvider(_meter_provider).get_meter("t")
plain_meter = _meter_provider.get_meter("plain")
safe_steps = safe_meter.create_counter("safe_steps")
plain_steps = plain_meter.create_counter("plain_steps")
safe_queries = safe_meter.create_counter("safe_queries")
safe_level = safe_meter.create_gauge("safe_level")
safe_sizes = safe_meter.create_histogram("safe_sizes")

log_exporter = InMemoryLogRecordExporter()
_log_provider = LoggerProvider()
_log_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
safe_logger = ReplaySafeLoggerProvider(_log_provider).get_logger("t")


@activity.defn
async def tick() -> None:
    pass


@workflow.defn
class RecordsEachStep:
    def __init__(self) -> None:
        self.step = 0

    @workflow.run
    async def run(self, tag: str) -> int:
        for self.step in range(1, 4):
            attributes = {"tag": tag}
            safe_steps.add(1, attributes)
            plain_steps.add(1, attributes)
            safe_level.set(self.step, attributes)
            safe_sizes.record(self.step, attributes)
            safe_logger.emit(body=f"step {self.step}", attributes=attributes)
            await workflow.execute_activity(tick, start_to_close_timeout=timedelta(seconds=10))
        return self.step

    @workflow.query
    def current(self) -> int:
        safe_queries.add(1, {"tag": workflow.info().workflow_id})
        return self.step


def points(name: str, tag: str) -> list:
    data = metric_reader.get_metrics_data()
    found = []
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found += [p for p in metric.data.data_points if p.attributes.get("tag") == tag]
    return found


async def test_replay_safe_meter_and_logger_drop_what_replays_record(client, task_queue):
    tag = f"run-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[RecordsEachStep],
        activities=[tick],
        max_cached_workflows=0,
    ):
        handle = await client.start_workflow(
            RecordsEachStep.run, tag, id=tag, task_queue=task_queue
        )
        assert await handle.result() == 3
        # Answered after a replay of the whole history: a live request all the same.
        assert await handle.query(RecordsEachStep.current) == 3

    # Task n replays steps 1..n-1 then runs step n live: a plain meter counts
    # 1 + 2 + 3 (+ the final task's replay of 3), the replay-safe one counts 3.
    assert [p.value for p in points("safe_steps", tag)] == [3]
    assert points("plain_steps", tag)[0].value > 3
    assert [p.value for p in points("safe_level", tag)] == [3]
    assert [(p.count, p.sum) for p in points("safe_sizes", tag)] == [(3, 6)]
    assert [p.value for p in points("safe_queries", tag)] == [1]
    bodies = [
        r.log_record.body
        for r in log_exporter.get_finished_logs()
        if r.log_record.attributes.get("tag") == tag
    ]
    assert bodies == ["step 1", "step 2", "step 3"]


# ------------------------------------------------------------------ MetricsExporter


@workflow.defn
class CallsTick:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(tick, start_to_close_timeout=timedelta(seconds=10))


def all_points(reader: InMemoryMetricReader) -> dict[str, list]:
    data = reader.get_metrics_data()
    found: dict[str, list] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            assert scope.scope.name == "temporalio"
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


async def test_metrics_exporter_sends_runtime_metrics_to_the_meter_provider(
    migrated_dsn, task_queue
):
    buffer = MetricBuffer(10_000)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer, attach_service_name=False))
    reader = InMemoryMetricReader()
    errors: list[Exception] = []
    exporter = MetricsExporter(
        buffer,
        MeterProvider(metric_readers=[reader]),
        poll_interval=timedelta(milliseconds=20),
        on_error=errors.append,
    )
    client = await Client.connect(migrated_dsn, runtime=runtime)
    try:
        async with exporter:
            meter = runtime.metric_meter.with_additional_attributes({"team": "a"})
            jobs = meter.create_counter("jobs", "Jobs done", "{job}")
            depth = meter.create_gauge("depth")
            jobs.add(2)
            depth.set(7, {"queue": "q"})
            async with Worker(
                client, task_queue=task_queue, workflows=[CallsTick], activities=[tick]
            ):
                await client.execute_workflow(
                    CallsTick.run, id=f"metrics-{uuid.uuid4()}", task_queue=task_queue
                )
            jobs.add(3)
            depth.set(9, {"queue": "q"})  # recorded just before the exporter stops
    finally:
        await client.service_client.close()
    assert errors == []
    points = all_points(reader)
    assert [(p.value, dict(p.attributes)) for p in points["jobs"]] == [(5, {"team": "a"})]
    assert [(p.value, dict(p.attributes)) for p in points["depth"]] == [
        (9, {"team": "a", "queue": "q"})
    ]
    (latency,) = points["temporal_activity_execution_latency"]
    assert latency.count == 1
    assert latency.attributes["activity_type"] == "tick"
    assert latency.attributes["task_queue"] == task_queue
    assert sum(p.count for p in points["temporal_workflow_task_execution_latency"]) >= 2


async def test_metrics_exporter_needs_a_runtime_using_the_buffer():
    exporter = MetricsExporter(MetricBuffer(100), MeterProvider())
    with pytest.raises(RuntimeError, match="runtime"):
        await exporter.run()
    with pytest.raises(TypeError, match="MetricBuffer"):
        MetricsExporter(object(), MeterProvider())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="poll_interval"):
        MetricsExporter(MetricBuffer(100), MeterProvider(), poll_interval=timedelta(0))
