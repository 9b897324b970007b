"""Replay one recorded run against workflow code, without a database.

The same :class:`RunDriver` that workers use feeds the history to a fresh workflow
instance; every command the code issues must match the recorded command events, so a
code change that would take another path raises the public ``NondeterminismError``
naming the event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal._engine.runtime.codec import PayloadCodecs
from hotmesh_temporal._engine.runtime.driver import RunDriver
from hotmesh_temporal._engine.worker.workflow_worker import WorkflowWorkerConfig, create_instance
from hotmesh_temporal.workflow import NondeterminismError


async def replay_run(
    rows: list[dict[str, Any]], *, workflow_id: str, config: WorkflowWorkerConfig
) -> Exception | None:
    """Replay ``rows`` (one run's events); return the replay failure, if any."""

    if not rows or rows[0]["type"] != "WorkflowExecutionStarted":
        return RuntimeError("First event is not workflow start")
    task = _task_for(rows[0], workflow_id, config.namespace)
    driver = RunDriver(
        run_id=task["run_id"],
        create_instance=lambda job, attrs: create_instance(config, task, job, attrs),
        codecs=PayloadCodecs(config.data_converter.payload_codec),
        public_nondeterminism_error=NondeterminismError,
    )
    try:
        await driver.replay(rows)
    except NondeterminismError as err:
        return err
    except Exception as err:  # workflow code failed its task, or the history is broken
        failure = RuntimeError(f"Workflow task failed during replay: {type(err).__name__}: {err}")
        failure.__cause__ = err
        return failure
    return None


def _task_for(start: Mapping[str, Any], workflow_id: str, namespace: str) -> dict[str, Any]:
    """What a worker would know about the run from its task, taken from history."""
    attrs = start["attrs"]
    return {
        "run_id": attrs.get("originalExecutionRunId") or "replay-run",
        "workflow_id": workflow_id,
        "namespace": namespace,
        "task_queue": (attrs.get("taskQueue") or {}).get("name", ""),
        "start_time": h.parse_time(start["time"]),
        "started_at": h.parse_time(start["time"]),
    }
