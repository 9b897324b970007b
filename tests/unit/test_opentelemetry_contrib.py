"""contrib.opentelemetry pieces outside workflows, and plugin.SimplePlugin's option
merging (the workflow side is in tests/integration/test_opentelemetry_plugin.py)."""

from __future__ import annotations

import contextlib

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk._logs import LoggerProvider  # noqa: E402
from opentelemetry.sdk._logs.export import (  # noqa: E402
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator  # noqa: E402

import hotmesh_temporal.client  # noqa: E402
import hotmesh_temporal.worker  # noqa: E402
from hotmesh_temporal.contrib.opentelemetry import (  # noqa: E402
    OpenTelemetryInterceptor,
    OpenTelemetryPlugin,
    ReplaySafeLoggerProvider,
    ReplaySafeMeterProvider,
    ReplaySafeTracerProvider,
    create_tracer_provider,
)
from hotmesh_temporal.contrib.opentelemetry._id_generator import (  # noqa: E402
    TemporalIdGenerator,
)
from hotmesh_temporal.plugin import SimplePlugin  # noqa: E402
from hotmesh_temporal.worker import UnsandboxedWorkflowRunner  # noqa: E402
from hotmesh_temporal.worker.workflow_sandbox import SandboxedWorkflowRunner  # noqa: E402


class CountingIds(IdGenerator):
    def __init__(self) -> None:
        self.next = 0

    def generate_span_id(self) -> int:
        self.next += 1
        return self.next

    def generate_trace_id(self) -> int:
        return 0xABC


def test_create_tracer_provider_gives_a_working_provider():
    ids = CountingIds()
    provider = create_tracer_provider(
        resource=Resource.create({"service.name": "svc"}), id_generator=ids
    )
    assert isinstance(provider, ReplaySafeTracerProvider)
    assert isinstance(provider.id_generator(), TemporalIdGenerator)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("outer") as outer:
        outer.set_attribute("k", "v")
        tracer.start_span("inner").end()
    with pytest.raises(KeyError), tracer.start_as_current_span("failing"):
        raise KeyError("x")
    assert provider.force_flush()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"outer", "inner", "failing"}
    # Outside workflows the wrapped generator makes the ids.
    assert {s.context.trace_id for s in spans.values()} == {0xABC}
    assert spans["outer"].context.span_id == 1
    assert spans["inner"].parent.span_id == 1
    assert spans["outer"].attributes["k"] == "v"
    assert spans["outer"].resource.attributes["service.name"] == "svc"
    assert spans["failing"].status.is_ok is False
    assert [e.name for e in spans["failing"].events] == ["exception"]
    provider.shutdown()


def test_replay_safe_tracer_provider_needs_a_temporal_id_generator():
    with pytest.raises(ValueError, match="TemporalIdGenerator"):
        ReplaySafeTracerProvider(TracerProvider(), TemporalIdGenerator(CountingIds()))


def test_replay_safe_meter_and_logger_pass_through_outside_workflows():
    reader = InMemoryMetricReader()
    meter = ReplaySafeMeterProvider(MeterProvider(metric_readers=[reader])).get_meter("m")
    meter.create_counter("c").add(2)
    meter.create_up_down_counter("u").add(-1)
    meter.create_histogram("h", explicit_bucket_boundaries_advisory=[1.0, 5.0]).record(3)
    meter.create_gauge("g").set(4)
    meter.create_observable_gauge("o", callbacks=[lambda _: []])
    values = {}
    for scope in reader.get_metrics_data().resource_metrics[0].scope_metrics:
        for metric in scope.metrics:
            points = list(metric.data.data_points)
            values[metric.name] = points[0].sum if metric.name == "h" else points[0].value
    assert values == {"c": 2, "u": -1, "h": 3, "g": 4}

    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    safe = ReplaySafeLoggerProvider(provider)
    logger = safe.get_logger("l", "1.0")
    assert logger.enabled()
    logger.emit(body="hello")
    assert [r.log_record.body for r in exporter.get_finished_logs()] == ["hello"]
    safe.shutdown()  # delegated to the wrapped provider


# ------------------------------------------------------------------ SimplePlugin


class ClientOnly(hotmesh_temporal.client.Interceptor):
    pass


class WorkerOnly(hotmesh_temporal.worker.Interceptor):
    pass


class FakeClient:
    def __init__(self, interceptors: list) -> None:
        self.interceptors = interceptors

    def config(self, *, active_config: bool = False) -> dict:
        return {"interceptors": self.interceptors}


def test_simple_plugin_applies_each_option_where_it_belongs():
    both, client_only, worker_only = OpenTelemetryInterceptor(), ClientOnly(), WorkerOnly()

    async def act() -> None: ...

    plugin = SimplePlugin(
        "p",
        interceptors=[both, client_only, worker_only],
        activities=[act],
        workflows=lambda existing: [*(existing or []), str],
        workflow_failure_exception_types=[KeyError],
    )
    assert plugin.name() == "p"
    client_config = plugin.configure_client({"interceptors": [ClientOnly()]})
    assert client_config["interceptors"][1:] == [both, client_only]

    worker_config = plugin.configure_worker(
        {"client": FakeClient([both]), "workflows": [int], "activities": []}
    )
    # The client already applies ``both`` to its workers: not added twice.
    assert worker_config["interceptors"] == [worker_only]
    assert worker_config["activities"] == [act]
    assert worker_config["workflows"] == [int, str]
    assert worker_config["workflow_failure_exception_types"] == [KeyError]

    replayer_config = plugin.configure_replayer({"interceptors": [], "workflows": []})
    assert replayer_config["interceptors"] == [both, worker_only]
    assert replayer_config["workflows"] == [str]
    with pytest.raises(TypeError, match="name"):
        SimplePlugin(None)  # type: ignore[arg-type]


async def test_simple_plugin_runs_the_worker_inside_run_context():
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def around():
        events.append("enter")
        yield
        events.append("exit")

    async def run(worker: object) -> None:
        events.append("run")

    await SimplePlugin("p", run_context=around).run_worker(object(), run)  # type: ignore[arg-type]
    assert events == ["enter", "run", "exit"]


def test_opentelemetry_plugin_passes_opentelemetry_through_the_sandbox():
    plugin = OpenTelemetryPlugin(add_temporal_spans=True)
    assert plugin.name() == "OpenTelemetryPlugin"
    (interceptor,) = plugin.configure_client({})["interceptors"]
    assert isinstance(interceptor, OpenTelemetryInterceptor)
    sandboxed = plugin.configure_worker(
        {"client": FakeClient([]), "workflow_runner": SandboxedWorkflowRunner()}
    )["workflow_runner"]
    assert "opentelemetry" in sandboxed.restrictions.passthrough_modules
    unsandboxed = UnsandboxedWorkflowRunner()
    config = {"client": FakeClient([]), "workflow_runner": unsandboxed}
    assert plugin.configure_worker(config)["workflow_runner"] is unsandboxed
    with pytest.raises(ValueError, match="WorkflowRunner"):
        plugin.configure_worker({"client": FakeClient([])})


def test_completed_span_without_tracing_interceptor_uses_the_global_tracer(monkeypatch):
    import opentelemetry.trace

    from hotmesh_temporal.contrib.opentelemetry import workflow as otel_workflow

    exporter = InMemorySpanExporter()
    provider = create_tracer_provider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(opentelemetry.trace, "_TRACER_PROVIDER", provider)
    with pytest.warns(DeprecationWarning, match="get_tracer"):
        otel_workflow.completed_span("step", attributes={"a": 1}, exception=KeyError("k"))
    (span,) = exporter.get_finished_spans()
    assert span.name == "step"
    assert span.attributes["a"] == 1
    assert [e.name for e in span.events] == ["exception"]
