"""Sandbox restrictions with ``temporalio.worker.workflow_sandbox``'s API.

There is no import sandbox here (workflow modules are imported once, normally), so
passthrough settings have nothing to decide. Member restrictions are data that the
engine's determinism guard reads: the ``datetime`` members listed in
:attr:`SandboxRestrictions.invalid_module_members` (``date.today``, ``datetime.now``,
``datetime.today``, ``datetime.utcnow``) fail the workflow task with
:class:`RestrictedWorkflowAccessError` when workflow code calls them. ``time.time()``,
the ``random`` functions and ``uuid.uuid4()`` are answered from workflow time and the
workflow's seeded random instead (see docs/determinism.md).
"""

from __future__ import annotations

import dataclasses
import functools
import random
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import hotmesh_temporal.exceptions
import hotmesh_temporal.workflow


class RestrictedWorkflowAccessError(hotmesh_temporal.workflow.NondeterminismError):
    """Workflow code used something nondeterministic (``qualified_name``)."""

    def __init__(self, qualified_name: str, *, override_message: str | None = None) -> None:
        super().__init__(
            override_message or RestrictedWorkflowAccessError.default_message(qualified_name)
        )
        self.qualified_name = qualified_name

    @staticmethod
    def default_message(qualified_name: str) -> str:
        # temporalio's wording, word for word (users search for it).
        return (
            f"Cannot access {qualified_name} from inside a workflow. If this is code from "
            "a module not used in a workflow or known to only be used deterministically "
            "from a workflow, mark the import as pass through."
        )


class UnintentionalPassthroughError(hotmesh_temporal.exceptions.TemporalError):
    """A module reached the sandbox without being passed through on purpose
    (kept for the API; imports are never sandboxed here, so it is not raised)."""

    def __init__(self, qualified_name: str) -> None:
        super().__init__(
            f"Module {qualified_name} was not intentionally passed through to the sandbox."
        )


class RestrictionContext:
    """Whether a restriction check happens while a workflow runs (``is_runtime``)
    rather than while its module is imported."""

    @staticmethod
    def unwrap_if_proxied(v: Any) -> Any:
        return v  # nothing is proxied here

    def __init__(self) -> None:
        self.is_runtime = False
        self.in_activation = False


@dataclass(frozen=True)
class SandboxMatcher:
    """Matches dotted paths (``("datetime", "datetime", "now")``).

    ``access`` matches a name whenever it is reached, ``use`` when it is called;
    ``children`` continue the path ("*" matches any name); ``match_self`` matches
    this node; ``only_runtime`` limits matches to workflow run time; ``exclude`` wins
    over everything. Immutable: every change makes a new matcher.
    """

    @classmethod
    def nested_child(cls, path: Sequence[str], child: SandboxMatcher) -> SandboxMatcher:
        """``child`` placed at ``path`` below an otherwise empty matcher."""
        matcher = child
        for name in reversed(path):
            matcher = cls(children={name: matcher})
        return matcher

    access: set[str] = frozenset()  # type: ignore[assignment]
    use: set[str] = frozenset()  # type: ignore[assignment]
    children: Mapping[str, SandboxMatcher] = dataclasses.field(default_factory=dict)
    match_self: bool = False
    only_runtime: bool = False
    leaf_message: str | None = None
    leaf_warning: type[Warning] | None = None
    exclude: set[str] = frozenset()  # type: ignore[assignment]

    all: ClassVar[SandboxMatcher]
    all_runtime: ClassVar[SandboxMatcher]
    none: ClassVar[SandboxMatcher]
    all_uses: ClassVar[SandboxMatcher]
    all_uses_runtime: ClassVar[SandboxMatcher]

    def __post_init__(self) -> None:
        if self.leaf_message and not self.match_self:
            raise ValueError("Cannot set leaf_message without match_self")
        if self.leaf_warning and not self.match_self:
            raise ValueError("Cannot set leaf_warning without match_self")

    def access_matcher(
        self, context: RestrictionContext, *child_path: str, include_use: bool = False
    ) -> SandboxMatcher | None:
        """The matcher that matches ``child_path``, or None."""
        node = self
        for name in child_path:
            if name in node.exclude or (node.only_runtime and not context.is_runtime):
                return None
            if node.match_self or _named(node.access, name):
                return node
            if include_use and _named(node.use, name):
                return node
            child = node.children.get(name) or node.children.get("*")
            if child is None:
                return None
            node = child
        if node.only_runtime and not context.is_runtime:
            return None
        return node if node.match_self else None

    def match_access(
        self, context: RestrictionContext, *child_path: str, include_use: bool = False
    ) -> bool:
        return self.access_matcher(context, *child_path, include_use=include_use) is not None

    def child_matcher(self, *child_path: str) -> SandboxMatcher | None:
        """The matcher that applies below ``child_path`` (``all`` once a name on the
        way is matched by ``access`` or ``use``), or None."""
        node: SandboxMatcher | None = self
        runtime_only = self.only_runtime
        for name in child_path:
            assert node is not None
            if name in node.exclude:
                return None
            if node.match_self or _named(node.access, name) or _named(node.use, name):
                return SandboxMatcher.all_runtime if runtime_only else SandboxMatcher.all
            node = node.children.get(name) or node.children.get("*")
            if node is None:
                return None
            runtime_only = runtime_only or node.only_runtime
        return node

    def __or__(self, other: SandboxMatcher) -> SandboxMatcher:
        """Both matchers' matches."""
        if self.only_runtime != other.only_runtime:
            raise ValueError("Cannot combine only-runtime and non-only-runtime")
        if self.leaf_message != other.leaf_message:
            raise ValueError("Cannot combine different messages")
        if self.leaf_warning != other.leaf_warning:
            raise ValueError("Cannot combine different warning values")
        if self.match_self or other.match_self:
            return SandboxMatcher.all
        children = dict(self.children)
        for name, child in other.children.items():
            children[name] = children[name] | child if name in children else child
        return SandboxMatcher(
            access=self.access | other.access,
            use=self.use | other.use,
            children=children,
            only_runtime=self.only_runtime,
            leaf_message=self.leaf_message,
            leaf_warning=self.leaf_warning,
        )

    def with_child_unrestricted(self, *child_path: str) -> SandboxMatcher:
        """A copy in which ``child_path`` is no longer matched."""
        assert child_path
        first, rest = child_path[0], child_path[1:]
        changes: dict[str, Any] = {}
        if not rest:
            if first in self.access:
                changes["access"] = set(self.access) - {first}
            if first in self.use:
                changes["use"] = set(self.use) - {first}
            if first in self.children:
                changes["children"] = {k: v for k, v in self.children.items() if k != first}
        elif first in self.children:
            children = dict(self.children)
            children[first] = children[first].with_child_unrestricted(*rest)
            changes["children"] = children
        return dataclasses.replace(self, **changes) if changes else self


def _named(names: Any, name: str) -> bool:
    return name in names or "*" in names


SandboxMatcher.all = SandboxMatcher(match_self=True)
SandboxMatcher.all_runtime = SandboxMatcher(match_self=True, only_runtime=True)
SandboxMatcher.none = SandboxMatcher()
SandboxMatcher.all_uses = SandboxMatcher(use={"*"})
SandboxMatcher.all_uses_runtime = SandboxMatcher(use={"*"}, only_runtime=True)


@dataclass(frozen=True)
class SandboxRestrictions:
    """What workflow code may import and use (see the module docs for what is
    enforced here)."""

    passthrough_modules: set[str]
    invalid_modules: SandboxMatcher
    invalid_module_members: SandboxMatcher
    import_notification_policy: hotmesh_temporal.workflow.SandboxImportNotificationPolicy = (
        hotmesh_temporal.workflow.SandboxImportNotificationPolicy.WARN_ON_DYNAMIC_IMPORT
    )
    passthrough_all_modules: bool = False
    disable_lazy_sys_module_passthrough: bool = False

    passthrough_modules_minimum: ClassVar[set[str]]
    passthrough_modules_with_temporal: ClassVar[set[str]]
    passthrough_modules_maximum: ClassVar[set[str]]
    passthrough_modules_default: ClassVar[set[str]]
    invalid_module_members_default: ClassVar[SandboxMatcher]
    default: ClassVar[SandboxRestrictions]

    def with_passthrough_modules(self, *modules: str) -> SandboxRestrictions:
        modules_now = self.passthrough_modules | set(modules)
        return dataclasses.replace(self, passthrough_modules=modules_now)

    def with_passthrough_all_modules(self) -> SandboxRestrictions:
        return dataclasses.replace(self, passthrough_all_modules=True)

    def with_import_notification_policy(
        self, policy: hotmesh_temporal.workflow.SandboxImportNotificationPolicy
    ) -> SandboxRestrictions:
        return dataclasses.replace(self, import_notification_policy=policy)


# temporalio's pass-through module sets, name for name (Worker defaults compare equal).
# Nothing reads them here: there is no import sandbox, and this package's own modules
# are always shared with workflow code, so they need no entry.
SandboxRestrictions.passthrough_modules_minimum = {
    "grpc", "pathlib", "importlib", "importlib_metadata", "platform", "zipfile",
    "typing", "typing_extensions", "google.protobuf", "temporalio.api",
    "temporalio.bridge.proto", "temporalio.bridge.temporal_sdk_bridge",
}  # fmt: skip
_WITH_TEMPORAL = {
    "asyncio", "abc", "nexusrpc", "temporalio", "pkg_resources", "pydantic",
    "pydantic_core", "annotated_types",
}  # fmt: skip
SandboxRestrictions.passthrough_modules_with_temporal = (
    SandboxRestrictions.passthrough_modules_minimum | _WITH_TEMPORAL
)
SandboxRestrictions.passthrough_modules_maximum = (
    SandboxRestrictions.passthrough_modules_with_temporal
    | {name for name in sys.stdlib_module_names if name != "sys"}
)
SandboxRestrictions.passthrough_modules_default = SandboxRestrictions.passthrough_modules_maximum


def _random_functions() -> set[str]:
    return {
        name for name in dir(random)
        if not name.startswith("_") and callable(getattr(random, name))
        and not isinstance(getattr(random, name), type)
    }  # fmt: skip


def _warn_on_call(message: str) -> SandboxMatcher:
    leaf = SandboxMatcher(match_self=True, leaf_warning=UserWarning, leaf_message=message)
    return SandboxMatcher(children={"__call__": leaf})


# Modules whose every call Temporal's sandbox refuses, always or only while a workflow
# runs (not while its module is imported).
_REFUSE_ALL_CALLS = (
    "curses", "dbm", "filecmp", "fileinput", "ftplib", "getopt", "getpass", "gettext",
    "glob", "imaplib", "locale", "poplib", "readline", "sched", "shelve", "shutil",
    "smtplib", "socketserver", "subprocess", "tempfile", "webbrowser", "xmlrpc",
)  # fmt: skip
_REFUSE_ALL_CALLS_AT_RUNTIME = (
    "mmap", "multiprocessing", "platform", "select", "selectors", "signal", "socket",
    "threading",
)  # fmt: skip
_PATH_IO_METHODS = {
    "chmod", "cwd", "exists", "expanduser", "glob", "group", "hardlink_to", "home",
    "is_block_device", "is_char_device", "is_dir", "is_fifo", "is_file", "is_mount",
    "is_socket", "is_symlink", "iterdir", "lchmod", "link_to", "lstat", "mkdir", "open",
    "owner", "read_bytes", "read_link", "read_text", "rename", "replace", "resolve",
    "rglob", "rmdir", "samefile", "stat", "symlink_to", "touch", "unlink", "write_bytes",
    "write_text",
}  # fmt: skip
_CLOCK_FUNCTIONS = {
    "pthread_getcpuclockid", "get_clock_info", "localtime", "monotonic", "monotonic_ns",
    "perf_counter", "perf_counter_ns", "process_time", "process_time_ns", "sleep", "time",
    "time_ns", "thread_time", "thread_time_ns", "tzset",
}  # fmt: skip
_SECRETS_RANDOMNESS = {
    "choice", "randbelow", "randbits", "SystemRandom", "token_bytes", "token_hex",
    "token_urlsafe",
}  # fmt: skip
# From Python 3.14 tracebacks call os.path functions, so those stay allowed.
_PY314 = sys.version_info >= (3, 14)

# The nondeterministic members Temporal's default sandbox refuses (its data, name for
# name); see the module docs for which of them this package fails on and which it
# answers deterministically. The rest is configuration data only.
SandboxRestrictions.invalid_module_members_default = SandboxMatcher(
    children={
        **{name: SandboxMatcher.all_uses for name in _REFUSE_ALL_CALLS},
        **{name: SandboxMatcher.all_uses_runtime for name in _REFUSE_ALL_CALLS_AT_RUNTIME},
        **{name: SandboxMatcher(use={"open"}) for name in ("bz2", "gzip", "lzma")},
        "__builtins__": SandboxMatcher(
            children={
                "breakpoint": SandboxMatcher(
                    match_self=True,
                    only_runtime=True,
                    leaf_message=(
                        "breakpoint() inside workflow code requires debug_mode=True on the "
                        "Worker (or the TEMPORAL_DEBUG environment variable). Without it, "
                        "the call cannot reach the debugger."
                    ),
                )
            },
            use={"input", "open"},
            only_runtime=True,
        ),
        "asyncio": SandboxMatcher(
            children={
                "as_completed": _warn_on_call(
                    "asyncio.as_completed() is non-deterministic, use "
                    "workflow.as_completed() instead"
                ),
                "wait": _warn_on_call(
                    "asyncio.wait() is non-deterministic, use workflow.wait() instead"
                ),
            }
        ),
        "concurrent": SandboxMatcher(children={"futures": SandboxMatcher.all_uses_runtime}),
        "datetime": SandboxMatcher(
            children={
                "date": SandboxMatcher(use={"today"}),
                "datetime": SandboxMatcher(use={"now", "today", "utcnow"}),
            }
        ),
        "http": SandboxMatcher(
            children={"client": SandboxMatcher.all_uses, "server": SandboxMatcher.all_uses}
        ),
        "marshal": SandboxMatcher(use={"dump", "load"}),
        "os": SandboxMatcher(
            children={"path": SandboxMatcher.none if _PY314 else SandboxMatcher.all},
            access={"name"},
            use={"*"},
            exclude={"stat", "path"} if _PY314 else {"stat"},
            only_runtime=True,
        ),
        "pathlib": SandboxMatcher(children={"Path": SandboxMatcher(use=_PATH_IO_METHODS)}),
        "random": SandboxMatcher(use=_random_functions()),
        "secrets": SandboxMatcher(use=_SECRETS_RANDOMNESS),
        "time": SandboxMatcher(use=_CLOCK_FUNCTIONS, only_runtime=True),
        "tarfile": SandboxMatcher(
            use={"open"}, children={"TarFile": SandboxMatcher(use={"extract", "extractall"})}
        ),
        "urllib": SandboxMatcher(children={"request": SandboxMatcher.all_uses}),
        "uuid": SandboxMatcher(use={"uuid1", "uuid4", "uuid7"}, only_runtime=True),
        "zipfile": SandboxMatcher(
            children={"ZipFile": SandboxMatcher(use={"extract", "extractall"})}
        ),
        "zoneinfo": SandboxMatcher(
            children={"ZoneInfo": SandboxMatcher(use={"clear_cache", "from_file", "reset_tzpath"})}
        ),
    }
)

SandboxRestrictions.default = SandboxRestrictions(
    passthrough_modules=SandboxRestrictions.passthrough_modules_default,
    invalid_modules=SandboxMatcher.none,
    invalid_module_members=SandboxRestrictions.invalid_module_members_default,
)


def _runtime_context() -> RestrictionContext:
    context = RestrictionContext()
    context.is_runtime = True
    return context


_RUNTIME = _runtime_context()  # the guard only checks while workflow code runs


@dataclass(frozen=True)
class Refusal:
    """A refused (or warned-about) call: the matcher node saying how, and the dotted
    name temporalio gives it."""

    node: SandboxMatcher
    path: tuple[str, ...]

    @property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True, eq=False)  # compared (and hashed) by identity: it holds caches
class CallRefusals:
    """What the determinism guard refuses while sandboxed workflow code runs: the
    calls ``invalid_module_members`` matches at run time (see determinism.refusing).

    A call is named by its dotted path (``("os", "getcwd")``,
    ``("datetime", "datetime", "now")``); :meth:`verdict` says which matcher node
    refuses it, if any (its ``leaf_warning`` / ``leaf_message`` say how)."""

    matcher: SandboxMatcher
    # Modules passed through (and their submodules): as in temporalio's sandbox, their
    # own calls (they hold the real modules there) are not checked.
    passthrough: frozenset = frozenset()
    # What a module first imported during an activation gives (a warning by default).
    import_policy: Any = (
        hotmesh_temporal.workflow.SandboxImportNotificationPolicy.WARN_ON_DYNAMIC_IMPORT
    )
    _verdicts: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)
    # The guard's caches (determinism._watch_calls): verdicts by code object and by
    # (owner, name) of C functions, so that most calls cost one dict lookup.
    by_code: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)
    by_builtin: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def __bool__(self) -> bool:
        return bool(self.matcher.children or self.matcher.use or self.matcher.match_self)

    def module_restricted(self, module: tuple[str, ...]) -> bool:
        """Whether something in (or below) the module at dotted path ``module`` is
        refused (``os``: yes; ``urllib.parse``: no, only ``urllib.request`` is)."""
        node: SandboxMatcher | None = self.matcher
        for name in module:
            assert node is not None
            if node.match_self or "*" in node.use:
                return True
            node = node.children.get(name)
            if node is None:
                return False
        return bool(
            node is not None and (node.use or node.access or node.children or node.match_self)
        )

    def verdict(self, path: tuple[str, ...]) -> Refusal | None:
        """Whether calling ``path`` is refused (or warned about), and by which name
        temporalio reports it: a member matched by a ``use`` set is reported as its
        ``__call__`` (``os.getcwd.__call__``), a builtin by its name."""
        try:
            return self._verdicts[path]
        except KeyError:
            pass
        context = RestrictionContext()
        context.is_runtime = True
        found: Refusal | None = None
        node = self.matcher.access_matcher(context, *path)
        if node is not None:
            found = Refusal(node, path)
        else:
            node = self.matcher.access_matcher(context, *path, include_use=True)
            if node is None:
                node = self.matcher.access_matcher(context, *path, "__call__")
            if node is not None:
                builtin = path[0] == "__builtins__"
                found = Refusal(node, path if builtin else (*path, "__call__"))
        self._verdicts[path] = found
        return found

    def read_verdict(self, path: tuple[str, ...]) -> Refusal | None:
        """Whether reading the attribute at ``path`` (``("os", "name")``) is refused:
        matched by an ``access`` set, not a ``use`` one."""
        key = ("read", *path)
        if key not in self._verdicts:
            node = self.matcher.access_matcher(_RUNTIME, *path)
            self._verdicts[key] = None if node is None else Refusal(node, path)
        return self._verdicts[key]

    def use_verdict(self, path: tuple[str, ...], member: str) -> Refusal | None:
        """Whether workflow code may use (read a member or item of, call) the value at
        ``path``; refused, it is named with ``member`` as temporalio names it
        (``os.environ.PATH``, ``os.environ.get``)."""
        key = ("use", *path)
        if key not in self._verdicts:
            self._verdicts[key] = self.matcher.access_matcher(_RUNTIME, *path, include_use=True)
        node = self._verdicts[key]
        return None if node is None else Refusal(node, (*path, member))

    @functools.cached_property
    def refused_reads(self) -> dict[str, frozenset]:
        """Module attributes whose very read is refused, by module name (``os``:
        ``name``, and ``path`` before Python 3.14). A module refusing every read
        (``access`` of ``*``) is left to the call checks."""
        reads: dict[str, frozenset] = {}
        for module, node in self.matcher.children.items():
            names = {n for n in node.access if n != "*"}
            names.update(n for n, child in node.children.items() if child.match_self)
            names -= set(node.exclude)
            if names and module != "__builtins__":
                reads[module] = frozenset(names)
        return reads

    @functools.cached_property
    def top_level_modules(self) -> frozenset:
        """The modules (first path names) something is refused in."""
        return frozenset(name for name in self.matcher.children if name != "__builtins__")

    @functools.cached_property
    def member_names(self) -> frozenset:
        """Every member name the matcher names below a module (for the cheap scan
        deciding whether a workflow pays for the guard)."""
        names: set = set()

        def walk(node: SandboxMatcher, depth: int) -> None:
            names.update(n for n in (*node.use, *node.access) if n != "*")
            for name, child in node.children.items():
                if depth:
                    names.add(name)
                walk(child, depth + 1)

        walk(self.matcher, 0)
        return frozenset(names - {"__call__"})


def refused_calls(restrictions: SandboxRestrictions) -> CallRefusals:
    """The calls these restrictions refuse in workflow code."""
    return CallRefusals(
        restrictions.invalid_module_members,
        frozenset(restrictions.passthrough_modules),
        restrictions.import_notification_policy,
    )
