import logging
import uuid

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.hello.hello_change_log_level import ChattyWorkflow


@pytest.fixture
def restore_workflow_logger():
    base = workflow.logger.base_logger
    saved = (base.level, list(base.handlers), base.propagate)
    yield
    base.setLevel(saved[0])
    base.handlers = saved[1]
    base.propagate = saved[2]


async def test_workflow_logger_level_filters_lines(client: Client, restore_workflow_logger):
    lines: list = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage().split(" (")[0])

    base = workflow.logger.base_logger
    base.handlers = [Collect()]
    base.propagate = False
    task_queue = str(uuid.uuid4())
    async with Worker(client, task_queue=task_queue, workflows=[ChattyWorkflow]):
        for level in (logging.DEBUG, logging.WARNING):
            base.setLevel(level)
            await client.execute_workflow(
                ChattyWorkflow.run, id=str(uuid.uuid4()), task_queue=task_queue
            )
    assert lines == [
        "debug: every little step",
        "info: the workflow started",
        "warning: the workflow is about to finish",
        "warning: the workflow is about to finish",
    ]
