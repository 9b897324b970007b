"""hotmesh_temporal.workflow has temporalio.workflow's public names and signatures."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re

import pytest

temporal_workflow = pytest.importorskip("temporalio.workflow")

from hotmesh_temporal import workflow  # noqa: E402

PUBLIC = sorted(n for n in dir(temporal_workflow) if not n.startswith("_"))


def _shape(fn) -> list:
    """Parameter names, kinds and defaults, with module prefixes normalised."""

    def default(value) -> str:
        text = re.sub(r"<object object at 0x[0-9a-f]+>", "UNSET", repr(value))
        return text.replace("temporalio.", "hotmesh_temporal.")

    return [(p.name, p.kind, default(p.default)) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_exists_with_same_shape(name: str) -> None:
    theirs = getattr(temporal_workflow, name)
    assert hasattr(workflow, name), f"missing workflow.{name}"
    ours = getattr(workflow, name)
    if inspect.isfunction(theirs):
        assert _shape(ours) == _shape(theirs)
        assert inspect.iscoroutinefunction(ours) == inspect.iscoroutinefunction(theirs)
    elif inspect.isclass(theirs) and issubclass(theirs, enum.Enum):
        assert [(m.name, m.value) for m in ours] == [(m.name, m.value) for m in theirs]
    elif inspect.isclass(theirs) and dataclasses.is_dataclass(theirs):
        assert [f.name for f in dataclasses.fields(ours)] == [
            f.name for f in dataclasses.fields(theirs)
        ]
        assert ours.__dataclass_params__.frozen == theirs.__dataclass_params__.frozen


@pytest.mark.parametrize(
    "cls",
    [
        "Info",
        "ActivityHandle",
        "ChildWorkflowHandle",
        "ExternalWorkflowHandle",
        "unsafe",
        "LoggerAdapter",
    ],
)
def test_class_methods_have_same_shape(cls: str) -> None:
    theirs, ours = getattr(temporal_workflow, cls), getattr(workflow, cls)
    for name in vars(theirs):
        if name.startswith("_") or not callable(getattr(theirs, name)):
            continue
        assert hasattr(ours, name), f"missing {cls}.{name}"
        assert _shape(getattr(ours, name)) == _shape(getattr(theirs, name)), f"{cls}.{name}"
        assert inspect.iscoroutinefunction(getattr(ours, name)) == inspect.iscoroutinefunction(
            getattr(theirs, name)
        ), f"{cls}.{name}"
