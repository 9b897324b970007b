"""A Prometheus endpoint on the Runtime of a process that only runs a client (a
starter, an API server) serves that client's calls, as temporalio's core does:
``temporal_request``, ``temporal_request_latency`` and ``temporal_request_failure``
labelled with the RPC's operation name and the namespace."""

from __future__ import annotations

import re
import urllib.request
import uuid

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.runtime import PrometheusConfig, Runtime, TelemetryConfig
from hotmesh_temporal.service import RPCError


@workflow.defn
class NeverRuns:
    @workflow.run
    async def run(self) -> None:
        pass


def scrape(runtime: Runtime) -> str:
    host, port = runtime._prometheus_address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def value(text: str, pattern: str) -> float:
    match = re.search(pattern + r" (\S+)$", text, re.M)
    assert match, f"{pattern} not in:\n{text}"
    return float(match.group(1))


async def test_prometheus_on_a_client_only_process_serves_its_requests(migrated_dsn):
    runtime = Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address="127.0.0.1:0"))
    )
    client = await Client.connect(migrated_dsn, runtime=runtime)
    handle = await client.start_workflow(
        NeverRuns.run, id=f"starter-{uuid.uuid4()}", task_queue=f"nobody-{uuid.uuid4()}"
    )
    await handle.describe()
    await handle.describe()
    await handle.terminate()
    with pytest.raises(RPCError):
        await client.get_workflow_handle(f"missing-{uuid.uuid4()}").describe()
    text = scrape(runtime)
    labels = 'namespace="default",operation="{}",service_name="temporal-core-sdk"'
    assert value(text, "temporal_request{" + labels.format("StartWorkflowExecution") + "}") == 1
    assert value(text, "temporal_request{" + labels.format("DescribeWorkflowExecution") + "}") == 3
    assert value(text, "temporal_request{" + labels.format("TerminateWorkflowExecution") + "}") == 1
    assert (
        value(text, "temporal_request_failure{" + labels.format("DescribeWorkflowExecution") + "}")
        == 1
    )
    assert "temporal_request_latency_bucket{" in text
