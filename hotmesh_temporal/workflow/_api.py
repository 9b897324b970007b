"""Everything workflow code uses: decorators, activities, timers, handlers, info.

Same names, signatures and defaults as ``temporalio.workflow``. The functions here
are thin: they validate arguments and hand the work to the workflow instance that is
currently running on this thread (found through the running workflow event loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random as _random_module
import sys
import uuid as _uuid_module
from abc import ABC, abstractmethod
from collections.abc import (
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, Flag, IntEnum
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    NoReturn,
    TypeVar,
    overload,
)

from typing_extensions import ParamSpec, Protocol, TypedDict

import hotmesh_temporal.common
import hotmesh_temporal.converter
import hotmesh_temporal.exceptions
from hotmesh_temporal.workflow import _definition as _defs
from hotmesh_temporal.workflow import _runtime_contract as _rt

if TYPE_CHECKING:
    from hotmesh_temporal.api.common.v1 import Payload

# ----------------------------------------------------------------- type vars

AnyType = TypeVar("AnyType")
ClassType = TypeVar("ClassType", bound=type)
SelfType = TypeVar("SelfType")
ParamType = TypeVar("ParamType")
ReturnType = TypeVar("ReturnType", covariant=True)
ProtocolReturnType = TypeVar("ProtocolReturnType", covariant=True)
CallableType = TypeVar("CallableType", bound=Callable[..., Any])
CallableAsyncType = TypeVar("CallableAsyncType", bound=Callable[..., Awaitable[Any]])
CallableSyncOrAsyncType = TypeVar("CallableSyncOrAsyncType", bound=Callable[..., Any])
CallableSyncOrAsyncReturnNoneType = TypeVar(
    "CallableSyncOrAsyncReturnNoneType", bound=Callable[..., Any]
)
MultiParamSpec = ParamSpec("MultiParamSpec")


class CallableAsyncNoParam(Protocol[ProtocolReturnType]):
    def __call__(self) -> Awaitable[ProtocolReturnType]: ...


class CallableSyncNoParam(Protocol[ProtocolReturnType]):
    def __call__(self) -> ProtocolReturnType: ...


class CallableAsyncSingleParam(Protocol[ParamType, ProtocolReturnType]):
    def __call__(self, __arg: ParamType) -> Awaitable[ProtocolReturnType]: ...


class CallableSyncSingleParam(Protocol[ParamType, ProtocolReturnType]):
    def __call__(self, __arg: ParamType) -> ProtocolReturnType: ...


class MethodAsyncNoParam(Protocol[SelfType, ProtocolReturnType]):
    def __call__(__self, self: SelfType) -> Awaitable[ProtocolReturnType]: ...


class MethodSyncNoParam(Protocol[SelfType, ProtocolReturnType]):
    def __call__(__self, self: SelfType) -> ProtocolReturnType: ...


class MethodSyncOrAsyncNoParam(Protocol[SelfType, ProtocolReturnType]):
    def __call__(__self, self: SelfType) -> ProtocolReturnType | Awaitable[ProtocolReturnType]: ...


class MethodAsyncSingleParam(Protocol[SelfType, ParamType, ProtocolReturnType]):
    def __call__(__self, self: SelfType, __arg: ParamType) -> Awaitable[ProtocolReturnType]: ...


class MethodSyncSingleParam(Protocol[SelfType, ParamType, ProtocolReturnType]):
    def __call__(__self, self: SelfType, __arg: ParamType) -> ProtocolReturnType: ...


class MethodSyncOrAsyncSingleParam(Protocol[SelfType, ParamType, ProtocolReturnType]):
    def __call__(
        __self, self: SelfType, __arg: ParamType
    ) -> ProtocolReturnType | Awaitable[ProtocolReturnType]: ...


class UpdateMethodMultiParam(Protocol[MultiParamSpec, ProtocolReturnType]):
    def __call__(
        self, *args: MultiParamSpec.args, **kwargs: MultiParamSpec.kwargs
    ) -> ProtocolReturnType: ...

    def validator(
        self, vfunc: Callable[MultiParamSpec, None]
    ) -> Callable[MultiParamSpec, None]: ...


# Marks "no positional argument given" so that ``None`` stays a valid argument.
_ARG_UNSET: Any = getattr(hotmesh_temporal.common, "_arg_unset", object())


def _args_from(arg: Any, args: Sequence[Any]) -> list[Any]:
    if arg is _ARG_UNSET:
        return list(args)
    if args:
        raise ValueError("Cannot have arg and args")
    return [arg]


# --------------------------------------------------------------------- enums


class HandlerUnfinishedPolicy(Enum):
    """What to do when the workflow finishes while this handler is still running."""

    WARN_AND_ABANDON = 1
    ABANDON = 2


class ActivityCancellationType(IntEnum):
    TRY_CANCEL = 0
    WAIT_CANCELLATION_COMPLETED = 1
    ABANDON = 2


class ChildWorkflowCancellationType(IntEnum):
    ABANDON = 0
    TRY_CANCEL = 1
    WAIT_CANCELLATION_COMPLETED = 2
    WAIT_CANCELLATION_REQUESTED = 3


class ParentClosePolicy(IntEnum):
    UNSPECIFIED = 0
    TERMINATE = 1
    ABANDON = 2
    REQUEST_CANCEL = 3


class VersioningIntent(Enum):
    COMPATIBLE = 1
    DEFAULT = 2


class ContinueAsNewVersioningBehavior(IntEnum):
    UNSPECIFIED = 0
    AUTO_UPGRADE = 1
    USE_RAMPING_VERSION = 2


class NexusOperationCancellationType(IntEnum):
    ABANDON = 1
    TRY_CANCEL = 2
    WAIT_REQUESTED = 3
    WAIT_COMPLETED = 0


class SandboxImportNotificationPolicy(Flag):
    SILENT = 1
    WARN_ON_DYNAMIC_IMPORT = 2
    WARN_ON_UNINTENTIONAL_PASSTHROUGH = 4
    RAISE_ON_UNINTENTIONAL_PASSTHROUGH = 8


# ---------------------------------------------------------------- exceptions


class ContinueAsNewError(BaseException):
    """Raised by :func:`continue_as_new`; let it escape the run method."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)


class NondeterminismError(hotmesh_temporal.exceptions.TemporalError):
    """Workflow code issued commands that contradict the recorded history."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ReadOnlyContextError(hotmesh_temporal.exceptions.TemporalError):
    """A query handler or update validator tried to change workflow state."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnfinishedUpdateHandlersWarning(RuntimeWarning):
    """The workflow finished while update handlers were still running."""


class UnfinishedSignalHandlersWarning(RuntimeWarning):
    """The workflow finished while signal handlers were still running."""


# --------------------------------------------------------------------- runtime


def _runtime() -> _rt.WorkflowRuntime:
    runtime = _rt.current_runtime()
    if runtime is None:
        raise RuntimeError("Not in workflow event loop")
    return runtime


def _interceptor_inputs() -> Any:
    """The worker interceptor module. Imported late: temporalio's layout puts these
    input types in the worker package, whose __init__ loads the workers, which load the
    engine runtime, which imports this module."""
    from hotmesh_temporal.worker import _interceptor

    return _interceptor


def _activity_arg_types(activity: Any) -> list[type] | None:
    defn = None if isinstance(activity, str) else _activity_definition(activity)
    return getattr(defn, "arg_types", None)


def in_workflow() -> bool:
    """True when called from workflow code (inside a running workflow)."""
    return _rt.current_runtime() is not None


# ---------------------------------------------------------------- decorators


@overload
def defn(cls: ClassType) -> ClassType: ...


@overload
def defn(
    *,
    name: str | None = None,
    sandboxed: bool = True,
    failure_exception_types: Sequence[type[BaseException]] = [],
    versioning_behavior: hotmesh_temporal.common.VersioningBehavior = hotmesh_temporal.common.VersioningBehavior.UNSPECIFIED,
) -> Callable[[ClassType], ClassType]: ...


@overload
def defn(
    *,
    sandboxed: bool = True,
    dynamic: bool = False,
    versioning_behavior: hotmesh_temporal.common.VersioningBehavior = hotmesh_temporal.common.VersioningBehavior.UNSPECIFIED,
) -> Callable[[ClassType], ClassType]: ...


def defn(
    cls: ClassType | None = None,
    *,
    name: str | None = None,
    sandboxed: bool = True,
    dynamic: bool = False,
    failure_exception_types: Sequence[type[BaseException]] = [],
    versioning_behavior: hotmesh_temporal.common.VersioningBehavior = hotmesh_temporal.common.VersioningBehavior.UNSPECIFIED,
):
    """Mark a class as a workflow: exactly one ``@workflow.run`` async method."""

    def decorator(cls: ClassType) -> ClassType:
        _defs.define_workflow(
            cls,
            name=name,
            sandboxed=sandboxed,
            dynamic=dynamic,
            failure_exception_types=failure_exception_types,
            versioning_behavior=versioning_behavior,
        )
        return cls

    return decorator(cls) if cls is not None else decorator


def init(init_fn: CallableType) -> CallableType:
    """Mark ``__init__`` as taking the same arguments as the run method."""
    if getattr(init_fn, "__name__", None) != "__init__":
        raise ValueError("@workflow.init may only be used on the __init__ method")
    setattr(init_fn, _defs.INIT_MARK, True)
    return init_fn


def run(fn: CallableAsyncType) -> CallableAsyncType:
    """Mark the async method that is the workflow's body."""
    if not inspect.iscoroutinefunction(fn):
        raise ValueError("Workflow run method must be an async function")
    # Workers and clients refer to the class by its module path, as Temporal does.
    if "<locals>" in fn.__qualname__:
        raise ValueError(_defs.LOCAL_CLASS_ERROR)
    setattr(fn, _defs.RUN_MARK, True)
    return fn


def dynamic_config(
    fn: MethodSyncNoParam[SelfType, DynamicWorkflowConfig],
) -> MethodSyncNoParam[SelfType, DynamicWorkflowConfig]:
    """Mark the method that gives a dynamic workflow its per-run configuration."""
    setattr(fn, _defs.DYNAMIC_CONFIG_MARK, True)
    return fn


def signal(
    fn: CallableSyncOrAsyncReturnNoneType | None = None,
    *,
    name: str | None = None,
    dynamic: bool | None = False,
    unfinished_policy: HandlerUnfinishedPolicy = HandlerUnfinishedPolicy.WARN_AND_ABANDON,
    description: str | None = None,
):
    """Mark a method as a signal handler (named after the method unless ``name``)."""
    if name is not None and dynamic:
        raise RuntimeError("Cannot provide name and dynamic boolean")

    def decorator(fn: CallableSyncOrAsyncReturnNoneType) -> CallableSyncOrAsyncReturnNoneType:
        defn = _defs.SignalDefinition.from_fn(
            fn,
            name=name,
            dynamic=dynamic,
            unfinished_policy=unfinished_policy,
            description=description,
        )
        setattr(fn, _defs.SIGNAL_ATTR, defn)
        return fn

    return decorator(fn) if fn is not None else decorator


def query(
    fn: CallableType | None = None,
    *,
    name: str | None = None,
    dynamic: bool | None = False,
    description: str | None = None,
):
    """Mark a method as a query handler: read-only, must not issue commands."""
    if name is not None and dynamic:
        raise RuntimeError("Cannot provide name and dynamic boolean")

    def decorator(fn: CallableType) -> CallableType:
        defn = _defs.QueryDefinition.from_fn(
            fn, name=name, dynamic=dynamic, description=description
        )
        setattr(fn, _defs.QUERY_ATTR, defn)
        return fn

    return decorator(fn) if fn is not None else decorator


def update(
    fn: CallableSyncOrAsyncType | None = None,
    *,
    name: str | None = None,
    dynamic: bool | None = False,
    unfinished_policy: HandlerUnfinishedPolicy = HandlerUnfinishedPolicy.WARN_AND_ABANDON,
    description: str | None = None,
):
    """Mark a method as an update handler; ``@my_update.validator`` adds a validator."""
    if name is not None and dynamic:
        raise RuntimeError("Cannot provide name and dynamic boolean")

    def decorator(fn: CallableSyncOrAsyncType) -> CallableSyncOrAsyncType:
        defn = _defs.UpdateDefinition.from_fn(
            fn,
            name=name,
            dynamic=dynamic,
            unfinished_policy=unfinished_policy,
            description=description,
        )
        setattr(fn, _defs.UPDATE_ATTR, defn)

        def validator(vfunc: Callable[..., None]) -> Callable[..., None]:
            defn.set_validator(vfunc)
            return vfunc

        fn.validator = validator
        return fn

    return decorator(fn) if fn is not None else decorator


# ----------------------------------------------------------------------- info


@dataclass(frozen=True)
class ParentInfo:
    namespace: str
    run_id: str
    workflow_id: str


@dataclass(frozen=True)
class RootInfo:
    run_id: str
    workflow_id: str


@dataclass(frozen=True)
class Info:
    """Facts about the running workflow execution (``workflow.info()``)."""

    attempt: int
    continued_run_id: str | None
    cron_schedule: str | None
    execution_timeout: timedelta | None
    first_execution_run_id: str
    headers: Mapping[str, Payload]
    namespace: str
    original_execution_run_id: str
    parent: ParentInfo | None
    root: RootInfo | None
    priority: hotmesh_temporal.common.Priority
    raw_memo: Mapping[str, Payload]
    retry_policy: hotmesh_temporal.common.RetryPolicy | None
    run_id: str
    run_timeout: timedelta | None
    search_attributes: hotmesh_temporal.common.SearchAttributes
    start_time: datetime
    task_queue: str
    task_timeout: timedelta
    typed_search_attributes: hotmesh_temporal.common.TypedSearchAttributes
    workflow_id: str
    workflow_start_time: datetime
    workflow_type: str

    def _logger_details(self) -> Mapping[str, Any]:
        return {
            "attempt": self.attempt,
            "namespace": self.namespace,
            "run_id": self.run_id,
            "task_queue": self.task_queue,
            "workflow_id": self.workflow_id,
            "workflow_type": self.workflow_type,
        }

    def get_current_build_id(self) -> str:
        return _runtime().current_build_id()

    def get_current_deployment_version(
        self,
    ) -> hotmesh_temporal.common.WorkerDeploymentVersion | None:
        return _runtime().current_deployment_version()

    def get_current_history_length(self) -> int:
        """Events in history so far, as of the current activation."""
        return _runtime().current_history_length()

    def get_current_history_size(self) -> int:
        return _runtime().current_history_size()

    def is_continue_as_new_suggested(self) -> bool:
        return _runtime().continue_as_new_suggested()

    def is_target_worker_deployment_version_changed(self) -> bool:
        return False


@dataclass(frozen=True)
class UpdateInfo:
    id: str
    name: str

    @property
    def _logger_details(self) -> Mapping[str, Any]:
        return {"update_id": self.id, "update_name": self.name}


@dataclass(frozen=True)
class DynamicWorkflowConfig:
    failure_exception_types: Sequence[type[BaseException]] | None = None
    versioning_behavior: hotmesh_temporal.common.VersioningBehavior = (
        hotmesh_temporal.common.VersioningBehavior.UNSPECIFIED
    )


def info() -> Info:
    """Information about the current workflow run."""
    return _runtime().workflow_info()


def instance() -> Any:
    """The workflow object (instance of the ``@workflow.defn`` class)."""
    return _runtime().workflow_object()


def current_update_info() -> UpdateInfo | None:
    """The update being handled by the calling coroutine, or None."""
    return _runtime().current_update_info()


def cancellation_reason() -> str | None:
    return _runtime().cancellation_reason()


def payload_converter() -> hotmesh_temporal.converter.PayloadConverter:
    """The payload converter of this workflow's data converter."""
    return _runtime().payload_converter()


def metric_meter() -> hotmesh_temporal.common.MetricMeter:
    return _runtime().metric_meter()


def extern_functions() -> Mapping[str, Callable]:
    """Functions the worker's interceptors registered for workflow code
    (``WorkflowInterceptorClassInput.unsafe_extern_functions``)."""
    return _runtime().extern_functions()


def get_current_details() -> str:
    return _runtime().current_details()


def set_current_details(description: str) -> None:
    _runtime().set_current_details(description)


def all_handlers_finished() -> bool:
    """True when no signal or update handler is still running."""
    return _runtime().all_handlers_finished()


def is_failure_exception(err: BaseException) -> bool:
    """Whether ``err`` would fail the workflow (rather than the workflow task)."""
    return _runtime().is_failure_exception(err)


# ----------------------------------------------------------- time and random


def now() -> datetime:
    """Workflow time as a UTC datetime: deterministic, moves between activations."""
    return _runtime().now()


def time() -> float:
    """Workflow time in seconds since the epoch."""
    return _runtime().time()


def time_ns() -> int:
    return int(round(time() * 1_000_000_000))


def random() -> _random_module.Random:
    """The workflow's deterministically seeded random generator."""
    return _runtime().random()


def random_seed() -> int:
    return _runtime().random_seed()


def register_random_seed_callback(callback: Callable[[int], None]) -> None:
    _runtime().register_random_seed_callback(callback)


def new_random(name: str | None = None) -> _random_module.Random:
    """A new generator seeded with the workflow's seed (as temporalio: without
    ``name`` it starts out as :func:`random` did; a name is mixed into the seed), that
    follows the workflow's seed when it changes. Drawing from it leaves
    :func:`random` untouched."""

    def seed_for(workflow_seed: int) -> int | str:
        return workflow_seed if name is None else f"{workflow_seed}:{name}"

    generator = _random_module.Random(seed_for(random_seed()))
    register_random_seed_callback(lambda new_seed: generator.seed(seed_for(new_seed)))
    return generator


def uuid4() -> _uuid_module.UUID:
    """A deterministic version 4 UUID from the workflow's random generator."""
    return _uuid_module.UUID(int=random().getrandbits(128), version=4)


def uuid7() -> _uuid_module.UUID:
    """A deterministic version 7 UUID: workflow time in ms plus workflow randomness."""
    millis = int(time() * 1000) & ((1 << 48) - 1)
    rand = random().getrandbits(74)
    value = (
        (millis << 80)
        | (0x7 << 76)
        | ((rand >> 62) << 64)
        | (0b10 << 62)
        | (rand & ((1 << 62) - 1))
    )
    return _uuid_module.UUID(int=value)


# --------------------------------------------------------------------- memo


def memo() -> Mapping[str, Any]:
    """The workflow's memo, each value decoded without a type hint."""
    return _runtime().memo()


def memo_value(key: str, default: Any = _ARG_UNSET, *, type_hint: type | None = None) -> Any:
    """One memo value; ``KeyError`` when missing and no default is given."""
    return _runtime().memo_value(key, default, type_hint=type_hint)


def upsert_memo(
    updates: Mapping[str, Any], *, event_groups: Sequence[EventGroup] | None = None
) -> None:
    """Add, replace or (with a ``None`` value) remove memo entries."""
    _runtime().upsert_memo(updates)


def upsert_search_attributes(
    attributes: hotmesh_temporal.common.SearchAttributes
    | Sequence[hotmesh_temporal.common.SearchAttributeUpdate],
    *,
    event_groups: Sequence[EventGroup] | None = None,
) -> None:
    _runtime().upsert_search_attributes(attributes)


# ------------------------------------------------------------------ patching


def patched(id: str, *, event_groups: Sequence[EventGroup] | None = None) -> bool:
    """True if this run takes the new code path for patch ``id``."""
    return _runtime().patch(id, deprecated=False)


def deprecate_patch(id: str, *, event_groups: Sequence[EventGroup] | None = None) -> None:
    """Mark patch ``id`` deprecated: every run now takes the new path."""
    _runtime().patch(id, deprecated=True)


# ------------------------------------------------------------- last results


def get_last_completion_result(type_hint: type | None = None) -> Any | None:
    return _runtime().last_completion_result(type_hint)


def get_last_failure() -> BaseException | None:
    return _runtime().last_failure()


def has_last_completion_result() -> bool:
    return _runtime().has_last_completion_result()


# ------------------------------------------------------------------- waiting


async def sleep(
    duration: float | timedelta,
    *,
    summary: str | None = None,
    event_groups: Sequence[EventGroup] | None = None,
) -> None:
    """Sleep for a duration of workflow time (a durable timer, recorded with the
    summary)."""
    seconds = duration.total_seconds() if isinstance(duration, timedelta) else duration
    await _runtime().sleep(seconds, summary)


async def wait_condition(
    fn: Callable[[], bool],
    *,
    timeout: timedelta | float | None = None,
    timeout_summary: str | None = None,
    event_groups: Sequence[EventGroup] | None = None,
) -> None:
    """Wait until ``fn()`` is true; ``asyncio.TimeoutError`` after ``timeout``."""
    await _runtime().wait_condition(fn, timeout=timeout, timeout_summary=timeout_summary)


async def wait(
    fs: Iterable,
    *,
    timeout: float | None = None,
    return_when: str = asyncio.ALL_COMPLETED,
) -> tuple:
    """``asyncio.wait`` with deterministic ordering of the returned sets."""
    futures = [asyncio.ensure_future(f) for f in fs]
    done, _ = await asyncio.wait(futures, timeout=timeout, return_when=return_when)
    # Sets of tasks iterate in hash (address) order: return lists in input order.
    return [f for f in futures if f in done], [f for f in futures if f not in done]


def as_completed(
    fs: Iterable[Awaitable[AnyType]], *, timeout: float | None = None
) -> Iterator[Awaitable[AnyType]]:
    """``asyncio.as_completed`` whose order does not depend on set iteration."""
    futures = [asyncio.ensure_future(f) for f in fs]
    return _completed_in_order(futures, timeout)


def _completed_in_order(futures: list[asyncio.Future], timeout: float | None) -> Iterator:
    pending = list(futures)
    done_queue: list[asyncio.Future] = []
    deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout

    async def next_done() -> Any:
        while not done_queue:
            if not pending:
                raise RuntimeError("as_completed iterator exhausted")
            remaining = None if deadline is None else deadline - asyncio.get_running_loop().time()
            if remaining is not None and remaining <= 0:
                raise asyncio.TimeoutError()
            done, _ = await asyncio.wait(
                pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                raise asyncio.TimeoutError()
            for fut in list(pending):
                if fut in done:
                    pending.remove(fut)
                    done_queue.append(fut)
        return await done_queue.pop(0)

    for _ in range(len(futures)):
        yield next_done()


# ---------------------------------------------------------------- activities


class ActivityConfig(TypedDict, total=False):
    task_queue: str | None
    schedule_to_close_timeout: timedelta | None
    schedule_to_start_timeout: timedelta | None
    start_to_close_timeout: timedelta | None
    heartbeat_timeout: timedelta | None
    retry_policy: hotmesh_temporal.common.RetryPolicy | None
    cancellation_type: ActivityCancellationType
    activity_id: str | None
    versioning_intent: VersioningIntent | None
    summary: str | None
    event_groups: Sequence[EventGroup] | None
    priority: hotmesh_temporal.common.Priority


class LocalActivityConfig(TypedDict, total=False):
    schedule_to_close_timeout: timedelta | None
    schedule_to_start_timeout: timedelta | None
    start_to_close_timeout: timedelta | None
    retry_policy: hotmesh_temporal.common.RetryPolicy | None
    local_retry_threshold: timedelta | None
    cancellation_type: ActivityCancellationType
    activity_id: str | None
    summary: str | None
    event_groups: Sequence[EventGroup] | None


class ActivityHandle(asyncio.Task, Generic[ReturnType]):  # type: ignore[type-arg]
    """A started activity: await it for the result, ``cancel()`` to request cancel."""


def _activity_definition(activity: Any) -> Any:
    for candidate in (activity, getattr(activity, "__call__", None)):  # noqa: B004
        defn = getattr(candidate, "__temporal_activity_definition", None)
        if defn is not None:
            return defn
    return None


def _activity_type_and_result_type(activity: Any) -> tuple[str, Any | None]:
    if isinstance(activity, str):
        return activity, None
    defn = _activity_definition(activity)
    if defn is not None:
        if getattr(defn, "name", None) is None:
            raise ValueError("Cannot invoke dynamic activity explicitly")
        return defn.name, getattr(defn, "ret_type", None)
    if not callable(activity):
        raise TypeError(f"Activity {activity!r} is neither a name nor a callable")
    fn = activity if hasattr(activity, "__name__") else activity.__call__
    _, ret_type = _defs.arg_and_return_types(fn, is_method=False)
    return getattr(fn, "__name__", type(activity).__name__), ret_type


def _require_activity_timeout(
    schedule_to_close_timeout: timedelta | None, start_to_close_timeout: timedelta | None
) -> None:
    if schedule_to_close_timeout is None and start_to_close_timeout is None:
        raise ValueError("Activity must have start_to_close_timeout or schedule_to_close_timeout")


def start_activity(
    activity: Any,
    arg: Any = _ARG_UNSET,
    *,
    args: Sequence[Any] = [],
    task_queue: str | None = None,
    result_type: type | None = None,
    schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None,
    heartbeat_timeout: timedelta | None = None,
    retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    activity_id: str | None = None,
    versioning_intent: VersioningIntent | None = None,
    summary: str | None = None,
    event_groups: Sequence[EventGroup] | None = None,
    priority: hotmesh_temporal.common.Priority = hotmesh_temporal.common.Priority(),
) -> ActivityHandle[Any]:
    """Schedule an activity and return a handle to await its result."""
    _require_activity_timeout(schedule_to_close_timeout, start_to_close_timeout)
    activity_type, declared_result = _activity_type_and_result_type(activity)
    return _runtime().outbound.start_activity(
        _interceptor_inputs().StartActivityInput(
            activity=activity_type,
            args=_args_from(arg, args),
            activity_id=activity_id,
            task_queue=task_queue,
            schedule_to_close_timeout=schedule_to_close_timeout,
            schedule_to_start_timeout=schedule_to_start_timeout,
            start_to_close_timeout=start_to_close_timeout,
            heartbeat_timeout=heartbeat_timeout,
            retry_policy=retry_policy,
            cancellation_type=cancellation_type,
            headers={},
            disable_eager_execution=False,
            versioning_intent=versioning_intent,
            summary=summary,
            priority=priority,
            arg_types=_activity_arg_types(activity),
            ret_type=result_type or declared_result,
            event_groups=event_groups,
        )
    )


async def execute_activity(
    activity: Any,
    arg: Any = _ARG_UNSET,
    *,
    args: Sequence[Any] = [],
    task_queue: str | None = None,
    result_type: type | None = None,
    schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None,
    heartbeat_timeout: timedelta | None = None,
    retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    activity_id: str | None = None,
    versioning_intent: VersioningIntent | None = None,
    summary: str | None = None,
    event_groups: Sequence[EventGroup] | None = None,
    priority: hotmesh_temporal.common.Priority = hotmesh_temporal.common.Priority(),
) -> Any:
    """Run an activity and return its result (``ActivityError`` on failure)."""
    return await start_activity(
        activity,
        arg,
        args=args,
        task_queue=task_queue,
        result_type=result_type,
        schedule_to_close_timeout=schedule_to_close_timeout,
        schedule_to_start_timeout=schedule_to_start_timeout,
        start_to_close_timeout=start_to_close_timeout,
        heartbeat_timeout=heartbeat_timeout,
        retry_policy=retry_policy,
        cancellation_type=cancellation_type,
        activity_id=activity_id,
        versioning_intent=versioning_intent,
        summary=summary,
        event_groups=event_groups,
        priority=priority,
    )


def start_activity_class(
    activity: type[Callable],
    arg: Any = _ARG_UNSET,
    *,
    args: Sequence[Any] = [],
    task_queue: str | None = None,
    schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None,
    heartbeat_timeout: timedelta | None = None,
    retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    activity_id: str | None = None,
    versioning_intent: VersioningIntent | None = None,
    summary: str | None = None,
    event_groups: Sequence[EventGroup] | None = None,
    priority: hotmesh_temporal.common.Priority = hotmesh_temporal.common.Priority(),
) -> ActivityHandle[Any]:
    """:func:`start_activity` for a callable class whose ``__call__`` is the activity."""
    return start_activity(
        activity,
        arg,
        args=args,
        task_queue=task_queue,
        schedule_to_close_timeout=schedule_to_close_timeout,
        schedule_to_start_timeout=schedule_to_start_timeout,
        start_to_close_timeout=start_to_close_timeout,
        heartbeat_timeout=heartbeat_timeout,
        retry_policy=retry_policy,
        cancellation_type=cancellation_type,
        activity_id=activity_id,
        versioning_intent=versioning_intent,
        summary=summary,
        event_groups=event_groups,
        priority=priority,
    )


async def execute_activity_class(
    activity: type[Callable],
    arg: Any = _ARG_UNSET,
    *,
    args: Sequence[Any] = [],
    task_queue: str | None = None,
    schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None,
    heartbeat_timeout: timedelta | None = None,
    retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    activity_id: str | None = None,
    versioning_intent: VersioningIntent | None = None,
    summary: str | None = None,
    event_groups: Sequence[EventGroup] | None = None,
    priority: hotmesh_temporal.common.Priority = hotmesh_temporal.common.Priority(),
) -> Any:
    return await start_activity_class(
        activity,
        arg,
        args=args,
        task_queue=task_queue,
        schedule_to_close_timeout=schedule_to_close_timeout,
        schedule_to_start_timeout=schedule_to_start_timeout,
        start_to_close_timeout=start_to_close_timeout,
        heartbeat_timeout=heartbeat_timeout,
        retry_policy=retry_policy,
        cancellation_type=cancellation_type,
        activity_id=activity_id,
        versioning_intent=versioning_intent,
        summary=summary,
        event_groups=event_groups,
        priority=priority,
    )


def start_activity_method(
    activity: Callable,
    arg: Any = _ARG_UNSET,
    *,
    args: Sequence[Any] = [],
    task_queue: str | None = None,
    schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None,
    heartbeat_timeout: timedelta | None = None,
    retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    activity_id: str | None = None,
    versioning_intent: VersioningIntent | None = None,
    summary: str | None = None,
    event_groups: Sequence[EventGroup] | None = None,
    priority: hotmesh_temporal.common.Priority = hotmesh_temporal.common.Priority(),
) -> ActivityHandle[Any]:
    """:func:`start_activity` for an activity defined as a method (``MyActs.do``)."""
    return start_activity(
        activity,
        arg,
        args=args,
        task_queue=task_queue,
        schedule_to_close_timeout=schedule_to_close_timeout,
        schedule_to_start_timeout=schedule_to_start_timeout,
        start_to_close_timeout=start_to_close_timeout,
        heartbeat_timeout=heartbeat_timeout,
        retry_policy=retry_policy,
        cancellation_type=cancellation_type,
        activity_id=activity_id,
        versioning_intent=versioning_intent,
        summary=summary,
        event_groups=event_groups,
        priority=priority,
    )


async def execute_activity_method(
    activity: Callable,
    arg: Any = _ARG_UNSET,
    *,
    args: Sequence[Any] = [],
    task_queue: str | None = None,
    schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None,
    heartbeat_timeout: timedelta | None = None,
    retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    activity_id: str | None = None,
    versioning_intent: VersioningIntent | None = None,
    summary: str | None = None,
    event_groups: Sequence[EventGroup] | None = None,
    priority: hotmesh_temporal.common.Priority = hotmesh_temporal.common.Priority(),
) -> Any:
    return await start_activity_method(
        activity,
        arg,
        args=args,
        task_queue=task_queue,
        schedule_to_close_timeout=schedule_to_close_timeout,
        schedule_to_start_timeout=schedule_to_start_timeout,
        start_to_close_timeout=start_to_close_timeout,
        heartbeat_timeout=heartbeat_timeout,
        retry_policy=retry_policy,
        cancellation_type=cancellation_type,
        activity_id=activity_id,
        versioning_intent=versioning_intent,
        summary=summary,
        event_groups=event_groups,
        priority=priority,
    )


def start_local_activity(
    activity: Any,
    arg: Any = _ARG_UNSET,
    *,
    args: Sequence[Any] = [],
    result_type: type | None = None,
    schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None,
    retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
    local_retry_threshold: timedelta | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    activity_id: str | None = None,
    summary: str | None = None,
    event_groups: Sequence[EventGroup] | None = None,
) -> ActivityHandle[Any]:
    """Schedule a local activity (run by the worker that runs this workflow)."""
    _require_activity_timeout(schedule_to_close_timeout, start_to_close_timeout)
    activity_type, declared_result = _activity_type_and_result_type(activity)
    return _runtime().outbound.start_local_activity(
        _interceptor_inputs().StartLocalActivityInput(
            activity=activity_type,
            args=_args_from(arg, args),
            activity_id=activity_id,
            schedule_to_close_timeout=schedule_to_close_timeout,
            schedule_to_start_timeout=schedule_to_start_timeout,
            start_to_close_timeout=start_to_close_timeout,
            retry_policy=retry_policy,
            local_retry_threshold=local_retry_threshold,
            cancellation_type=cancellation_type,
            headers={},
            summary=summary,
            event_groups=event_groups,
            arg_types=_activity_arg_types(activity),
            ret_type=result_type or declared_result,
        )
    )


async def execute_local_activity(
    activity: Any,
    arg: Any = _ARG_UNSET,
    *,
    args: Sequence[Any] = [],
    result_type: type | None = None,
    schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None,
    retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
    local_retry_threshold: timedelta | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    activity_id: str | None = None,
    summary: str | None = None,
    event_groups: Sequence[EventGroup] | None = None,
) -> Any:
    return await start_local_activity(
        activity,
        arg,
        args=args,
        result_type=result_type,
        schedule_to_close_timeout=schedule_to_close_timeout,
        schedule_to_start_timeout=schedule_to_start_timeout,
        start_to_close_timeout=start_to_close_timeout,
        retry_policy=retry_policy,
        local_retry_threshold=local_retry_threshold,
        cancellation_type=cancellation_type,
        activity_id=activity_id,
        summary=summary,
        event_groups=event_groups,
    )


def start_local_activity_class(
    activity: type[Callable],
    arg: Any = _ARG_UNSET,
    *,
    args: Sequence[Any] = [],
    schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None,
    retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
    local_retry_threshold: timedelta | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    activity_id: str | None = None,
    summary: str | None = None,
    event_groups: Sequence[EventGroup] | None = None,
) -> ActivityHandle[Any]:
    return start_local_activity(
        activity,
        arg,
        args=args,
        schedule_to_close_timeout=schedule_to_close_timeout,
        schedule_to_start_timeout=schedule_to_start_timeout,
        start_to_close_timeout=start_to_close_timeout,
        retry_policy=retry_policy,
        local_retry_threshold=local_retry_threshold,
        cancellation_type=cancellation_type,
        activity_id=activity_id,
        summary=summary,
        event_groups=event_groups,
    )


async def execute_local_activity_class(
    activity: type[Callable],
    arg: Any = _ARG_UNSET,
    *,
    args: Sequence[Any] = [],
    schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None,
    retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
    local_retry_threshold: timedelta | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    activity_id: str | None = None,
    summary: str | None = None,
    event_groups: Sequence[EventGroup] | None = None,
) -> Any:
    return await start_local_activity_class(
        activity,
        arg,
        args=args,
        schedule_to_close_timeout=schedule_to_close_timeout,
        schedule_to_start_timeout=schedule_to_start_timeout,
        start_to_close_timeout=start_to_close_timeout,
        retry_policy=retry_policy,
        local_retry_threshold=local_retry_threshold,
        cancellation_type=cancellation_type,
        activity_id=activity_id,
        summary=summary,
        event_groups=event_groups,
    )


def start_local_activity_method(
    activity: Callable,
    arg: Any = _ARG_UNSET,
    *,
    args: Sequence[Any] = [],
    schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None,
    retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
    local_retry_threshold: timedelta | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    activity_id: str | None = None,
    summary: str | None = None,
    event_groups: Sequence[EventGroup] | None = None,
) -> ActivityHandle[Any]:
    return start_local_activity(
        activity,
        arg,
        args=args,
        schedule_to_close_timeout=schedule_to_close_timeout,
        schedule_to_start_timeout=schedule_to_start_timeout,
        start_to_close_timeout=start_to_close_timeout,
        retry_policy=retry_policy,
        local_retry_threshold=local_retry_threshold,
        cancellation_type=cancellation_type,
        activity_id=activity_id,
        summary=summary,
        event_groups=event_groups,
    )


async def execute_local_activity_method(
    activity: Callable,
    arg: Any = _ARG_UNSET,
    *,
    args: Sequence[Any] = [],
    schedule_to_close_timeout: timedelta | None = None,
    schedule_to_start_timeout: timedelta | None = None,
    start_to_close_timeout: timedelta | None = None,
    retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
    local_retry_threshold: timedelta | None = None,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
    activity_id: str | None = None,
    summary: str | None = None,
    event_groups: Sequence[EventGroup] | None = None,
) -> Any:
    return await start_local_activity_method(
        activity,
        arg,
        args=args,
        schedule_to_close_timeout=schedule_to_close_timeout,
        schedule_to_start_timeout=schedule_to_start_timeout,
        start_to_close_timeout=start_to_close_timeout,
        retry_policy=retry_policy,
        local_retry_threshold=local_retry_threshold,
        cancellation_type=cancellation_type,
        activity_id=activity_id,
        summary=summary,
        event_groups=event_groups,
    )


# ----------------------------------------------------------- child workflows


class ChildWorkflowConfig(TypedDict, total=False):
    id: str | None
    task_queue: str | None
    cancellation_type: ChildWorkflowCancellationType
    parent_close_policy: ParentClosePolicy
    execution_timeout: timedelta | None
    run_timeout: timedelta | None
    task_timeout: timedelta | None
    id_reuse_policy: hotmesh_temporal.common.WorkflowIDReusePolicy
    retry_policy: hotmesh_temporal.common.RetryPolicy | None
    cron_schedule: str
    memo: Mapping[str, Any] | None
    search_attributes: (
        hotmesh_temporal.common.SearchAttributes
        | hotmesh_temporal.common.TypedSearchAttributes
        | None
    )
    versioning_intent: VersioningIntent | None
    versioning_override: hotmesh_temporal.common.VersioningOverride | None
    static_summary: str | None
    static_details: str | None
    event_groups: Sequence[EventGroup] | None
    priority: hotmesh_temporal.common.Priority


class ChildWorkflowHandle(asyncio.Task, Generic[SelfType, ReturnType]):  # type: ignore[type-arg]
    """A started child workflow: await it for the result; it can be signalled."""

    @property
    def id(self) -> str:
        raise NotImplementedError

    @property
    def first_execution_run_id(self) -> str | None:
        raise NotImplementedError

    async def signal(
        self,
        signal: str | Callable,
        arg: Any = _ARG_UNSET,
        *,
        args: Sequence[Any] = [],
        event_groups: Sequence[EventGroup] | None = None,
    ) -> None:
        raise NotImplementedError


async def start_child_workflow(
    workflow: Any,
    arg: Any = _ARG_UNSET,
    *,
    args: Sequence[Any] = [],
    id: str | None = None,
    task_queue: str | None = None,
    result_type: type | None = None,
    cancellation_type: ChildWorkflowCancellationType = ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
    parent_close_policy: ParentClosePolicy = ParentClosePolicy.TERMINATE,
    execution_timeout: timedelta | None = None,
    run_timeout: timedelta | None = None,
    task_timeout: timedelta | None = None,
    id_reuse_policy: hotmesh_temporal.common.WorkflowIDReusePolicy = hotmesh_temporal.common.WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
    cron_schedule: str = "",
    memo: Mapping[str, Any] | None = None,
    search_attributes: hotmesh_temporal.common.SearchAttributes
    | hotmesh_temporal.common.TypedSearchAttributes
    | None = None,
    versioning_intent: VersioningIntent | None = None,
    static_summary: str | None = None,
    static_details: str | None = None,
    event_groups: Sequence[EventGroup] | None = None,
    priority: hotmesh_temporal.common.Priority = hotmesh_temporal.common.Priority(),
    versioning_override: hotmesh_temporal.common.VersioningOverride | None = None,
) -> ChildWorkflowHandle[Any, Any]:
    """Start a child workflow; returns once it started (or raises if it could not)."""
    workflow_type, declared_result = _defs.workflow_type_and_result_type(workflow)
    runtime = _runtime()
    return await runtime.outbound.start_child_workflow(
        _interceptor_inputs().StartChildWorkflowInput(
            workflow=workflow_type,
            args=_args_from(arg, args),
            # Temporal's default child id is a deterministic UUID from the workflow's RNG.
            id=id or str(runtime.uuid4()),
            task_queue=task_queue,
            cancellation_type=cancellation_type,
            parent_close_policy=parent_close_policy,
            execution_timeout=execution_timeout,
            run_timeout=run_timeout,
            task_timeout=task_timeout,
            id_reuse_policy=id_reuse_policy,
            retry_policy=retry_policy,
            cron_schedule=cron_schedule,
            memo=memo,
            search_attributes=search_attributes,
            headers={},
            versioning_intent=versioning_intent,
            static_summary=static_summary,
            static_details=static_details,
            priority=priority,
            arg_types=None,
            ret_type=result_type or declared_result,
            versioning_override=versioning_override,
            event_groups=event_groups,
        )
    )


async def execute_child_workflow(
    workflow: Any,
    arg: Any = _ARG_UNSET,
    *,
    args: Sequence[Any] = [],
    id: str | None = None,
    task_queue: str | None = None,
    result_type: type | None = None,
    cancellation_type: ChildWorkflowCancellationType = ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
    parent_close_policy: ParentClosePolicy = ParentClosePolicy.TERMINATE,
    execution_timeout: timedelta | None = None,
    run_timeout: timedelta | None = None,
    task_timeout: timedelta | None = None,
    id_reuse_policy: hotmesh_temporal.common.WorkflowIDReusePolicy = hotmesh_temporal.common.WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
    cron_schedule: str = "",
    memo: Mapping[str, Any] | None = None,
    search_attributes: hotmesh_temporal.common.SearchAttributes
    | hotmesh_temporal.common.TypedSearchAttributes
    | None = None,
    versioning_intent: VersioningIntent | None = None,
    static_summary: str | None = None,
    static_details: str | None = None,
    event_groups: Sequence[EventGroup] | None = None,
    priority: hotmesh_temporal.common.Priority = hotmesh_temporal.common.Priority(),
    versioning_override: hotmesh_temporal.common.VersioningOverride | None = None,
) -> Any:
    """Start a child workflow and wait for its result (``ChildWorkflowError`` on failure)."""
    handle = await start_child_workflow(
        workflow,
        arg,
        args=args,
        id=id,
        task_queue=task_queue,
        result_type=result_type,
        cancellation_type=cancellation_type,
        parent_close_policy=parent_close_policy,
        execution_timeout=execution_timeout,
        run_timeout=run_timeout,
        task_timeout=task_timeout,
        id_reuse_policy=id_reuse_policy,
        retry_policy=retry_policy,
        cron_schedule=cron_schedule,
        memo=memo,
        search_attributes=search_attributes,
        versioning_intent=versioning_intent,
        static_summary=static_summary,
        static_details=static_details,
        event_groups=event_groups,
        priority=priority,
        versioning_override=versioning_override,
    )
    return await handle


# -------------------------------------------------------- external workflows


def _signal_name(signal: str | Callable) -> str:
    if isinstance(signal, str):
        return signal
    defn = getattr(signal, _defs.SIGNAL_ATTR, None)
    if defn is None:
        raise RuntimeError(
            f"Signal definition not found on {getattr(signal, '__qualname__', signal)}"
        )
    if defn.name is None:
        raise RuntimeError("Cannot invoke dynamic signal definition")
    return defn.name


class ExternalWorkflowHandle(Generic[SelfType]):
    """A handle to signal or cancel another workflow from this one."""

    def __init__(self, id: str, run_id: str | None) -> None:
        self._id = id
        self._run_id = run_id

    @property
    def id(self) -> str:
        return self._id

    @property
    def run_id(self) -> str | None:
        return self._run_id

    async def signal(
        self,
        signal: str | Callable,
        arg: Any = _ARG_UNSET,
        *,
        args: Sequence[Any] = [],
        event_groups: Sequence[EventGroup] | None = None,
    ) -> None:
        """Signal the workflow; raises if it could not be delivered."""
        await _runtime().outbound.signal_external_workflow(
            _interceptor_inputs().SignalExternalWorkflowInput(
                signal=_signal_name(signal),
                args=_args_from(arg, args),
                namespace=info().namespace,
                workflow_id=self._id,
                workflow_run_id=self._run_id,
                headers={},
                event_groups=event_groups,
            )
        )

    async def cancel(
        self, *, reason: str = "", event_groups: Sequence[EventGroup] | None = None
    ) -> None:
        """Request cancellation of the workflow."""
        await _runtime().cancel_external_workflow(
            workflow_id=self._id, run_id=self._run_id, reason=reason
        )


def get_external_workflow_handle(
    workflow_id: str, *, run_id: str | None = None
) -> ExternalWorkflowHandle[Any]:
    _runtime()  # only valid inside a workflow
    return ExternalWorkflowHandle(workflow_id, run_id)


def get_external_workflow_handle_for(
    workflow: MethodAsyncNoParam[SelfType, Any] | MethodAsyncSingleParam[SelfType, Any, Any],
    workflow_id: str,
    *,
    run_id: str | None = None,
) -> ExternalWorkflowHandle[SelfType]:
    """Typed variant of :func:`get_external_workflow_handle` (the run method types it)."""
    return get_external_workflow_handle(workflow_id, run_id=run_id)


async def signal_with_start_workflow(
    workflow: str | Callable[..., Awaitable[object]],
    *positional_args: object,
    args: list[Any] | None = None,
    id: str,
    task_queue: str,
    signal: str | Callable[..., None | Awaitable[None]],
    signal_args: object | list[Any] | None = None,
    execution_timeout: timedelta | None = None,
    run_timeout: timedelta | None = None,
    task_timeout: timedelta | None = None,
    id_reuse_policy: hotmesh_temporal.common.WorkflowIDReusePolicy = hotmesh_temporal.common.WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    id_conflict_policy: hotmesh_temporal.common.WorkflowIDConflictPolicy | None = None,
    retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
    cron_schedule: str | None = None,
    memo: Mapping[str, Any] | None = None,
    search_attributes: hotmesh_temporal.common.TypedSearchAttributes | None = None,
    priority: hotmesh_temporal.common.Priority | None = None,
    versioning_override: hotmesh_temporal.common.VersioningOverride | None = None,
    start_delay: timedelta | None = None,
    static_summary: str | None = None,
    static_details: str | None = None,
) -> ExternalWorkflowHandle[Any]:
    raise NotImplementedError(
        "workflow.signal_with_start_workflow is not supported on hotmesh_temporal yet"
    )


# --------------------------------------------------------------- continue-as-new


def continue_as_new(
    arg: Any = _ARG_UNSET,
    *,
    args: Sequence[Any] = [],
    workflow: None | Callable | str = None,
    task_queue: str | None = None,
    run_timeout: timedelta | None = None,
    task_timeout: timedelta | None = None,
    backoff_start_interval: timedelta | None = None,
    retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
    memo: Mapping[str, Any] | None = None,
    search_attributes: hotmesh_temporal.common.SearchAttributes
    | hotmesh_temporal.common.TypedSearchAttributes
    | None = None,
    versioning_intent: VersioningIntent | None = None,
    initial_versioning_behavior: ContinueAsNewVersioningBehavior | None = None,
    event_groups: Sequence[EventGroup] | None = None,
) -> NoReturn:
    """End this run and start a fresh one with new arguments (raises ContinueAsNewError)."""
    workflow_type = None
    if workflow is not None:
        workflow_type, _ = _defs.workflow_type_and_result_type(workflow)
    _runtime().outbound.continue_as_new(
        _interceptor_inputs().ContinueAsNewInput(
            workflow=workflow_type,
            args=_args_from(arg, args),
            task_queue=task_queue,
            run_timeout=run_timeout,
            task_timeout=task_timeout,
            backoff_start_interval=backoff_start_interval,
            retry_policy=retry_policy,
            memo=memo,
            search_attributes=search_attributes,
            headers={},
            versioning_intent=versioning_intent,
            initial_versioning_behavior=initial_versioning_behavior,
            event_groups=event_groups,
        )
    )
    raise RuntimeError("unreachable: continue_as_new always raises")


# ------------------------------------------------------------ dynamic handlers


def get_signal_handler(name: str) -> Callable | None:
    return _runtime().get_handler("signal", name)


def set_signal_handler(name: str, handler: Callable | None) -> None:
    """Set (or with None remove) a signal handler; buffered signals are delivered."""
    _runtime().set_handler("signal", name, handler)


def get_dynamic_signal_handler() -> Callable | None:
    return _runtime().get_handler("signal", None)


def set_dynamic_signal_handler(handler: Callable | None) -> None:
    _runtime().set_handler("signal", None, handler)


def get_query_handler(name: str) -> Callable | None:
    return _runtime().get_handler("query", name)


def set_query_handler(name: str, handler: Callable | None) -> None:
    _runtime().set_handler("query", name, handler)


def get_dynamic_query_handler() -> Callable | None:
    return _runtime().get_handler("query", None)


def set_dynamic_query_handler(handler: Callable | None) -> None:
    _runtime().set_handler("query", None, handler)


def get_update_handler(name: str) -> Callable | None:
    return _runtime().get_handler("update", name)


def set_update_handler(
    name: str, handler: Callable | None, *, validator: Callable | None = None
) -> None:
    _runtime().set_handler("update", name, handler, validator=validator)


def get_dynamic_update_handler() -> Callable | None:
    return _runtime().get_handler("update", None)


def set_dynamic_update_handler(
    handler: Callable | None, *, validator: Callable | None = None
) -> None:
    _runtime().set_handler("update", None, handler, validator=validator)


# ------------------------------------------------------------------- logging


class LoggerAdapter(logging.LoggerAdapter):
    """Adds workflow (and update) details to records; silent during replay.

    ``workflow_info_on_message`` appends the details to the message,
    ``workflow_info_on_extra`` puts them under the ``temporal_workflow`` extra key,
    ``log_during_replay`` logs even while history is being replayed.
    """

    def __init__(self, logger: logging.Logger, extra: Mapping[str, Any] | None) -> None:
        super().__init__(logger, extra or {})
        self.workflow_info_on_message = True
        self.workflow_info_on_extra = True
        self.full_workflow_info_on_extra = False
        self.log_during_replay = False
        self.disable_sandbox = False

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        runtime = _maybe_runtime()
        if runtime is None:
            return msg, kwargs
        details: dict[str, Any] = dict(runtime.workflow_info()._logger_details())
        update_info = runtime.current_update_info()
        if update_info is not None:
            details.update(update_info._logger_details)
        extra = dict(self.extra or {})
        if self.workflow_info_on_extra:
            extra["temporal_workflow"] = details
        if self.full_workflow_info_on_extra:
            extra["workflow_info"] = runtime.workflow_info()
        kwargs["extra"] = {**extra, **(kwargs.get("extra") or {})}
        if self.workflow_info_on_message:
            msg = f"{msg} ({details})"
        return msg, kwargs

    def log(self, level: int, msg: object, *args: Any, stacklevel: int = 1, **kwargs: Any):
        # One extra level so records point at the workflow code, not this adapter;
        # Python 3.10 counts logging's own frame too, so one more there.
        extra_levels = 2 if sys.version_info < (3, 11) and stacklevel == 1 else 1
        super().log(level, msg, *args, stacklevel=stacklevel + extra_levels, **kwargs)

    def isEnabledFor(self, level: int) -> bool:
        runtime = _maybe_runtime()
        # Queries and validators answer live requests: their lines are never replay.
        if (
            runtime is not None
            and not self.log_during_replay
            and runtime.is_replaying()
            and not runtime.is_read_only()
        ):
            return False
        return super().isEnabledFor(level)

    @property
    def base_logger(self) -> logging.Logger:
        return self.logger

    def unsafe_disable_sandbox(self, value: bool = True):
        self.disable_sandbox = value


def _maybe_runtime() -> _rt.WorkflowRuntime | None:
    return _rt.current_runtime()


logger = LoggerAdapter(logging.getLogger("hotmesh_temporal.workflow"), None)


# -------------------------------------------------------------------- unsafe


class unsafe:
    """Escape hatches. There is no import sandbox here: the "sandbox" is the
    determinism guard (docs/determinism.md); import pass-through is a no-op."""

    def __init__(self) -> None:
        raise NotImplementedError

    @staticmethod
    def in_sandbox() -> bool:
        """True while sandboxed workflow code runs (under the determinism guard)."""
        return _rt.in_sandbox()

    @staticmethod
    def is_replaying() -> bool:
        """True while the workflow is replaying history it already produced."""
        return _runtime().is_replaying()

    @staticmethod
    def is_replaying_history_events() -> bool:
        """True while history is replayed, but not in a query or an update
        validator: those answer a live request even when they run during a replay."""
        runtime = _runtime()
        return runtime.is_replaying() and not runtime.is_read_only()

    @staticmethod
    def is_read_only() -> bool:
        return _runtime().is_read_only()

    @staticmethod
    def is_sandbox_unrestricted() -> bool:
        """True inside :meth:`sandbox_unrestricted`."""
        return _rt.is_unrestricted()

    @staticmethod
    @contextlib.contextmanager
    def sandbox_unrestricted() -> Iterator[None]:
        """Within the block the sandbox refuses nothing (e.g. ``datetime.now()``)."""
        with _rt.unrestricted():
            yield None

    @staticmethod
    def is_imports_passed_through() -> bool:
        return False

    @staticmethod
    @contextlib.contextmanager
    def imports_passed_through() -> Iterator[None]:
        """Modules imported in the block are passed through: as with temporalio's
        sandbox, the sandbox does not refuse the calls they make themselves."""
        with _rt.recording_passed_through_imports():
            yield None

    @staticmethod
    def current_import_notification_policy_override() -> SandboxImportNotificationPolicy | None:
        return _rt.current_import_policy_override()

    @staticmethod
    @contextlib.contextmanager
    def sandbox_import_notification_policy(
        policy: SandboxImportNotificationPolicy,
    ) -> Iterator[None]:
        """Imports in the block follow ``policy`` instead of the restrictions'."""
        with _rt.import_policy_override(policy):
            yield None


# --------------------------------------------------------------- event groups


class EventGroup(ABC):
    """A label grouping the events that commands issued in its scope produce.

    Kept for source compatibility; groups are not recorded in history here.
    """

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        yield None

    @abstractmethod
    def _to_proto(self) -> Any: ...

    @abstractmethod
    def _applied_over(self) -> Any: ...


class _LabelledEventGroup(EventGroup):
    def __init__(self, id: str, label: str | None) -> None:
        self.id = id
        self.label = label

    def _to_proto(self) -> Any:
        return {"id": self.id, "label": self.label}

    def _applied_over(self) -> Any:
        return None


def create_event_group(id: str, *, label: str | None = None) -> EventGroup:
    return _LabelledEventGroup(id, label)


# --------------------------------------------------------------------- Nexus

_NO_NEXUS = "Nexus is not supported on hotmesh_temporal: no Nexus without a Temporal server"

ServiceHandlerT = TypeVar("ServiceHandlerT")
InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")
NexusServiceType = TypeVar("NexusServiceType")


class NexusOperationHandle(Generic[OutputT]):
    def cancel(self) -> bool:
        raise NotImplementedError(_NO_NEXUS)

    def __await__(self):
        raise NotImplementedError(_NO_NEXUS)

    @property
    def operation_token(self) -> str | None:
        raise NotImplementedError(_NO_NEXUS)


class NexusClient(ABC, Generic[NexusServiceType]):
    @abstractmethod
    async def start_operation(
        self,
        operation: Any,
        input: Any,
        *,
        output_type: type[OutputT] | None = None,
        schedule_to_close_timeout: timedelta | None = None,
        schedule_to_start_timeout: timedelta | None = None,
        start_to_close_timeout: timedelta | None = None,
        cancellation_type: NexusOperationCancellationType = NexusOperationCancellationType.WAIT_COMPLETED,
        headers: Mapping[str, str] | None = None,
        summary: str | None = None,
        event_groups: Sequence[EventGroup] | None = None,
    ) -> Any: ...

    @abstractmethod
    async def execute_operation(
        self,
        operation: Any,
        input: Any,
        *,
        output_type: type[OutputT] | None = None,
        schedule_to_close_timeout: timedelta | None = None,
        schedule_to_start_timeout: timedelta | None = None,
        start_to_close_timeout: timedelta | None = None,
        cancellation_type: NexusOperationCancellationType = NexusOperationCancellationType.WAIT_COMPLETED,
        headers: Mapping[str, str] | None = None,
        summary: str | None = None,
        event_groups: Sequence[EventGroup] | None = None,
    ) -> Any: ...


def create_nexus_client(
    *, service: type[NexusServiceType] | str, endpoint: str
) -> NexusClient[NexusServiceType]:
    raise NotImplementedError(_NO_NEXUS)
