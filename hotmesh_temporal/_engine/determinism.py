"""Cheap determinism guard: stdlib clocks and randomness follow the workflow.

While workflow code runs (this thread's running loop is a workflow loop), calls made
from workflow code to ``time.time()``, ``time.time_ns()``, the ``random`` module's
functions and ``uuid.uuid4()`` are answered from workflow time and the workflow's
seeded random generator, so a replay sees the same values. Everywhere else (other
threads such as activity threads, or the standard library itself, e.g. ``logging``
stamping records) the original functions run unchanged. See docs/determinism.md.
"""

from __future__ import annotations

import functools
import random
import sys
import threading
import time
import uuid
from typing import Any, Callable, Optional

from hotmesh_temporal._engine.loop import running_workflow_loop

_RANDOM_FUNCTIONS = (
    "random", "uniform", "triangular", "randint", "choice", "randrange", "sample",
    "shuffle", "choices", "normalvariate", "lognormvariate", "expovariate",
    "vonmisesvariate", "gammavariate", "gauss", "betavariate", "paretovariate",
    "weibullvariate", "getrandbits", "randbytes",
)  # fmt: skip

_install_lock = threading.Lock()
_installed = False


def _workflow_runtime_for_caller() -> Optional[Any]:
    """The running workflow, if the caller of the patched function is workflow code."""
    loop = running_workflow_loop()
    if loop is None or loop.runtime is None:
        return None
    caller_module = sys._getframe(2).f_globals.get("__name__", "")
    top_level = caller_module.partition(".")[0]
    if top_level in sys.stdlib_module_names or top_level == "hotmesh_temporal":
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
