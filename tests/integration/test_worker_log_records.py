"""Worker log records as temporalio writes them: logger names (under this package),
levels and the ``__temporal_error_identifier`` extra that log filters key on."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.exceptions import ApplicationError, ApplicationErrorCategory
from hotmesh_temporal.worker import Worker

ATTEMPTS: list[int] = []


@workflow.defn
class FailsFirstTask:
    @workflow.run
    async def run(self) -> str:
        ATTEMPTS.append(1)
        if len(ATTEMPTS) < 2:
            raise RuntimeError("bug in the first task")
        return "recovered"


@activity.defn
async def benign_failure() -> None:
    raise ApplicationError(
        "expected, nothing to worry about", category=ApplicationErrorCategory.BENIGN
    )


@activity.defn
async def plain_failure() -> None:
    raise ApplicationError("a real problem")


@workflow.defn
class RunsActivity:
    @workflow.run
    async def run(self, name: str) -> str:
        try:
            await workflow.execute_activity(
                name,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except Exception as err:
            return type(err).__name__
        return "ok"


def identified(caplog, identifier: str) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if getattr(r, "__temporal_error_identifier", None) == identifier
    ]


async def test_failed_workflow_task_is_logged_as_temporalio_does(client, task_queue, caplog):
    ATTEMPTS.clear()
    with caplog.at_level(logging.DEBUG, logger="hotmesh_temporal"):
        async with Worker(client, task_queue=task_queue, workflows=[FailsFirstTask]):
            assert (
                await client.execute_workflow(
                    FailsFirstTask.run, id=f"log-{uuid.uuid4()}", task_queue=task_queue
                )
                == "recovered"
            )
    [record] = identified(caplog, "WorkflowTaskFailure")
    assert record.name == "hotmesh_temporal.worker._workflow_instance"
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("Failed activation on workflow FailsFirstTask with ID")
    assert record.exc_info and "bug in the first task" in str(record.exc_info[1])
    assert record.temporal_workflow["workflow_type"] == "FailsFirstTask"
    assert record.temporal_workflow["task_queue"] == task_queue


async def test_benign_activity_errors_log_at_debug_others_at_warning(client, task_queue, caplog):
    with caplog.at_level(logging.DEBUG, logger="hotmesh_temporal"):
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[RunsActivity],
            activities=[benign_failure, plain_failure],
        ):
            for name in ("benign_failure", "plain_failure"):
                assert (
                    await client.execute_workflow(
                        RunsActivity.run, name, id=f"log-{uuid.uuid4()}", task_queue=task_queue
                    )
                    == "ActivityError"
                )
    records = {
        r.temporal_activity["activity_type"]: r for r in identified(caplog, "ActivityFailure")
    }
    assert set(records) == {"benign_failure", "plain_failure"}
    assert records["benign_failure"].levelno == logging.DEBUG
    assert records["plain_failure"].levelno == logging.WARNING
    for record in records.values():
        assert record.name == "hotmesh_temporal.activity"
        assert record.getMessage().startswith("Completing activity as failed (")
        assert record.exc_info is not None


def test_a_filter_on_the_identifier_raises_the_level_as_with_temporalio():
    """The pattern temporalio users write: a filter that drops task-failure noise."""

    class DropTaskFailures(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return getattr(record, "__temporal_error_identifier", None) != "WorkflowTaskFailure"

    target = logging.getLogger("hotmesh_temporal.worker._workflow_instance")
    seen: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Collect()
    handler.addFilter(DropTaskFailures())
    target.addHandler(handler)
    try:
        target.warning("x", extra={"__temporal_error_identifier": "WorkflowTaskFailure"})
        target.warning("y")
    finally:
        target.removeHandler(handler)
    assert [r.getMessage() for r in seen] == ["y"]
