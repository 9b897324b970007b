"""Cheap determinism guard: stdlib clocks and randomness follow the workflow.

While workflow code runs (this thread's running loop is a workflow loop), calls made
from workflow code to ``time.time()``, ``time.time_ns()``, the ``random`` module's
functions and ``uuid.uuid4()`` are answered from workflow time and the workflow's
seeded random generator, so a replay sees the same values. Everywhere else (other
threads such as activity threads, or the standard library itself, e.g. ``logging``
stamping records) the original functions run unchanged. See docs/determinism.md.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime
import dis
import functools
import gc
import inspect
import logging
import os
import random
import sys
import threading
import time
import types
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from hotmesh_temporal._engine.runtime.loop import running_workflow_loop
from hotmesh_temporal.worker.workflow_sandbox._restrictions import RestrictedWorkflowAccessError
from hotmesh_temporal.workflow._api import SandboxImportNotificationPolicy
from hotmesh_temporal.workflow._runtime_contract import (
    current_import_policy_override,
    is_passed_through,
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
# that is recorded live but not on replay. And pytest's assertion machinery: a
# rewritten ``assert`` that fails in workflow code under pytest explains itself
# through ``_pytest`` and ``pluggy``, which read ``os.environ`` ("CI"); refused, the
# test would see a sandbox error instead of its AssertionError.
_UNGUARDED_PACKAGES = frozenset({"hotmesh_temporal", "opentelemetry", "_pytest", "pluggy"})

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
        _install_import_watch()
        _installed = True


def _seeded(name: str) -> Callable[[Any], Callable]:
    return lambda runtime: getattr(runtime.random(), name)


# ------------------------------------------------------- refused calls (sandbox)
#
# Temporal's sandbox refuses the calls its restrictions list (os, subprocess, socket,
# time.sleep, datetime.now, open, ...) when workflow code makes them. There is no
# import sandbox here: while an activation of a sandboxed workflow runs, a profile
# function watches the calls workflow code makes (Python and C) and refuses those the
# worker's SandboxRestrictions match: RestrictedWorkflowAccessError, which fails the
# workflow task as in Temporal, or the warning a matcher carries (asyncio.wait). Only
# activations pay for it, only of workflows whose module seems to make such calls
# (workflow_may_be_refused), and not at all under UnsandboxedWorkflowRunner.
# time.time(), time.time_ns(), the random functions and uuid.uuid4() are answered
# from the workflow instead (above), so they are never refused.

# The per-thread flags (``in_sandbox``, ``is_unrestricted``, ``unrestricted``) live in
# the public workflow package, which reads them; the guard below sets them.
_state = sandbox_state

# Where a function is defined -> the module Temporal's restrictions name it by.
_MODULE_ALIASES = {
    "posix": "os",
    "nt": "os",
    "posixpath": "os.path",
    "ntpath": "os.path",
    "builtins": "__builtins__",
    "_thread": "threading",
    "_socket": "socket",
    "asyncio.tasks": "asyncio",
    "_datetime": "datetime",
    "_pydatetime": "datetime",
    "_io": "io",
}
_OPEN = open
_UNKNOWN = object()
# Where temporalio's sandbox logs a refusal (its _restrictions module's logger).
_sandbox_logger = logging.getLogger("hotmesh_temporal.worker.workflow_sandbox._restrictions")


@contextlib.contextmanager
def refusing(refusals: Any) -> Iterator[None]:
    """Refuse what ``refusals`` (a CallRefusals, falsy for none) matches when workflow
    code calls it in the block. Does nothing when another profiler (a debugger,
    cProfile) is active."""
    if not refusals or sys.getprofile() is not None:
        yield None
        return
    _guard_reads(refusals)
    _keep_gc_watch_around_others()
    _state.refused = refusals
    thread = threading.get_ident()
    _guarded_threads[thread] = refusals
    sys.setprofile(_watch_calls)
    try:
        yield None
    finally:
        sys.setprofile(None)
        _state.refused = None
        del _guarded_threads[thread]


def rearm() -> None:
    """Put the guard back if a refusal that workflow code caught turned it off
    (CPython drops a profile function that raised); called between loop steps."""
    if getattr(_state, "refused", None) is not None and sys.getprofile() is None:
        sys.setprofile(_watch_calls)


def _watch_calls(frame: Any, event: str, arg: Any) -> None:
    # Called for every call while guarded code runs: most end at the first lookup.
    refusals = _state.refused
    if event == "call":
        code = frame.f_code
        refusal = refusals.by_code.get(code, _UNKNOWN)
        if refusal is _UNKNOWN:
            path = _python_path(frame)
            refused = path and not _is_operator_method(path[-1])
            refusal = refusals.by_code[code] = refusals.verdict(path) if refused else None
        if refusal is None:
            return
        if code.co_flags & _RESUMABLE and frame.f_lasti > _first_resume(code):
            return  # a coroutine or generator resumed: its call was checked already
        caller = frame.f_back
    elif event == "c_call":
        owner = getattr(arg, "__self__", None)
        if arg is _OPEN:
            owner = builtins
        elif not isinstance(owner, (types.ModuleType, type)):
            return
        key = (owner, arg.__name__)
        refusal = refusals.by_builtin.get(key, _UNKNOWN)
        if refusal is _UNKNOWN:
            path = _builtin_path(arg)
            refusal = refusals.by_builtin[key] = refusals.verdict(path) if path else None
        if refusal is None:
            return
        caller = frame
    else:
        return
    if caller is None or not _is_workflow_code(caller, refusals):
        return
    # Raised from the profile function, the error surfaces at the call; CPython
    # turns the profiler off with it (a caught refusal ends checks for this step).
    _refuse(refusal, stacklevel=2)


def _is_operator_method(name: str) -> bool:
    """A special method Python calls for an operator or builtin (``len``, ``in``,
    ``repr``, iteration) on a value workflow code holds: temporalio's proxies let these
    through, refusing the value's use by name instead (``os.environ.PATH``, see
    _GuardedEnviron). ``__init__`` is named as a call of its class (_python_path)."""
    return name.startswith("__") and name.endswith("__") and name != "__call__"


def _is_workflow_code(caller: Any, refusals: Any) -> bool:
    """Whether the frame ``caller`` runs workflow code the guard checks (not the
    standard library, this package, a passed-through module, a finalizer)."""
    if is_unrestricted() or getattr(_state, "loading", 0) > 0:
        return False
    if _collecting.get(threading.get_ident()):
        return False  # a finalizer or gc callback that happened to run here
    caller_module = caller.f_globals.get("__name__", "")
    top_level = caller_module.partition(".")[0]
    if top_level in sys.stdlib_module_names or top_level in _UNGUARDED_PACKAGES:
        return False
    return not is_passed_through(caller_module, refusals.passthrough)


def _refuse(refusal: Any, stacklevel: int) -> None:
    # As temporalio's sandbox: a log line, then the warning or the error.
    _sandbox_logger.warning("%s on %s restricted", refusal.path[-1], ".".join(refusal.path[:-1]))
    node = refusal.node
    if node.leaf_warning is not None:
        message = node.leaf_message or RestrictedWorkflowAccessError.default_message(refusal.name)
        warnings.warn(message, node.leaf_warning, stacklevel=stacklevel + 1)
        return
    raise RestrictedWorkflowAccessError(refusal.name, override_message=node.leaf_message)


# ------------------------------------------------------------ refused reads (sandbox)
#
# temporalio's sandbox also refuses reading some module attributes (``os.name``, and
# ``os.path`` before Python 3.14: its restrictions' ``access`` sets) and any use of a
# non-builtin value its ``use`` sets cover (``os.environ["X"]``, ``os.environ.get``,
# ``dict(os.environ)``; ``in``, ``len`` and iteration pass). With no import sandbox to
# hand out proxies, the modules holding such attributes get a module class whose
# ``__getattribute__`` checks the few watched names, and ``os.environ`` /
# ``os.environb`` a subclass of their class checking each use. Both are installed the
# first time a guarded workflow runs (never for unguarded ones, e.g. the bench's), and
# cost any reader a Python-level call per access (measured in
# bench/read_guard_overhead.py); the checks themselves only run on a guarded thread.

_guarded_module_reads: dict[str, set[str]] = {}  # module name -> names watched
# The refusals of the threads running a guarded step, by thread id: empty most of the
# time, so that a read elsewhere costs one test of it.
_guarded_threads: dict[int, Any] = {}
_ENVIRON_NAMES = ("environ", "environb")


def _guard_reads(refusals: Any) -> None:
    """Watch the reads ``refusals`` refuses (once per module and name)."""
    for module_name, names in refusals.refused_reads.items():
        module = sys.modules.get(module_name)
        if module is None or not names:
            continue
        watched = _guarded_module_reads.get(module_name)
        if watched is None:
            watched = _guarded_module_reads[module_name] = set()
            with _install_lock:
                if type(module) is types.ModuleType:
                    module.__class__ = _read_guarded_module_class(watched)
        watched.update(names)
    for name in _ENVIRON_NAMES:
        value = getattr(os, name, None)
        if value is not None and type(value) is os._Environ:
            value.__class__ = _GuardedEnviron


def _read_guarded_module_class(watched: set[str]) -> type:
    read = types.ModuleType.__getattribute__

    def __getattribute__(self: types.ModuleType, name: str) -> Any:
        if name in watched and _guarded_threads:
            _check_read(read(self, "__name__"), name)
        return read(self, name)

    return type("ReadGuardedModule", (types.ModuleType,), {"__getattribute__": __getattribute__})


def _check_read(module_name: str, name: str) -> None:
    refusals = _guarded_threads.get(threading.get_ident())
    reader = sys._getframe(2)  # the code reading the attribute
    if refusals is None or not _is_workflow_code(reader, refusals):
        return
    refusal = refusals.read_verdict((*_module_path(module_name), name))
    if refusal is not None:
        _refuse(refusal, stacklevel=3)


def _check_environ_use(environ: Any, member: str) -> None:
    refusals = _guarded_threads.get(threading.get_ident())
    user = sys._getframe(2)  # the code using the mapping (under the dunder)
    if refusals is None or not _is_workflow_code(user, refusals):
        return
    label = "environb" if environ is getattr(os, "environb", None) else "environ"
    refusal = refusals.use_verdict(("os", label), member)
    if refusal is not None:
        _refuse(refusal, stacklevel=3)


_read_environ = object.__getattribute__
_environ_getitem = os._Environ.__getitem__


class _GuardedEnviron(os._Environ):
    """``os.environ`` once guarded: as temporalio's restricted proxy, workflow code
    may not read its items or any attribute (``get``, ``keys``, ``pop``; ``dict()``
    reads ``keys``), while membership, length, iteration, ``repr`` and assigning or
    deleting an item pass (temporalio's proxy does not check those operators)."""

    def __getattribute__(self, name: str) -> Any:
        if _guarded_threads and name != "__class__":
            _check_environ_use(self, name)
        return _read_environ(self, name)

    def __getitem__(self, key: Any) -> Any:
        # As temporalio's proxy: an item is refused by its name, so a bytes key of
        # os.environb is let through.
        if _guarded_threads and isinstance(key, str):
            _check_environ_use(self, key)
        return _environ_getitem(self, key)


_RESUMABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR

# Garbage collection may run in a workflow thread while a step runs, and with it
# finalizers (``__del__``, weakref callbacks) and other libraries' gc callbacks: code
# of the host, not of the workflow (temporalio's sandbox, which restricts modules
# imported inside it, never sees it). Their calls are not refused: refused, they would
# fail silently ("Exception ignored in ...") and leak what they were closing. Threads
# in a collection, by id; set by the first gc callback, cleared by the last.
_collecting: dict[int, bool] = {}


def _gc_started(phase: str, _info: dict) -> None:
    if phase == "start":
        _collecting[threading.get_ident()] = True


def _gc_stopped(phase: str, _info: dict) -> None:
    if phase == "stop":
        _collecting.pop(threading.get_ident(), None)


def _keep_gc_watch_around_others() -> None:
    """Our start callback first and our stop callback last in gc.callbacks, so that
    every other callback runs inside the window (others may have been added since)."""
    callbacks = gc.callbacks
    if callbacks[:1] != [_gc_started]:
        while _gc_started in callbacks:
            callbacks.remove(_gc_started)
        callbacks.insert(0, _gc_started)
    if callbacks[-1:] != [_gc_stopped]:
        while _gc_stopped in callbacks:
            callbacks.remove(_gc_stopped)
        callbacks.append(_gc_stopped)


@functools.cache
def _first_resume(code: types.CodeType) -> int:
    """Where a generator or coroutine frame stands when it first runs (its first
    RESUME; later 'call' events of the profiler are resumptions)."""
    for instruction in dis.get_instructions(code):
        if instruction.opname == "RESUME":
            return instruction.offset
    return 0


@contextlib.contextmanager
def noting_imports(refusals: Any) -> Iterator[None]:
    """While sandboxed workflow code runs (``refusals``: its CallRefusals, None when
    unsandboxed), a module loaded for the first time gives temporalio's
    dynamic-import warning."""
    if not refusals:
        yield None
        return
    if not getattr(builtins.__import__, "__hotmesh_import_watch__", False):
        _install_import_watch()  # something put its own __import__ back since
    _state.importing = refusals
    try:
        yield None
    finally:
        _state.importing = None


def _install_import_watch() -> None:
    builtins.__import__ = _noting_dynamic_imports(builtins.__import__)


def _noting_dynamic_imports(original: Callable) -> Callable:
    @functools.wraps(original)
    def importing(
        name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
    ) -> Any:
        refusals = getattr(_state, "importing", None)
        if refusals is None or level != 0 or name in sys.modules:
            return original(name, globals, locals, fromlist, level)
        # Loading a module is not workflow code: import hooks (pytest's, say) and the
        # module's own body are not refused (they run unsandboxed in the host here).
        _state.loading = getattr(_state, "loading", 0) + 1
        try:
            module = original(name, globals, locals, fromlist, level)
        finally:
            _state.loading -= 1
        _warn_dynamic_import(name, refusals)
        return module

    importing.__hotmesh_import_watch__ = True  # type: ignore[attr-defined]
    return importing


def _warn_dynamic_import(name: str, refusals: Any) -> None:
    """temporalio's WARN_ON_DYNAMIC_IMPORT: a module its sandbox had not loaded for the
    workflow (here: one no code had loaded) was imported during an activation."""
    top_level = name.partition(".")[0]
    if top_level in sys.stdlib_module_names or top_level in _UNGUARDED_PACKAGES:
        return
    if is_passed_through(name, refusals.passthrough) or is_unrestricted():
        return
    policy = current_import_policy_override() or refusals.import_policy
    if SandboxImportNotificationPolicy.WARN_ON_DYNAMIC_IMPORT in policy:
        warnings.warn(f"Module {name} was imported after initial workflow load.", stacklevel=3)


def _builtin_path(fn: Any) -> tuple[str, ...] | None:
    """The dotted path of a C function or method being called."""
    if fn is _OPEN:
        return ("__builtins__", "open")
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, types.ModuleType):
        module = _module_path(owner.__name__)
        return (*module, _public_name(".".join(module), fn))
    if isinstance(owner, type):  # a class's C method (datetime.now)
        return (*_module_path(owner.__module__), *owner.__qualname__.split("."), fn.__name__)
    return None


def _python_path(frame: Any) -> tuple[str, ...] | None:
    """The dotted path of the Python function a frame runs (``__init__`` named by its
    class, as a call of the class)."""
    module = frame.f_globals.get("__name__")
    if not module:
        return None
    code = frame.f_code
    qualname = getattr(code, "co_qualname", code.co_name).split(".")  # 3.10: no qualname
    if qualname[-1] == "__init__" and len(qualname) > 1:
        qualname = qualname[:-1]
    return (*_module_path(module), *qualname)


def _public_name(module: str, fn: Any) -> str:
    """The name ``module`` offers ``fn`` under (``threading.Lock`` is
    ``_thread.allocate_lock``), as the workflow code that called it wrote it."""
    public = sys.modules.get(module)
    name = fn.__name__
    if public is None or getattr(public, name, None) is fn:
        return name
    try:
        return _aliases(module)[id(fn)]
    except KeyError:
        return name


@functools.cache
def _aliases(module: str) -> dict[int, str]:
    names: dict[int, str] = {}
    for name, value in vars(sys.modules[module]).items():
        if not name.startswith("_") and callable(value):
            names.setdefault(id(value), name)
    return names


@functools.cache
def _module_path(module: str) -> tuple[str, ...]:
    return tuple(_MODULE_ALIASES.get(module, module).split("."))


def workflow_may_be_refused(cls: type, refusals: Any) -> bool:
    """Whether the module defining workflow class ``cls`` looks like it calls
    something ``refusals`` refuses: it holds a restricted module (or something from
    one), or its code reads a refused member off a module or class (``time.sleep``,
    ``datetime.now``; not ``workflow.now``), or calls ``open``. Only such workflows
    pay for the profile hook of :func:`refusing`."""
    return may_read_datetime_clock(cls) or _may_call_refused(cls, refusals)


@functools.cache
def _may_call_refused(cls: type, refusals: Any) -> bool:
    module = sys.modules.get(cls.__module__)
    namespace = vars(module) if module is not None else {}
    for value in namespace.values():
        home = value.__name__ if isinstance(value, types.ModuleType) else None
        if home is None and (callable(value) or isinstance(value, type)):
            home = getattr(value, "__module__", None)
        if isinstance(home, str) and not _is_benign(value):
            if refusals.module_restricted(_module_path(home)):
                return True
    codes = [_code_of(v) for v in namespace.values()]
    for value in {cls, *(v for v in namespace.values() if isinstance(v, type))}:
        if getattr(value, "__module__", None) == cls.__module__:
            codes.extend(_code_of(member) for member in vars(value).values())
    return any(_calls_refused(code, namespace, refusals) for code in codes if code is not None)


def _is_benign(value: Any) -> bool:
    """Modules almost every workflow imports for harmless members (asyncio, datetime's
    classes, ...): their refused members are looked for in the code instead."""
    if isinstance(value, types.ModuleType):
        return value.__name__ in ("asyncio", "datetime", "random", "uuid", "time", "pathlib")
    return getattr(value, "__module__", None) in (
        "datetime", "asyncio", "uuid", "random", "pathlib",
    )  # fmt: skip


_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "LOAD_FAST", "LOAD_DEREF", "LOAD_ATTR"})
_REFUSED_BUILTINS = frozenset({"open", "input", "breakpoint"})
# Answered from the workflow (above), never refused.
_FOLLOWED = frozenset(
    {("time", "time"), ("time", "time_ns"), ("uuid", "uuid4")}
    | {("random", name) for name in _RANDOM_FUNCTIONS}
)


def _calls_refused(code: types.CodeType, namespace: dict, refusals: Any) -> bool:
    """Whether ``code`` reads a refused member off a module or class that the
    restrictions name, or loads a refused builtin (``open``)."""
    previous = None
    for instruction in dis.get_instructions(code):
        name = instruction.argval
        if (
            instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME")
            and name in _REFUSED_BUILTINS
            and name not in namespace
        ):
            return True
        if (
            instruction.opname in ("LOAD_ATTR", "LOAD_METHOD")
            and previous is not None
            and previous.opname in _LOADS
        ):
            owner = _owner_path(previous.argval, namespace)
            if owner is not None and (*owner, name) not in _FOLLOWED:
                if refusals.verdict((*owner, name)) is not None:
                    return True
        previous = instruction
    nested = (c for c in code.co_consts if isinstance(c, types.CodeType))
    return any(_calls_refused(c, namespace, refusals) for c in nested)


def _owner_path(name: Any, namespace: dict) -> tuple[str, ...] | None:
    """The dotted path of the module or class a loaded name looks like (a global bound
    to one, or a bare module name such as a local ``import time``)."""
    if not isinstance(name, str):
        return None
    bound = namespace.get(name)
    if isinstance(bound, types.ModuleType):
        return _module_path(bound.__name__)
    if isinstance(bound, type):
        return (*_module_path(bound.__module__), *bound.__qualname__.split("."))
    if name in sys.stdlib_module_names:
        return _module_path(name)
    return None


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
