"""Machine-checked API parity between temporalio and hotmesh_temporal.

The engine walks the public surface of each temporalio module listed in
``MODULES``, builds a small description (a "spec") of every public name, builds
the same description of the name of the same path in ``hotmesh_temporal`` and
compares the two.

What counts as public in a temporalio module:

* ``__all__`` when the module defines it;
* otherwise every name bound at the top level of the module's own source (class,
  function, assignment) that does not start with ``_``. Imports are not bindings
  of the module, so re-exported stdlib/typing names never count.

What is compared, per name:

* functions and methods: parameter names, kinds, which have defaults, and the
  default values when they are simple literals or enum members;
* classes: the constructor signature (when temporalio defines one), every
  public method, property, class attribute and nested class defined by a
  temporalio class in the MRO (recursively), enum members and their values,
  dataclass fields (names, which have defaults, simple default values);
* other values: presence, and equality when the value is a simple literal.

A temporalio module that cannot be imported (e.g. ``contrib.opentelemetry``
without the ``opentelemetry`` packages) is read from its source with ``ast``:
names and signatures are still checked, inherited members are not.
A hotmesh_temporal module that does not exist counts as all-missing.

This file only reads temporalio; it never copies it.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import importlib.util
import inspect
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import tomllib

THEIRS_ROOT = "temporalio"
OURS_ROOT = "hotmesh_temporal"

MODULES = [
    "client",
    "worker",
    "workflow",
    "activity",
    "common",
    "exceptions",
    "converter",
    "testing",
    "envconfig",
    "runtime",
    "service",
    "plugin",
    "worker.workflow_sandbox",
    "contrib.pydantic",
    "contrib.opentelemetry",
    "contrib.workflow_streams",
]

EXCLUSIONS_PATH = Path(__file__).with_name("exclusions.toml")

MAX_DEPTH = 3


# --------------------------------------------------------------------------- specs


class _NoDefault:
    def __repr__(self) -> str:
        return "<no default>"


NO_DEFAULT = _NoDefault()


class _Opaque:
    """A default value that is not a simple literal: only its presence is compared."""

    def __repr__(self) -> str:
        return "..."

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Opaque)

    def __hash__(self) -> int:
        return 0


OPAQUE = _Opaque()


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # inspect.Parameter kind name
    default: Any  # NO_DEFAULT, OPAQUE or a normalised simple value

    def render(self) -> str:
        prefix = {"VAR_POSITIONAL": "*", "VAR_KEYWORD": "**"}.get(self.kind, "")
        text = prefix + self.name
        if self.default is not NO_DEFAULT:
            text += "=" + repr(self.default)
        return text


@dataclass
class Spec:
    """What a public name looks like, enough to compare two implementations."""

    kind: str  # "class", "function", "property", "value", "module", "enum_member", "field"
    params: list[Param] | None = None  # for functions, and class constructors
    method_kind: str | None = None  # "instance", "static", "class" for methods
    members: dict[str, Spec] = field(default_factory=dict)
    value: Any = OPAQUE  # for values, enum members and fields: normalised literal
    is_enum: bool = False
    is_dataclass: bool = False


def render_params(params: list[Param] | None) -> str:
    if params is None:
        return "(?)"
    parts: list[str] = []
    seen_kw_only = False
    seen_pos_only = False
    for p in params:
        if p.kind == "POSITIONAL_ONLY":
            seen_pos_only = True
        elif seen_pos_only:
            parts.append("/")
            seen_pos_only = False
        if p.kind == "KEYWORD_ONLY" and not seen_kw_only:
            if not any(q.kind == "VAR_POSITIONAL" for q in params):
                parts.append("*")
            seen_kw_only = True
        parts.append(p.render())
    if seen_pos_only:
        parts.append("/")
    return "(" + ", ".join(parts) + ")"


def normalise_value(value: Any) -> Any:
    """A comparable form of a simple literal, or OPAQUE."""
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}={value.value!r}"
    if value is None or isinstance(value, (bool, int, float, str, bytes, timedelta)):
        return value
    return OPAQUE


def _params_from_signature(sig: inspect.Signature) -> list[Param]:
    out = []
    for p in sig.parameters.values():
        if p.default is inspect.Parameter.empty:
            default: Any = NO_DEFAULT
        else:
            default = normalise_value(p.default)
        out.append(Param(p.name, p.kind.name, default))
    return out


def _signature_params(obj: Any) -> list[Param] | None:
    try:
        return _params_from_signature(inspect.signature(obj))
    except (TypeError, ValueError):
        return None


def _is_own(obj: Any, root: str) -> bool:
    mod = getattr(obj, "__module__", None) or ""
    return mod == root or mod.startswith(root + ".")


def _public(name: str) -> bool:
    return not name.startswith("_")


def spec_of(obj: Any, root: str, depth: int = 0) -> Spec:
    """Describe a runtime object (a top-level name of a module)."""
    if inspect.ismodule(obj):
        return Spec("module")
    if inspect.isclass(obj):
        return class_spec(obj, root, depth)
    if inspect.isroutine(obj) or (callable(obj) and hasattr(obj, "__wrapped__")):
        return Spec("function", params=_signature_params(obj))
    return Spec("value", value=normalise_value(obj))


def _defines_init(cls: type, root: str) -> bool:
    if dataclasses.is_dataclass(cls):
        return True
    for klass in cls.__mro__:
        if not _is_own(klass, root):
            continue
        if "__init__" in vars(klass) or "__new__" in vars(klass):
            return True
    return False


def class_spec(cls: type, root: str, depth: int = 0) -> Spec:
    spec = Spec("class")
    spec.is_enum = isinstance(cls, enum.EnumMeta)
    spec.is_dataclass = dataclasses.is_dataclass(cls)
    if not spec.is_enum and _defines_init(cls, root):
        spec.params = _signature_params(cls)
    field_names: set[str] = set()
    if spec.is_dataclass:
        for f in dataclasses.fields(cls):
            if not _public(f.name):
                continue
            field_names.add(f.name)
            if f.default is not dataclasses.MISSING:
                default: Any = normalise_value(f.default)
            elif f.default_factory is not dataclasses.MISSING:
                default = OPAQUE
            else:
                default = NO_DEFAULT
            spec.members[f.name] = Spec("field", value=default)
    if spec.is_enum:
        for name, member in cls.__members__.items():
            spec.members[name] = Spec("enum_member", value=member.value)
    if depth >= MAX_DEPTH:
        return spec
    for klass in cls.__mro__:
        if not _is_own(klass, root):
            continue
        for name, raw in vars(klass).items():
            if not _public(name) or name in spec.members or name in field_names:
                continue
            spec.members[name] = member_spec(cls, name, raw, root, depth)
    return spec


def member_spec(cls: type, name: str, raw: Any, root: str, depth: int) -> Spec:
    if isinstance(raw, staticmethod):
        return Spec("function", method_kind="static", params=_signature_params(raw.__func__))
    if isinstance(raw, classmethod):
        return Spec("function", method_kind="class", params=_signature_params(getattr(cls, name)))
    if isinstance(raw, (property, dataclasses.Field)) or type(raw).__name__ in (
        "cached_property",
        "getset_descriptor",
        "member_descriptor",
    ):
        return Spec("property")
    if inspect.isfunction(raw):
        return Spec("function", method_kind="instance", params=_signature_params(raw))
    if inspect.isclass(raw):
        return class_spec(raw, root, depth + 1)
    return Spec("value", value=normalise_value(raw))


# ---------------------------------------------------------------- our side lookups


_PLAIN = object()  # an attribute known only from fields/annotations/slots


def _our_member(cls: type, name: str) -> tuple[bool, Any]:
    """Find ``name`` on our class: (found, raw attribute or _PLAIN)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return True, vars(klass)[name]
    if dataclasses.is_dataclass(cls) and name in {f.name for f in dataclasses.fields(cls)}:
        return True, None
    for klass in cls.__mro__:
        if name in getattr(klass, "__annotations__", {}):
            return True, None
    slots = [s for k in cls.__mro__ for s in (getattr(k, "__slots__", ()) or ())]
    if name in slots:
        return True, None
    return False, None


# ---------------------------------------------------------------- public surface


def _ast_bound_names(tree: ast.Module) -> list[str]:
    names: list[str] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                names.append(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        names.append(target.id)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                if isinstance(node.target, ast.Name):
                    names.append(node.target.id)
            elif isinstance(node, ast.If):
                # ``if TYPE_CHECKING:`` only imports; other conditional
                # definitions (e.g. per Python version) are real bindings.
                test = node.test
                if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                    continue
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)

    visit(tree.body)
    seen: set[str] = set()
    out = []
    for name in names:
        if _public(name) and name not in seen:
            seen.add(name)
            out.append(name)
    return out


def _module_source_path(modpath: str) -> Path | None:
    spec = importlib.util.find_spec(f"{THEIRS_ROOT}.{modpath}")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin)


def _ast_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    return None


def public_names(module: Any, modpath: str) -> list[str]:
    explicit = getattr(module, "__all__", None)
    if explicit is not None:
        # temporalio lists a few private helpers in ``__all__``; a leading
        # underscore still means "not part of the API".
        return [n for n in explicit if _public(n)]
    source = _module_source_path(modpath)
    tree = ast.parse(source.read_text())
    return _ast_bound_names(tree)


# ----------------------------------------------------------- static (ast) fallback


def _ast_default(node: ast.expr) -> Any:
    try:
        return normalise_value(ast.literal_eval(node))
    except (ValueError, SyntaxError, TypeError):
        return OPAQUE


def _ast_params(args: ast.arguments) -> list[Param]:
    out: list[Param] = []
    positional = [(a, "POSITIONAL_ONLY") for a in args.posonlyargs] + [
        (a, "POSITIONAL_OR_KEYWORD") for a in args.args
    ]
    defaults: list[Any] = [NO_DEFAULT] * (len(positional) - len(args.defaults)) + [
        _ast_default(d) for d in args.defaults
    ]
    for (arg, kind), default in zip(positional, defaults, strict=True):
        out.append(Param(arg.arg, kind, default))
    if args.vararg:
        out.append(Param(args.vararg.arg, "VAR_POSITIONAL", NO_DEFAULT))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        out.append(
            Param(arg.arg, "KEYWORD_ONLY", NO_DEFAULT if default is None else _ast_default(default))
        )
    if args.kwarg:
        out.append(Param(args.kwarg.arg, "VAR_KEYWORD", NO_DEFAULT))
    return out


def _decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> set[str]:
    names = set()
    for d in node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Attribute):
            names.add(target.attr)
    return names


def _ast_function_spec(node: ast.FunctionDef | ast.AsyncFunctionDef, in_class: bool) -> Spec:
    decorators = _decorator_names(node)
    if in_class and ({"property", "cached_property"} & decorators or "setter" in decorators):
        return Spec("property")
    params = _ast_params(node.args)
    method_kind = None
    if in_class:
        if "staticmethod" in decorators:
            method_kind = "static"
        elif "classmethod" in decorators:
            method_kind = "class"
            params = params[1:]
        else:
            method_kind = "instance"
    return Spec("function", params=params, method_kind=method_kind)


def _ast_class_spec(node: ast.ClassDef) -> Spec:
    spec = Spec("class")
    spec.is_dataclass = "dataclass" in _decorator_names(node)
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if item.name == "__init__":
                spec.params = _ast_params(item.args)
            elif _public(item.name):
                spec.members[item.name] = _ast_function_spec(item, in_class=True)
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            name = item.target.id
            if _public(name) and spec.is_dataclass:
                default = NO_DEFAULT if item.value is None else _ast_default(item.value)
                spec.members[name] = Spec("field", value=default)
            elif _public(name):
                spec.members[name] = Spec("value")
        elif isinstance(item, ast.ClassDef) and _public(item.name):
            spec.members[item.name] = _ast_class_spec(item)
    return spec


def _ast_find_definition(package_dir: Path, tree: ast.Module, name: str) -> Spec:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return _ast_class_spec(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return _ast_function_spec(node, in_class=False)
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    if node.level >= 1:
                        path = package_dir / (node.module.replace(".", "/") + ".py")
                    else:
                        origin = importlib.util.find_spec(THEIRS_ROOT).origin
                        root_dir = Path(origin).parent
                        parts = node.module.split(".")[1:]
                        path = root_dir.joinpath(*parts).with_suffix(".py")
                    if (
                        node.level >= 1 or node.module.split(".")[0] == THEIRS_ROOT
                    ) and path.exists():
                        return _ast_find_definition(
                            path.parent, ast.parse(path.read_text()), alias.name
                        )
    return Spec("value")


def static_module_specs(modpath: str) -> dict[str, Spec]:
    source = _module_source_path(modpath)
    if source is None:
        return {}
    tree = ast.parse(source.read_text())
    names = _ast_all(tree) or _ast_bound_names(tree)
    return {name: _ast_find_definition(source.parent, tree, name) for name in names}


# ---------------------------------------------------------------- comparison


@dataclass
class NameResult:
    module: str
    name: str
    present: bool
    units_total: int = 0
    units_ok: int = 0
    problems: list[str] = field(default_factory=list)
    excluded_members: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.present and not self.problems


@dataclass
class ModuleResult:
    module: str
    theirs_importable: bool = True
    static: bool = False
    ours_error: str | None = None
    names: list[NameResult] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)

    @property
    def names_total(self) -> int:
        return len(self.names)

    @property
    def names_present(self) -> int:
        return sum(1 for n in self.names if n.present)

    @property
    def units_total(self) -> int:
        return sum(n.units_total for n in self.names)

    @property
    def units_ok(self) -> int:
        return sum(n.units_ok for n in self.names)

    @property
    def complete(self) -> bool:
        return all(n.ok for n in self.names)

    def failures(self) -> list[NameResult]:
        return [n for n in self.names if not n.ok]


def count_units(spec: Spec) -> int:
    return 1 + sum(count_units(m) for m in spec.members.values())


def _compare_params(path: str, theirs: list[Param] | None, ours: list[Param] | None) -> list[str]:
    if theirs is None:
        return []
    if ours is None:
        return [f"{path}: signature of ours cannot be read, expected {render_params(theirs)}"]
    if _params_match(theirs, ours):
        return []
    return [f"{path}: signature differs: " + "; ".join(param_diff(theirs, ours))]


def _params_match(theirs: list[Param], ours: list[Param]) -> bool:
    """Same names, kinds, presence of defaults; same default when temporalio's is simple."""
    if len(theirs) != len(ours):
        return False
    for t, o in zip(theirs, ours, strict=True):
        if (t.name, t.kind) != (o.name, o.kind):
            return False
        if (t.default is NO_DEFAULT) != (o.default is NO_DEFAULT):
            return False
        if t.default is not OPAQUE and t.default != o.default:
            return False
    return True


def param_diff(theirs: list[Param], ours: list[Param]) -> list[str]:
    """Short, readable differences between two parameter lists."""
    notes: list[str] = []
    t_names = [p.name for p in theirs]
    o_names = [p.name for p in ours]
    t_by = {p.name: p for p in theirs}
    o_by = {p.name: p for p in ours}
    missing = [n for n in t_names if n not in o_by]
    extra = [n for n in o_names if n not in t_by]
    if missing:
        notes.append("missing " + ", ".join(missing))
    if extra:
        notes.append("extra " + ", ".join(extra))
    for name in t_names:
        if name not in o_by:
            continue
        t, o = t_by[name], o_by[name]
        if t.kind != o.kind:
            notes.append(f"{name} is {o.kind.lower()}, expected {t.kind.lower()}")
        if (t.default is NO_DEFAULT) != (o.default is NO_DEFAULT):
            notes.append(
                f"{name} {'has no' if o.default is NO_DEFAULT else 'has a'} default"
                f" (temporalio: {'none' if t.default is NO_DEFAULT else repr(t.default)})"
            )
        elif t.default != o.default and t.default is not OPAQUE:
            notes.append(f"{name} default {o.default!r}, expected {t.default!r}")
    common = [n for n in t_names if n in o_by]
    if [n for n in o_names if n in t_by] != common:
        notes.append("parameter order differs")
    if not notes:
        notes.append(f"temporalio {render_params(theirs)}, ours {render_params(ours)}")
    return notes


def _our_spec_for_member(our_cls: type, name: str, theirs: Spec, depth: int) -> Spec | None:
    found, raw = _our_member(our_cls, name)
    if not found:
        return None
    if theirs.kind == "enum_member":
        member = getattr(our_cls, "__members__", {}).get(name)
        if member is None:
            return Spec("value")
        return Spec("enum_member", value=member.value)
    if theirs.kind == "field":
        if dataclasses.is_dataclass(our_cls):
            for f in dataclasses.fields(our_cls):
                if f.name == name:
                    if f.default is not dataclasses.MISSING:
                        return Spec("field", value=normalise_value(f.default))
                    if f.default_factory is not dataclasses.MISSING:
                        return Spec("field", value=OPAQUE)
                    return Spec("field", value=NO_DEFAULT)
        return Spec("property")
    if raw is _PLAIN:
        return Spec("property")
    return member_spec(our_cls, name, raw, OURS_ROOT, depth)


def compare(
    path: str,
    theirs: Spec,
    ours_obj: Any,
    ours_spec: Spec,
    result: NameResult,
    excluded: set[str],
    depth: int = 0,
) -> None:
    """Compare a spec with ours; count one unit for the name and one per member."""
    problems: list[str] = []
    kind_ok = True
    if theirs.kind == "class":
        if ours_spec.kind != "class":
            problems.append(f"{path}: expected a class, ours is a {ours_spec.kind}")
            kind_ok = False
        else:
            problems += _compare_params(path + ".__init__", theirs.params, ours_spec.params)
            if theirs.is_dataclass and not ours_spec.is_dataclass:
                problems.append(f"{path}: expected a dataclass")
            if theirs.is_enum and not ours_spec.is_enum:
                problems.append(f"{path}: expected an enum")
    elif theirs.kind == "function":
        if ours_spec.kind != "function":
            if ours_spec.kind in ("class", "value") and callable(ours_obj):
                problems += _compare_params(path, theirs.params, _signature_params(ours_obj))
            else:
                problems.append(f"{path}: expected a function, ours is a {ours_spec.kind}")
        else:
            if theirs.method_kind and ours_spec.method_kind != theirs.method_kind:
                problems.append(
                    f"{path}: expected a {theirs.method_kind} method, ours is "
                    f"{ours_spec.method_kind or 'not a method'}"
                )
            problems += _compare_params(path, theirs.params, ours_spec.params)
    elif theirs.kind == "property":
        if ours_spec.kind == "function" and ours_spec.method_kind is not None:
            problems.append(f"{path}: expected a property/attribute, ours is a method")
    elif theirs.kind in ("value", "enum_member", "field"):
        if theirs.value is not OPAQUE and theirs.value != ours_spec.value:
            what = {"field": "default", "enum_member": "value"}.get(theirs.kind, "value")
            problems.append(
                f"{path}: {what} differs: temporalio {theirs.value!r}, ours {ours_spec.value!r}"
            )
    result.units_total += 1
    if not problems:
        result.units_ok += 1
    result.problems += problems

    for name, member in theirs.members.items():
        member_path = f"{path}.{name}"
        if member_path in excluded:
            result.excluded_members.append(member_path)
            continue
        if not kind_ok or ours_obj is None:
            result.units_total += count_units(member)
            result.problems.append(f"{member_path}: missing")
            continue
        our_member = _our_spec_for_member(ours_obj, name, member, depth)
        if our_member is None:
            result.units_total += count_units(member)
            result.problems.append(f"{member_path}: missing")
            continue
        our_obj = None
        if member.kind == "class":
            our_obj = getattr(ours_obj, name, None)
        elif member.kind == "function":
            our_obj = getattr(ours_obj, name, None)
        compare(member_path, member, our_obj, our_member, result, excluded, depth + 1)


# ---------------------------------------------------------------- exclusions


@dataclass(frozen=True)
class Exclusion:
    module: str
    name: str  # "Name" or "Class.member"
    reason: str
    instead: str


def load_exclusions(path: Path = EXCLUSIONS_PATH) -> list[Exclusion]:
    data = tomllib.loads(path.read_text())
    out = []
    for entry in data.get("exclude", []):
        out.append(
            Exclusion(entry["module"], entry["name"], entry["reason"], entry.get("instead", ""))
        )
    return out


def load_refusals(path: Path = EXCLUSIONS_PATH) -> list[Exclusion]:
    """Names that exist but refuse to run (``[[refuse]]`` entries)."""
    data = tomllib.loads(path.read_text())
    return [
        Exclusion(e["module"], e["name"], e["reason"], e.get("instead", ""))
        for e in data.get("refuse", [])
    ]


# ---------------------------------------------------------------- driver


def theirs_specs(modpath: str) -> tuple[dict[str, Spec], bool]:
    """Specs of temporalio's public names, and whether it was read statically."""
    try:
        module = importlib.import_module(f"{THEIRS_ROOT}.{modpath}")
    except ImportError:
        return static_module_specs(modpath), True
    specs = {}
    for name in public_names(module, modpath):
        if not hasattr(module, name):
            continue
        specs[name] = spec_of(getattr(module, name), THEIRS_ROOT)
    return specs, False


def check_module(modpath: str, exclusions: list[Exclusion] | None = None) -> ModuleResult:
    if exclusions is None:
        exclusions = load_exclusions()
    excluded = {e.name for e in exclusions if e.module == modpath}
    result = ModuleResult(modpath)
    theirs, static = theirs_specs(modpath)
    result.static = static
    try:
        ours_module: Any = importlib.import_module(f"{OURS_ROOT}.{modpath}")
    except ModuleNotFoundError as exc:
        ours_module = None
        result.ours_error = f"module {OURS_ROOT}.{modpath} does not exist ({exc})"
    except Exception as exc:  # a broken module is all-missing, not a crash
        ours_module = None
        result.ours_error = f"importing {OURS_ROOT}.{modpath} failed: {exc!r}"
    for name, spec in theirs.items():
        if name in excluded:
            result.excluded.append(name)
            continue
        present = ours_module is not None and hasattr(ours_module, name)
        nr = NameResult(modpath, name, present)
        if not present:
            nr.units_total = count_units(spec)
            nr.problems.append(f"{name}: missing")
        else:
            ours_obj = getattr(ours_module, name)
            compare(name, spec, ours_obj, spec_of(ours_obj, OURS_ROOT), nr, excluded)
        result.names.append(nr)
    return result


def check_all(exclusions: list[Exclusion] | None = None) -> list[ModuleResult]:
    if exclusions is None:
        exclusions = load_exclusions()
    return [check_module(m, exclusions) for m in MODULES]


def format_failures(result: ModuleResult, limit: int | None = None) -> str:
    lines = [
        f"{OURS_ROOT}.{result.module}: names {result.names_present}/{result.names_total}, "
        f"members+signatures {result.units_ok}/{result.units_total}"
    ]
    if result.ours_error:
        lines.append(f"  ({result.ours_error})")
    problems = [p for n in result.failures() for p in n.problems]
    shown = problems if limit is None else problems[:limit]
    lines += ["  " + p for p in shown]
    if len(shown) < len(problems):
        lines.append(f"  ... and {len(problems) - len(shown)} more (python -m tests.compat.report)")
    return "\n".join(lines)
