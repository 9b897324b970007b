"""Memo and search attributes: set at start, upserted by workflow code, seen by
workflow.info(), describe() and history as Temporal writes them."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.api.common.v1 import Payload
from hotmesh_temporal.client import Client
from hotmesh_temporal.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)
from hotmesh_temporal.converter import DataConverter, PayloadCodec
from hotmesh_temporal.service import RPCError, RPCStatusCode
from hotmesh_temporal.worker import Worker

KEYWORD = SearchAttributeKey.for_keyword("CustomKeywordField")
TEXT = SearchAttributeKey.for_text("CustomTextField")
INT = SearchAttributeKey.for_int("CustomIntField")
FLOAT = SearchAttributeKey.for_float("CustomDoubleField")
BOOL = SearchAttributeKey.for_bool("CustomBoolField")
DATETIME = SearchAttributeKey.for_datetime("CustomDatetimeField")
KEYWORDS = SearchAttributeKey.for_keyword_list("CustomKeywordListField")
WHEN = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=timezone.utc)


def wf_id() -> str:
    return f"sa-{uuid.uuid4()}"


def typed_view(info: workflow.Info) -> dict[str, Any]:
    return {pair.key.name: pair.value for pair in info.typed_search_attributes}


@workflow.defn
class UpsertingWorkflow:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self) -> dict[str, Any]:
        seen: dict[str, Any] = {
            "start": typed_view(workflow.info()),
            "memo_start": dict(workflow.memo()),
        }
        workflow.upsert_search_attributes(
            [
                INT.value_set(7),
                FLOAT.value_set(2.5),
                BOOL.value_set(True),
                DATETIME.value_set(WHEN),
                KEYWORDS.value_set(["a", "b"]),
                TEXT.value_set("some text"),
            ]
        )
        workflow.upsert_search_attributes([KEYWORD.value_unset()])
        workflow.upsert_memo({"added": {"n": 1}, "gone": None})
        seen["after"] = typed_view(workflow.info())
        seen["legacy_after"] = {k: v for k, v in workflow.info().search_attributes.items()}
        seen["memo_after"] = dict(workflow.memo())
        seen["memo_value"] = workflow.memo_value("added")
        seen["memo_default"] = workflow.memo_value("gone", "dflt")
        await workflow.wait_condition(lambda: self.go)
        return seen

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


def _decode(payload: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in payload["metadata"].items()}


async def test_start_upsert_describe_and_history(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[UpsertingWorkflow]):
        handle = await client.start_workflow(
            UpsertingWorkflow.run,
            id=wf_id(),
            task_queue=task_queue,
            memo={"gone": "soon", "kept": [1, 2]},
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(KEYWORD, "start-kw"), SearchAttributePair(INT, 1)]
            ),
        )
        # describe() while running, after the upserts are recorded
        for _ in range(100):
            desc = await handle.describe()
            if desc.typed_search_attributes.get(BOOL) is not None:
                break
            import asyncio

            await asyncio.sleep(0.05)
        assert desc.typed_search_attributes[INT] == 7
        assert desc.typed_search_attributes[FLOAT] == 2.5
        assert desc.typed_search_attributes[BOOL] is True
        assert desc.typed_search_attributes[DATETIME] == WHEN
        assert list(desc.typed_search_attributes[KEYWORDS]) == ["a", "b"]
        assert desc.typed_search_attributes[TEXT] == "some text"
        assert KEYWORD not in desc.typed_search_attributes
        assert desc.search_attributes["CustomIntField"] == [7]
        assert await desc.memo() == {"kept": [1, 2], "added": {"n": 1}}
        assert await desc.memo_value("added") == {"n": 1}
        assert await desc.memo_value("gone", None) is None
        with pytest.raises(KeyError):
            await desc.memo_value("gone")

        await handle.signal(UpsertingWorkflow.proceed)
        seen = await handle.result()

    assert seen["start"] == {"CustomKeywordField": "start-kw", "CustomIntField": 1}
    assert seen["memo_start"] == {"gone": "soon", "kept": [1, 2]}
    after = seen["after"]
    assert after["CustomIntField"] == 7 and "CustomKeywordField" not in after
    assert after["CustomKeywordListField"] == ["a", "b"]
    assert seen["legacy_after"]["CustomKeywordField"] == []
    assert seen["memo_after"] == {"kept": [1, 2], "added": {"n": 1}}
    assert seen["memo_value"] == {"n": 1}
    assert seen["memo_default"] == "dflt"

    store = (await client._engine()).store
    events = await store.fetchval("events_after", uuid.UUID(handle.result_run_id), 0)
    started = events[0]["attrs"]["searchAttributes"]["indexedFields"]
    assert _decode(started["CustomKeywordField"])["type"] == "Keyword"
    upserts = [e for e in events if e["type"] == "UpsertWorkflowSearchAttributes"]
    assert len(upserts) == 2
    fields = upserts[0]["attrs"]["searchAttributes"]["indexedFields"]
    assert {k: _decode(v)["type"] for k, v in fields.items()} == {
        "CustomIntField": "Int",
        "CustomDoubleField": "Double",
        "CustomBoolField": "Bool",
        "CustomDatetimeField": "Datetime",
        "CustomKeywordListField": "KeywordList",
        "CustomTextField": "Text",
    }
    assert upserts[0]["attrs"]["workflowTaskCompletedEventId"]
    assert _decode(
        upserts[1]["attrs"]["searchAttributes"]["indexedFields"]["CustomKeywordField"]
    ) == {"encoding": "binary/null"}
    modified = [e for e in events if e["type"] == "WorkflowPropertiesModified"]
    assert len(modified) == 1
    assert set(modified[0]["attrs"]["upsertedMemo"]["fields"]) == {"added", "gone"}


@workflow.defn
class LegacyWorkflow:
    @workflow.run
    async def run(self) -> list[Any]:
        before = dict(workflow.info().search_attributes)
        workflow.upsert_search_attributes({"CustomKeywordField": ["legacy"], "CustomIntField": []})
        return [before, dict(workflow.info().search_attributes), typed_view(workflow.info())]


async def test_legacy_dict_search_attributes(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[LegacyWorkflow]):
        with pytest.warns(DeprecationWarning):
            handle = await client.start_workflow(
                LegacyWorkflow.run,
                id=wf_id(),
                task_queue=task_queue,
                search_attributes={"CustomIntField": [3], "CustomKeywordListField": ["x", "y"]},
            )
        before, after, typed = await handle.result()
    assert before == {"CustomIntField": [3], "CustomKeywordListField": ["x", "y"]}
    assert after == {
        "CustomIntField": [],
        "CustomKeywordListField": ["x", "y"],
        "CustomKeywordField": ["legacy"],
    }
    assert typed == {"CustomKeywordListField": ["x", "y"], "CustomKeywordField": "legacy"}
    desc = await handle.describe()
    # The run's row keeps the typed view too: the deprecated form's types are guessed.
    assert desc.typed_search_attributes.get(KEYWORD) == "legacy"
    assert INT not in desc.typed_search_attributes


@workflow.defn
class ContinuingWorkflow:
    @workflow.run
    async def run(self, left: int) -> dict[str, Any]:
        if left > 0:
            workflow.upsert_search_attributes([INT.value_set(left)])
            workflow.upsert_memo({f"m{left}": left})
            workflow.continue_as_new(left - 1)
        return {"sa": typed_view(workflow.info()), "memo": dict(workflow.memo())}


async def test_continue_as_new_carries_search_attributes_and_memo(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[ContinuingWorkflow]):
        result = await client.execute_workflow(
            ContinuingWorkflow.run,
            2,
            id=wf_id(),
            task_queue=task_queue,
            memo={"origin": "client"},
            search_attributes=TypedSearchAttributes([SearchAttributePair(KEYWORD, "carried")]),
        )
    assert result["sa"] == {"CustomKeywordField": "carried", "CustomIntField": 1}
    assert result["memo"] == {"origin": "client", "m2": 2, "m1": 1}


async def test_bad_search_attribute_value_is_refused_before_anything_is_written(client, task_queue):
    workflow_id = wf_id()
    with pytest.raises(TypeError):
        await client.start_workflow(
            "Anything",
            id=workflow_id,
            task_queue=task_queue,
            search_attributes=TypedSearchAttributes([SearchAttributePair(INT, "not an int")]),  # type: ignore[arg-type]
        )
    with pytest.raises(RPCError) as err:
        await client.get_workflow_handle(workflow_id).describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND


class XorCodec(PayloadCodec):
    """A codec that makes payloads unreadable without it."""

    async def encode(self, payloads):
        return [
            Payload(metadata={"encoding": b"xor"}, data=p.SerializeToString()[::-1])
            for p in payloads
        ]

    async def decode(self, payloads):
        return [Payload.FromString(p.data[::-1]) for p in payloads]


async def test_memo_goes_through_the_codec_across_continue_as_new(client, task_queue):
    codec_client = Client(
        **{**client.config(), "data_converter": DataConverter(payload_codec=XorCodec())}
    )
    async with Worker(codec_client, task_queue=task_queue, workflows=[ContinuingWorkflow]):
        handle = await codec_client.start_workflow(
            ContinuingWorkflow.run, 1, id=wf_id(), task_queue=task_queue, memo={"origin": "client"}
        )
        result = await handle.result()
    assert result["memo"] == {"origin": "client", "m1": 1}
    desc = await codec_client.get_workflow_handle(handle.id).describe()
    assert desc.run_id != handle.first_execution_run_id
    assert await desc.memo() == {"origin": "client", "m1": 1}
    stored = desc.raw_info.memo.fields
    assert {p.metadata["encoding"] for p in stored.values()} == {b"xor"}


async def test_built_in_names_are_reserved(client, task_queue):
    workflow_id = wf_id()
    with pytest.raises(RPCError) as err:
        await client.start_workflow(
            "Anything",
            id=workflow_id,
            task_queue=task_queue,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(SearchAttributeKey.for_keyword("WorkflowType"), "x")]
            ),
        )
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert "WorkflowType is reserved" in err.value.message
    with pytest.raises(RPCError):
        await client.get_workflow_handle(workflow_id).describe()


@workflow.defn
class ReplayedUpserts:
    @workflow.run
    async def run(self) -> list[Any]:
        workflow.upsert_search_attributes([INT.value_set(1), KEYWORD.value_set("one")])
        workflow.upsert_memo({"step": 1})
        await workflow.sleep(0.05)
        workflow.upsert_search_attributes([INT.value_set(2), KEYWORD.value_unset()])
        workflow.upsert_memo({"step": 2})
        await workflow.sleep(0.05)
        return [typed_view(workflow.info()), dict(workflow.memo())]


async def test_upserts_are_rebuilt_on_replay_without_cache(client, task_queue):
    async with Worker(
        client, task_queue=task_queue, workflows=[ReplayedUpserts], max_cached_workflows=0
    ):
        typed, memo = await client.execute_workflow(
            ReplayedUpserts.run, id=wf_id(), task_queue=task_queue
        )
    assert typed == {"CustomIntField": 2}
    assert memo == {"step": 2}
