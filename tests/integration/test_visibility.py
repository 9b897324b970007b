"""list_workflows / count_workflows with Temporal's list-filter language, and
describe()'s pending activities, against a real database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import (
    Client,
    CountWorkflowsInput,
    Interceptor,
    ListWorkflowsInput,
    OutboundInterceptor,
    WorkflowExecution,
    WorkflowExecutionAsyncIterator,
    WorkflowExecutionCount,
    WorkflowExecutionStatus,
)
from hotmesh_temporal.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from hotmesh_temporal.exceptions import ApplicationError
from hotmesh_temporal.service import RPCError, RPCStatusCode
from hotmesh_temporal.worker import Worker

KEYWORD = SearchAttributeKey.for_keyword("CustomKeywordField")
INT = SearchAttributeKey.for_int("CustomIntField")
DOUBLE = SearchAttributeKey.for_float("CustomDoubleField")
BOOL = SearchAttributeKey.for_bool("CustomBoolField")
DATETIME = SearchAttributeKey.for_datetime("CustomDatetimeField")
KEYWORDS = SearchAttributeKey.for_keyword_list("CustomKeywordListField")
BASE = datetime(2024, 1, 1, tzinfo=timezone.utc)


@workflow.defn
class Finishes:
    @workflow.run
    async def run(self, outcome: str) -> str:
        if outcome == "fail":
            raise ApplicationError("failed on purpose", non_retryable=True)
        if outcome == "wait":
            await workflow.wait_condition(lambda: False)
        return outcome


@workflow.defn(name="OtherType")
class OtherType:
    @workflow.run
    async def run(self, outcome: str) -> str:
        return outcome


async def _wait_closed(handle) -> None:
    for _ in range(200):
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("run did not close")


@pytest.fixture(scope="module")
async def population(client):
    """Six runs in one task queue: 3 completed, 1 failed, 2 running; varied attributes."""
    tag = uuid.uuid4().hex[:8]
    task_queue = f"tq-vis-{tag}"
    specs = [
        ("done", Finishes, 1, "alpha", ["red"]),
        ("done", Finishes, 2, "beta", ["red", "blue"]),
        ("done", OtherType, 3, "alpha-2", []),
        ("fail", Finishes, 4, "gamma", ["green"]),
        ("wait", Finishes, 5, "delta", ["blue"]),
        ("wait", Finishes, 6, None, None),
    ]
    handles = []
    async with Worker(client, task_queue=task_queue, workflows=[Finishes, OtherType]):
        for outcome, wf, n, keyword, keywords in specs:
            pairs = [
                SearchAttributePair(INT, n),
                SearchAttributePair(DOUBLE, n / 2),
                SearchAttributePair(BOOL, n % 2 == 0),
                SearchAttributePair(DATETIME, BASE + timedelta(days=n)),
            ]
            if keyword is not None:
                pairs.append(SearchAttributePair(KEYWORD, keyword))
            if keywords:
                pairs.append(SearchAttributePair(KEYWORDS, keywords))
            handles.append(
                await client.start_workflow(
                    wf.run,
                    outcome,
                    id=f"vis-{tag}-{n}",
                    task_queue=task_queue,
                    memo={"n": n},
                    search_attributes=TypedSearchAttributes(pairs),
                )
            )
        for handle, spec in zip(handles, specs, strict=True):
            if spec[0] != "wait":
                await _wait_closed(handle)
        yield {"tag": tag, "queue": task_queue, "handles": handles}
        for handle in handles[4:]:
            await handle.terminate("test over")


async def _ids(client, query: str) -> list[int]:
    found = [wf async for wf in client.list_workflows(query)]
    return sorted(int(wf.id.rsplit("-", 1)[1]) for wf in found)


FILTERS = [
    ("ExecutionStatus = 'Completed'", [1, 2, 3]),
    ("ExecutionStatus = 'Running'", [5, 6]),
    ("ExecutionStatus != 'Running'", [1, 2, 3, 4]),
    ("ExecutionStatus IN ('Failed', 'Running')", [4, 5, 6]),
    ("ExecutionStatus NOT IN ('Failed', 'Running')", [1, 2, 3]),
    ("WorkflowType = 'OtherType'", [3]),
    ("WorkflowType != 'OtherType' AND CustomIntField < 3", [1, 2]),
    ("CustomIntField >= 2 AND CustomIntField <= 4", [2, 3, 4]),
    ("CustomIntField BETWEEN 2 AND 4", [2, 3, 4]),
    ("CustomIntField NOT BETWEEN 2 AND 4", [1, 5, 6]),
    ("CustomIntField IN (1, 6)", [1, 6]),
    ("CustomIntField NOT IN (1, 6)", [2, 3, 4, 5]),
    ("CustomDoubleField > 2.25", [5, 6]),
    ("CustomBoolField = true", [2, 4, 6]),
    ("CustomBoolField = false", [1, 3, 5]),
    ("CustomKeywordField = 'alpha'", [1]),
    ("`CustomKeywordField` = 'alpha'", [1]),
    ("CustomKeywordField STARTS_WITH 'alpha'", [1, 3]),
    ("CustomKeywordField IS NULL", [6]),
    ("CustomKeywordField IS NOT NULL", [1, 2, 3, 4, 5]),
    ("CustomKeywordListField = 'red'", [1, 2]),
    ("CustomKeywordListField IN ('green', 'blue')", [2, 4, 5]),
    ("CustomDatetimeField > '2024-01-04T00:00:00Z'", [4, 5, 6]),
    ("CustomDatetimeField <= '2024-01-03T01:00:00+01:00'", [1, 2]),
    ("CustomDatetimeField = '2024-01-02T00:00:00Z'", [1]),
    ("(CustomIntField = 1 OR CustomIntField = 5) AND ExecutionStatus = 'Running'", [5]),
    ("CustomIntField = 1 OR (CustomIntField = 5 AND ExecutionStatus = 'Running')", [1, 5]),
    ("CloseTime IS NULL", [5, 6]),
    ("CloseTime IS NOT NULL AND ExecutionStatus = 'Failed'", [4]),
    (
        "StartTime > '2000-01-01T00:00:00Z' AND ExecutionTime > '2000-01-01T00:00:00Z'",
        [1, 2, 3, 4, 5, 6],
    ),
    ("HistoryLength > 0", [1, 2, 3, 4, 5, 6]),
    ("ParentWorkflowId IS NULL AND RootWorkflowId STARTS_WITH 'vis-'", [1, 2, 3, 4, 5, 6]),
]


@pytest.mark.parametrize("where,expected", FILTERS)
async def test_filters(client, population, where, expected):
    query = f"TaskQueue = '{population['queue']}' AND ({where})"
    assert await _ids(client, query) == expected
    count = await client.count_workflows(query)
    assert isinstance(count, WorkflowExecutionCount)
    assert count.count == len(expected) and count.groups == []


async def test_workflow_execution_fields(client, population):
    first = population["handles"][0]
    found = [wf async for wf in client.list_workflows(f"WorkflowId = '{first.id}'")]
    assert len(found) == 1
    wf = found[0]
    assert isinstance(wf, WorkflowExecution)
    assert wf.id == first.id and wf.run_id == first.result_run_id
    assert wf.workflow_type == "Finishes" and wf.task_queue == population["queue"]
    assert wf.status == WorkflowExecutionStatus.COMPLETED
    assert wf.start_time <= wf.close_time and wf.execution_time == wf.start_time
    assert wf.history_length >= 5 and wf.namespace == client.namespace
    assert wf.parent_id is None and wf.parent_run_id is None
    assert (wf.root_id, wf.root_run_id) == (wf.id, wf.run_id)  # a top-level run is its own root
    assert await wf.memo() == {"n": 1} and await wf.memo_value("n") == 1
    assert wf.typed_search_attributes[INT] == 1 and wf.typed_search_attributes[KEYWORD] == "alpha"
    assert wf.search_attributes["CustomKeywordField"] == ["alpha"]
    assert wf.raw_info.execution.workflow_id == first.id and wf.raw_info.type.name == "Finishes"
    assert wf.raw_info.status == int(WorkflowExecutionStatus.COMPLETED)
    assert wf.raw_info.HasField("close_time") and not wf.raw_info.HasField("parent_execution")


async def test_order_by_limit_and_pages(client, population):
    base = f"TaskQueue = '{population['queue']}'"
    desc = [wf.id async for wf in client.list_workflows(f"{base} ORDER BY CustomIntField DESC")]
    assert [int(i.rsplit("-", 1)[1]) for i in desc] == [6, 5, 4, 3, 2, 1]
    by_two = [
        wf.id
        async for wf in client.list_workflows(
            f"{base} ORDER BY ExecutionStatus asc, `CustomIntField` DESC"
        )
    ]
    assert [int(i.rsplit("-", 1)[1]) for i in by_two] == [6, 5, 3, 2, 1, 4]
    limited = [
        wf
        async for wf in client.list_workflows(
            f"{base} ORDER BY CustomIntField", limit=4, page_size=3
        )
    ]
    assert [wf.typed_search_attributes[INT] for wf in limited] == [1, 2, 3, 4]

    iterator = client.list_workflows(f"{base} ORDER BY CustomIntField", page_size=4)
    assert isinstance(iterator, WorkflowExecutionAsyncIterator)
    await iterator.fetch_next_page()
    assert [wf.typed_search_attributes[INT] for wf in iterator.current_page] == [1, 2, 3, 4]
    token = iterator.next_page_token
    assert token is not None
    rest = [
        wf.typed_search_attributes[INT]
        async for wf in client.list_workflows(
            f"{base} ORDER BY CustomIntField", page_size=4, next_page_token=token
        )
    ]
    assert rest == [5, 6]
    await iterator.fetch_next_page()
    assert iterator.next_page_token is None and len(iterator.current_page) == 2


async def test_pages_neither_repeat_nor_skip_while_runs_start(client, population):
    late = f"late-{uuid.uuid4().hex[:8]}"
    query = f"TaskQueue = '{population['queue']}' OR WorkflowId STARTS_WITH '{late}'"
    seen = []
    async for wf in client.list_workflows(query, page_size=2):
        seen.append(wf.id)
        if len(seen) % 2 == 0:  # a newer run, so first in this order, starts between pages
            handle = await client.start_workflow(
                "NotRun", id=f"{late}-{len(seen)}", task_queue=late
            )
            await handle.terminate()
    assert seen == [h.id for h in reversed(population["handles"])]


async def test_default_order_is_newest_first(client, population):
    ids = [wf.id async for wf in client.list_workflows(f"TaskQueue = '{population['queue']}'")]
    assert [int(i.rsplit("-", 1)[1]) for i in ids] == [6, 5, 4, 3, 2, 1]


async def test_count_group_by_status(client, population):
    count = await client.count_workflows(
        f"TaskQueue = '{population['queue']}' GROUP BY ExecutionStatus"
    )
    assert count.count == 6
    groups = {tuple(g.group_values): g.count for g in count.groups}
    assert groups == {("Completed",): 3, ("Failed",): 1, ("Running",): 2}
    ordered = await client.count_workflows(
        f"TaskQueue = '{population['queue']}' ORDER BY CustomIntField"
    )
    assert ordered.count == 6  # ORDER BY does not change a count


@pytest.mark.parametrize(
    "query,position",
    [
        ("WorkflowId = ", 13),
        ("WorkflowId == 'x'", 12),
        ("ExecutionStatus = 'Sleeping'", 18),
        ("StartTime > 'yesterday'", 12),
        ("(WorkflowId = 'x'", 17),
        ("WorkflowId = 'x' ORDER BY", 25),
        ("WorkflowId = 'x'; DROP TABLE executions", 16),
        ("CustomIntField ~ 3", 15),
        ("ORDER BY CustomIntField GROUP BY ExecutionStatus", 24),
    ],
)
async def test_bad_filter_is_invalid_argument_naming_the_position(client, query, position):
    with pytest.raises(RPCError) as err:
        [wf async for wf in client.list_workflows(query)]
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert f"position {position}" in err.value.message
    with pytest.raises(RPCError) as err:
        await client.count_workflows(query)
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT


async def test_group_by_in_list_and_bad_page_token_are_invalid(client):
    with pytest.raises(RPCError) as err:
        [wf async for wf in client.list_workflows("GROUP BY ExecutionStatus")]
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    with pytest.raises(RPCError) as err:
        await client.list_workflows(next_page_token=b"garbage").fetch_next_page()
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT


@activity.defn
async def slow_activity(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "slept"


@workflow.defn
class WithActivity:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            slow_activity, 30.0, start_to_close_timeout=timedelta(seconds=60), activity_id="act-1"
        )


async def test_describe_pending_activities(client, task_queue):
    async with Worker(
        client, task_queue=task_queue, workflows=[WithActivity], activities=[slow_activity]
    ):
        handle = await client.start_workflow(
            WithActivity.run, id=f"pa-{uuid.uuid4()}", task_queue=task_queue
        )
        for _ in range(200):
            desc = await handle.describe()
            pending = desc.raw_description.pending_activities
            if pending and pending[0].state == 2:
                break
            await asyncio.sleep(0.05)
        assert len(pending) == 1
        info = pending[0]
        assert info.activity_type.name == "slow_activity" and info.activity_id == "act-1"
        assert info.state == 2  # PENDING_ACTIVITY_STATE_STARTED
        assert info.attempt == 1 and info.last_started_time is not None
        assert info.expiration_time is None  # no schedule-to-close timeout was set
        assert desc.raw_description.workflow_execution_info.execution.workflow_id == handle.id
        assert desc.status == WorkflowExecutionStatus.RUNNING
        await handle.terminate()
    assert (await handle.describe()).raw_description.pending_activities == []


class _ListCountRecorder(Interceptor):
    def __init__(self) -> None:
        self.inputs: list = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        recorder = self

        class Outbound(OutboundInterceptor):
            def list_workflows(self, input: ListWorkflowsInput):
                recorder.inputs.append(input)
                input.query = f"{input.query} AND CustomIntField > 4"  # narrowed on the way
                return super().list_workflows(input)

            async def count_workflows(self, input: CountWorkflowsInput):
                recorder.inputs.append(input)
                return await super().count_workflows(input)

        return Outbound(next)


async def test_list_and_count_go_through_client_interceptors(client, population):
    recorder = _ListCountRecorder()
    config = client.config()
    intercepted = Client(**{**config, "interceptors": [recorder]})
    query = f"TaskQueue = '{population['queue']}'"
    found = [wf async for wf in intercepted.list_workflows(query, page_size=7, limit=9)]
    assert sorted(wf.typed_search_attributes[INT] for wf in found) == [5, 6]
    count = await intercepted.count_workflows(query, rpc_timeout=timedelta(seconds=3))
    assert count.count == 6
    listed, counted = recorder.inputs
    assert isinstance(listed, ListWorkflowsInput) and (listed.page_size, listed.limit) == (7, 9)
    assert isinstance(counted, CountWorkflowsInput) and counted.rpc_timeout == timedelta(seconds=3)
