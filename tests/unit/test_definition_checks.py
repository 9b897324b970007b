"""Definition-time checks temporalio makes, with its messages and warnings (issue 20)."""

from __future__ import annotations

import concurrent.futures
import warnings
from collections.abc import Sequence

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.common import RawValue
from hotmesh_temporal.worker._worker import _activity_definitions
from hotmesh_temporal.workflow._definition import WorkflowDefinition


def _defining_warnings(define) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        define()
    return list(caught)


# ------------------------------------------------------- deprecated dynamic forms


def test_vararg_dynamic_signal_and_query_are_accepted_with_a_deprecation_warning() -> None:
    def define():
        class VarargHandlers:
            @workflow.signal(dynamic=True)
            def any_signal(self, name: str, *args) -> None: ...

            @workflow.query(dynamic=True)
            def any_query(self, name: str, *args) -> str:
                return name

        return VarargHandlers

    caught = _defining_warnings(define)
    messages = [(w.category, str(w.message)) for w in caught]
    assert messages == [
        (
            DeprecationWarning,
            "Dynamic signals with vararg third param is deprecated, use Sequence[RawValue]",
        ),
        (
            DeprecationWarning,
            "Dynamic queries with vararg third param is deprecated, use Sequence[RawValue]",
        ),
    ]
    # The warning points at the user's class body, not at our decorator.
    assert all(w.filename == __file__ for w in caught)


def test_vararg_dynamic_update_is_refused() -> None:
    with pytest.raises(
        RuntimeError,
        match=r"^Dynamic updates do not support a vararg third param, use Sequence\[RawValue\]$",
    ):
        workflow.update(dynamic=True)(lambda self, name, *args: None)


def test_dynamic_handler_needs_str_and_raw_value_sequence_annotations() -> None:
    def untyped(self, name, args) -> None: ...

    def wrong_sequence(self, name: str, args: Sequence[int]) -> None: ...

    for fn in (untyped, wrong_sequence):
        with pytest.raises(RuntimeError, match=r"^Dynamic handler must have 3 arguments"):
            workflow.signal(dynamic=True)(fn)

    def typed(self, name: str, args: Sequence[RawValue]) -> None: ...

    assert not _defining_warnings(lambda: workflow.signal(dynamic=True)(typed))


# ------------------------------------------------------------- workflow classes


def test_workflow_class_in_a_local_scope_is_refused() -> None:
    with pytest.raises(
        ValueError,
        match=r"^Local classes unsupported, @workflow.run cannot be on a local class$",
    ):

        class Local:
            @workflow.run
            async def run(self) -> None: ...


class _BadValidator:
    @workflow.run
    async def run(self) -> None: ...

    @workflow.update
    def set_value(self, value: int) -> None: ...

    @set_value.validator
    def check_value(self, value: str) -> None: ...


def test_update_validator_must_match_its_update() -> None:
    with pytest.raises(
        ValueError,
        match=r"^Invalid workflow class: Update validator method check_value parameters "
        r"do not match update method set_value parameters$",
    ):
        workflow.defn(_BadValidator)
    assert WorkflowDefinition.maybe_from_class(_BadValidator) is None


def test_async_or_second_validator_is_refused() -> None:
    def handler(self, value: int) -> None: ...

    update_fn = workflow.update(handler)
    with pytest.raises(ValueError, match="^Update validator must not be an async function$"):

        @update_fn.validator
        async def check(self, value: int) -> None: ...

    update_fn.validator(lambda self, value: None)
    with pytest.raises(RuntimeError, match="^Validator already set for update handler$"):
        update_fn.validator(lambda self, value: None)


# ------------------------------------------------------------------- activities


def test_activity_with_keyword_only_parameters_is_refused() -> None:
    def keyword_only(a: int, *, b: int) -> int:
        return a + b

    with pytest.raises(TypeError, match="^Activity cannot have keyword-only arguments$"):
        activity.defn(keyword_only)


def test_activity_decorated_twice_is_refused() -> None:
    @activity.defn
    async def once() -> None: ...

    with pytest.raises(ValueError, match="^Function already contains activity definition$"):
        activity.defn(name="again")(once)


def test_dynamic_activity_needs_a_raw_value_sequence() -> None:
    with pytest.raises(TypeError, match=r"^Dynamic activity must accept a single Sequence\["):

        @activity.defn(dynamic=True)
        async def anything(args: list) -> None: ...


@activity.defn(name="callable")
class _CallableActivity:
    async def __call__(self, x: int) -> int:
        return x


class _MethodActivities:
    @activity.defn
    async def method_activity(self, x: int) -> int:
        return x


def test_callable_class_registered_as_class_is_refused() -> None:
    with pytest.raises(
        TypeError, match="^Activity named callable is a class instead of an instance$"
    ):
        _activity_definitions([_CallableActivity], None, None)
    by_name, _ = _activity_definitions([_CallableActivity()], None, None)
    assert set(by_name) == {"callable"}


def test_method_registered_from_the_class_warns() -> None:
    caught = _defining_warnings(
        lambda: _activity_definitions([_MethodActivities.method_activity], None, None)
    )
    assert [str(w.message) for w in caught] == [
        "Activity named method_activity has a first parameter named self but is not bound "
        "to an instance, did you mean to register it from an instance of the class?"
    ]
    assert not _defining_warnings(
        lambda: _activity_definitions([_MethodActivities().method_activity], None, None)
    )


def test_registration_errors_as_temporal() -> None:
    @activity.defn(dynamic=True)
    async def dyn1(args: Sequence[RawValue]) -> None: ...

    @activity.defn(dynamic=True)
    async def dyn2(args: Sequence[RawValue]) -> None: ...

    with pytest.raises(TypeError, match="^More than one dynamic activity$"):
        _activity_definitions([dyn1, dyn2], None, None)

    @activity.defn
    def blocking() -> None: ...

    with pytest.raises(
        ValueError, match="^Activity blocking is not async so an activity_executor must be present$"
    ):
        _activity_definitions([blocking], None, None)

    with concurrent.futures.ProcessPoolExecutor(max_workers=1) as pool:
        with pytest.raises(
            TypeError, match="^Activity blocking must be picklable when using a process executor$"
        ):
            _activity_definitions([blocking], pool, object())

    with pytest.raises(TypeError, match="missing attributes, was it decorated with @activity.defn"):
        _activity_definitions([lambda: None], None, None)


def test_executor_smaller_than_max_concurrent_activities_warns(migrated_dsn) -> None:
    import asyncio

    from hotmesh_temporal.client import Client
    from hotmesh_temporal.worker import Worker

    @activity.defn
    def sync_work() -> None: ...

    async def build() -> list[str]:
        client = await Client.connect(migrated_dsn, lazy=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            caught = _defining_warnings(
                lambda: Worker(
                    client,
                    task_queue="warn-tq",
                    activities=[sync_work],
                    activity_executor=pool,
                    max_concurrent_activities=5,
                )
            )
            quiet = _defining_warnings(
                lambda: Worker(
                    client, task_queue="warn-tq", activities=[sync_work], activity_executor=pool
                )
            )
        return [str(w.message) for w in caught], quiet

    caught, quiet = asyncio.run(build())
    assert caught == [
        "Worker max_concurrent_activities is 5 but activity_executor's max_workers is only 2"
    ]
    assert quiet == []
