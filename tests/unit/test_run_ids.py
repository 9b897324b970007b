"""Run ids are UUIDv7, as current Temporal servers issue them (issue 20)."""

from __future__ import annotations

import time
import uuid

from hotmesh_temporal._engine.runtime.ids import new_run_id, uuid7


def test_uuid7_layout() -> None:
    before = int(time.time() * 1000)
    value = uuid7()
    after = int(time.time() * 1000)
    assert value.version == 7 and value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after
    assert uuid7(unix_ms=1).int >> 80 == 1


def test_run_ids_sort_by_creation_and_never_repeat() -> None:
    ids = []
    for _ in range(3):
        ids.append(new_run_id())
        time.sleep(0.002)
    assert ids == sorted(ids)
    assert len({new_run_id() for _ in range(10_000)}) == 10_000


async def test_run_ids_are_uuid7(client, task_queue):
    handle = await client.start_workflow(
        "NoWorkerNeeded", id=f"uuid7-{uuid.uuid4()}", task_queue=task_queue
    )
    assert uuid.UUID(handle.result_run_id).version == 7
    await handle.terminate()
