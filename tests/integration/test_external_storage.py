"""External storage: payloads above the threshold go to the storage driver and
history holds only references; decoding resolves them, and a reference whose
stored payload is gone fails with the driver's error."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.api.common.v1 import Payload
from hotmesh_temporal.client import Client
from hotmesh_temporal.converter import (
    DataConverter,
    ExternalStorage,
    PayloadCodec,
    StorageDriver,
    StorageDriverClaim,
    StorageDriverRetrieveContext,
    StorageDriverStoreContext,
)
from hotmesh_temporal.worker import Worker

THRESHOLD = 1024


class DictDriver(StorageDriver):
    """Keeps stored payloads in a dict, keyed by a claim's ``key``."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def name(self) -> str:
        return "dict"

    async def store(
        self, context: StorageDriverStoreContext, payloads: Sequence[Payload]
    ) -> list[StorageDriverClaim]:
        claims = []
        for payload in payloads:
            key = uuid.uuid4().hex
            self.blobs[key] = payload.SerializeToString()
            claims.append(StorageDriverClaim(claim_data={"key": key}))
        return claims

    async def retrieve(
        self, context: StorageDriverRetrieveContext, claims: Sequence[StorageDriverClaim]
    ) -> list[Payload]:
        out = []
        for claim in claims:
            key = claim.claim_data["key"]
            if key not in self.blobs:
                raise LookupError(f"no stored payload for key {key}")
            out.append(Payload.FromString(self.blobs[key]))
        return out


@activity.defn
async def grow(text: str) -> str:
    return text + "A" * (4 * THRESHOLD)


@workflow.defn
class LargeWorkflow:
    @workflow.run
    async def run(self, text: str) -> str:
        grown = await workflow.execute_activity(
            grow, text, start_to_close_timeout=timedelta(seconds=30)
        )
        return grown + "B" * THRESHOLD


def _storing_client(client: Client, driver: DictDriver) -> Client:
    converter = dataclasses.replace(
        DataConverter.default,
        external_storage=ExternalStorage(drivers=[driver], payload_size_threshold=THRESHOLD),
    )
    return Client(**{**client.config(), "data_converter": converter})


async def _history_text(client: Client, workflow_id: str) -> str:
    store = (await client._engine()).store
    rows = await store.pool.fetch(
        f"SELECT h.attributes::text AS a FROM {store.schema}.history_events h "
        f"JOIN {store.schema}.executions r ON r.run_id = h.run_id WHERE r.workflow_id = $1",
        workflow_id,
    )
    assert rows, "no history rows found"
    return "\n".join(r["a"] for r in rows)


async def test_large_payloads_round_trip_through_the_driver(client, task_queue):
    driver = DictDriver()
    storing = _storing_client(client, driver)
    big_input = "I" * (2 * THRESHOLD)
    workflow_id = f"large-{uuid.uuid4()}"
    async with Worker(storing, task_queue=task_queue, workflows=[LargeWorkflow], activities=[grow]):
        result = await storing.execute_workflow(
            LargeWorkflow.run, big_input, id=workflow_id, task_queue=task_queue
        )
    assert result == big_input + "A" * (4 * THRESHOLD) + "B" * THRESHOLD
    # The input, the activity's input and result, and the workflow result were stored.
    assert len(driver.blobs) >= 4
    history = await _history_text(client, workflow_id)
    # Start input, activity input, activity result, workflow result: references.
    assert history.count('"externalPayloads"') >= 4
    for filler in ("I", "A", "B"):
        # A long run of one character, as text or inside base64 payload data.
        assert filler * 48 not in history
        assert base64.b64encode(filler.encode() * 3).decode() * 12 not in history


async def test_a_missing_stored_payload_fails_clearly(client, task_queue):
    driver = DictDriver()
    storing = _storing_client(client, driver)
    workflow_id = f"large-{uuid.uuid4()}"
    async with Worker(storing, task_queue=task_queue, workflows=[LargeWorkflow], activities=[grow]):
        handle = await storing.start_workflow(
            LargeWorkflow.run, "x", id=workflow_id, task_queue=task_queue
        )
        keys_before_result = set(driver.blobs)
        # Wait for the run to close, then lose the result's stored payload.
        async for event in handle.fetch_history_events(wait_new_event=True):
            if event.event_type == 2:  # WORKFLOW_EXECUTION_COMPLETED
                break
    for key in set(driver.blobs) - keys_before_result:
        del driver.blobs[key]
    with pytest.raises(LookupError, match="no stored payload for key"):
        await handle.result()
    # A client without external storage names the problem too.
    with pytest.raises(RuntimeError, match="external storage is not configured"):
        await client.get_workflow_handle(workflow_id).result()


def _legacy_reference(driver: DictDriver, value: str) -> Payload:
    """A reference as temporalio wrote them before its ExternalStorageReference
    message (encoding ``json/external-storage-reference``), made by temporalio's own
    converter, with ``value`` stored in ``driver``."""
    import temporalio.converter
    from temporalio.converter._extstore import _StorageReference

    stored = DataConverter.default.payload_converter.to_payloads([value])[0]
    key = uuid.uuid4().hex
    driver.blobs[key] = stored.SerializeToString()
    legacy = temporalio.converter.JSONPlainPayloadConverter(
        encoding="json/external-storage-reference"
    ).to_payload(
        _StorageReference(
            driver_name=driver.name(),
            driver_claim=temporalio.converter.StorageDriverClaim(claim_data={"key": key}),
        )
    )
    assert legacy is not None
    return Payload.FromString(legacy.SerializeToString())


@workflow.defn
class EchoWorkflow:
    @workflow.run
    async def run(self, text: str) -> int:
        return len(text)


async def test_legacy_references_are_resolved(client, task_queue):
    """A run started by a temporalio release that wrote legacy references still gets
    its input: the worker resolves them through the driver named in them."""
    from hotmesh_temporal.common import RawValue

    driver = DictDriver()
    storing = _storing_client(client, driver)
    big = "L" * (3 * THRESHOLD)
    assert await storing.data_converter.decode([_legacy_reference(driver, big)]) == [big]
    async with Worker(storing, task_queue=task_queue, workflows=[EchoWorkflow]):
        length = await storing.execute_workflow(
            EchoWorkflow.run,
            RawValue(_legacy_reference(driver, big)),
            id=f"legacy-{uuid.uuid4()}",
            task_queue=task_queue,
        )
    assert length == len(big)


class _Reversing:
    """A codec both SDKs can run: reverses the serialized payload's bytes."""

    async def encode(self, payloads: Sequence[Any]) -> list[Any]:
        cls = type(payloads[0]) if payloads else Payload
        return [
            cls(metadata={"encoding": b"binary/reversed"}, data=p.SerializeToString()[::-1])
            for p in payloads
        ]

    async def decode(self, payloads: Sequence[Any]) -> list[Any]:
        return [type(p).FromString(p.data[::-1]) for p in payloads]


class ReversingCodec(_Reversing, PayloadCodec):
    pass


async def test_codec_encoded_marked_references_are_resolved(monkeypatch):
    """A reference written through the payload codec and marked (as temporalio writes
    them once its _ENCODE_STORAGE_REFERENCES switch is on; 1.35 already reads them) is
    decoded with the codec, then resolved; without the codec it fails clearly."""
    import temporalio.api.common.v1
    import temporalio.converter
    from temporalio.converter import _extstore

    monkeypatch.setattr(_extstore, "_ENCODE_STORAGE_REFERENCES", True)
    driver = DictDriver()

    class TheirCodec(_Reversing, temporalio.converter.PayloadCodec):
        pass

    theirs = dataclasses.replace(
        temporalio.converter.DataConverter.default,
        payload_codec=TheirCodec(),
        external_storage=temporalio.converter.ExternalStorage(
            drivers=[driver],  # type: ignore[list-item]
            payload_size_threshold=THRESHOLD,
        ),
    )
    big = "M" * (3 * THRESHOLD)
    [written] = await theirs.encode([big])
    assert isinstance(written, temporalio.api.common.v1.Payload)
    assert written.metadata["__temporal_external_storage_reference"] == b"true"
    payload = Payload.FromString(written.SerializeToString())

    storage = ExternalStorage(drivers=[driver], payload_size_threshold=THRESHOLD)
    ours = dataclasses.replace(
        DataConverter.default, payload_codec=ReversingCodec(), external_storage=storage
    )
    assert await ours.decode([payload]) == [big]
    assert await ours._edge_codec.decode([payload]) == [
        DataConverter.default.payload_converter.to_payloads([big])[0]
    ]
    without_codec = dataclasses.replace(DataConverter.default, external_storage=storage)
    with pytest.raises(RuntimeError, match=r"\[TMPRL1106\]"):
        await without_codec.decode([payload])
    with pytest.raises(RuntimeError, match=r"\[TMPRL1105\]"):
        await DataConverter.default.decode([payload])


class OverlapDriver(DictDriver):
    """Notes how many store() calls run at once (each yields a few times)."""

    def __init__(self) -> None:
        super().__init__()
        self.running = 0
        self.most = 0

    async def store(
        self, context: StorageDriverStoreContext, payloads: Sequence[Payload]
    ) -> list[StorageDriverClaim]:
        self.running += 1
        self.most = max(self.most, self.running)
        for _ in range(5):
            await asyncio.sleep(0)
        self.running -= 1
        return await super().store(context, payloads)


@activity.defn
async def measure(text: str) -> int:
    return len(text)


@workflow.defn
class FanOutWorkflow:
    @workflow.run
    async def run(self, count: int) -> list[int]:
        # One workflow task schedules every activity, each with a large argument.
        return list(
            await asyncio.gather(
                *(
                    workflow.execute_activity(
                        measure,
                        str(i) * (2 * THRESHOLD),
                        start_to_close_timeout=timedelta(seconds=30),
                    )
                    for i in range(count)
                )
            )
        )


@pytest.mark.parametrize(("limit", "expected"), [(None, 3), (2, 2), (1, 1)])
async def test_a_task_stores_up_to_the_concurrency_limit_at_once(
    client, task_queue, limit, expected
):
    """A workflow task's store() calls overlap up to the worker's
    max_workflow_task_external_storage_concurrency (default 3). temporalio 1.35 on a
    dev server, same workflow and driver: at most 3, 2 and 1 calls at once."""
    driver = OverlapDriver()
    storing = _storing_client(client, driver)
    options = {} if limit is None else {"max_workflow_task_external_storage_concurrency": limit}
    async with Worker(
        storing,
        task_queue=task_queue,
        workflows=[FanOutWorkflow],
        activities=[measure],
        **options,
    ):
        lengths = await storing.execute_workflow(
            FanOutWorkflow.run, 6, id=f"fan-{uuid.uuid4()}", task_queue=task_queue
        )
    assert lengths == [2 * THRESHOLD] * 6
    assert driver.most == expected
