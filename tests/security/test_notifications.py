"""What a role with nothing but CONNECT learns from, and can do with, the engine's
notifications (issue 14): Postgres lets any role LISTEN on and NOTIFY any channel.

The outsider listens on the deployment's channel (which it could not even name: the
test hands it over) and on every name an older build used; it must hear no payload,
outcome, name or id, and what it sends -- forged messages in every format, replays of
what it heard, even a correct hint it could not compute -- must not change what
result(), an update or a query returns.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import asyncpg
import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.client import Client, WorkflowFailureError
from hotmesh_temporal.exceptions import ApplicationError
from hotmesh_temporal.worker import Worker

from .conftest import Deployment

SECRET_RESULT = "result-4b1d-secret"
SECRET_FAILURE = "failure-9c2e-secret"
SECRET_UPDATE = "update-77aa-secret"
SECRET_QUERY = "query-1f00-secret"


@workflow.defn
class Vault:
    def __init__(self) -> None:
        self.released = False
        self.stored = ""

    @workflow.run
    async def run(self, fail: bool) -> str:
        await workflow.wait_condition(lambda: self.released)
        await workflow.wait_condition(workflow.all_handlers_finished)
        if fail:
            raise ApplicationError(SECRET_FAILURE, non_retryable=True)
        return SECRET_RESULT

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.update
    async def store(self, value: str) -> str:
        await workflow.wait_condition(lambda: self.released)
        self.stored = value
        return f"{SECRET_UPDATE}:{value}"

    @workflow.update
    def put(self, value: str) -> str:
        self.stored = value
        return value

    @workflow.query
    def peek(self) -> str:
        return f"{SECRET_QUERY}:{self.stored}"


async def _channel(deployment: Deployment) -> str:
    admin = await asyncpg.connect(deployment.admin_dsn)
    try:
        return await admin.fetchval(f"SELECT channel FROM {deployment.schema}.hint_key")
    finally:
        await admin.close()


class Outsider:
    """A CONNECT-only session that listens everywhere and can send anything."""

    def __init__(self, conn: asyncpg.Connection, channels: list[str]) -> None:
        self.conn = conn
        self.channels = channels
        self.heard: list[str] = []

    @classmethod
    async def join(cls, deployment: Deployment, channel: str) -> Outsider:
        conn = await asyncpg.connect(deployment.outsider_dsn)
        schema = deployment.schema
        # The real channel, and every name an older build notified on.
        channels = [channel, schema, f'"{schema}"', "hotmesh", "hotmesh_temporal"]
        outsider = cls(conn, channels)
        for name in channels:
            await conn.add_listener(name, outsider._hear)
        return outsider

    def _hear(self, _conn: object, pid: int, _channel: str, message: str) -> None:
        if pid != self.conn.get_server_pid():  # not its own forgeries
            self.heard.append(message)

    async def send(self, message: str) -> None:
        for name in self.channels:
            await self.conn.execute("SELECT pg_notify($1, $2)", name, message)

    async def forge_everything(self, *, run_id: str, workflow_id: str, extra: list[str]) -> None:
        outcome = json.dumps({"status": 2, "result": {"payloads": []}, "new_run_id": None})
        failure = json.dumps(
            {"status": 3, "failure": {"message": "forged"}, "result": None, "new_run_id": None}
        )
        reply = json.dumps(
            {
                "status": "ok",
                "id": str(uuid.uuid4()),
                "run_id": run_id,
                "state": 2,
                "outcome": {"failure": {"message": "forged"}},
            }
        )
        forged = [
            f"c|{run_id}|{outcome}",
            f"c|{run_id}|{failure}",
            f"c|{run_id}",
            f"u|{run_id}|{reply}",
            f"r|{run_id}",
            f"w|default|{workflow_id}",
            "t|0",
            "t|clock",
            *extra,
            *list(self.heard),  # replays
        ]
        for message in forged:
            await self.send(message)


async def _heard_nothing_readable(outsider: Outsider, secrets_: list[str]) -> None:
    await asyncio.sleep(0.2)
    assert outsider.heard, "the outsider heard nothing: the channel under test is wrong"
    for message in outsider.heard:
        for secret in secrets_:
            assert secret not in message, (secret, message)
        kind, _, body = message.partition("|")
        if kind != "t":  # deadlines are sent as epoch seconds; everything else is a digest
            assert len(body) == 24 and all(ch in "0123456789abcdef" for ch in body), message


async def test_an_outsider_learns_nothing_and_cannot_forge(deployment: Deployment) -> None:
    client = await Client.connect(deployment.owner_dsn)  # migrates the schema
    channel = await _channel(deployment)
    assert deployment.schema not in channel
    task_queue = f"vault-queue-{uuid.uuid4()}"
    outsider = await Outsider.join(deployment, channel)
    try:
        # The outsider cannot read the secret the hints are made from.
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await outsider.conn.fetchval(f"SELECT secret FROM {deployment.schema}.hint_key")
        store = (await client._engine()).store
        async with Worker(client, task_queue=task_queue, workflows=[Vault]):
            ok = await client.start_workflow(
                Vault.run, False, id=f"vault-ok-{uuid.uuid4()}", task_queue=task_queue
            )
            bad = await client.start_workflow(
                Vault.run, True, id=f"vault-bad-{uuid.uuid4()}", task_queue=task_queue
            )
            assert await ok.execute_update(Vault.put, "first") == "first"
            pending = asyncio.create_task(ok.execute_update(Vault.store, "second"))
            result = asyncio.create_task(ok.result())
            failure = asyncio.create_task(bad.result())
            await asyncio.sleep(0.3)
            # Everything the outsider could send, including the correct hints of the
            # runs (which it cannot compute without the secret).
            for handle in (ok, bad):
                await outsider.forge_everything(
                    run_id=handle.result_run_id or "",
                    workflow_id=handle.id,
                    extra=[
                        "c|" + store.hint("c", handle.result_run_id or ""),
                        "c|" + store.hint("c", handle.result_run_id or "") + "|" + "{}",
                    ],
                )
            await asyncio.sleep(0.3)
            assert not result.done() and not failure.done() and not pending.done()
            assert await ok.query(Vault.peek) == f"{SECRET_QUERY}:first"
            await ok.signal(Vault.release)
            await bad.signal(Vault.release)
            assert await pending == f"{SECRET_UPDATE}:second"
            assert await result == SECRET_RESULT
            with pytest.raises(WorkflowFailureError) as err:
                await failure
            assert isinstance(err.value.cause, ApplicationError)
            assert err.value.cause.message == SECRET_FAILURE
            assert await ok.query(Vault.peek) == f"{SECRET_QUERY}:second"
        names = [
            SECRET_RESULT,
            SECRET_FAILURE,
            SECRET_UPDATE,
            SECRET_QUERY,
            "first",
            "second",
            ok.id,
            bad.id,
            ok.result_run_id or "",
            bad.result_run_id or "",
            task_queue,
            "vault",
            "Vault",
            "default",
            deployment.schema,
        ]
        await _heard_nothing_readable(outsider, names)
    finally:
        await outsider.conn.close()
        await client.service_client.close()


async def test_the_owner_migrates_a_schema_it_owns_without_create_on_the_database(
    deployment: Deployment,
) -> None:
    admin = await asyncpg.connect(deployment.admin_dsn)
    try:
        may_create = await admin.fetchval(
            "SELECT has_database_privilege($1, current_database(), 'CREATE')", deployment.owner
        )
    finally:
        await admin.close()
    assert may_create is False
    client = await Client.connect(deployment.owner_dsn)  # migrates
    try:
        task_queue = f"q-{uuid.uuid4()}"
        async with Worker(client, task_queue=task_queue, workflows=[Vault]):
            handle = await client.start_workflow(
                Vault.run,
                False,
                id=f"v-{uuid.uuid4()}",
                task_queue=task_queue,
                execution_timeout=timedelta(seconds=30),
            )
            await handle.signal(Vault.release)
            assert await handle.result() == SECRET_RESULT
    finally:
        await client.service_client.close()


async def test_a_role_that_cannot_create_the_schema_is_told_which_grant_it_needs(
    deployment: Deployment,
) -> None:
    from hotmesh_temporal._engine.store.dsn import with_schema
    from hotmesh_temporal._engine.store.migrate import MigrationPrivilegeError

    dsn = with_schema(deployment.outsider_dsn, f"{deployment.schema}_new")
    with pytest.raises(MigrationPrivilegeError) as err:
        await Client.connect(dsn)
    assert "GRANT CREATE ON DATABASE" in str(err.value)
    assert f'AUTHORIZATION "{deployment.outsider}"' in str(err.value)


async def test_an_application_role_runs_with_the_documented_grants(
    deployment: Deployment,
) -> None:
    """docs/operations.md, Security: the owner migrates; a role with exactly these
    grants runs clients and workers."""
    owner = await Client.connect(deployment.owner_dsn)  # migrates
    await owner.service_client.close()
    schema, app = deployment.schema, deployment.outsider
    admin = await asyncpg.connect(deployment.admin_dsn)
    try:
        await admin.execute(
            f"GRANT USAGE ON SCHEMA {schema} TO {app};"
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app};"
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app};"
            f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} TO {app};"
        )
    finally:
        await admin.close()
    from hotmesh_temporal._engine.store.dsn import with_schema

    client = await Client.connect(with_schema(deployment.outsider_dsn, schema))
    try:
        task_queue = f"app-{uuid.uuid4()}"
        async with Worker(client, task_queue=task_queue, workflows=[Vault]):
            handle = await client.start_workflow(
                Vault.run, False, id=f"app-{uuid.uuid4()}", task_queue=task_queue
            )
            assert await handle.execute_update(Vault.put, "v") == "v"
            assert await handle.query(Vault.peek) == f"{SECRET_QUERY}:v"
            await handle.signal(Vault.release)
            assert await handle.result() == SECRET_RESULT
            assert [w async for w in client.list_workflows(f"WorkflowId = '{handle.id}'")]
    finally:
        await client.service_client.close()
