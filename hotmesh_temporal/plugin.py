"""``SimplePlugin``: a client and worker plugin built from a few options, as
``temporalio.plugin`` has it.

Each option is applied where it means something: the data converter to the client
and the replayer; activities and Nexus service handlers to the worker; workflows,
the workflow runner and failure exception types to the worker and the replayer;
interceptors to the client (client interceptors) and to the worker and replayer
(worker interceptors). Every option but ``run_context`` is either a value (a
sequence is appended to what the config already has, anything else replaces it) or
a callable that receives the current value (None when unset) and returns the one to
use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeAlias, TypeVar

import hotmesh_temporal.client
import hotmesh_temporal.converter
import hotmesh_temporal.worker
from hotmesh_temporal.client import ClientConfig
from hotmesh_temporal.service import ConnectConfig, ServiceClient
from hotmesh_temporal.worker import ReplayerConfig, WorkerConfig, WorkflowRunner

T = TypeVar("T")

PluginParameter: TypeAlias = None | T | Callable[[T | None], T]


class SimplePlugin(hotmesh_temporal.client.Plugin, hotmesh_temporal.worker.Plugin):
    """A plugin made of options rather than code (see the module docstring)."""

    def __init__(
        self,
        name: str,
        *,
        data_converter: PluginParameter[hotmesh_temporal.converter.DataConverter] = None,
        interceptors: Sequence[
            hotmesh_temporal.client.Interceptor | hotmesh_temporal.worker.Interceptor
        ]
        | None = None,
        activities: PluginParameter[Sequence[Callable]] = None,
        nexus_service_handlers: PluginParameter[Sequence[Any]] = None,
        workflows: PluginParameter[Sequence[type]] = None,
        workflow_runner: PluginParameter[WorkflowRunner] = None,
        workflow_failure_exception_types: PluginParameter[Sequence[type[BaseException]]] = None,
        run_context: Callable[[], AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        """``name`` is what :meth:`name` returns; ``interceptors`` are appended (an
        object that is both a client and a worker interceptor is used once per worker);
        ``run_context`` makes an async context manager entered around each worker run
        and each replay."""
        if not isinstance(name, str):
            raise TypeError(f"SimplePlugin's name must be a str, got {type(name).__name__}")
        self._name = name
        self.data_converter = data_converter
        self.interceptors = interceptors
        self.activities = activities
        self.nexus_service_handlers = nexus_service_handlers
        self.workflows = workflows
        self.workflow_runner = workflow_runner
        self.workflow_failure_exception_types = workflow_failure_exception_types
        self.run_context = run_context

    def name(self) -> str:
        """The name given to the constructor."""
        return self._name

    def configure_client(self, config: ClientConfig) -> ClientConfig:
        """Apply the data converter and the client interceptors."""
        _set_resolved(config, "data_converter", self.data_converter)
        interceptors = _appended(config.get("interceptors"), self.interceptors)
        if interceptors is not None:
            config["interceptors"] = [
                i for i in interceptors if isinstance(i, hotmesh_temporal.client.Interceptor)
            ]
        return config

    async def connect_service_client(
        self,
        config: ConnectConfig,
        next: Callable[[ConnectConfig], Awaitable[ServiceClient]],
    ) -> ServiceClient:
        """Connect unchanged."""
        return await next(config)

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        """Apply activities, Nexus service handlers, workflows, the workflow runner,
        the worker interceptors (those the client does not already apply) and the
        failure exception types."""
        activities = _appended(config.get("activities"), self.activities)
        if activities:
            config["activities"] = activities
        _set_appended(config, "nexus_service_handlers", self.nexus_service_handlers)
        _set_appended(config, "workflows", self.workflows)
        _set_resolved(config, "workflow_runner", self.workflow_runner)
        if self.interceptors is not None:
            client = config.get("client")
            on_client = (
                list(client.config(active_config=True).get("interceptors") or []) if client else []
            )
            own = [
                i
                for i in self.interceptors
                if isinstance(i, hotmesh_temporal.worker.Interceptor) and i not in on_client
            ]
            _set_appended(config, "interceptors", own)
        _set_appended(
            config, "workflow_failure_exception_types", self.workflow_failure_exception_types
        )
        return config

    def configure_replayer(self, config: ReplayerConfig) -> ReplayerConfig:
        """Apply the data converter, workflows, the workflow runner, the worker
        interceptors and the failure exception types."""
        _set_resolved(config, "data_converter", self.data_converter)
        _set_appended(config, "workflows", self.workflows)
        _set_resolved(config, "workflow_runner", self.workflow_runner)
        interceptors = _appended(config.get("interceptors"), self.interceptors)
        if interceptors is not None:
            config["interceptors"] = [
                i for i in interceptors if isinstance(i, hotmesh_temporal.worker.Interceptor)
            ]
        _set_appended(
            config, "workflow_failure_exception_types", self.workflow_failure_exception_types
        )
        return config

    async def run_worker(
        self,
        worker: hotmesh_temporal.worker.Worker,
        next: Callable[[hotmesh_temporal.worker.Worker], Awaitable[None]],
    ) -> None:
        """Run the worker inside ``run_context`` when one was given."""
        if self.run_context is None:
            await next(worker)
            return
        async with self.run_context():
            await next(worker)

    @asynccontextmanager
    async def run_replayer(
        self,
        replayer: hotmesh_temporal.worker.Replayer,
        histories: AsyncIterator[hotmesh_temporal.client.WorkflowHistory],
        next: Callable[
            [
                hotmesh_temporal.worker.Replayer,
                AsyncIterator[hotmesh_temporal.client.WorkflowHistory],
            ],
            AbstractAsyncContextManager[
                AsyncIterator[hotmesh_temporal.worker.WorkflowReplayResult]
            ],
        ],
    ) -> AsyncIterator[AsyncIterator[hotmesh_temporal.worker.WorkflowReplayResult]]:
        """Replay inside ``run_context`` when one was given."""
        if self.run_context is None:
            async with next(replayer, histories) as results:
                yield results
            return
        async with self.run_context(), next(replayer, histories) as results:
            yield results


def _resolved(existing: T | None, parameter: PluginParameter[T]) -> T | None:
    """A parameter applied to the current value: None keeps it, a callable maps it,
    anything else replaces it."""
    if parameter is None:
        return existing
    if callable(parameter):
        return parameter(existing)
    return parameter


def _appended(
    existing: Sequence[T] | None, parameter: PluginParameter[Sequence[T]]
) -> Sequence[T] | None:
    """Like :func:`_resolved`, but a sequence is appended to the current one."""
    if parameter is None or callable(parameter):
        return _resolved(existing, parameter)
    return [*(existing or []), *parameter]


def _set_resolved(config: Any, key: str, parameter: Any) -> None:
    value = _resolved(config.get(key), parameter)
    if value:
        config[key] = value


def _set_appended(config: Any, key: str, parameter: Any) -> None:
    value = _appended(config.get(key), parameter)
    if value is not None:
        config[key] = value
