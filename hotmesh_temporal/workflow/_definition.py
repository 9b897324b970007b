"""Workflow definitions: what ``@workflow.defn`` and the handler decorators record.

The public decorators in ``hotmesh_temporal.workflow`` only mark functions; this module
turns a decorated class into a validated :class:`WorkflowDefinition` (run method,
optional ``@workflow.init``, signal / query / update handlers and their type hints) and
raises the same errors, with the same messages, as the Temporal SDK does for an
invalid class.
"""

from __future__ import annotations

import inspect
import typing
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hotmesh_temporal.common import RawValue

# Attribute names match temporalio's so tools that introspect them keep working.
RUN_MARK = "__temporal_workflow_run"
INIT_MARK = "__temporal_workflow_init"
DYNAMIC_CONFIG_MARK = "__temporal_workflow_dynamic_config"
DEFINITION_ATTR = "__temporal_workflow_definition"
SIGNAL_ATTR = "__temporal_signal_definition"
QUERY_ATTR = "__temporal_query_definition"
UPDATE_ATTR = "__temporal_update_definition"

DYNAMIC_HANDLER_ERROR = "Dynamic handler must have 3 arguments: self, str, and Sequence[RawValue]"
DYNAMIC_SIGNAL_VARARG_WARNING = (
    "Dynamic signals with vararg third param is deprecated, use Sequence[RawValue]"
)
DYNAMIC_QUERY_VARARG_WARNING = (
    "Dynamic queries with vararg third param is deprecated, use Sequence[RawValue]"
)
DYNAMIC_UPDATE_VARARG_ERROR = (
    "Dynamic updates do not support a vararg third param, use Sequence[RawValue]"
)
LOCAL_CLASS_ERROR = "Local classes unsupported, @workflow.run cannot be on a local class"
DYNAMIC_WORKFLOW_ERROR = (
    "Dynamic workflow must accept a single Sequence[hotmesh_temporal.common.RawValue]"
)


# ------------------------------------------------------------------ type hints


def arg_and_return_types(
    fn: Callable, *, is_method: bool = True
) -> tuple[list[Any] | None, Any | None]:
    """Parameter annotations (without ``self`` for a method) and return annotation.

    Unannotated parameters give ``None`` entries; any ``*args`` / ``**kwargs`` makes the
    whole argument list ``None`` (the converter then decodes without hints).
    """
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = dict(getattr(fn, "__annotations__", None) or {})
    params = list(inspect.signature(fn).parameters.values())
    if is_method and params:
        params = params[1:]
    ret = hints.get("return")
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        return None, ret
    return [hints.get(p.name) for p in params], ret


def _positional_count(fn: Callable) -> int:
    return sum(
        1
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    )


def is_dynamic_vararg_handler(fn: Callable, is_method: bool) -> bool:
    """Whether a dynamic handler has the old ``(self, name, *args)`` form.

    The current form is ``(self, name: str, args: Sequence[RawValue])`` with exactly
    those annotations; anything else that is not the old form is refused, as Temporal
    does.
    """
    params = list(inspect.signature(fn).parameters.values())
    if (
        len(params) == (3 if is_method else 2)
        and params[-2].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        and params[-1].kind is inspect.Parameter.VAR_POSITIONAL
    ):
        return True
    if not _is_name_and_raw_values(fn, params[1:] if is_method else params):
        raise RuntimeError(DYNAMIC_HANDLER_ERROR)
    return False


def _is_name_and_raw_values(fn: Callable, params: list[inspect.Parameter]) -> bool:
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if len(params) != 2 or any(p.kind not in positional for p in params):
        return False
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        return False
    raw_sequences = (Sequence[RawValue], typing.Sequence[RawValue])  # noqa: UP006
    return hints.get(params[0].name) is str and hints.get(params[1].name) in raw_sequences


def _check_name_and_dynamic(name: str | None, dynamic: bool | None) -> None:
    if name is not None and dynamic:
        raise RuntimeError("Cannot provide name and dynamic boolean")


# ------------------------------------------------------------ handler records


@dataclass(frozen=True)
class SignalDefinition:
    name: str | None  # None for the dynamic handler
    fn: Callable
    is_method: bool = True
    unfinished_policy: Any = None  # workflow.HandlerUnfinishedPolicy
    description: str | None = None
    arg_types: list[Any] | None = None
    dynamic_vararg: bool = False  # the deprecated ``(self, name, *args)`` form

    @property
    def dynamic(self) -> bool:
        return self.name is None

    @staticmethod
    def from_fn(
        fn: Callable,
        *,
        name: str | None,
        dynamic: bool | None,
        unfinished_policy: Any,
        description: str | None,
        is_method: bool = True,
        warn_stacklevel: int = 3,
    ) -> SignalDefinition:
        _check_name_and_dynamic(name, dynamic)
        vararg = bool(dynamic) and is_dynamic_vararg_handler(fn, is_method)
        if vararg:
            warnings.warn(
                DYNAMIC_SIGNAL_VARARG_WARNING, DeprecationWarning, stacklevel=warn_stacklevel
            )
        arg_types, _ = arg_and_return_types(fn, is_method=is_method)
        return SignalDefinition(
            name=None if dynamic else (name or fn.__name__),
            fn=fn,
            is_method=is_method,
            unfinished_policy=unfinished_policy,
            description=description,
            arg_types=arg_types,
            dynamic_vararg=vararg,
        )


@dataclass(frozen=True)
class QueryDefinition:
    name: str | None
    fn: Callable
    is_method: bool = True
    description: str | None = None
    arg_types: list[Any] | None = None
    ret_type: Any | None = None
    dynamic_vararg: bool = False  # the deprecated ``(self, name, *args)`` form

    @property
    def dynamic(self) -> bool:
        return self.name is None

    @staticmethod
    def from_fn(
        fn: Callable,
        *,
        name: str | None,
        dynamic: bool | None,
        description: str | None,
        is_method: bool = True,
        warn_stacklevel: int = 3,
    ) -> QueryDefinition:
        _check_name_and_dynamic(name, dynamic)
        if inspect.iscoroutinefunction(fn):
            warnings.warn(
                "Queries as async def functions are deprecated",
                DeprecationWarning,
                stacklevel=warn_stacklevel,
            )
        vararg = bool(dynamic) and is_dynamic_vararg_handler(fn, is_method)
        if vararg:
            warnings.warn(
                DYNAMIC_QUERY_VARARG_WARNING, DeprecationWarning, stacklevel=warn_stacklevel
            )
        arg_types, ret_type = arg_and_return_types(fn, is_method=is_method)
        return QueryDefinition(
            name=None if dynamic else (name or fn.__name__),
            fn=fn,
            is_method=is_method,
            description=description,
            arg_types=arg_types,
            ret_type=ret_type,
            dynamic_vararg=vararg,
        )


@dataclass
class UpdateDefinition:
    name: str | None
    fn: Callable
    is_method: bool = True
    unfinished_policy: Any = None
    description: str | None = None
    arg_types: list[Any] | None = None
    ret_type: Any | None = None
    validator: Callable | None = None  # set later by ``@my_update.validator``

    @property
    def dynamic(self) -> bool:
        return self.name is None

    def set_validator(self, validator: Callable) -> None:
        # A validator is called without being awaited: an async one would accept all.
        if inspect.iscoroutinefunction(validator):
            raise ValueError("Update validator must not be an async function")
        if self.validator is not None:
            raise RuntimeError(f"Validator already set for update {self.name}")
        self.validator = validator

    @staticmethod
    def from_fn(
        fn: Callable,
        *,
        name: str | None,
        dynamic: bool | None,
        unfinished_policy: Any,
        description: str | None,
        is_method: bool = True,
        validator: Callable | None = None,
        warn_stacklevel: int = 3,  # unused: the old dynamic form is refused, not warned
    ) -> UpdateDefinition:
        _check_name_and_dynamic(name, dynamic)
        if dynamic and is_dynamic_vararg_handler(fn, is_method):
            raise RuntimeError(DYNAMIC_UPDATE_VARARG_ERROR)
        arg_types, ret_type = arg_and_return_types(fn, is_method=is_method)
        return UpdateDefinition(
            name=None if dynamic else (name or fn.__name__),
            fn=fn,
            is_method=is_method,
            unfinished_policy=unfinished_policy,
            description=description,
            arg_types=arg_types,
            ret_type=ret_type,
            validator=validator,
        )


# --------------------------------------------------------- workflow definition


@dataclass
class WorkflowDefinition:
    name: str | None  # None for a dynamic workflow
    cls: type
    run_fn: Callable
    init_fn: Callable | None = None  # the class's @workflow.init __init__, if any
    signals: dict[str | None, SignalDefinition] = field(default_factory=dict)
    queries: dict[str | None, QueryDefinition] = field(default_factory=dict)
    updates: dict[str | None, UpdateDefinition] = field(default_factory=dict)
    sandboxed: bool = True
    failure_exception_types: Sequence[type[BaseException]] = ()
    versioning_behavior: Any = None
    dynamic_config_fn: Callable | None = None
    arg_types: list[Any] | None = None
    ret_type: Any | None = None

    @property
    def dynamic(self) -> bool:
        return self.name is None

    @staticmethod
    def maybe_from_class(cls: type) -> WorkflowDefinition | None:
        defn = cls.__dict__.get(DEFINITION_ATTR) if isinstance(cls, type) else None
        return defn if isinstance(defn, WorkflowDefinition) else None

    @staticmethod
    def from_class(cls: type) -> WorkflowDefinition:
        defn = WorkflowDefinition.maybe_from_class(cls)
        if defn is None:
            name = getattr(cls, "__name__", repr(cls))
            raise ValueError(
                f"Workflow {name} missing attributes, was it decorated with @workflow.defn?"
            )
        return defn

    @staticmethod
    def maybe_from_run_fn(fn: Callable) -> WorkflowDefinition | None:
        defn = getattr(fn, DEFINITION_ATTR, None)
        return defn if isinstance(defn, WorkflowDefinition) else None

    @staticmethod
    def from_run_fn(fn: Callable) -> WorkflowDefinition:
        defn = WorkflowDefinition.maybe_from_run_fn(fn)
        if defn is None:
            name = getattr(fn, "__qualname__", repr(fn))
            raise ValueError(
                f"Function {name} missing attributes, was it decorated with @workflow.run "
                "and was its class decorated with @workflow.defn?"
            )
        return defn


def workflow_type_and_result_type(workflow: Any) -> tuple[str, Any | None]:
    """Workflow type name and declared result type of a name, class or run method."""
    if isinstance(workflow, str):
        return workflow, None
    if isinstance(workflow, type):
        defn = WorkflowDefinition.from_class(workflow)
    elif callable(workflow):
        defn = WorkflowDefinition.from_run_fn(workflow)
    else:
        raise TypeError(f"Expected a workflow name, class or run method, got {workflow!r}")
    if defn.name is None:
        raise ValueError("Cannot invoke dynamic workflow explicitly")
    return defn.name, defn.ret_type


# ----------------------------------------------------------- class decorator


def define_workflow(
    cls: type,
    *,
    name: str | None,
    sandboxed: bool,
    dynamic: bool,
    failure_exception_types: Sequence[type[BaseException]],
    versioning_behavior: Any,
) -> WorkflowDefinition:
    """Validate a ``@workflow.defn`` class and attach its definition to it."""
    if not isinstance(cls, type):
        raise TypeError(f"@workflow.defn must decorate a class, got {cls!r}")
    _check_name_and_dynamic(name, dynamic)
    collector = _HandlerCollector(cls)
    collector.collect()
    issues = collector.issues
    run_fn = collector.run_fn
    if run_fn is None and not any("@workflow.run" in issue for issue in issues):
        issues.append("Missing @workflow.run method")
    init_fn = _init_fn_of(cls)
    if run_fn is not None and init_fn is not None and not _same_parameters(init_fn, run_fn):
        issues.append("@workflow.init and @workflow.run method parameters do not match")
    _raise_issues(issues)
    assert run_fn is not None
    if dynamic and _positional_count(run_fn) != 2:
        raise TypeError(DYNAMIC_WORKFLOW_ERROR)
    arg_types, ret_type = arg_and_return_types(run_fn)
    defn = WorkflowDefinition(
        name=None if dynamic else (name or cls.__name__),
        cls=cls,
        run_fn=run_fn,
        init_fn=init_fn,
        signals=collector.signals,
        queries=collector.queries,
        updates=collector.updates,
        sandboxed=sandboxed,
        failure_exception_types=tuple(failure_exception_types),
        versioning_behavior=versioning_behavior,
        dynamic_config_fn=collector.dynamic_config_fn,
        arg_types=arg_types,
        ret_type=ret_type,
    )
    setattr(cls, DEFINITION_ATTR, defn)
    setattr(run_fn, DEFINITION_ATTR, defn)
    return defn


def _raise_issues(issues: list[str]) -> None:
    if len(issues) == 1:
        raise ValueError(f"Invalid workflow class: {issues[0]}")
    if issues:
        raise ValueError(f"Invalid workflow class for {len(issues)} reasons: {', '.join(issues)}")


def _init_fn_of(cls: type) -> Callable | None:
    init = cls.__dict__.get("__init__")
    return init if init is not None and getattr(init, INIT_MARK, False) else None


def _same_parameters(fn1: Callable, fn2: Callable) -> bool:
    """Same parameter lists up to naming: kinds, defaults and annotations must match
    exactly, as Temporal requires of ``@workflow.init`` / run and update / validator."""

    def shape(fn: Callable) -> list:
        return [p.replace(name="x") for p in inspect.signature(fn).parameters.values()]

    return shape(fn1) == shape(fn2)


_HANDLER_KINDS = (
    (SIGNAL_ATTR, "signal"),
    (QUERY_ATTR, "query"),
    (UPDATE_ATTR, "update"),
)


class _HandlerCollector:
    """Walks a workflow class and its bases, gathering handlers and problems."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.issues: list[str] = []
        self.run_fn: Callable | None = None
        self.dynamic_config_fn: Callable | None = None
        self.signals: dict[str | None, SignalDefinition] = {}
        self.queries: dict[str | None, QueryDefinition] = {}
        self.updates: dict[str | None, UpdateDefinition] = {}
        self._seen: dict[str, dict[str | None, str]] = {"signal": {}, "query": {}, "update": {}}

    def collect(self) -> None:
        for attr_name, member in inspect.getmembers(self.cls):
            fn = _unwrap(member)
            if getattr(fn, RUN_MARK, False):
                self._add_run(attr_name, fn)
            if getattr(fn, DYNAMIC_CONFIG_MARK, False):
                self.dynamic_config_fn = fn
            for marker, kind in _HANDLER_KINDS:
                defn = getattr(fn, marker, None)
                if defn is not None:
                    self._add_handler(kind, attr_name, defn)
        self._check_overrides()

    def _add_run(self, attr_name: str, fn: Callable) -> None:
        if attr_name not in self.cls.__dict__:
            self.issues.append(
                f"@workflow.run method {attr_name} must be defined on {self.cls.__qualname__}"
            )
        if self.run_fn is not None:
            self.issues.append(
                "Multiple @workflow.run methods found (at least on "
                f"{attr_name} and {self.run_fn.__name__})"
            )
            return
        self.run_fn = fn

    def _add_handler(self, kind: str, attr_name: str, defn: Any) -> None:
        seen = self._seen[kind]
        if defn.name in seen:
            label = defn.name if defn.name is not None else "dynamic"
            self.issues.append(
                f"Multiple {kind} methods found for {label} "
                f"(at least on {attr_name} and {seen[defn.name]})"
            )
            return
        if kind == "update" and defn.validator is not None:
            if not _same_parameters(defn.fn, defn.validator):
                self.issues.append(
                    f"Update validator method {defn.validator.__name__} parameters "
                    f"do not match update method {defn.fn.__name__} parameters"
                )
                return
        seen[defn.name] = attr_name
        by_kind: dict[str, dict[str | None, Any]] = {
            "signal": self.signals,
            "query": self.queries,
            "update": self.updates,
        }
        by_kind[kind][defn.name] = defn

    def _check_overrides(self) -> None:
        # A base class method marked as a handler that the subclass overrides without
        # the decorator would silently stop being a handler: Temporal refuses it.
        for base in self.cls.__mro__[1:]:
            for attr_name, member in base.__dict__.items():
                marker = _handler_marker(_unwrap(member))
                if marker is None:
                    continue
                override = _unwrap(inspect.getattr_static(self.cls, attr_name, None))
                if _handler_marker(override) != marker:
                    self.issues.append(
                        f"{marker} defined on {base.__qualname__}.{attr_name} "
                        "but not on the override"
                    )


def _handler_marker(fn: Any) -> str | None:
    if getattr(fn, RUN_MARK, False):
        return "@workflow.run"
    for marker, kind in _HANDLER_KINDS:
        if getattr(fn, marker, None) is not None:
            return f"@workflow.{kind}"
    return None


def _unwrap(member: Any) -> Any:
    if isinstance(member, (staticmethod, classmethod)):
        return member.__func__
    return member
