"""``Replayer``: check workflow code against recorded histories (temporalio's
``temporalio.worker.Replayer``), entirely in process: no database, no worker."""

from __future__ import annotations

import concurrent.futures
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypedDict

from hotmesh_temporal._engine.worker.replayer import replay_run
from hotmesh_temporal._engine.worker.workflow_worker import WorkflowWorkerConfig
from hotmesh_temporal.common import HeaderCodecBehavior
from hotmesh_temporal.converter import DataConverter
from hotmesh_temporal.runtime import Runtime
from hotmesh_temporal.worker._worker import _workflow_definitions


class ReplayerConfig(TypedDict, total=False):
    """``Replayer.__init__``'s options, as a dict (what plugins receive and return)."""

    workflows: Sequence[type]
    workflow_task_executor: concurrent.futures.ThreadPoolExecutor | None
    workflow_runner: Any
    unsandboxed_workflow_runner: Any
    namespace: str
    data_converter: DataConverter
    interceptors: Sequence[Any]
    build_id: str | None
    identity: str | None
    workflow_failure_exception_types: Sequence[type[BaseException]]
    debug_mode: bool
    runtime: Any
    disable_safe_workflow_eviction: bool
    header_codec_behavior: HeaderCodecBehavior


@dataclass(frozen=True)
class WorkflowReplayResult:
    """The outcome of replaying one history."""

    history: Any
    """The ``WorkflowHistory`` that was replayed."""

    replay_failure: Exception | None
    """Why replay failed (a ``NondeterminismError`` when the code no longer matches
    the history), or None. A workflow that failed in its history is not a replay
    failure."""


@dataclass(frozen=True)
class WorkflowReplayResults:
    """Failures of several replays."""

    replay_failures: Mapping[str, Exception]
    """Replay failures by run id."""


class Replayer:
    """Replays workflow histories against the given workflow classes."""

    def __init__(
        self,
        *,
        workflows: Sequence[type],
        workflow_task_executor: concurrent.futures.ThreadPoolExecutor | None = None,
        workflow_runner: Any = None,
        unsandboxed_workflow_runner: Any = None,
        namespace: str = "ReplayNamespace",
        data_converter: DataConverter = DataConverter.default,
        interceptors: Sequence[Any] = [],
        plugins: Sequence[Any] = [],
        build_id: str | None = None,
        identity: str | None = None,
        workflow_failure_exception_types: Sequence[type[BaseException]] = [],
        debug_mode: bool = False,
        runtime: Any = None,
        disable_safe_workflow_eviction: bool = False,
        header_codec_behavior: HeaderCodecBehavior = HeaderCodecBehavior.NO_CODEC,
    ) -> None:
        self._config: dict[str, Any] = dict(
            workflows=list(workflows),
            workflow_task_executor=workflow_task_executor,
            workflow_runner=workflow_runner,
            unsandboxed_workflow_runner=unsandboxed_workflow_runner,
            namespace=namespace,
            data_converter=data_converter,
            interceptors=interceptors,
            build_id=build_id,
            identity=identity,
            workflow_failure_exception_types=workflow_failure_exception_types,
            debug_mode=debug_mode,
            runtime=runtime,
            disable_safe_workflow_eviction=disable_safe_workflow_eviction,
            header_codec_behavior=header_codec_behavior,
        )
        self._initial_config = dict(self._config)
        self.plugins = list(plugins)
        for plugin in self.plugins:
            configure = getattr(plugin, "configure_replayer", None)
            if configure is not None:
                self._config = dict(configure(self._config))
        if not self._config.get("workflows"):
            raise ValueError("At least one workflow must be specified")

    def config(self, *, active_config: bool = False) -> dict[str, Any]:
        """The options this replayer was created with (or, with ``active_config``,
        the ones in use after plugins changed them), shallow-copied."""
        config = dict(self._config if active_config else self._initial_config)
        config["workflows"] = list(config.get("workflows", []))
        return config

    async def replay_workflow(
        self, history: Any, *, raise_on_replay_failure: bool = True
    ) -> WorkflowReplayResult:
        """Replay one history; raise its replay failure unless told not to."""

        async def one() -> AsyncIterator[Any]:
            yield history

        async with self.workflow_replay_iterator(one()) as results:
            async for result in results:
                if raise_on_replay_failure and result.replay_failure:
                    raise result.replay_failure
                return result
        raise RuntimeError("No histories")

    async def replay_workflows(
        self, histories: AsyncIterator[Any], *, raise_on_replay_failure: bool = True
    ) -> WorkflowReplayResults:
        """Replay every history; raise the first failure, or collect them by run id."""
        failures: dict[str, Exception] = {}
        async with self.workflow_replay_iterator(histories) as results:
            async for result in results:
                if result.replay_failure is None:
                    continue
                if raise_on_replay_failure:
                    raise result.replay_failure
                failures[result.history.run_id] = result.replay_failure
        return WorkflowReplayResults(replay_failures=failures)

    def workflow_replay_iterator(self, histories: AsyncIterator[Any]) -> Any:
        """``async with`` this to get an async iterator of one
        :py:class:`WorkflowReplayResult` per history, replayed as they come."""
        next_function = lambda replayer, hs: replayer._replay_iterator(hs)  # noqa: E731
        for plugin in reversed(self.plugins):
            run_replayer = getattr(plugin, "run_replayer", None)
            if run_replayer is not None:
                next_function = _chain(run_replayer, next_function)
        return next_function(self, histories)

    @asynccontextmanager
    async def _replay_iterator(
        self, histories: AsyncIterator[Any]
    ) -> AsyncIterator[AsyncIterator[WorkflowReplayResult]]:
        config = self._worker_config()

        async def results() -> AsyncIterator[WorkflowReplayResult]:
            async for history in _as_async(histories):
                failure = await replay_run(
                    history._rows(), workflow_id=history.workflow_id, config=config
                )
                yield WorkflowReplayResult(history=history, replay_failure=failure)

        yield results()

    def _worker_config(self) -> WorkflowWorkerConfig:

        config = self._config
        by_name, dynamic = _workflow_definitions(config["workflows"])
        return WorkflowWorkerConfig(
            namespace=config["namespace"],
            task_queue=f"replay-{config.get('build_id')}",
            identity=config.get("identity") or "replayer",
            workflows=by_name,
            dynamic=dynamic,
            data_converter=config["data_converter"],
            failure_exception_types=list(config["workflow_failure_exception_types"]),
            interceptors=[
                i for i in config["interceptors"] if hasattr(i, "workflow_interceptor_class")
            ],
            debug_mode=config["debug_mode"],
            metric_meter=(config.get("runtime") or Runtime.default()).metric_meter,
        )


async def _as_async(histories: Any) -> AsyncIterator[Any]:
    """temporalio takes an async iterator; a plain iterable (a list) is accepted too."""
    if hasattr(histories, "__aiter__"):
        async for history in histories:
            yield history
    else:
        for history in histories:
            yield history


def _chain(run_replayer: Any, next_function: Any) -> Any:
    return lambda replayer, histories: run_replayer(replayer, histories, next_function)
