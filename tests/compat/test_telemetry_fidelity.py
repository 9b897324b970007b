"""OpenTelemetry and workflow randomness, against temporalio 1.35 (issue 20).

- ``workflow.new_random()`` and ``TemporalIdGenerator``: for the same workflow seed,
  the values and span / trace ids our run draws are the ones temporalio's workflow
  instance draws (its instance is fed our run's seed), and drawing them leaves
  ``workflow.random()`` where temporalio leaves it.
- Update-with-start through ``TracingInterceptor``: the spans temporalio's
  interceptor makes (client span name, kind and attributes; the update handler's and
  validator's spans linked to it, in the start's trace).
- No context leak around activities: what an activity attaches stays in its attempt.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

import opentelemetry.context  # noqa: E402
import opentelemetry.trace  # noqa: E402
import temporalio.converter  # noqa: E402
import temporalio.workflow  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator  # noqa: E402
from temporalio.contrib.opentelemetry._id_generator import (  # noqa: E402
    TemporalIdGenerator as TheirIdGenerator,
)

import hotmesh_temporal.contrib.opentelemetry  # noqa: E402
from hotmesh_temporal import activity, workflow  # noqa: E402
from hotmesh_temporal.client import (  # noqa: E402
    Client,
    WithStartWorkflowOperation,
)
from hotmesh_temporal.common import WorkflowIDConflictPolicy  # noqa: E402
from hotmesh_temporal.contrib.opentelemetry._id_generator import (  # noqa: E402
    TemporalIdGenerator as OurIdGenerator,
)
from hotmesh_temporal.worker import Worker  # noqa: E402
from tests.compat.temporalio_run import TemporalioRun, defn, run_method  # noqa: E402

# ------------------------------------------------------------ seeded randomness


def define_drawer(wf: Any, id_generator_cls: Any) -> type:
    @defn(wf, name="Draws", sandboxed=False)
    class Draws:
        @run_method(wf)
        async def run(self) -> list:
            ids = id_generator_cls(RandomIdGenerator())
            plain = wf.new_random().random()
            named = wf.new_random("orders").random()
            span, trace, span2 = (
                ids.generate_span_id(),
                ids.generate_trace_id(),
                ids.generate_span_id(),
            )
            after = wf.random().random()  # untouched by the draws above
            return [wf.random_seed(), plain, named, str(span), str(trace), str(span2), after]

    return Draws


async def test_new_random_and_span_ids_match_temporalio_for_the_same_seed(client, task_queue):
    cls = define_drawer(workflow, OurIdGenerator)
    async with Worker(client, task_queue=task_queue, workflows=[cls]):
        ours = await client.execute_workflow(
            cls.run, id=f"draws-{uuid.uuid4()}", task_queue=task_queue
        )
    seed = ours[0]
    theirs_cls = define_drawer(temporalio.workflow, TheirIdGenerator)
    run = TemporalioRun(theirs_cls, randomness_seed=seed)
    [command] = run.start().successful.commands
    theirs = temporalio.converter.DataConverter.default.payload_converter.from_payload(
        command.complete_workflow_execution.result
    )
    assert ours == theirs
    assert ours[1] == ours[6]  # new_random() starts where random() starts


# ------------------------------------------------------------ update-with-start spans


@workflow.defn
class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        return self.count

    @workflow.update
    def add(self, amount: int) -> int:
        self.count += amount
        self.done = True
        return self.count

    @add.validator
    def check_add(self, amount: int) -> None:
        if amount < 0:
            raise ValueError("negative")


def _span_tree(spans: Any) -> list[str]:
    names = {s.context.span_id: s.name for s in spans}
    lines = []
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        parent = names.get(span.parent.span_id) if span.parent else None
        links = sorted(names.get(link.context.span_id, "?") for link in span.links)
        lines.append(f"{span.name} <- {parent} links={links}")
    return lines


async def test_update_with_start_spans_are_temporalios(client, task_queue):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    traced = Client(
        **{
            **client.config(),
            "interceptors": [hotmesh_temporal.contrib.opentelemetry.TracingInterceptor(tracer)],
        }
    )
    workflow_id = f"uws-{uuid.uuid4()}"
    async with Worker(traced, task_queue=task_queue, workflows=[Counter]):
        start = WithStartWorkflowOperation(
            Counter.run,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        result = await traced.execute_update_with_start_workflow(
            Counter.add, 5, start_workflow_operation=start, id="add-1"
        )
        assert result == 5
        assert await (await start.workflow_handle()).result() == 5

    spans = exporter.get_finished_spans()
    by_name = {s.name: s for s in spans}
    client_span = by_name["StartUpdateWithStartWorkflow:Counter"]
    # temporalio's client span: CLIENT kind, the workflow id and the update id.
    assert client_span.kind == opentelemetry.trace.SpanKind.CLIENT
    assert dict(client_span.attributes or {}) == {
        "temporalWorkflowID": workflow_id,
        "temporalUpdateID": "add-1",
    }
    origin = "StartUpdateWithStartWorkflow:Counter"
    tree = _span_tree(spans)
    # The run, the validator and the handler are in the start's trace, under its
    # span; the update's spans link to it (the update carried the start's header).
    assert f"RunWorkflow:Counter <- {origin} links=[]" in tree
    assert f"ValidateUpdate:add <- {origin} links=['{origin}']" in tree
    assert f"HandleUpdate:add <- {origin} links=['{origin}']" in tree
    assert f"CompleteWorkflow:Counter <- {origin} links=[]" in tree
    assert len({s.context.trace_id for s in spans}) == 1


# ------------------------------------------------------------ context around activities

_LEAK_KEY = opentelemetry.context.create_key("hotmesh-leak-test")


@activity.defn
async def leaves_context_attached() -> str:
    # Attached and never detached: it must not outlive this attempt.
    opentelemetry.context.attach(opentelemetry.context.set_value(_LEAK_KEY, "leaked"))
    return opentelemetry.trace.get_current_span().name  # type: ignore[attr-defined]


@activity.defn
async def reads_context() -> list:
    return [
        opentelemetry.trace.get_current_span().name,  # type: ignore[attr-defined]
        opentelemetry.context.get_value(_LEAK_KEY),
    ]


@workflow.defn
class TwoActivities:
    @workflow.run
    async def run(self) -> list:
        first = await workflow.execute_activity(
            leaves_context_attached, start_to_close_timeout=timedelta(seconds=10)
        )
        second = await workflow.execute_activity(
            reads_context, start_to_close_timeout=timedelta(seconds=10)
        )
        return [first, second]


async def test_context_attached_by_an_activity_does_not_leak(client, task_queue):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    traced = Client(
        **{
            **client.config(),
            "interceptors": [
                hotmesh_temporal.contrib.opentelemetry.TracingInterceptor(
                    provider.get_tracer("test")
                )
            ],
        }
    )
    async with Worker(
        traced,
        task_queue=task_queue,
        workflows=[TwoActivities],
        activities=[leaves_context_attached, reads_context],
        max_concurrent_activities=1,  # the same slot, one after the other
    ):
        result = await traced.execute_workflow(
            TwoActivities.run, id=f"leak-{uuid.uuid4()}", task_queue=task_queue
        )
    assert result == [
        "RunActivity:leaves_context_attached",
        ["RunActivity:reads_context", None],
    ]
    assert opentelemetry.context.get_value(_LEAK_KEY) is None
    assert not opentelemetry.trace.get_current_span().get_span_context().is_valid
