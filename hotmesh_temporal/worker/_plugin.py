"""Worker plugins (``temporalio.worker.Plugin``) and the ``WorkerConfig`` they edit.

A plugin sees a worker's options before the worker is built (``configure_worker``) and
wraps its run (``run_worker``). Plugins come from the worker's ``plugins`` and, first,
from the client's plugins that are also worker plugins.
"""

from __future__ import annotations

import abc
import functools
import inspect
import warnings
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from hotmesh_temporal.worker._worker import Worker


class WorkerConfig(TypedDict, total=False):
    """``Worker.__init__``'s options (client included), as a dict a plugin may change."""

    client: Any
    task_queue: str
    activities: Any
    workflows: Any
    activity_executor: Any
    workflow_task_executor: Any
    workflow_runner: Any
    unsandboxed_workflow_runner: Any
    plugins: Any
    interceptors: Any
    build_id: Any
    identity: Any
    max_cached_workflows: int
    max_concurrent_workflow_tasks: Any
    max_concurrent_activities: Any
    max_concurrent_local_activities: Any
    tuner: Any
    graceful_shutdown_timeout: Any
    workflow_failure_exception_types: Any
    debug_mode: bool
    disable_eager_activity_execution: bool
    on_fatal_error: Any
    # The rest of Worker.__init__'s options, as in temporalio's WorkerConfig.
    activity_task_poller_behavior: Any
    default_heartbeat_throttle_interval: Any
    deployment_config: Any
    disable_payload_error_limit: Any
    disable_safe_workflow_eviction: Any
    max_activities_per_second: Any
    max_concurrent_activity_task_polls: Any
    max_concurrent_nexus_tasks: Any
    max_concurrent_workflow_task_polls: Any
    max_eager_activity_reservations_per_workflow_task: Any
    max_heartbeat_throttle_interval: Any
    max_task_queue_activities_per_second: Any
    max_workflow_task_external_storage_concurrency: Any
    nexus_service_handlers: Any
    nexus_task_executor: Any
    nexus_task_poller_behavior: Any
    no_remote_activities: Any
    nonsticky_to_sticky_poll_ratio: Any
    patch_activation_callback: Any
    plugin_shutdown_timeout: Any
    shared_state_manager: Any
    sticky_queue_schedule_to_start_timeout: Any
    use_worker_versioning: Any
    workflow_task_poller_behavior: Any


class Plugin(abc.ABC):
    """Changes how workers are configured and run."""

    def name(self) -> str:
        """The plugin's name: its class's qualified name unless overridden."""
        return f"{type(self).__module__}.{type(self).__qualname__}"

    @abc.abstractmethod
    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        """Return the worker options to use (edit and return ``config``)."""

    @abc.abstractmethod
    async def run_worker(self, worker: Worker, next: Callable[[Worker], Awaitable[None]]) -> None:
        """Run the worker, usually by awaiting ``next(worker)``."""

    @abc.abstractmethod
    def configure_replayer(self, config: Any) -> Any:
        """Return the replayer options to use."""

    @abc.abstractmethod
    def run_replayer(self, replayer: Any, histories: Any, next: Callable) -> Any:
        """Replay, usually by returning ``next(replayer, histories)``."""


def worker_plugins(client: Any, plugins: Any) -> list[Plugin]:
    """The client's worker plugins, then the worker's own (a type in both warns)."""
    from_client = [p for p in client.config().get("plugins") or [] if isinstance(p, Plugin)]
    own_types = {type(p) for p in plugins}
    for plugin in from_client:
        if type(plugin) in own_types:
            warnings.warn(
                f"The same plugin type {type(plugin)} is present from both client and worker. "
                "It may run twice and may not be the intended behavior.",
                stacklevel=3,
            )
    return from_client + list(plugins)


def configured_by_plugins(init: Callable) -> Callable:
    """Wrap ``Worker.__init__`` so that plugins edit the options before it runs."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        config: dict[str, Any] = dict(bound.arguments)
        del config["self"]
        plugins = worker_plugins(config["client"], config.get("plugins") or [])
        # Worker.config() reports both, as temporalio's: the options as given, and
        # (active_config=True) as the plugins left them.
        self._initial_config = dict(config)
        for plugin in plugins:
            config = plugin.configure_worker(config)  # type: ignore[assignment]
        self._plugins = plugins
        self._config = config
        init(self, **config)

    return wrapper


async def run_through_plugins(
    worker: Worker, plugins: list[Plugin], run: Callable[[Worker], Awaitable[None]]
) -> None:
    """Run ``run(worker)`` wrapped by each plugin, the first plugin outermost."""
    chain = run
    for plugin in reversed(plugins):
        chain = _link(plugin, chain)
    await chain(worker)


def _link(plugin: Plugin, next: Callable) -> Callable:
    return lambda worker: plugin.run_worker(worker, next)
