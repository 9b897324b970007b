"""@workflow.defn validation and definition lookups, with temporalio's errors."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.common import RawValue
from hotmesh_temporal.workflow._definition import (
    WorkflowDefinition,
    workflow_type_and_result_type,
)


@workflow.defn(name="Orders")
class OrderWorkflow:
    @workflow.run
    async def run(self, order_id: int) -> str:
        return str(order_id)

    @workflow.signal(name="pay")
    def on_pay(self, amount: float) -> None: ...

    @workflow.query
    def status(self) -> str:
        return "ok"

    @workflow.update
    def rename(self, name: str) -> str:
        return name

    @rename.validator
    def check_rename(self, name: str) -> None: ...


def test_definition_records_names_handlers_and_types() -> None:
    defn = WorkflowDefinition.from_class(OrderWorkflow)
    assert defn.name == "Orders" and not defn.dynamic
    assert (defn.arg_types, defn.ret_type) == ([int], str)
    assert set(defn.signals) == {"pay"} and defn.signals["pay"].arg_types == [float]
    assert set(defn.queries) == {"status"}
    assert defn.updates["rename"].validator is OrderWorkflow.check_rename
    assert WorkflowDefinition.from_run_fn(OrderWorkflow.run) is defn


def test_workflow_type_and_result_type_for_the_client() -> None:
    assert workflow_type_and_result_type("Anything") == ("Anything", None)
    assert workflow_type_and_result_type(OrderWorkflow) == ("Orders", str)
    assert workflow_type_and_result_type(OrderWorkflow.run) == ("Orders", str)


def test_undecorated_class_and_function_give_clear_errors() -> None:
    class Plain:
        async def run(self) -> None: ...

    with pytest.raises(ValueError, match="was it decorated with @workflow.defn"):
        WorkflowDefinition.from_class(Plain)
    with pytest.raises(ValueError, match="was it decorated with @workflow.run"):
        WorkflowDefinition.from_run_fn(Plain.run)


# Undecorated classes at module level: Temporal refuses workflow classes defined in a
# function (their run method's qualified name has ``<locals>``), so each test applies
# ``workflow.defn`` to one of these.


class _NoRun:
    pass


class _DuplicateSignals:
    @workflow.run
    async def run(self) -> None: ...

    @workflow.signal
    def s(self) -> None: ...

    @workflow.signal(name="s")
    def s2(self) -> None: ...


class _TwoRuns:
    @workflow.run
    async def run(self) -> None: ...

    @workflow.run
    async def run2(self) -> None: ...


class _InitMismatch:
    @workflow.init
    def __init__(self, a: int) -> None: ...

    @workflow.run
    async def run(self, b: int, c: int) -> None: ...


class _InitRenamed:
    @workflow.init
    def __init__(self, first: int) -> None: ...

    @workflow.run
    async def run(self, other_name: int) -> None: ...


@workflow.defn(dynamic=True)
class _AnyWorkflow:
    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> None: ...

    @workflow.signal(dynamic=True)
    def any_signal(self, name: str, args: Sequence[RawValue]) -> None: ...


class _RunBase:
    @workflow.run
    async def run(self) -> None: ...


class _OverrideWithoutDecorator(_RunBase):
    async def run(self) -> None: ...


def test_missing_run_method() -> None:
    with pytest.raises(ValueError, match="^Invalid workflow class: Missing @workflow.run method$"):
        workflow.defn(_NoRun)


def test_run_must_be_async() -> None:
    with pytest.raises(ValueError, match="Workflow run method must be an async function"):
        workflow.run(lambda self: None)  # type: ignore[arg-type]


def test_duplicate_signal_names() -> None:
    with pytest.raises(ValueError, match="Multiple signal methods found for s"):
        workflow.defn(_DuplicateSignals)


def test_two_run_methods() -> None:
    with pytest.raises(ValueError, match="Multiple @workflow.run methods found"):
        workflow.defn(_TwoRuns)


def test_init_parameters_must_match_run() -> None:
    with pytest.raises(
        ValueError, match="@workflow.init and @workflow.run method parameters do not match"
    ):
        workflow.defn(_InitMismatch)


def test_init_and_run_parameters_compare_up_to_naming() -> None:
    defn = WorkflowDefinition.from_class(workflow.defn(_InitRenamed))
    assert defn.init_fn is _InitRenamed.__init__


def test_init_only_on_dunder_init() -> None:
    with pytest.raises(ValueError, match="may only be used on the __init__ method"):
        workflow.init(lambda self: None)


def test_name_and_dynamic_are_exclusive() -> None:
    with pytest.raises(RuntimeError, match="Cannot provide name and dynamic boolean"):
        workflow.signal(name="a", dynamic=True)


def test_dynamic_workflow_and_handlers() -> None:
    defn = WorkflowDefinition.from_class(_AnyWorkflow)
    assert defn.dynamic and defn.name is None and None in defn.signals
    with pytest.raises(ValueError, match="Cannot invoke dynamic workflow explicitly"):
        workflow_type_and_result_type(_AnyWorkflow)
    with pytest.raises(RuntimeError, match="Dynamic handler must have 3 arguments"):
        workflow.signal(dynamic=True)(lambda self, args: None)


def test_overriding_a_handler_without_its_decorator_is_refused() -> None:
    with pytest.raises(
        ValueError, match="@workflow.run defined on .*_RunBase.run but not on the override"
    ):
        workflow.defn(_OverrideWithoutDecorator)
