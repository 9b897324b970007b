"""OpenTelemetry spans from TracingInterceptor: temporalio's names and parent/child
structure, checked with the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

pytest.importorskip("opentelemetry.sdk")

import opentelemetry.trace  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

from hotmesh_temporal import activity, workflow  # noqa: E402
from hotmesh_temporal.client import Client, WorkflowFailureError  # noqa: E402
from hotmesh_temporal.contrib.opentelemetry import TracingInterceptor  # noqa: E402
from hotmesh_temporal.contrib.opentelemetry import workflow as otel_workflow  # noqa: E402
from hotmesh_temporal.exceptions import ApplicationError  # noqa: E402
from hotmesh_temporal.worker import Worker  # noqa: E402


@activity.defn
async def shout(text: str) -> str:
    return text.upper()


@workflow.defn
class TracedWorkflow:
    def __init__(self) -> None:
        self.signals: list[str] = []

    @workflow.run
    async def run(self, text: str) -> str:
        await workflow.wait_condition(lambda: bool(self.signals))
        otel_workflow.completed_span("MyCustomSpan", attributes={"foo": "bar"})
        return await workflow.execute_activity(
            shout, text, start_to_close_timeout=timedelta(seconds=10)
        )

    @workflow.signal
    def poke(self, value: str) -> None:
        self.signals.append(value)

    @workflow.query
    def seen(self) -> list[str]:
        return self.signals


async def first_task_completed(handle) -> None:
    for _ in range(200):
        if (await handle.describe()).history_length >= 4:  # WorkflowTaskCompleted
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the first workflow task did not complete")


def span_tree(spans: tuple[ReadableSpan, ...]) -> list[str]:
    """Spans as indented lines, children under their parent in start order."""
    by_parent: dict = {}
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        parent = span.parent.span_id if span.parent else None
        by_parent.setdefault(parent, []).append(span)
    known = {s.context.span_id for s in spans}
    lines: list[str] = []

    def walk(span: ReadableSpan, depth: int) -> None:
        links = ", ".join(sorted(_name_of(spans, link.context.span_id) for link in span.links))
        lines.append("  " * depth + span.name + (f" (links: {links})" if links else ""))
        for child in by_parent.get(span.context.span_id, []):
            walk(child, depth + 1)

    roots = [s for s in spans if not s.parent or s.parent.span_id not in known]
    for root in sorted(roots, key=lambda s: s.start_time or 0):
        walk(root, 0)
    return lines


def _name_of(spans: tuple[ReadableSpan, ...], span_id: int) -> str:
    return next((s.name for s in spans if s.context.span_id == span_id), "?")


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> opentelemetry.trace.Tracer:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test")


async def test_spans_have_temporalio_names_and_structure(client, task_queue, exporter, tracer):
    traced = Client(**{**client.config(), "interceptors": [TracingInterceptor(tracer)]})
    async with Worker(
        traced, task_queue=task_queue, workflows=[TracedWorkflow], activities=[shout]
    ):
        handle = await traced.start_workflow(
            TracedWorkflow.run, "hi", id=f"otel-{uuid.uuid4()}", task_queue=task_queue
        )
        await first_task_completed(handle)  # so the run starts before the signal
        await handle.signal(TracedWorkflow.poke, "x")
        assert await handle.result() == "HI"
        assert await handle.query(TracedWorkflow.seen) == ["x"]

    assert span_tree(exporter.get_finished_spans()) == [
        "StartWorkflow:TracedWorkflow",
        "  RunWorkflow:TracedWorkflow",
        "  HandleSignal:poke (links: SignalWorkflow:poke)",
        "  MyCustomSpan",
        "  StartActivity:shout",
        "    RunActivity:shout",
        "  CompleteWorkflow:TracedWorkflow",
        "SignalWorkflow:poke",
        "QueryWorkflow:seen",
        "  HandleQuery:seen (links: StartWorkflow:TracedWorkflow)",
    ]
    spans = {s.name: s for s in exporter.get_finished_spans()}
    run = spans["RunWorkflow:TracedWorkflow"]
    assert run.attributes["temporalWorkflowID"] == handle.id
    assert run.attributes["temporalRunID"] == handle.result_run_id
    assert run.kind == opentelemetry.trace.SpanKind.SERVER
    assert spans["StartWorkflow:TracedWorkflow"].kind == opentelemetry.trace.SpanKind.CLIENT
    assert spans["MyCustomSpan"].attributes["foo"] == "bar"
    assert spans["RunActivity:shout"].attributes["temporalWorkflowID"] == handle.id
    # One trace for everything the start caused.
    trace_ids = {
        s.context.trace_id for n, s in spans.items() if "poke" not in n and "seen" not in n
    }
    assert len(trace_ids) == 1


@workflow.defn
class FailingWorkflow:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("no luck", non_retryable=True)


async def test_failed_workflow_records_the_exception(client, task_queue, exporter, tracer):
    traced = Client(**{**client.config(), "interceptors": [TracingInterceptor(tracer)]})
    async with Worker(traced, task_queue=task_queue, workflows=[FailingWorkflow]):
        handle = await traced.start_workflow(
            FailingWorkflow.run, id=f"otel-{uuid.uuid4()}", task_queue=task_queue
        )
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    complete = next(
        s for s in exporter.get_finished_spans() if s.name == "CompleteWorkflow:FailingWorkflow"
    )
    assert [e.name for e in complete.events] == ["exception"]
    assert "no luck" in complete.events[0].attributes["exception.message"]


async def test_no_workflow_spans_without_a_client_span(client, task_queue, exporter, tracer):
    # The worker traces, the client does not: no parent span, so no workflow spans
    # (temporalio's default), but the activity still gets its RunActivity span.
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[TracedWorkflow],
        activities=[shout],
        interceptors=[TracingInterceptor(tracer)],
    ):
        handle = await client.start_workflow(
            TracedWorkflow.run, "a", id=f"otel-{uuid.uuid4()}", task_queue=task_queue
        )
        await handle.signal(TracedWorkflow.poke, "x")
        assert await handle.result() == "A"
    assert span_tree(exporter.get_finished_spans()) == ["RunActivity:shout"]


async def test_hmsh_telemetry_turns_tracing_on(client, task_queue, monkeypatch):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(opentelemetry.trace, "get_tracer", provider.get_tracer)
    monkeypatch.setenv("HMSH_TELEMETRY", "true")
    traced = Client(**{**client.config(), "interceptors": []})
    assert any(isinstance(i, TracingInterceptor) for i in traced.config()["interceptors"])
    # A twin built from its config does not get a second one.
    twin = Client(**traced.config())
    assert sum(isinstance(i, TracingInterceptor) for i in twin.config()["interceptors"]) == 1
    async with Worker(
        traced, task_queue=task_queue, workflows=[TracedWorkflow], activities=[shout]
    ):
        handle = await traced.start_workflow(
            TracedWorkflow.run, "env", id=f"otel-{uuid.uuid4()}", task_queue=task_queue
        )
        await handle.signal("poke", "x")
        assert await handle.result() == "ENV"
    names = {s.name for s in exporter.get_finished_spans()}
    assert {
        "StartWorkflow:TracedWorkflow",
        "RunWorkflow:TracedWorkflow",
        "RunActivity:shout",
    } <= names
    monkeypatch.setenv("HMSH_TELEMETRY", "false")
    plain = Client(**{**client.config(), "interceptors": []})
    assert plain.config()["interceptors"] == []
    await asyncio.sleep(0)


@workflow.defn
class TracedChild:
    @workflow.run
    async def run(self) -> str:
        return "child"


@workflow.defn
class TracedParent:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_child_workflow(
            TracedChild.run, id=f"{workflow.info().workflow_id}-child"
        )


async def test_child_workflow_spans_nest_under_start_child(client, task_queue, exporter, tracer):
    traced = Client(**{**client.config(), "interceptors": [TracingInterceptor(tracer)]})
    async with Worker(traced, task_queue=task_queue, workflows=[TracedParent, TracedChild]):
        assert (
            await traced.execute_workflow(
                TracedParent.run, id=f"otel-{uuid.uuid4()}", task_queue=task_queue
            )
            == "child"
        )
    assert span_tree(exporter.get_finished_spans()) == [
        "StartWorkflow:TracedParent",
        "  RunWorkflow:TracedParent",
        "  StartChildWorkflow:TracedChild",
        "    RunWorkflow:TracedChild",
        "    CompleteWorkflow:TracedChild",
        "  CompleteWorkflow:TracedParent",
    ]


@activity.defn
async def echo_number(value: int) -> int:
    return value


@workflow.defn
class RandomAfterSpanWorkflow:
    @workflow.run
    async def run(self) -> list[int]:
        drawn = workflow.random().randint(0, 2**62)
        echoed = await workflow.execute_activity(
            echo_number, drawn, start_to_close_timeout=timedelta(seconds=10)
        )
        return [drawn, echoed]


async def test_recording_spans_does_not_consume_workflow_randomness(
    client, task_queue, exporter, tracer
):
    # The RunWorkflow span is recorded on the first (live) execution only. Its span id
    # must not come from the workflow's random generator, or the value drawn after it
    # differs when the run is replayed (no cache: every task replays the history).
    traced = Client(**{**client.config(), "interceptors": [TracingInterceptor(tracer)]})
    async with Worker(
        traced,
        task_queue=task_queue,
        workflows=[RandomAfterSpanWorkflow],
        activities=[echo_number],
        max_cached_workflows=0,
    ):
        drawn, echoed = await traced.execute_workflow(
            RandomAfterSpanWorkflow.run, id=f"otel-{uuid.uuid4()}", task_queue=task_queue
        )
    assert drawn == echoed
    assert "RunWorkflow:RandomAfterSpanWorkflow" in {s.name for s in exporter.get_finished_spans()}
