"""Roles for the security tests: created per test on the test server (roles are
cluster-wide, so their names are random) and dropped afterwards with what they own."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from hotmesh_temporal._engine.store.dsn import split_schema, with_schema


@dataclass
class Deployment:
    """A deployment's role owning its schema, and a CONNECT-only role beside it."""

    admin_dsn: str
    schema: str
    owner: str
    owner_dsn: str  # with ?schema=
    outsider: str
    outsider_dsn: str


def as_role(dsn: str, role: str) -> str:
    parts = urlsplit(dsn)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


@pytest.fixture
async def deployment(pg_dsn: str) -> AsyncIterator[Deployment]:
    admin_dsn, _ = split_schema(pg_dsn)
    tag = secrets.token_hex(4)
    owner, outsider, schema = f"hm_owner_{tag}", f"hm_outsider_{tag}", f"hm_sec_{tag}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        # The owner may not CREATE in the database: an administrator made its schema.
        await admin.execute(f"CREATE ROLE {owner} LOGIN; CREATE ROLE {outsider} LOGIN")
        await admin.execute(f"CREATE SCHEMA {schema} AUTHORIZATION {owner}")
        yield Deployment(
            admin_dsn,
            schema,
            owner,
            with_schema(as_role(admin_dsn, owner), schema),
            outsider,
            as_role(admin_dsn, outsider),
        )
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        for role in (owner, outsider):
            await admin.execute(f"DROP OWNED BY {role} CASCADE")
            await admin.execute(f"DROP ROLE {role}")
        await admin.close()
