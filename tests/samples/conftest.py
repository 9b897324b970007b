"""Fixtures for the samples' tests: a client on the test schema of this session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from hotmesh_temporal.client import Client


@pytest.fixture(scope="session")
async def client(dsn: str) -> AsyncIterator[Client]:
    client = await Client.connect(dsn)
    yield client
    await client.service_client.close()


@pytest.fixture
def task_queue() -> str:
    return f"samples-{uuid.uuid4()}"
