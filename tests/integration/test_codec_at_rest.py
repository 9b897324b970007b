"""With an encryption codec, no payload is stored in plaintext: inputs, results,
memo, signals, queries, heartbeat details, failures' encoded attributes and the
summaries of the start, an activity and a timer."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import re
import uuid
from collections.abc import Sequence
from datetime import timedelta

import asyncpg
import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal._engine.store.dsn import split_schema
from hotmesh_temporal.api.common.v1 import Payload
from hotmesh_temporal.client import Client
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)
from hotmesh_temporal.exceptions import ApplicationError
from hotmesh_temporal.worker import Worker

aesgcm = pytest.importorskip("cryptography.hazmat.primitives.ciphers.aead")


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over the whole serialized payload, as Temporal's encryption sample."""

    def __init__(self) -> None:
        self.key_id = b"test-key"
        self.cipher = aesgcm.AESGCM(os.urandom(32))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload(
                metadata={"encoding": b"binary/encrypted", "encryption-key-id": self.key_id},
                data=self._encrypt(p.SerializeToString()),
            )
            for p in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding", b"") != b"binary/encrypted":
                out.append(p)
                continue
            assert p.metadata["encryption-key-id"] == self.key_id
            out.append(Payload.FromString(self._decrypt(p.data)))
        return out

    def _encrypt(self, data: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self.cipher.encrypt(nonce, data, None)

    def _decrypt(self, data: bytes) -> bytes:
        return self.cipher.decrypt(data[:12], data[12:], None)


# Markers are unique per run; the test checks none of them appears in the database.
class Markers:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:12]
        self.input = f"INPUT-{tag}"
        self.memo = f"MEMO-{tag}"
        self.signal = f"SIGNAL-{tag}"
        self.query_arg = f"QARG-{tag}"
        self.heartbeat = f"BEAT-{tag}"
        self.failure = f"FAIL-{tag}"
        self.failure_detail = f"FAILDETAIL-{tag}"
        self.result = f"RESULT-{tag}"
        self.summary = f"SUMMARY-{tag}"
        self.details = f"DETAILS-{tag}"
        # Summaries the workflow gives its activity and timer (derived from the input).
        self.activity_summary = f"ACT-SUM-{tag}"
        self.timer_summary = f"TIMER-SUM-{tag}"

    def all(self) -> list[str]:
        return list(vars(self).values())


GATE: dict[str, asyncio.Event] = {}


@activity.defn
async def careful_work(marker_beat: str, marker_fail: str, marker_detail: str) -> str:
    if activity.info().attempt == 1:
        raise ApplicationError(marker_fail, marker_detail)
    activity.heartbeat(marker_beat, {"progress": marker_beat})
    await GATE[activity.info().workflow_id].wait()
    return "done"


@workflow.defn
class SecretWorkflow:
    def __init__(self) -> None:
        self.signals: list[str] = []

    @workflow.run
    async def run(self, secret: str, beat: str, fail: str, detail: str) -> str:
        tag = secret.split("-", 1)[1]
        await workflow.wait_condition(lambda: bool(self.signals))
        await workflow.sleep(timedelta(milliseconds=1), summary=f"TIMER-SUM-{tag}")
        await workflow.execute_activity(
            careful_work,
            args=[beat, fail, detail],
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=10)),
            summary=f"ACT-SUM-{tag}",
        )
        return f"RESULT-{tag}"

    @workflow.signal
    def tell(self, value: str) -> None:
        self.signals.append(value)

    @workflow.query
    def echo(self, value: str) -> str:
        return value.upper()


_B64 = re.compile(rb"[A-Za-z0-9+/]{8,}={0,2}")


async def plaintext_found(dsn: str, markers: list[str]) -> set[str]:
    """Markers readable in any table of the test schema, as text or inside any
    base64 string (payload data is base64 in Temporal's JSON)."""
    base, schema = split_schema(dsn)
    conn = await asyncpg.connect(base)
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
        found: set[str] = set()
        for table in tables:
            rows = await conn.fetch(f'SELECT t::text AS row FROM "{schema}"."{table[0]}" t')
            for row in rows:
                found |= _markers_in(row["row"].encode(), markers)
        return found
    finally:
        await conn.close()


def _markers_in(text: bytes, markers: list[str]) -> set[str]:
    readable = [text]
    for token in _B64.findall(text):
        try:
            readable.append(base64.b64decode(token + b"=" * (-len(token) % 4)))
        except ValueError:
            continue
    return {m for m in markers if any(m.encode() in blob for blob in readable)}


async def run_secret_workflow(
    client: Client, dsn: str, task_queue: str, markers: Markers
) -> set[str]:
    """Run the workflow; return the markers readable in the database while the
    activity is running (heartbeat recorded) and after the run closed."""
    workflow_id = f"secret-{uuid.uuid4()}"
    GATE[workflow_id] = asyncio.Event()
    seen: set[str] = set()
    async with Worker(
        client, task_queue=task_queue, workflows=[SecretWorkflow], activities=[careful_work]
    ):
        handle = await client.start_workflow(
            SecretWorkflow.run,
            args=[markers.input, markers.heartbeat, markers.failure, markers.failure_detail],
            id=workflow_id,
            task_queue=task_queue,
            memo={"note": markers.memo},
            static_summary=markers.summary,
            static_details=markers.details,
        )
        await handle.signal(SecretWorkflow.tell, markers.signal)
        assert (
            await handle.query(SecretWorkflow.echo, markers.query_arg) == markers.query_arg.upper()
        )
        await _until_heartbeat_recorded(client, workflow_id)
        seen |= await plaintext_found(dsn, markers.all())
        GATE[workflow_id].set()
        assert await handle.result() == markers.result
        description = await handle.describe()
        assert description.raw_info is not None
        assert await description.static_summary() == markers.summary
        assert await description.static_details() == markers.details
    seen |= await plaintext_found(dsn, markers.all())
    return seen


async def _until_heartbeat_recorded(client: Client, workflow_id: str) -> None:
    store = (await client._engine()).store
    for _ in range(300):
        rows = await store.pool.fetch(
            f"SELECT heartbeat_details FROM {store.schema}.activity_tasks WHERE workflow_id = $1",
            workflow_id,
        )
        if rows and rows[0]["heartbeat_details"] is not None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the heartbeat was never recorded")


async def test_nothing_is_stored_in_plaintext_with_an_encryption_codec(client, dsn, task_queue):
    converter = dataclasses.replace(
        DataConverter.default,
        payload_codec=EncryptionCodec(),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
    encrypted = Client(**{**client.config(), "data_converter": converter})
    markers = Markers()
    assert await run_secret_workflow(encrypted, dsn, task_queue, markers) == set()


async def test_the_scan_finds_plaintext_without_a_codec(client, dsn, task_queue):
    # The same run without a codec: the scan must see every marker (so the test
    # above would notice a payload stored unencoded).
    markers = Markers()
    found = await run_secret_workflow(client, dsn, task_queue, markers)
    assert found == set(markers.all()) - {markers.query_arg}


@pytest.mark.parametrize("encrypted", [True, False], ids=["codec", "no-codec"])
async def test_a_standalone_activitys_summary_goes_through_the_codec(
    client, dsn, task_queue, encrypted
):
    """The summary given to a standalone activity is user metadata like a workflow's:
    encoded by the data converter, codec included (and readable without a codec, so
    the scan would see it)."""
    converter = dataclasses.replace(DataConverter.default, payload_codec=EncryptionCodec())
    if encrypted:
        client = Client(**{**client.config(), "data_converter": converter})
    marker = f"activity-summary-{uuid.uuid4().hex}"
    handle = await client.start_activity(
        "careful_work",
        id=f"summary-{uuid.uuid4()}",
        task_queue=task_queue,  # no worker: the activity waits, its row stays
        start_to_close_timeout=timedelta(seconds=30),
        summary=marker,
    )
    try:
        found = await plaintext_found(dsn, [marker])
        assert found == (set() if encrypted else {marker})
    finally:
        await handle.terminate()
