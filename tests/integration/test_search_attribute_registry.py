"""Registered custom search attributes (schema/0013): a namespace that registers none
accepts any custom attribute; once it registers one, it behaves as a Temporal server
(observed on `temporal server start-dev` 1.x with temporalio 1.35): unregistered names
and values of the wrong type are refused at start, in schedules and in list filters,
and a workflow task upserting one fails and is retried while the run stays open."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal._engine.service.search_attributes import SearchAttributeRegistry
from hotmesh_temporal.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
    WorkflowExecutionStatus,
)
from hotmesh_temporal.common import (
    SearchAttributeIndexedValueType,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)
from hotmesh_temporal.service import RPCError, RPCStatusCode
from hotmesh_temporal.worker import Worker

COLOR = SearchAttributeKey.for_keyword("Color")
SIZE = SearchAttributeKey.for_int("Size")
UNREGISTERED = SearchAttributeKey.for_keyword("Unregistered")


def attrs(*pairs: SearchAttributePair) -> TypedSearchAttributes:
    return TypedSearchAttributes(list(pairs))


@workflow.defn
class Upserter:
    @workflow.run
    async def run(self, which: str) -> str:
        key = UNREGISTERED if which == "unregistered" else COLOR
        workflow.upsert_search_attributes([key.value_set("x")])
        await workflow.sleep(0.05)
        return "upserted"


@workflow.defn
class ChildStarter:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_child_workflow(
            Upserter.run,
            "registered",
            id=f"child-{workflow.uuid4()}",
            search_attributes=attrs(SearchAttributePair(UNREGISTERED, "c")),
        )


@pytest.fixture
async def ns_client(dsn: str) -> Client:
    """A client on a namespace of its own: registration is per namespace."""
    return await Client.connect(dsn, namespace=f"registry-{uuid.uuid4().hex[:8]}")


async def registry(client: Client) -> SearchAttributeRegistry:
    return (await client._engine()).search_attributes(client.namespace)


async def test_without_registrations_any_custom_attribute_is_accepted(ns_client, task_queue):
    handle = await ns_client.start_workflow(
        Upserter.run,
        "unregistered",
        id=f"free-{uuid.uuid4()}",
        task_queue=task_queue,
        search_attributes=attrs(SearchAttributePair(UNREGISTERED, "v")),
    )
    async with Worker(ns_client, task_queue=task_queue, workflows=[Upserter]):
        assert await handle.result() == "upserted"
    assert [e async for e in ns_client.list_workflows("Unregistered = 'x'")]


async def test_register_list_remove_and_reserved_names(ns_client, dsn):
    reg = await registry(ns_client)
    assert await reg.registered() == {}
    await reg.register({"Color": SearchAttributeIndexedValueType.KEYWORD, "Size": 3})
    # A name registered already keeps its first type (as the dev server does).
    await reg.register({"Color": "Int"})
    assert await reg.registered() == {
        "Color": SearchAttributeIndexedValueType.KEYWORD,
        "Size": SearchAttributeIndexedValueType.INT,
    }
    with pytest.raises(RPCError) as err:
        await reg.register({"WorkflowId": SearchAttributeIndexedValueType.KEYWORD})
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert err.value.message == "Search attribute WorkflowId is reserved by system."
    with pytest.raises(RPCError, match="unknown search attribute type"):
        await reg.register({"Shape": "Polygon"})
    await reg.remove(["Size", "NeverRegistered"])
    assert list(await reg.registered()) == ["Color"]
    # Registration is per namespace.
    other = await Client.connect(dsn, namespace=f"{ns_client.namespace}-b")
    assert await (await registry(other)).registered() == {}


async def test_start_refuses_unregistered_names_and_wrong_types(ns_client, task_queue):
    await (await registry(ns_client)).register({"Color": "Keyword", "Size": "Int"})
    cases = {
        "Namespace {ns} has no mapping defined for search attribute Unregistered": attrs(
            SearchAttributePair(UNREGISTERED, "v")
        ),
        "invalid value for search attribute Size of type Int: v": attrs(
            SearchAttributePair(SearchAttributeKey.for_keyword("Size"), "v")
        ),
        "invalid value for search attribute Size of type Int: 5": attrs(
            SearchAttributePair(SearchAttributeKey.for_keyword("Size"), "5")
        ),
    }
    for message, search_attributes in cases.items():
        workflow_id = f"refused-{uuid.uuid4()}"
        with pytest.raises(RPCError) as err:
            await ns_client.start_workflow(
                Upserter.run,
                "registered",
                id=workflow_id,
                task_queue=task_queue,
                search_attributes=search_attributes,
            )
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
        assert err.value.message == message.format(ns=ns_client.namespace)
        with pytest.raises(RPCError):  # nothing was written
            await ns_client.get_workflow_handle(workflow_id).describe()
    # Registered names with fitting values start; the untyped form too.
    ok = await ns_client.start_workflow(
        Upserter.run,
        "registered",
        id=f"ok-{uuid.uuid4()}",
        task_queue=task_queue,
        search_attributes=attrs(SearchAttributePair(COLOR, "red"), SearchAttributePair(SIZE, 4)),
    )
    with pytest.warns(DeprecationWarning):
        legacy = await ns_client.start_workflow(
            Upserter.run,
            "registered",
            id=f"ok-{uuid.uuid4()}",
            task_queue=task_queue,
            search_attributes={"Color": ["blue"]},
        )
    assert (await legacy.describe()).search_attributes == {"Color": ["blue"]}
    for handle in (ok, legacy):
        await handle.terminate()


async def test_list_and_count_refuse_unregistered_names(ns_client):
    await (await registry(ns_client)).register({"Color": "Keyword"})
    message = "invalid query: invalid search attribute: Unregistered"
    with pytest.raises(RPCError) as err:
        [e async for e in ns_client.list_workflows("Unregistered = 'x'")]
    assert (err.value.status, err.value.message) == (RPCStatusCode.INVALID_ARGUMENT, message)
    with pytest.raises(RPCError) as err:
        await ns_client.count_workflows("Color = 'red' OR Unregistered = 'x'")
    assert (err.value.status, err.value.message) == (RPCStatusCode.INVALID_ARGUMENT, message)
    assert (await ns_client.count_workflows("Color = 'red' AND WorkflowType = 'X'")).count == 0


async def test_schedules_refuse_unregistered_attributes(ns_client, task_queue):
    await (await registry(ns_client)).register({"Color": "Keyword"})
    spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))])
    bad = attrs(SearchAttributePair(UNREGISTERED, "v"))
    message = (
        f"Namespace {ns_client.namespace} has no mapping defined for search attribute Unregistered"
    )
    action = ScheduleActionStartWorkflow(Upserter.run, "registered", id="s", task_queue=task_queue)
    with pytest.raises(RPCError, match=message):
        await ns_client.create_schedule(
            "s1", Schedule(action=action, spec=spec), search_attributes=bad
        )
    with_bad_action = ScheduleActionStartWorkflow(
        Upserter.run, "registered", id="s", task_queue=task_queue, typed_search_attributes=bad
    )
    with pytest.raises(RPCError, match=message):
        await ns_client.create_schedule("s2", Schedule(action=with_bad_action, spec=spec))
    assert [s async for s in await ns_client.list_schedules()] == []
    with pytest.raises(RPCError, match="invalid query: invalid search attribute: Unregistered"):
        [s async for s in await ns_client.list_schedules(query="Unregistered = 'x'")]
    assert [s async for s in await ns_client.list_schedules(query="Color = 'x'")] == []


async def test_upserting_an_unregistered_attribute_fails_the_task_and_the_run_stays_open(
    ns_client, task_queue, caplog
):
    await (await registry(ns_client)).register({"Color": "Keyword"})
    async with Worker(ns_client, task_queue=task_queue, workflows=[Upserter, ChildStarter]):
        good = await ns_client.execute_workflow(
            Upserter.run, "registered", id=f"good-{uuid.uuid4()}", task_queue=task_queue
        )
        assert good == "upserted"
        with caplog.at_level(logging.WARNING):
            for run in (
                ns_client.start_workflow(
                    Upserter.run, "unregistered", id=f"bad-{uuid.uuid4()}", task_queue=task_queue
                ),
                ns_client.start_workflow(
                    ChildStarter.run, id=f"parent-{uuid.uuid4()}", task_queue=task_queue
                ),
            ):
                handle = await run
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(handle.result(), 2.5)
                description = await handle.describe()
                assert description.status == WorkflowExecutionStatus.RUNNING
                # The task is retried: nothing past the first task's scheduling is kept.
                events = (await handle.fetch_history()).events
                assert [e.event_type for e in events] == [1, 5]
                await handle.terminate()
    assert "BadSearchAttributes: Namespace" in caplog.text
