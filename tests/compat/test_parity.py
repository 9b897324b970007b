"""Machine-checked parity with temporalio: one test per module, plus behaviour checks.

A module test asserts that every non-excluded public name of the temporalio module
exists in hotmesh_temporal with matching signatures and members (see parity.py).
Modules that are not complete yet are listed in INCOMPLETE and marked xfail (not
strict): the gaps are the to-do list in docs/compatibility.md. A module reaching
100% must leave INCOMPLETE, which ``test_incomplete_list_is_current`` enforces, so
every complete module is held to a strict test.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
from collections.abc import Mapping
from datetime import timedelta

import pytest

from tests.compat import parity

# Modules below 100% today. Remove a module from here as soon as it is complete.
INCOMPLETE: set[str] = set()

GAPS = "parity gaps tracked in docs/compatibility.md"


def _module_param(module: str):
    marks = [pytest.mark.xfail(strict=False, reason=GAPS)] if module in INCOMPLETE else []
    return pytest.param(module, marks=marks, id=module)


@pytest.mark.parametrize("module", [_module_param(m) for m in parity.MODULES])
def test_module_parity(module, parity_results):
    result = parity_results[module]
    assert result.complete, "\n" + parity.format_failures(result, limit=200)


def test_incomplete_list_is_current(parity_results):
    done = sorted(m for m in INCOMPLETE if parity_results[m].complete)
    assert not done, f"now at 100%, remove from INCOMPLETE so the test is strict: {done}"


def test_exclusions_are_well_formed_and_few(exclusions, parity_results):
    seen = set()
    for e in exclusions:
        assert e.module in parity.MODULES, e
        assert e.reason.strip() and e.instead.strip(), e
        assert (e.module, e.name) not in seen, f"duplicate exclusion {e}"
        seen.add((e.module, e.name))
    total_names = sum(r.names_total + len(r.excluded) for r in parity_results.values())
    assert len(exclusions) < 0.10 * total_names, (
        f"{len(exclusions)} exclusions for {total_names} names: keep them under 10%"
    )


def test_exclusions_name_real_temporalio_names(exclusions):
    """An exclusion of a name temporalio does not define is stale."""
    for e in exclusions:
        theirs, _ = parity.theirs_specs(e.module)
        head, _, member = e.name.partition(".")
        assert head in theirs, f"{e.module}.{e.name} is not a temporalio public name"
        if member:
            assert member in theirs[head].members, f"{e.module}.{e.name} is not a member"


def test_excluded_names_are_absent(exclusions):
    """Excluded names must not exist as pretend implementations."""
    for e in exclusions:
        try:
            ours = importlib.import_module(f"hotmesh_temporal.{e.module}")
        except ModuleNotFoundError:
            continue
        obj = ours
        for part in e.name.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        assert obj is None, f"{e.module}.{e.name} is excluded but defined; drop the exclusion"


# ------------------------------------------------------------------ behaviour


def test_retry_policy_defaults():
    from temporalio.common import RetryPolicy as TheirPolicy

    from hotmesh_temporal.api.common.v1 import RetryPolicy as PolicyMessage
    from hotmesh_temporal.common import RetryPolicy

    ours, theirs = RetryPolicy(), TheirPolicy()
    assert ours.initial_interval == theirs.initial_interval == timedelta(seconds=1)
    assert ours.backoff_coefficient == theirs.backoff_coefficient == 2.0
    assert ours.maximum_interval is None and theirs.maximum_interval is None
    assert ours.maximum_attempts == theirs.maximum_attempts == 0
    assert ours.non_retryable_error_types == theirs.non_retryable_error_types
    assert [f.name for f in dataclasses.fields(RetryPolicy)] == [
        f.name for f in dataclasses.fields(TheirPolicy)
    ]
    # An unset maximum means 100 x initial_interval when the policy is used.
    message = PolicyMessage()
    RetryPolicy(initial_interval=timedelta(seconds=3)).apply_to_proto(message)
    assert message.maximum_interval.ToTimedelta() == timedelta(seconds=300)


def _comparable_default(value):
    """A default made comparable across the two packages, or None to skip it."""
    if value is inspect.Parameter.empty:
        return ("<none>",)
    if isinstance(value, enum.Enum):
        return ("enum", type(value).__name__, value.name, value.value)
    if value is None or isinstance(value, (bool, int, float, str, bytes, timedelta)):
        return ("literal", value)
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        if not value:
            return ("empty", type(value).__name__ if isinstance(value, dict) else "sequence")
        return ("container", type(value).__name__, len(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            "dataclass",
            type(value).__name__,
            tuple(
                (f.name, _comparable_default(getattr(value, f.name)))
                for f in dataclasses.fields(value)
                if not f.name.startswith("_")
            ),
        )
    if type(value) is object:  # a private "not given" sentinel
        return ("sentinel",)
    return ("object", type(value).__name__)


def default_differences(theirs, ours) -> list[str]:
    t_params = inspect.signature(theirs).parameters
    o_params = inspect.signature(ours).parameters
    out = []
    for name, tp in t_params.items():
        if name not in o_params:
            out.append(f"{name}: missing")
            continue
        t = _comparable_default(tp.default)
        o = _comparable_default(o_params[name].default)
        if t != o:
            ours_default = o_params[name].default
            out.append(f"{name}: temporalio default {tp.default!r:.60}, ours {ours_default!r:.60}")
    return out


def test_worker_option_defaults():
    import temporalio.worker

    import hotmesh_temporal.worker

    diffs = default_differences(
        temporalio.worker.Worker.__init__, hotmesh_temporal.worker.Worker.__init__
    )
    assert not diffs, "\n" + "\n".join(diffs)


def _plain(value):
    """``value`` as nested tuples of plain data, for comparing across the packages."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = tuple((f.name, _plain(getattr(value, f.name))) for f in dataclasses.fields(value))
        return (type(value).__name__, fields)
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted(value)))
    if isinstance(value, Mapping):
        return ("mapping", tuple(sorted((k, _plain(v)) for k, v in value.items())))
    if isinstance(value, enum.Enum):
        return ("enum", type(value).__name__, value.name, value.value)
    if isinstance(value, type):
        return ("type", value.__qualname__)
    return value


def test_default_sandbox_restrictions_equal_temporalio():
    """Beyond the Worker default check (sizes only), the whole default restriction
    data: every pass-through module and every refused member, matcher by matcher."""
    from temporalio.worker.workflow_sandbox import SandboxRestrictions as Theirs

    from hotmesh_temporal.worker.workflow_sandbox import SandboxRestrictions as Ours

    assert _plain(Ours.default) == _plain(Theirs.default)
    for name in ("minimum", "with_temporal", "maximum", "default"):
        attr = f"passthrough_modules_{name}"
        assert getattr(Ours, attr) == getattr(Theirs, attr), attr


def test_client_start_workflow_defaults():
    import temporalio.client

    import hotmesh_temporal.client

    diffs = default_differences(
        temporalio.client.Client.start_workflow, hotmesh_temporal.client.Client.start_workflow
    )
    assert not diffs, "\n" + "\n".join(diffs)


def _exception_classes(root: str) -> dict[str, type]:
    out = {}
    for modpath in ("exceptions", "client"):
        try:
            module = importlib.import_module(f"{root}.{modpath}")
        except ModuleNotFoundError:
            continue
        for name in dir(module):
            obj = getattr(module, name)
            if (
                not name.startswith("_")
                and inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and parity._is_own(obj, root)
            ):
                out[f"{modpath}.{name}"] = obj
    return out


def test_exception_hierarchy():
    theirs = _exception_classes("temporalio")
    ours = _exception_classes("hotmesh_temporal")
    both = sorted(k for k in theirs if k in ours)
    assert both, "no exception classes in common"
    problems = []
    for a in both:
        for b in both:
            if issubclass(theirs[a], theirs[b]) != issubclass(ours[a], ours[b]):
                problems.append(
                    f"issubclass({a}, {b}) is {issubclass(ours[a], ours[b])}, "
                    f"temporalio says {issubclass(theirs[a], theirs[b])}"
                )
        # stdlib bases (Exception, asyncio.CancelledError, ...) must be the same too
        t_std = {k for k in theirs[a].__mro__ if not parity._is_own(k, "temporalio")}
        o_std = {k for k in ours[a].__mro__ if not parity._is_own(k, "hotmesh_temporal")}
        if t_std - o_std:
            problems.append(f"{a} is missing base(s) {sorted(k.__name__ for k in t_std - o_std)}")
    # Missing exception classes are counted by the module tests.
    assert not problems, "\n".join(problems)


def _sample(field: dataclasses.Field):
    """A placeholder value for a required dataclass field."""
    return f"<{field.name}>"


@pytest.mark.parametrize("modpath", ["workflow", "activity"])
def test_info_constructible_from_own_dict(modpath):
    module = importlib.import_module(f"hotmesh_temporal.{modpath}")
    info_cls = module.Info
    assert dataclasses.is_dataclass(info_cls)
    kwargs = {
        f.name: _sample(f)
        for f in dataclasses.fields(info_cls)
        if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    info = info_cls(**kwargs)
    again = info_cls(**info.__dict__)
    assert again == info
    # and the same set of constructor names as temporalio's Info
    theirs = importlib.import_module(f"temporalio.{modpath}").Info
    assert {f.name for f in dataclasses.fields(info_cls) if f.init} == {
        f.name for f in dataclasses.fields(theirs) if f.init
    }


def _enums(root: str, modpath: str) -> dict[str, type]:
    try:
        module = importlib.import_module(f"{root}.{modpath}")
    except ImportError:
        return {}
    return {
        name: obj
        for name in dir(module)
        if not name.startswith("_")
        and inspect.isclass(obj := getattr(module, name))
        and issubclass(obj, enum.Enum)
        and parity._is_own(obj, root)
    }


@pytest.mark.parametrize("modpath", parity.MODULES)
def test_enum_values_equal(modpath):
    theirs = _enums("temporalio", modpath)
    ours = _enums("hotmesh_temporal", modpath)
    problems = []
    for name, t in theirs.items():
        if name not in ours:
            continue  # counted missing by the module test
        t_members = {m: v.value for m, v in t.__members__.items()}
        o_members = {m: v.value for m, v in ours[name].__members__.items()}
        if t_members != o_members:
            problems.append(f"{modpath}.{name}: temporalio {t_members}, ours {o_members}")
        t_kind = next(b for b in t.__mro__ if b in (enum.IntEnum, enum.Flag, enum.Enum, str, int))
        if not issubclass(ours[name], t_kind):
            problems.append(f"{modpath}.{name}: expected a subclass of {t_kind.__name__}")
    assert not problems, "\n".join(problems)


def test_refused_names_exist_and_are_not_excluded(exclusions):
    """A refused name is importable (it raises only when used) and is not also excluded."""
    import importlib

    excluded = {(e.module, e.name) for e in exclusions}
    for entry in parity.load_refusals():
        assert entry.reason and entry.instead, entry
        assert (entry.module, entry.name) not in excluded, entry
        obj = importlib.import_module(f"hotmesh_temporal.{entry.module}")
        for part in entry.name.split("."):
            obj = getattr(obj, part, None)
            assert obj is not None, f"{entry.module}.{entry.name} is listed as refused but missing"
