"""The command line run as a user runs it: ``python -m hotmesh_temporal ...`` in a
subprocess against the session's Postgres schema, while a worker in the test process
runs the workflows it operates on."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from hotmesh_temporal.worker import Worker
from tests.cli.workflows import ACTIVITIES, WORKFLOWS


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def jsonl(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


class Cli:
    """Runs the command line with --dsn pointing at the test schema."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    async def __call__(self, *argv: str, dsn: bool = True, env: dict | None = None) -> CliResult:
        args = [sys.executable, "-m", "hotmesh_temporal", *argv]
        if dsn:
            args += ["--dsn", self.dsn]
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        return CliResult(proc.returncode or 0, out.decode(), err.decode())


@pytest.fixture(scope="session")
def cli(migrated_dsn: str) -> Cli:
    return Cli(migrated_dsn)


@pytest.fixture(scope="session")
def cli_task_queue() -> str:
    return f"cli-{uuid.uuid4()}"


@pytest.fixture(scope="session")
async def cli_worker(client, cli_task_queue) -> AsyncIterator[Worker]:
    async with Worker(
        client, task_queue=cli_task_queue, workflows=WORKFLOWS, activities=ACTIVITIES
    ) as worker:
        yield worker
