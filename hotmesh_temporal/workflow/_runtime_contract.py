"""The contract between the public workflow API and the engine that runs workflow code.

``workflow.now()``, ``workflow.execute_activity()``, ``workflow.set_signal_handler()`` and
the rest call the :class:`WorkflowRuntime` of the workflow whose code is running. The
engine's ``WorkflowInstance`` implements it and hangs itself on the event loop that runs
the workflow's code (a :class:`RuntimeHost`), so :func:`current_runtime` finds it from
inside workflow code and nowhere else. This module imports nothing of the engine: the
engine depends on the public API, not the other way round.

The sandbox flags (``workflow.unsafe.in_sandbox()`` and friends) live here too: they are
per-thread state that the engine's determinism guard sets and the public API reads.
"""

from __future__ import annotations

import abc
import contextlib
import random
import threading
from asyncio import events
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hotmesh_temporal.common import MetricMeter
    from hotmesh_temporal.converter import PayloadConverter
    from hotmesh_temporal.worker._interceptor import WorkflowOutboundInterceptor
    from hotmesh_temporal.workflow._api import Info, UpdateInfo


class WorkflowRuntime(abc.ABC):
    """What the public workflow API needs from the engine, for one workflow run."""

    #: The end of the outbound interceptor chain: activities, children, signals to
    #: other workflows, continue-as-new (``workflow.execute_activity`` and the like).
    outbound: WorkflowOutboundInterceptor

    # ------------------------------------------------------------------ facts

    @abc.abstractmethod
    def workflow_info(self) -> Info: ...

    @abc.abstractmethod
    def workflow_object(self) -> Any: ...

    @abc.abstractmethod
    def current_update_info(self) -> UpdateInfo | None: ...

    @abc.abstractmethod
    def cancellation_reason(self) -> str | None: ...

    @abc.abstractmethod
    def payload_converter(self) -> PayloadConverter: ...

    @abc.abstractmethod
    def metric_meter(self) -> MetricMeter: ...

    @abc.abstractmethod
    def extern_functions(self) -> Mapping[str, Callable]: ...

    @abc.abstractmethod
    def current_details(self) -> str: ...

    @abc.abstractmethod
    def set_current_details(self, description: str) -> None: ...

    @abc.abstractmethod
    def current_build_id(self) -> str: ...

    @abc.abstractmethod
    def current_deployment_version(self) -> Any: ...

    @abc.abstractmethod
    def current_history_length(self) -> int: ...

    @abc.abstractmethod
    def current_history_size(self) -> int: ...

    @abc.abstractmethod
    def continue_as_new_suggested(self) -> bool: ...

    @abc.abstractmethod
    def is_replaying(self) -> bool: ...

    @abc.abstractmethod
    def is_read_only(self) -> bool: ...

    @abc.abstractmethod
    def is_failure_exception(self, err: BaseException) -> bool: ...

    @abc.abstractmethod
    def all_handlers_finished(self) -> bool: ...

    # ------------------------------------------------------- deterministic values

    @abc.abstractmethod
    def now(self) -> datetime: ...

    @abc.abstractmethod
    def time(self) -> float: ...

    @abc.abstractmethod
    def random(self) -> random.Random: ...

    @abc.abstractmethod
    def random_seed(self) -> int: ...

    @abc.abstractmethod
    def register_random_seed_callback(self, callback: Callable[[int], None]) -> None: ...

    @abc.abstractmethod
    def uuid4(self) -> Any: ...

    @abc.abstractmethod
    def patch(self, patch_id: str, *, deprecated: bool) -> bool: ...

    # ------------------------------------------------------- memo, search attributes

    @abc.abstractmethod
    def memo(self) -> Mapping[str, Any]: ...

    @abc.abstractmethod
    def memo_value(self, key: str, default: Any, *, type_hint: Any | None) -> Any: ...

    @abc.abstractmethod
    def upsert_memo(self, updates: Mapping[str, Any]) -> None: ...

    @abc.abstractmethod
    def upsert_search_attributes(self, attributes: Any) -> None: ...

    # ------------------------------------------------------------- continued runs

    @abc.abstractmethod
    def has_last_completion_result(self) -> bool: ...

    @abc.abstractmethod
    def last_completion_result(self, type_hint: Any | None) -> Any: ...

    @abc.abstractmethod
    def last_failure(self) -> BaseException | None: ...

    # ------------------------------------------------------------------- waiting

    @abc.abstractmethod
    async def sleep(self, seconds: float, summary: str | None) -> None: ...

    @abc.abstractmethod
    async def wait_condition(
        self,
        fn: Callable[[], bool],
        *,
        timeout: timedelta | float | None = None,
        timeout_summary: str | None = None,
    ) -> None: ...

    @abc.abstractmethod
    async def cancel_external_workflow(
        self, *, workflow_id: str, run_id: str | None, reason: str = ""
    ) -> None: ...

    # ------------------------------------------------------------------ handlers

    @abc.abstractmethod
    def get_handler(self, kind: str, name: str | None) -> Callable | None: ...

    @abc.abstractmethod
    def set_handler(
        self,
        kind: str,
        name: str | None,
        handler: Callable | None,
        *,
        validator: Callable | None = None,
    ) -> None: ...


class RuntimeHost:
    """Base of the event loop that runs workflow code: it carries the runtime driving
    it while an activation runs."""

    runtime: WorkflowRuntime | None = None


def current_runtime() -> WorkflowRuntime | None:
    """The runtime of the workflow whose code runs on this thread, if any."""
    loop = events._get_running_loop()
    return loop.runtime if isinstance(loop, RuntimeHost) else None


# ----------------------------------------------------------------- sandbox flags

#: Per-thread sandbox state: ``refused`` (the calls the determinism guard refuses
#: while sandboxed workflow code runs, else None) and ``unrestricted`` (nesting depth
#: of ``workflow.unsafe.sandbox_unrestricted()``).
sandbox_state = threading.local()


def in_sandbox() -> bool:
    """True while an activation of a sandboxed workflow runs on this thread."""
    return getattr(sandbox_state, "refused", None) is not None


def is_unrestricted() -> bool:
    return getattr(sandbox_state, "unrestricted", 0) > 0


@contextlib.contextmanager
def unrestricted() -> Iterator[None]:
    """``workflow.unsafe.sandbox_unrestricted()``: refuse nothing in this block."""
    sandbox_state.unrestricted = getattr(sandbox_state, "unrestricted", 0) + 1
    try:
        yield None
    finally:
        sandbox_state.unrestricted -= 1


#: Modules imported inside ``workflow.unsafe.imports_passed_through()``: as in
#: temporalio's sandbox, the calls they (and their submodules) make are not refused.
passed_through_modules: set[str] = set()


_recording = threading.local()


@contextlib.contextmanager
def recording_passed_through_imports() -> Iterator[None]:
    """Record the modules this thread imports in the block as passed through."""
    _install_import_recorder()
    _recording.depth = getattr(_recording, "depth", 0) + 1
    try:
        yield None
    finally:
        _recording.depth -= 1


def _install_import_recorder() -> None:
    """Wrap ``builtins.__import__`` once: the wrapper records only on a thread inside
    :func:`recording_passed_through_imports` (others may wrap it in turn, so it is
    never unwrapped)."""
    import builtins
    import sys

    global _recorder_installed
    with _recorder_lock:
        if _recorder_installed:
            return
        original = builtins.__import__

        def recording(
            name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
        ) -> Any:
            module = original(name, globals, locals, fromlist, level)
            if level == 0 and getattr(_recording, "depth", 0) > 0:
                submodules = [f"{name}.{m}" for m in fromlist or () if f"{name}.{m}" in sys.modules]
                # ``from package import module`` passes the module through, not the
                # package.
                passed_through_modules.update(submodules or [name])
            return module

        builtins.__import__ = recording
        _recorder_installed = True


_recorder_lock = threading.Lock()
_recorder_installed = False


def is_passed_through(module: str, passthrough: Any) -> bool:
    """Whether ``module`` was imported in ``imports_passed_through()``, or it or a
    package above it is in ``passthrough`` (the restrictions' names)."""
    if module in passed_through_modules:
        return True
    parts = module.split(".")
    return any(".".join(parts[:end]) in passthrough for end in range(1, len(parts) + 1))


#: ``workflow.unsafe.sandbox_import_notification_policy()``'s override, per thread.
import_policy_state = threading.local()


@contextlib.contextmanager
def import_policy_override(policy: Any) -> Iterator[None]:
    previous = getattr(import_policy_state, "override", None)
    import_policy_state.override = policy
    try:
        yield None
    finally:
        import_policy_state.override = previous


def current_import_policy_override() -> Any:
    return getattr(import_policy_state, "override", None)
