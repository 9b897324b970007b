"""Hello change log level: tune how much the workflow logger says, without touching workflow code.

``workflow.logger`` is a ``LoggerAdapter`` over an ordinary ``logging.Logger``
(``workflow.logger.base_logger``): set that logger's level and handlers as for any other.
The workflow logger stays quiet while a workflow replays, so each line is logged once.

Run: ``python -m samples.hello.hello_change_log_level``
"""

import asyncio
import logging
import os
import sys

from hotmesh_temporal import workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "hello-change-log-level"


@workflow.defn
class ChattyWorkflow:
    @workflow.run
    async def run(self) -> str:
        workflow.logger.debug("debug: every little step")
        workflow.logger.info("info: the workflow started")
        workflow.logger.warning("warning: the workflow is about to finish")
        return "logged three lines"


def show_workflow_logs(level: int) -> None:
    """Send workflow log lines to stdout, from ``level`` up."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("  [%(levelname)s] %(message)s"))
    base = workflow.logger.base_logger
    base.handlers = [handler]
    base.propagate = False
    base.setLevel(level)


async def main() -> None:
    client = await Client.connect(DSN)
    async with Worker(client, task_queue=TASK_QUEUE, workflows=[ChattyWorkflow]):
        for level in (logging.DEBUG, logging.WARNING):
            print(f"Workflow log level {logging.getLevelName(level)}:")
            show_workflow_logs(level)
            result = await client.execute_workflow(
                ChattyWorkflow.run,
                id=f"hello-change-log-level-{logging.getLevelName(level).lower()}",
                task_queue=TASK_QUEUE,
            )
            print(f"Result: {result}")


if __name__ == "__main__":
    asyncio.run(main())
