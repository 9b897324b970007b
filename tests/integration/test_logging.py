"""workflow.logger / activity.logger context, replay silence, and HMSH_LOGLEVEL."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import _telemetry as telemetry
from hotmesh_temporal.worker import Worker


@activity.defn
async def log_from_activity(text: str) -> str:
    activity.logger.info("activity says %s", text)
    return text


@workflow.defn
class LoggingWorkflow:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self, text: str) -> str:
        workflow.logger.info("workflow says %s", text)
        await workflow.wait_condition(lambda: self.go)
        workflow.logger.info("workflow resumed")
        return await workflow.execute_activity(
            log_from_activity, text, start_to_close_timeout=timedelta(seconds=10)
        )

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


def records(caplog: pytest.LogCaptureFixture, prefix: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(prefix)]


async def test_workflow_and_activity_logs_carry_context_and_replay_is_silent(
    client, task_queue, caplog
):
    caplog.set_level(logging.INFO, logger="hotmesh_temporal")
    # No cache: every workflow task replays the run from its history, so the first
    # log line is replayed (and must not be logged again).
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[LoggingWorkflow],
        activities=[log_from_activity],
        max_cached_workflows=0,
    ):
        handle = await client.start_workflow(
            LoggingWorkflow.run, "hi", id=f"log-{uuid.uuid4()}", task_queue=task_queue
        )
        await handle.signal(LoggingWorkflow.proceed)
        assert await handle.result() == "hi"

    [says] = records(caplog, "workflow says hi")
    assert says.name == "hotmesh_temporal.workflow"
    details = says.temporal_workflow
    assert details == {
        "attempt": 1,
        "namespace": client.namespace,
        "run_id": handle.result_run_id,
        "task_queue": task_queue,
        "workflow_id": handle.id,
        "workflow_type": "LoggingWorkflow",
    }
    assert says.getMessage() == f"workflow says hi ({details})"
    assert says.funcName == "run"  # the record points at the workflow code
    assert len(records(caplog, "workflow resumed")) == 1

    [act] = records(caplog, "activity says hi")
    assert act.name == "hotmesh_temporal.activity"
    assert act.temporal_activity["activity_type"] == "log_from_activity"
    assert act.temporal_activity["workflow_id"] == handle.id
    assert act.temporal_activity["workflow_run_id"] == handle.result_run_id
    assert act.getMessage() == f"activity says hi ({act.temporal_activity})"


async def test_logger_switches(client, task_queue, caplog):
    caplog.set_level(logging.INFO, logger="hotmesh_temporal")
    adapter = workflow.logger
    saved = (adapter.workflow_info_on_message, adapter.full_workflow_info_on_extra)
    adapter.workflow_info_on_message = False
    adapter.full_workflow_info_on_extra = True
    try:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[LoggingWorkflow],
            activities=[log_from_activity],
        ):
            handle = await client.start_workflow(
                LoggingWorkflow.run, "sw", id=f"log-{uuid.uuid4()}", task_queue=task_queue
            )
            await handle.signal(LoggingWorkflow.proceed)
            await handle.result()
    finally:
        adapter.workflow_info_on_message, adapter.full_workflow_info_on_extra = saved
    [says] = records(caplog, "workflow says sw")
    assert says.getMessage() == "workflow says sw"
    assert isinstance(says.workflow_info, workflow.Info)
    assert says.workflow_info.workflow_id == handle.id


@pytest.mark.parametrize(
    ("value", "level"),
    [
        ("debug", logging.DEBUG),
        ("info", logging.INFO),
        ("warn", logging.WARNING),
        ("error", logging.ERROR),
        ("SILENT", logging.CRITICAL + 1),
    ],
)
def test_hmsh_loglevel_sets_the_package_logger(monkeypatch, value, level):
    package_logger = logging.getLogger("hotmesh_temporal")
    saved = (package_logger.level, package_logger.disabled)
    monkeypatch.setenv("HMSH_LOGLEVEL", value)
    try:
        telemetry.apply_env_log_level()
        assert package_logger.level == level
        assert package_logger.disabled == (value.lower() == "silent")
        assert logging.getLogger("hotmesh_temporal.workflow").getEffectiveLevel() == level
    finally:
        package_logger.setLevel(saved[0])
        package_logger.disabled = saved[1]


def test_hmsh_loglevel_applies_on_import_and_rejects_unknown_values():
    code = (
        "import logging, hotmesh_temporal.client;print(logging.getLogger('hotmesh_temporal').level)"
    )
    env = {**os.environ, "HMSH_LOGLEVEL": "error", "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == str(logging.ERROR), out.stderr
    env["HMSH_LOGLEVEL"] = "loud"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == str(logging.NOTSET)
    assert "HMSH_LOGLEVEL='loud'" in out.stderr
