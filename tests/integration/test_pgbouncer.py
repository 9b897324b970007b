"""The engine through a real PgBouncer in transaction pooling mode.

A PgBouncer (Debian's ``pgbouncer``; ``.ci/run`` installs it) is started in front of the
test database. The samples' workflows (an activity, signals, an update with a
validator, a child workflow, a timer) run through it twice: with a direct connection
for LISTEN (``direct_port=``) and poll-only (no direct connection at all). In both,
nothing may rely on session state: PgBouncer hands each transaction to whichever server
connection is free, so a kept prepared statement or a session lock would break.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.client import Client, WorkflowUpdateFailedError
from hotmesh_temporal.worker import Worker
from samples.hello.hello_activity import GreetingWorkflow, build_greeting
from samples.hello.hello_child_workflow import InitialsWorkflow, NameBadgesWorkflow
from samples.hello.hello_signal import GuestBookWorkflow
from samples.hello.hello_update import MultilingualGreetingWorkflow

PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
)
pytestmark = pytest.mark.skipif(
    PGBOUNCER is None, reason="pgbouncer is not installed (apt-get install pgbouncer)"
)


@workflow.defn
class NapWorkflow:
    """A durable timer: fired by a sweeper that is woken (or polls) through the pooler."""

    @workflow.run
    async def run(self, seconds: float) -> str:
        await workflow.sleep(seconds)
        return "rested"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres_user() -> list[str]:
    """PgBouncer refuses to run as root; run it as the postgres OS user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@pytest.fixture(scope="module")
def pgbouncer(pg_dsn: str) -> Iterator[tuple[str, int]]:
    """A transaction-mode PgBouncer in front of the test server: (host, port)."""
    server = urlsplit(pg_dsn)
    if not server.hostname or server.hostname.startswith("/"):
        pytest.fail(f"the PgBouncer test needs a TCP test database, not {pg_dsn}")
    workdir = Path(tempfile.mkdtemp(prefix="hm-pgbouncer-"))
    port = _free_port()
    user = server.username or "postgres"
    password = f" password={server.password}" if server.password else ""
    (workdir / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={server.hostname} port={server.port or 5432} user={user}{password}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = any\n"  # test only: PgBouncer logs in as the user above
        "pool_mode = transaction\n"
        "default_pool_size = 10\n"
        "max_client_conn = 200\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        f"logfile = {workdir / 'pgbouncer.log'}\n"
    )
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        for child in workdir.iterdir():
            shutil.chown(child, "postgres")
    process = subprocess.Popen(
        [*_as_postgres_user(), PGBOUNCER, str(workdir / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    err = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"pgbouncer did not start: {err}")
                time.sleep(0.05)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def _through(pg_dsn: str, host: str, port: int, schema: str, *, direct: bool) -> str:
    server = urlsplit(pg_dsn)
    auth = server.netloc.rpartition("@")[0]
    netloc = f"{auth}@{host}:{port}" if auth else f"{host}:{port}"
    query = f"schema={schema}&pooler=transaction"
    if direct:
        query += f"&direct_host={server.hostname}&direct_port={server.port or 5432}"
    return f"postgresql://{netloc}{server.path}?{query}"


@pytest.fixture(params=["direct-listen", "poll-only"])
async def pooled_client(
    request: pytest.FixtureRequest, pg_dsn: str, pgbouncer: tuple[str, int]
) -> AsyncIterator[Client]:
    schema = f"hm_pgb_{uuid.uuid4().hex[:10]}"
    host, port = pgbouncer
    client = await Client.connect(
        _through(pg_dsn, host, port, schema, direct=request.param == "direct-listen")
    )
    try:
        yield client
    finally:
        await client.service_client.close()
        conn = await asyncpg.connect(pg_dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


async def test_samples_run_through_a_transaction_mode_pgbouncer(pooled_client: Client) -> None:
    client = pooled_client
    queue = f"pgb-{uuid.uuid4().hex[:8]}"
    workflows = [
        GreetingWorkflow,
        GuestBookWorkflow,
        MultilingualGreetingWorkflow,
        NameBadgesWorkflow,
        InitialsWorkflow,
        NapWorkflow,
    ]
    async with Worker(client, task_queue=queue, workflows=workflows, activities=[build_greeting]):
        # An activity.
        assert (
            await client.execute_workflow(
                GreetingWorkflow.run, "PgBouncer", id=f"pgb-act-{uuid.uuid4()}", task_queue=queue
            )
            == "Hello, PgBouncer!"
        )
        # Signals.
        book = await client.start_workflow(
            GuestBookWorkflow.run, id=f"pgb-sig-{uuid.uuid4()}", task_queue=queue
        )
        for name in ("Ada", "Grace"):
            await book.signal(GuestBookWorkflow.sign, name)
        await book.signal(GuestBookWorkflow.close_book)
        assert await book.result() == ["Hello, Ada!", "Hello, Grace!"]
        # An update, accepted then rejected by its validator.
        greeting = await client.start_workflow(
            MultilingualGreetingWorkflow.run, id=f"pgb-upd-{uuid.uuid4()}", task_queue=queue
        )
        assert (
            await greeting.execute_update(MultilingualGreetingWorkflow.set_language, "welsh")
            == "english"
        )
        with pytest.raises(WorkflowUpdateFailedError):
            await greeting.execute_update(MultilingualGreetingWorkflow.set_language, "klingon")
        await greeting.signal(MultilingualGreetingWorkflow.finish)
        assert (await greeting.result()).endswith("World!")
        # Children, several at once (concurrent transactions over the pooled connections).
        badges = await client.execute_workflow(
            NameBadgesWorkflow.run,
            ["Ada Lovelace", "Grace Hopper", "Edsger Dijkstra"],
            id=f"pgb-child-{uuid.uuid4()}",
            task_queue=queue,
        )
        assert len(badges) == 3
        # A timer.
        assert (
            await client.execute_workflow(
                NapWorkflow.run, 0.2, id=f"pgb-timer-{uuid.uuid4()}", task_queue=queue
            )
            == "rested"
        )
        # Many runs at once: claims and completions interleave on the pool.
        results = await asyncio.gather(
            *(
                client.execute_workflow(
                    GreetingWorkflow.run, f"n{i}", id=f"pgb-many-{uuid.uuid4()}", task_queue=queue
                )
                for i in range(20)
            )
        )
        assert results == [f"Hello, n{i}!" for i in range(20)]


async def test_pooler_options_are_validated(pg_dsn: str, pgbouncer: tuple[str, int]) -> None:
    host, port = pgbouncer
    bad = _through(pg_dsn, host, port, "hm_pgb_bad", direct=False).replace(
        "pooler=transaction", "pooler=session-ish"
    )
    with pytest.raises(Exception, match="unknown pooler mode"):
        await Client.connect(bad)
