"""HotMesh's YAML front end on this engine: apps of graphs (activities, transitions,
``@pipe`` mappings) deployed as versions and run as workflow executions.

    from hotmesh_temporal.hotmesh import HotMesh, WorkerSpec

See ``docs/yaml.md``. Needs the ``yaml`` extra (PyYAML).
"""

from hotmesh_temporal.hotmesh.compiler import DeployError, compile_app
from hotmesh_temporal.hotmesh.model import CompiledApp
from hotmesh_temporal.hotmesh.pipe import MappingError, PipeContext, pipe_value, resolve
from hotmesh_temporal.hotmesh.runtime import (
    HotMesh,
    HotMeshError,
    JobResult,
    WorkerResult,
    WorkerSpec,
)

__all__ = [
    "CompiledApp",
    "DeployError",
    "HotMesh",
    "HotMeshError",
    "JobResult",
    "MappingError",
    "PipeContext",
    "WorkerResult",
    "WorkerSpec",
    "compile_app",
    "pipe_value",
    "resolve",
]
