"""One namespace per SDK, so a scenario is written once against the temporalio API.

``load("temporal")`` gives temporalio's modules, ``load("hotmesh")`` gives
hotmesh_temporal's. Scenarios only ever touch ``ctx.sdk.<module>``: swapping the SDK is
the import change a Temporal user makes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

SDK_PACKAGES = {"temporal": "temporalio", "hotmesh": "hotmesh_temporal"}


@dataclass(frozen=True)
class Sdk:
    name: str
    client: ModuleType
    worker: ModuleType
    workflow: ModuleType
    activity: ModuleType
    common: ModuleType
    exceptions: ModuleType
    testing: ModuleType


def load(name: str) -> Sdk:
    package = SDK_PACKAGES[name]

    def module(sub: str) -> ModuleType:
        return importlib.import_module(f"{package}.{sub}")

    return Sdk(
        name=name,
        client=module("client"),
        worker=module("worker"),
        workflow=module("workflow"),
        activity=module("activity"),
        common=module("common"),
        exceptions=module("exceptions"),
        testing=module("testing"),
    )
