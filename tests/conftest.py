"""Shared test configuration: a real Postgres for every test, one schema per run.

Fixtures (all session-scoped, running on the session event loop):

- ``pg_dsn``: the base DSN. ``$HOTMESH_TEST_DSN`` if set, else the local server at
  ``postgresql://postgres@127.0.0.1:5432/test`` if it answers, else an embedded Postgres
  started in a temporary directory.
- ``test_schema``: a schema name unique to this run (``hm_test_<hex>``), dropped with
  CASCADE when the session ends.
- ``dsn``: ``pg_dsn`` with ``?schema=<test_schema>`` added, so ``split_schema`` picks
  the test schema up.
- ``migrated_dsn``: ``dsn`` after the migrations have been applied to the test schema.
- ``workflow_environment``: the ``--workflow-environment`` option, ``local`` or
  ``time-skipping``.
- ``env``: a ``WorkflowEnvironment`` on the test schema, time-skipping when the option
  says so (temporalio samples' fixture); ``client``: its client.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from hotmesh_temporal.client import Client
    from hotmesh_temporal.testing import WorkflowEnvironment

LOCAL_TEST_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--workflow-environment",
        action="store",
        choices=["local", "time-skipping"],
        default="local",
        help="which WorkflowEnvironment the workflow tests run in (default: local)",
    )


@pytest.fixture(scope="session")
def workflow_environment(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("--workflow-environment", default="local")


@pytest.fixture(scope="session")
async def pg_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    from hotmesh_temporal._engine.store.dsn import _reachable

    env = os.environ.get("HOTMESH_TEST_DSN")
    if env:
        return env
    if await _reachable(LOCAL_TEST_DSN):
        return LOCAL_TEST_DSN
    # A short path: the server's Unix socket path must stay under ~100 bytes. Started
    # as root, the server runs as an unprivileged user that must reach the directory.
    import tempfile
    from pathlib import Path

    from hotmesh_temporal._engine.store.embedded import start_embedded

    base = Path(tempfile.mkdtemp(prefix="hm-pg-"))
    if os.geteuid() == 0:
        base.chmod(0o711)
    return await start_embedded(str(base / "data"))


@pytest.fixture(scope="session")
async def test_schema(pg_dsn: str) -> AsyncIterator[str]:
    import asyncpg

    from hotmesh_temporal._engine.store.dsn import split_schema

    name = f"hm_test_{secrets.token_hex(6)}"
    yield name
    base, _ = split_schema(pg_dsn)
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def dsn(pg_dsn: str, test_schema: str) -> str:
    from hotmesh_temporal._engine.store.dsn import with_schema

    return with_schema(pg_dsn, test_schema)


@pytest.fixture(scope="session")
async def migrated_dsn(dsn: str) -> str:
    import asyncpg

    from hotmesh_temporal._engine.store.dsn import split_schema
    from hotmesh_temporal._engine.store.migrate import migrate

    base, schema = split_schema(dsn)
    conn = await asyncpg.connect(base)
    try:
        await migrate(conn, schema)
    finally:
        await conn.close()
    return dsn


@pytest.fixture(scope="session")
async def env(migrated_dsn: str, workflow_environment: str) -> AsyncIterator[WorkflowEnvironment]:
    """The session's WorkflowEnvironment on this run's test schema, as in temporalio's
    samples: ``--workflow-environment=time-skipping`` gives it a virtual clock."""
    from hotmesh_temporal.testing._workflow import _SchemaEnvironment

    env = await _SchemaEnvironment._create(
        migrated_dsn, time_skipping=workflow_environment == "time-skipping"
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def client(env: WorkflowEnvironment) -> Client:
    """The environment's client, shared by the whole session."""
    return env.client


@pytest.fixture
def task_queue() -> str:
    """A task queue no other test uses."""
    import uuid

    return f"tq-{uuid.uuid4()}"


@pytest.fixture
def embedded_tmp_path(tmp_path_factory: pytest.TempPathFactory):
    """A temporary directory the embedded Postgres can use. Started as root, the server
    runs as an unprivileged user, and pytest's own temporary root (mode 0700) is closed
    to it; the server refuses to open parent directories up
    (tests/security/test_embedded_private.py), so as root this is a directory of its
    own under the system temp directory, traversable (0711)."""
    import shutil
    import tempfile
    from pathlib import Path

    if os.geteuid() != 0:
        yield tmp_path_factory.mktemp("embedded")
        return
    path = Path(tempfile.mkdtemp(prefix="hm-embedded-"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)
