"""Mapping forms and @pipe features, evaluated directly (pure functions, no database):
references into activity input/output/hook data and metadata, ``$self``, ``$job``,
``$app.settings``, literals, templates, nested maps and lists, pipes with nested
fan-out/fan-in rows, ``@reduce`` and the context clock."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotmesh_temporal.hotmesh import MappingError, PipeContext, resolve
from hotmesh_temporal.hotmesh.functions import PipeFunctionError

NOW = datetime(2024, 3, 1, 12, 30, 45, 250000, tzinfo=timezone.utc)


def ctx(**locals_) -> PipeContext:
    return PipeContext(
        activities={
            "a": {
                "input": {"data": {"q": 1}},
                "output": {
                    "data": {
                        "first_name": "John",
                        "last_name": "Doe",
                        "full_name": "John Doe",
                        "items": [{"name": "x", "price": 2}, {"name": "y", "price": 3}],
                    },
                    "metadata": {"code": 200},
                },
            },
            "b": {"output": {"data": {"email": "john@example.com", "age": 30}}},
            "h": {"hook": {"data": {"id": "k-1"}}},
        },
        job={"data": {"total": 7}, "metadata": {"jid": "job-1"}},
        settings={"region": {"name": "east"}},
        now=NOW,
        self_id="b",
        locals=locals_,
    )


def test_reference_forms():
    c = ctx()
    assert resolve("{a.output.data.first_name}", c) == "John"
    assert resolve("{a.input.data.q}", c) == 1
    assert resolve("{a.output.metadata.code}", c) == 200
    assert resolve("{h.hook.data.id}", c) == "k-1"
    assert resolve("{$self.output.data.age}", c) == 30
    assert resolve("{$job.data.total}", c) == 7
    assert resolve("{$job.metadata.jid}", c) == "job-1"
    assert resolve("{$app.settings.region.name}", c) == "east"
    assert resolve("{a.output.data.items.1.name}", c) == "y"
    assert resolve("{a.output.data.nothing.here}", c) is None
    assert resolve("{unknown.output.data.x}", c) is None


def test_literals_templates_and_nesting():
    c = ctx()
    statement = {
        "first": "{a.output.data.first_name}",
        "greeting": "Hello {a.output.data.first_name}, age {b.output.data.age}",
        "is_employee": True,
        "company": "ACME Corp",
        "bonus": 500,
        "nothing": None,
        "nested": {"email": "{b.output.data.email}", "list": ["{$job.data.total}", 1]},
    }
    assert resolve(statement, c) == {
        "first": "John",
        "greeting": "Hello John, age 30",
        "is_employee": True,
        "company": "ACME Corp",
        "bonus": 500,
        "nothing": None,
        "nested": {"email": "john@example.com", "list": [7, 1]},
    }


def test_linear_pipe_passes_each_row_to_the_next_function():
    user_name = {
        "@pipe": [
            ["{a.output.data.first_name}", 0],
            ["{@string.charAt}", "{a.output.data.last_name}"],
            ["{@string.concat}"],
            ["{@string.toLowerCase}"],
        ]
    }
    assert resolve(user_name, ctx()) == "jdoe"
    status = {
        "@pipe": [
            ["{b.output.data.age}", 40],
            ["{@number.gte}", "Senior", "Junior"],
            ["{@conditional.ternary}"],
        ]
    }
    assert resolve(status, ctx()) == "Junior"


def test_nested_pipes_fan_out_and_the_next_row_fans_in():
    initials = {
        "@pipe": [
            ["{a.output.data.full_name}", " "],
            {"@pipe": [["{@string.split}", 0], ["{@array.get}", 0], ["{@string.charAt}"]]},
            {"@pipe": [["{@string.split}", 1], ["{@array.get}", 0], ["{@string.charAt}"]]},
            ["{@string.concat}"],
        ]
    }
    assert resolve(initials, ctx()) == "JD"


def test_reduce_folds_with_item_key_index_input_and_output():
    total = {
        "@pipe": [
            ["{a.output.data.items}", 0],
            {"@reduce": [["{$output}", "{$item.price}"], ["{@math.add}"]]},
        ]
    }
    assert resolve(total, ctx()) == 5
    by_name = {
        "@pipe": [
            ["{a.output.data.items}", {}],
            {"@reduce": [["{$output}", "{$item.name}", "{$index}"], ["{@object.set}"]]},
        ]
    }
    assert resolve(by_name, ctx()) == {"x": 0, "y": 1}
    keys = {
        "@pipe": [
            [{"p": 1, "q": 2}, []],
            {"@reduce": [["{$output}", "{$key}"], ["{@array.push}"]]},
        ]
    }
    assert resolve(keys, ctx()) == ["p", "q"]
    sized = {"@pipe": [[[1, 2, 3], None], {"@reduce": [["{$input}"], ["{@array.length}"]]}]}
    assert resolve(sized, ctx()) == 3


def test_clock_functions_read_the_context_clock():
    assert resolve({"@pipe": [["{@date.now}"]]}, ctx()) == 1709296245250
    assert (
        resolve({"@pipe": [["{@date.now}"], ["{@date.toISOString}"]]}, ctx())
        == "2024-03-01T12:30:45.250Z"
    )
    # next 13:00 is 29 min 14.75 s away -> rounded up to whole seconds
    assert resolve({"@pipe": [["0 13 * * *"], ["{@cron.nextDelay}"]]}, ctx()) == 1755


def test_bad_pipes_and_function_failures_raise_clear_errors():
    with pytest.raises(MappingError, match="unknown function @string.shout"):
        resolve({"@pipe": [["x"], ["{@string.shout}"]]}, ctx())
    with pytest.raises(MappingError, match="non-empty list"):
        resolve({"@pipe": []}, ctx())
    with pytest.raises(PipeFunctionError, match="expected an array"):
        resolve({"@pipe": [["not a list", 0], ["{@array.get}"]]}, ctx())


@given(st.lists(st.integers(-1000, 1000), min_size=1, max_size=8))
def test_pipe_rows_fan_out_fan_in_and_reduce_agree_with_plain_arithmetic(numbers):
    c = ctx()
    # one row of values into a variadic function
    assert resolve({"@pipe": [numbers, ["{@math.add}"]]}, c) == sum(numbers)
    # @reduce over the list with an accumulator
    folded = {"@pipe": [[numbers, 0], {"@reduce": [["{$output}", "{$item}"], ["{@math.add}"]]}]}
    assert resolve(folded, c) == sum(numbers)
    # two nested pipes fan out over the same row and the next row fans them in
    fan = {
        "@pipe": [
            [numbers],
            {"@pipe": [["{@math.max}"]]},
            {"@pipe": [["{@math.min}"]]},
            ["{@math.subtract}"],
        ]
    }
    assert resolve(fan, c) == max(numbers) - min(numbers)
