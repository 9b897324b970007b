"""Mapping statements and ``@pipe`` evaluation, pure and deterministic.

A mapping statement is one of:

- a literal (number, boolean, null, a string without braces);
- a reference string ``"{a1.output.data.x}"`` (the whole string): the referenced
  value with its type kept;
- a template string ``"order {t1.output.data.id} placed"``: references inside text
  are replaced by their string forms;
- ``{"@pipe": [rows...]}``: a pipeline (see :func:`run_pipe`);
- a dict or list of statements: resolved member by member.

References start with an activity id (``a1.output.data.x``, ``a1.input.data.x``,
``a1.hook.data.x``, ``a1.output.metadata.x``) or one of ``$self`` (the activity being
mapped), ``$job`` (``$job.data...``, ``$job.metadata.jid``...), ``$app``
(``$app.settings...``), and inside ``@reduce`` ``$item``, ``$key``, ``$index``,
``$input`` and ``$output``. ``{@ns.fn}`` names a library function (only in pipes).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hotmesh_temporal._engine.runtime.cron import CronError, CronSchedule
from hotmesh_temporal.hotmesh.functions import (
    FUNCTIONS,
    PipeFunctionError,
    epoch_ms,
    iso,
    js_string,
)

_REF = re.compile(r"\{([^{}\s]+)\}")
REDUCE_LOCALS = ("$item", "$key", "$index", "$input", "$output")
CONTEXT_ROOTS = ("$self", "$job", "$app", *REDUCE_LOCALS)


class MappingError(ValueError):
    """A mapping statement that cannot be parsed or evaluated."""


@dataclass
class PipeContext:
    """What references can read: per-activity state, job state, app settings, the
    run's clock and (inside @reduce) the iteration variables."""

    activities: dict[str, dict[str, Any]]
    job: dict[str, Any]
    settings: dict[str, Any]
    now: datetime
    self_id: str | None = None
    locals: dict[str, Any] = field(default_factory=dict)

    def with_locals(self, **values: Any) -> PipeContext:
        return PipeContext(
            self.activities,
            self.job,
            self.settings,
            self.now,
            self.self_id,
            {**self.locals, **values},
        )


# ----------------------------------------------------------------------- references


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and _REF.fullmatch(value) is not None


def is_function_ref(value: Any) -> bool:
    return is_reference(value) and value[1] == "@"


def reference_roots(statement: Any) -> list[str]:
    """Every reference path in a statement (for the compiler's checks)."""
    found: list[str] = []
    _collect(statement, found)
    return found


def _collect(statement: Any, found: list[str]) -> None:
    if isinstance(statement, str):
        found.extend(_REF.findall(statement))
    elif isinstance(statement, dict):
        for value in statement.values():
            _collect(value, found)
    elif isinstance(statement, list):
        for value in statement:
            _collect(value, found)


def lookup(path: str, ctx: PipeContext) -> Any:
    head, _, rest = path.partition(".")
    if head in REDUCE_LOCALS:
        root: Any = ctx.locals.get(head)
    elif head == "$job":
        root = ctx.job
    elif head == "$app":
        root = {"settings": ctx.settings}
    elif head == "$self":
        root = ctx.activities.get(ctx.self_id or "", {})
    else:
        root = ctx.activities.get(head, {})
    return walk(root, rest)


def walk(value: Any, path: str) -> Any:
    if not path:
        return value
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.lstrip("-").isdigit():
            index = int(part)
            value = value[index] if -len(value) <= index < len(value) else None
        else:
            return None
    return value


# ------------------------------------------------------------------------ statements


def resolve(statement: Any, ctx: PipeContext) -> Any:
    """The value of a mapping statement."""
    if isinstance(statement, str):
        return _resolve_string(statement, ctx)
    if isinstance(statement, dict):
        if "@pipe" in statement and len(statement) == 1:
            return pipe_value(statement["@pipe"], ctx)
        return {key: resolve(value, ctx) for key, value in statement.items()}
    if isinstance(statement, list):
        return [resolve(value, ctx) for value in statement]
    return statement


def _resolve_string(text: str, ctx: PipeContext) -> Any:
    whole = _REF.fullmatch(text)
    if whole:
        path = whole.group(1)
        if path.startswith("@"):
            return call_function(path[1:], (), ctx)  # a nullary function as a value
        return lookup(path, ctx)
    if "{" not in text:
        return text
    return _REF.sub(lambda m: _text(lookup(m.group(1), ctx)), text)


def _text(value: Any) -> str:

    return "" if value is None else js_string(value)


# ----------------------------------------------------------------------------- pipes


def pipe_value(rows: Any, ctx: PipeContext) -> Any:
    """A pipe's value: the first cell of its last row."""
    values = run_pipe(rows, ctx, None)
    return values[0] if values else None


def run_pipe(rows: Any, ctx: PipeContext, upstream: list[Any] | None) -> list[Any]:
    """Run pipe rows and return the last row's resolved cells.

    Row 0's cells are values (a function in cell 0 is called with ``upstream``, the
    closest previous plain row of the enclosing pipe, when there is one). Every later
    plain row calls its cell-0 function with the previous row's cells and appends its
    other cells, resolved. Nested ``{"@pipe": rows}`` rows fan out: each runs on the
    previous plain row's cells, and the next plain row receives their values (one per
    nested pipe) instead. ``{"@reduce": rows}`` folds over the previous row's
    ``[array_or_object, initial]``, running its rows per item with ``$item``, ``$key``,
    ``$index``, ``$input`` (the collection) and ``$output`` (the accumulator, replaced
    by each pass's value).
    """
    if not isinstance(rows, list) or not rows:
        raise MappingError("@pipe must be a non-empty list of rows")
    previous = upstream
    fanned: list[Any] = []
    for row in rows:
        if isinstance(row, dict) and set(row) == {"@pipe"}:
            nested = run_pipe(row["@pipe"], ctx, previous)
            fanned.append(nested[0] if nested else None)
            continue
        if isinstance(row, dict) and set(row) == {"@reduce"}:
            previous = [_reduce(row["@reduce"], fanned or previous or [], ctx)]
            fanned = []
            continue
        if not isinstance(row, list):
            raise MappingError(f"a pipe row must be a list, @pipe or @reduce, got {row!r}")
        inputs = fanned if fanned else previous
        fanned = []
        previous = _run_row(row, inputs, ctx)
    return fanned if fanned else (previous or [])


def _run_row(row: list[Any], inputs: list[Any] | None, ctx: PipeContext) -> list[Any]:
    if row and is_function_ref(row[0]) and inputs is not None:
        head = call_function(row[0][2:-1], tuple(inputs), ctx)
        return [head, *(resolve(cell, ctx) for cell in row[1:])]
    return [resolve(cell, ctx) for cell in row]


def _reduce(rows: Any, inputs: list[Any], ctx: PipeContext) -> Any:
    collection = inputs[0] if inputs else None
    accumulator = inputs[1] if len(inputs) > 1 else None
    if isinstance(collection, dict):
        items = list(collection.items())
    elif isinstance(collection, list):
        items = list(enumerate(collection))
    elif collection is None:
        items = []
    else:
        raise MappingError(f"@reduce needs an array or object, got {type(collection).__name__}")
    for index, (key, item) in enumerate(items):
        scope = ctx.with_locals(
            **{
                "$item": item,
                "$key": key,
                "$index": index,
                "$input": collection,
                "$output": accumulator,
            }
        )
        result = run_pipe(rows, scope, None)
        accumulator = result[0] if result else None
    return accumulator


# ------------------------------------------------------------------------- functions


def call_function(name: str, args: tuple, ctx: PipeContext) -> Any:
    clock = _CLOCK.get(name)
    if clock is not None:
        return clock(ctx, *args)
    fn = FUNCTIONS.get(name)
    if fn is None:
        raise MappingError(f"unknown function @{name}")
    try:
        return fn(*args)
    except PipeFunctionError:
        raise
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError, IndexError) as err:
        raise PipeFunctionError(f"@{name}{list(args)!r}: {err}") from err


def _cron_next_delay(ctx: PipeContext, expression: Any = None, *_: Any) -> int:
    """Seconds from the run's clock to the next time the cron expression fires (-1 when
    it never fires again)."""

    try:
        upcoming = CronSchedule(str(expression)).next_after(ctx.now)
    except CronError as err:
        raise PipeFunctionError(f"@cron.nextDelay: {err}") from err
    if upcoming is None:
        return -1
    return max(math.ceil((upcoming - ctx.now).total_seconds()), 0)


_CLOCK: dict[str, Callable[..., Any]] = {
    "date.now": lambda ctx, *_: epoch_ms(ctx.now),
    "symbol.date": lambda ctx, *_: iso(ctx.now),
    "cron.nextDelay": _cron_next_delay,
}


def known_function(name: str) -> bool:
    return name in FUNCTIONS or name in _CLOCK


# ------------------------------------------------------------------------ conditions


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: 1 == 1.0, but true != 1 and "1" != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b
