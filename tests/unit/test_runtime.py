"""runtime: temporalio's configuration API; Prometheus serves real worker metrics."""

from __future__ import annotations

import asyncio
import logging
import urllib.request
import uuid
from datetime import timedelta

import pytest

import hotmesh_temporal.runtime as rt
from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.common import MetricMeter, RetryPolicy
from hotmesh_temporal.exceptions import ApplicationError
from hotmesh_temporal.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    BUFFERED_METRIC_KIND_HISTOGRAM,
    LogForwardingConfig,
    LoggingConfig,
    LoggingFormat,
    MetricBuffer,
    MetricBufferDurationFormat,
    OpenTelemetryConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from hotmesh_temporal.worker import Worker


@pytest.fixture
def fresh_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rt, "_default", rt._DefaultRuntime())


def scrape(runtime: Runtime) -> str:
    host, port = runtime._prometheus_address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return response.read().decode()


def test_default_runtime_rules(fresh_default: None) -> None:
    first = Runtime.default()
    assert Runtime.default() is first
    assert first.metric_meter is MetricMeter.noop
    with pytest.raises(RuntimeError, match="already set"):
        Runtime.set_default(Runtime(telemetry=TelemetryConfig()))
    mine = Runtime(telemetry=TelemetryConfig())
    Runtime.set_default(mine, error_if_already_set=False)
    assert Runtime.default() is mine
    with pytest.raises(RuntimeError, match="prevent_default"):
        Runtime.prevent_default()


def test_prevent_default(fresh_default: None) -> None:
    Runtime.prevent_default()
    with pytest.raises(RuntimeError, match="prevent_default"):
        Runtime.default()
    mine = Runtime(telemetry=TelemetryConfig())
    Runtime.set_default(mine)
    assert Runtime.default() is mine


def test_configuration_api_is_accepted() -> None:
    assert (
        TelemetryFilter(core_level="WARN", other_level="ERROR")
        .formatted()
        .startswith("ERROR,temporalio_common=WARN")
    )
    logging_config = LoggingConfig(
        filter="INFO",
        forwarding=LogForwardingConfig(logger=logging.getLogger("x")),
        format=LoggingFormat.JSON,
    )
    assert LoggingConfig.default.filter == TelemetryFilter(core_level="WARN", other_level="ERROR")
    runtime = Runtime(
        telemetry=TelemetryConfig(logging=logging_config, global_tags={"a": "b"}),
        worker_heartbeat_interval=None,
        disable_environment_info=True,
    )
    assert runtime.metric_meter is MetricMeter.noop
    with pytest.raises(ValueError, match="positive"):
        Runtime(telemetry=TelemetryConfig(), worker_heartbeat_interval=timedelta(0))


def test_opentelemetry_is_accepted_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="hotmesh_temporal.runtime"):
        runtime = Runtime(
            telemetry=TelemetryConfig(metrics=OpenTelemetryConfig(url="http://c:4317"))
        )
    assert "not exported" in caplog.text
    runtime.metric_meter.create_counter("c").add(1)  # recording still works


def test_prometheus_serves_meter_metrics() -> None:
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address="127.0.0.1:0", counters_total_suffix=True),
            global_tags={"env": "test"},
        )
    )
    meter = runtime.metric_meter.with_additional_attributes({"team": "a"})
    meter.create_counter("orders", "Orders placed").add(3)
    meter.create_counter("orders").add(2, {"team": "b"})
    meter.create_gauge_float("temperature").set(21.5)
    meter.create_histogram("size").record(42)
    text = scrape(runtime)
    assert "# TYPE orders_total counter" in text
    assert 'orders_total{env="test",service_name="temporal-core-sdk",team="a"} 3' in text
    assert 'orders_total{env="test",service_name="temporal-core-sdk",team="b"} 2' in text
    assert 'temperature{env="test",service_name="temporal-core-sdk",team="a"} 21.5' in text
    assert "# HELP orders_total Orders placed" in text
    assert "# HELP size size" in text  # the name when there is no description
    # Temporal's default buckets for metrics it has no buckets of its own for.
    assert 'size_bucket{env="test",service_name="temporal-core-sdk",team="a",le="10"}' not in text
    assert 'size_bucket{env="test",service_name="temporal-core-sdk",team="a",le="50"} 1' in text
    assert 'size_bucket{env="test",service_name="temporal-core-sdk",team="a",le="10000"} 1' in text
    assert 'size_count{env="test",service_name="temporal-core-sdk",team="a"} 1' in text


def test_bad_bind_address_is_refused() -> None:
    with pytest.raises(ValueError, match="host:port"):
        Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address="nowhere")))


def test_metric_buffer() -> None:
    buffer = MetricBuffer(100, MetricBufferDurationFormat.SECONDS)
    with pytest.raises(RuntimeError):
        buffer.retrieve_updates()
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer, attach_service_name=False))
    runtime.metric_meter.create_counter("hits").add(2, {"k": "v"})
    runtime.metric_meter.create_histogram_timedelta("took").record(timedelta(milliseconds=1500))
    updates = buffer.retrieve_updates()
    assert [(u.metric.name, u.value, dict(u.attributes)) for u in updates] == [
        ("hits", 2, {"k": "v"}),
        ("took", 1.5, {}),
    ]
    assert updates[0].metric.kind == BUFFERED_METRIC_KIND_COUNTER
    assert buffer.retrieve_updates() == []


def test_metric_buffer_updates_match_temporalio() -> None:
    buffer = MetricBuffer(100)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer, global_tags={"env": "test"}))
    meter = runtime.metric_meter
    counter = meter.create_counter("orders", "Orders placed", "orders")
    tagged = counter.with_additional_attributes({"region": "eu", "priority": 2, "vip": True})
    counter.add(1)
    tagged.add(4, {"ratio": 0.5})
    counter.add(2)
    meter.create_histogram("size").record(7)
    meter.create_histogram_float("load").record(0.25)
    meter.create_histogram_timedelta("took").record(timedelta(seconds=1, microseconds=2999))
    meter.create_gauge("depth").set(3)
    meter.create_gauge_float("temperature").set(21.5)
    updates = buffer.retrieve_updates()
    assert [(u.metric.name, u.value) for u in updates] == [
        ("orders", 1),
        ("orders", 4),
        ("orders", 2),
        ("size", 7),
        ("load", 0.25),
        ("took", 1002),  # whole milliseconds, as an int
        ("depth", 3),
        ("temperature", 21.5),
    ]
    assert [u.metric.kind for u in updates[3:]] == [
        BUFFERED_METRIC_KIND_HISTOGRAM,
        BUFFERED_METRIC_KIND_HISTOGRAM,
        BUFFERED_METRIC_KIND_HISTOGRAM,
        BUFFERED_METRIC_KIND_GAUGE,
        BUFFERED_METRIC_KIND_GAUGE,
    ]
    orders = updates[0].metric
    assert (orders.description, orders.unit) == ("Orders placed", "orders")
    assert (updates[3].metric.description, updates[3].metric.unit) == (None, None)
    # Global tags are resource tags: not on buffered updates. Values keep their types.
    assert updates[0].attributes == {"service_name": "temporal-core-sdk"}
    assert updates[1].attributes == {
        "service_name": "temporal-core-sdk",
        "region": "eu",
        "priority": 2,
        "vip": True,
        "ratio": 0.5,
    }
    # One metric object per metric, one attributes object per attribute set.
    assert updates[0].metric is updates[1].metric is updates[2].metric
    assert updates[0].attributes is updates[2].attributes
    counter.add(5)
    assert buffer.retrieve_updates()[0].attributes is updates[0].attributes


def test_metric_values_and_attributes_are_checked() -> None:
    runtime = Runtime(telemetry=TelemetryConfig(metrics=MetricBuffer(100)))
    meter = runtime.metric_meter
    with pytest.raises(ValueError, match="negative"):
        meter.create_counter("c").add(-1)
    with pytest.raises(ValueError, match="negative"):
        meter.create_histogram_timedelta("t").record(timedelta(milliseconds=-1))
    with pytest.raises(TypeError, match="key k"):
        meter.create_counter("c").add(1, {"k": [1]})
    with pytest.raises(TypeError, match="key k"):
        meter.with_additional_attributes({"k": None})  # type: ignore[dict-item]
    # The no-op meter checks nothing, as temporalio's.
    MetricMeter.noop.create_counter("c").add(-1, {"k": [1]})  # type: ignore[dict-item]
    assert MetricMeter.noop.with_additional_attributes({"k": "v"}) is MetricMeter.noop


def test_full_metric_buffer_drops_updates_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    buffer = MetricBuffer(2)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    counter = runtime.metric_meter.create_counter("c")
    with caplog.at_level(logging.ERROR, logger="hotmesh_temporal.runtime"):
        for value in range(5):
            counter.add(value)
    assert [u.value for u in buffer.retrieve_updates()] == [0, 1]
    assert caplog.text.count("MetricBuffer is full") == 1
    counter.add(7)
    assert [u.value for u in buffer.retrieve_updates()] == [7]


def test_prometheus_labels_and_buckets_follow_temporal() -> None:
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address="127.0.0.1:0", durations_as_seconds=True),
            attach_service_name=False,
        )
    )
    meter = runtime.metric_meter
    meter.create_counter("flags").add(1, {"on": True, "n": 3})
    meter.create_histogram_timedelta("temporal_activity_execution_latency").record(
        timedelta(milliseconds=20)
    )
    meter.create_histogram_timedelta("custom_latency", "How long").record(timedelta(seconds=2))
    text = scrape(runtime)
    assert 'flags{n="3",on="true"} 1' in text
    # Seconds, with core's activity-latency buckets for that name, defaults otherwise.
    assert 'temporal_activity_execution_latency_bucket{le="0.05"} 1' in text
    assert 'temporal_activity_execution_latency_bucket{le="60"} 1' in text
    assert "# HELP custom_latency How long" in text
    assert 'custom_latency_bucket{le="1"} 0' in text
    assert 'custom_latency_bucket{le="2.5"} 1' in text
    assert "custom_latency_sum 2" in text


def test_activity_environment_meter_gets_activity_attributes() -> None:
    from hotmesh_temporal.testing import ActivityEnvironment

    buffer = MetricBuffer(100)
    env = ActivityEnvironment()
    env.metric_meter = Runtime(telemetry=TelemetryConfig(metrics=buffer)).metric_meter

    def record() -> None:
        activity.metric_meter().create_counter("done").add(1)

    env.run(record)
    [update] = buffer.retrieve_updates()
    assert update.attributes == {
        "service_name": "temporal-core-sdk",
        "namespace": env.info.namespace,
        "task_queue": env.info.task_queue,
        "activity_type": env.info.activity_type,
    }


calls: list = []


@activity.defn
async def flaky(name: str) -> str:
    calls.append(name)
    if activity.info().attempt == 1:
        raise ApplicationError("first attempt fails")
    return f"hello {name}"


@workflow.defn
class MeteredWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            flaky,
            name,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=10)),
        )


async def _run_metered(dsn: str, runtime: Runtime, name: str) -> tuple[str, str]:
    """Run MeteredWorkflow on a fresh task queue with ``runtime``: (queue, result)."""
    client = await Client.connect(dsn, runtime=runtime)
    queue = f"tq-{uuid.uuid4()}"
    try:
        async with Worker(
            client, task_queue=queue, workflows=[MeteredWorkflow], activities=[flaky]
        ):
            result = await client.execute_workflow(
                MeteredWorkflow.run, name, id=f"wf-{uuid.uuid4()}", task_queue=queue
            )
    finally:
        await client.service_client.close()
    return queue, result


async def test_prometheus_serves_worker_metrics(dsn: str) -> None:
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address="127.0.0.1:0"), metric_prefix="hm_"
        )
    )
    queue, result = await _run_metered(dsn, runtime, "metrics")
    assert result == "hello metrics"
    text = await asyncio.get_running_loop().run_in_executor(None, scrape, runtime)
    labels = f'namespace="default",service_name="temporal-core-sdk",task_queue="{queue}"'
    wft_count = _value(
        text,
        f'hm_workflow_task_execution_latency_count{{{labels},workflow_type="MeteredWorkflow"}}',
    )
    assert wft_count >= 2  # the start, then the activity's result
    act_labels = f'activity_type="flaky",{labels}'
    assert _value(text, f"hm_activity_execution_latency_count{{{act_labels}}}") == 2
    assert _value(text, f"hm_activity_execution_failed{{{act_labels}}}") == 1
    assert "hm_workflow_task_execution_failed" not in text


async def test_prometheus_unit_suffix_names_units(dsn: str) -> None:
    # PrometheusConfig.unit_suffix: the unit spelled out after the name, before _total.
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address="127.0.0.1:0", unit_suffix=True, counters_total_suffix=True
            ),
            metric_prefix="hm_",
            attach_service_name=False,
        )
    )
    meter = runtime.metric_meter
    meter.create_counter("sent", unit="By").add(10)
    meter.create_gauge_float("throughput", unit="By/s").set(2.5)
    meter.create_gauge("load", unit="1").set(1)
    meter.create_counter("requests", unit="{request}").add(1)  # annotations add nothing
    meter.create_histogram("wait_seconds", unit="s").record(1)  # not doubled
    queue, _ = await _run_metered(dsn, runtime, "units")
    text = await asyncio.get_running_loop().run_in_executor(None, scrape, runtime)
    assert "# TYPE sent_bytes_total counter" in text
    assert "sent_bytes_total 10" in text
    assert "throughput_bytes_per_second 2.5" in text
    assert "load_ratio 1" in text
    assert "requests_total 1" in text
    assert "wait_seconds_count 1" in text
    # Duration histograms are in milliseconds (seconds with durations_as_seconds).
    act_labels = f'activity_type="flaky",namespace="default",task_queue="{queue}"'
    assert _value(text, f"hm_activity_execution_latency_milliseconds_count{{{act_labels}}}") == 2
    assert _value(text, f"hm_activity_execution_failed_total{{{act_labels}}}") == 1
    assert "hm_activity_execution_latency_count" not in text


def test_prometheus_unit_suffix_of_durations_in_seconds() -> None:
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address="127.0.0.1:0", unit_suffix=True, durations_as_seconds=True
            ),
            attach_service_name=False,
        )
    )
    latency = runtime.metric_meter.create_histogram_timedelta("latency", unit="ms")
    latency.record(timedelta(seconds=2))
    text = scrape(runtime)
    assert "latency_seconds_sum 2" in text
    assert "latency_milliseconds" not in text


def _value(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in:\n{text}")
