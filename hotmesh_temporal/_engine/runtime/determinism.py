"""Cheap determinism guard: stdlib clocks and randomness follow the workflow.

While workflow code runs (this thread's running loop is a workflow loop), calls made
from workflow code to ``time.time()``, ``time.time_ns()``, the ``random`` module's
functions and ``uuid.uuid4()`` are answered from workflow time and the workflow's
seeded random generator, so a replay sees the same values. Everywhere else (other
threads such as activity threads, or the standard library itself, e.g. ``logging``
stamping records) the original functions run unchanged. See docs/determinism.md.
"""

from __future__ import annotations

import contextlib
import datetime
import dis
import functools
import random
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from hotmesh_temporal._engine.runtime.loop import running_workflow_loop
from hotmesh_temporal.worker.workflow_sandbox._restrictions import RestrictedWorkflowAccessError
from hotmesh_temporal.workflow._runtime_contract import (
    is_unrestricted,
    sandbox_state,
)

_RANDOM_FUNCTIONS = (
    "random", "uniform", "triangular", "randint", "choice", "randrange", "sample",
    "shuffle", "choices", "normalvariate", "lognormvariate", "expovariate",
    "vonmisesvariate", "gammavariate", "gauss", "betavariate", "paretovariate",
    "weibullvariate", "getrandbits", "randbytes",
)  # fmt: skip

# Callers in these packages get the real functions, as the standard library does:
# this package's own machinery, and OpenTelemetry, whose span ids and timestamps are
# telemetry rather than workflow logic (temporalio's OpenTelemetryPlugin passes
# ``opentelemetry`` through its sandbox for the same reason). Drawing span ids from
# the workflow's generator would shift the values workflow code draws after a span
# that is recorded live but not on replay.
_UNGUARDED_PACKAGES = frozenset({"hotmesh_temporal", "opentelemetry"})

_install_lock = threading.Lock()
_installed = False


def _workflow_runtime_for_caller() -> Any | None:
    """The running workflow, if the caller of the patched function is workflow code."""
    loop = running_workflow_loop()
    if loop is None or loop.runtime is None:
        return None
    caller_module = sys._getframe(2).f_globals.get("__name__", "")
    top_level = caller_module.partition(".")[0]
    if top_level in sys.stdlib_module_names or top_level in _UNGUARDED_PACKAGES:
        return None
    return loop.runtime


def _redirect(original: Callable, in_workflow: Callable[[Any], Callable]) -> Callable:
    @functools.wraps(original)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        runtime = _workflow_runtime_for_caller()
        if runtime is None:
            return original(*args, **kwargs)
        return in_workflow(runtime)(*args, **kwargs)

    guarded.__hotmesh_original__ = original  # type: ignore[attr-defined]
    return guarded


def install() -> None:
    """Patch the module functions once per process (idempotent, thread-safe)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        time.time = _redirect(time.time, lambda rt: rt.time)
        time.time_ns = _redirect(time.time_ns, lambda rt: lambda: int(rt.time() * 1_000_000_000))
        uuid.uuid4 = _redirect(uuid.uuid4, lambda rt: rt.uuid4)
        for name in _RANDOM_FUNCTIONS:
            original = getattr(random, name, None)
            if original is not None:
                setattr(random, name, _redirect(original, _seeded(name)))
        _installed = True


def _seeded(name: str) -> Callable[[Any], Callable]:
    return lambda runtime: getattr(runtime.random(), name)


# ------------------------------------------------------- refused calls (sandbox)
#
# datetime's clock methods belong to a C type and cannot be patched. While an
# activation of a sandboxed workflow runs, a profile function watches C calls and
# refuses those the worker's SandboxRestrictions forbid, when workflow code makes
# them (RestrictedWorkflowAccessError fails the workflow task, as Temporal's sandbox
# does). Only activations pay for it, and not at all under UnsandboxedWorkflowRunner.

# The per-thread flags (``in_sandbox``, ``is_unrestricted``, ``unrestricted``) live in
# the public workflow package, which reads them; the guard below sets them.
_state = sandbox_state


@contextlib.contextmanager
def refusing(calls: frozenset) -> Iterator[None]:
    """Refuse ``calls`` ((type name, method name) pairs) made by workflow code in the
    block. Does nothing when another profiler (a debugger, cProfile) is active."""
    if not calls or sys.getprofile() is not None:
        yield None
        return
    _state.refused = calls
    sys.setprofile(_watch_c_calls)
    try:
        yield None
    finally:
        sys.setprofile(None)
        _state.refused = None


def _watch_c_calls(frame: Any, event: str, arg: Any) -> None:
    if event != "c_call":
        return
    owner = getattr(arg, "__self__", None)
    if not isinstance(owner, type) or not issubclass(owner, datetime.date):
        return
    key = ("datetime" if issubclass(owner, datetime.datetime) else "date", arg.__name__)
    if key not in _state.refused or is_unrestricted():
        return
    top_level = frame.f_globals.get("__name__", "").partition(".")[0]
    if top_level in sys.stdlib_module_names or top_level in _UNGUARDED_PACKAGES:
        return

    raise RestrictedWorkflowAccessError(f"datetime.{key[0]}.{key[1]}")


_CLOCK_METHODS = frozenset({"now", "today", "utcnow"})


@functools.cache
def may_read_datetime_clock(cls: type) -> bool:
    """Whether the module defining workflow class ``cls`` has code that looks like
    ``datetime.now()`` / ``date.today()`` (any alias of those classes or of the
    datetime module). Only such workflows pay for the profile hook of
    :func:`refusing`; a call made from another module is not refused."""
    module = sys.modules.get(cls.__module__)
    namespace = vars(module) if module is not None else {}
    codes = [_code_of(v) for v in namespace.values()]
    # Classes defined in that module (not imported ones such as collections.abc's,
    # whose members are no functions of ours).
    own_classes = [
        v for v in namespace.values() if isinstance(v, type) and v.__module__ == cls.__module__
    ]
    for value in {cls, *own_classes}:
        codes.extend(_code_of(member) for member in vars(value).values())
    return any(_reads_clock(code, namespace) for code in codes if code is not None)


def _code_of(value: Any) -> types.CodeType | None:
    """The code object of a function, method, classmethod or staticmethod, else None."""
    function = getattr(value, "__func__", value)
    code = getattr(function, "__code__", None)
    return code if isinstance(code, types.CodeType) else None


def _reads_clock(code: Any, namespace: dict) -> bool:
    previous = None
    for instruction in dis.get_instructions(code):
        if (
            instruction.opname in ("LOAD_ATTR", "LOAD_METHOD")
            and instruction.argval in _CLOCK_METHODS
            and previous is not None
            and _is_datetime_name(previous, namespace)
        ):
            return True
        previous = instruction
    nested = (c for c in code.co_consts if hasattr(c, "co_code"))
    return any(_reads_clock(c, namespace) for c in nested)


def _is_datetime_name(instruction: Any, namespace: dict) -> bool:
    name = instruction.argval
    if not isinstance(name, str):
        return False
    if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
        bound = namespace.get(name)
        if bound is datetime or bound is datetime.datetime or bound is datetime.date:
            return True
    return name in ("datetime", "date")
