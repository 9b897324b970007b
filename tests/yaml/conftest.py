"""Fixtures for the YAML front end's tests: ``mesh(yaml_text, workers)`` deploys and
activates an app under a fresh app id (so its task queues are its own) on the test
database, and stops its workers at the end of the test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from hotmesh_temporal.hotmesh import HotMesh, WorkerSpec

MeshFactory = Callable[..., Awaitable[HotMesh]]


def app_yaml(app_id: str, body: str, version: str = "1") -> str:
    """A manifest: the header plus ``body`` (the graphs list, indented by 2)."""
    return f"app:\n  id: {app_id}\n  version: '{version}'\n{body}"


@pytest.fixture
async def mesh(client) -> AsyncIterator[MeshFactory]:
    started: list[HotMesh] = []

    async def make(
        body: str,
        workers: dict[str, Callable] | None = None,
        *,
        app_id: str | None = None,
        activate: bool = True,
    ) -> HotMesh:
        app = app_id or f"t{uuid.uuid4().hex[:10]}"
        specs = [WorkerSpec(topic, fn) for topic, fn in (workers or {}).items()]
        instance = await HotMesh.init(app_id=app, engine=client, workers=specs)
        started.append(instance)
        if body:
            compiled = await instance.deploy(app_yaml(app, body))
            if activate:
                await instance.activate(compiled.version)
        return instance

    yield make
    for instance in started:
        await instance.stop()


@pytest.fixture
def manifest() -> Callable[..., str]:
    """``app_yaml`` as a fixture (test modules here are not a package)."""
    return app_yaml
