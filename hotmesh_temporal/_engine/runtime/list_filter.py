"""Temporal's visibility list-filter language, compiled to parameterised SQL.

``compile_filter("WorkflowType = 'Order' AND StartTime > '2024-01-01T00:00:00Z'
ORDER BY StartTime DESC", first_param=2)`` returns SQL fragments for the WHERE and
ORDER BY clauses of a query over ``executions`` plus the values of their parameters.
The SQL text is built only from a fixed whitelist of column expressions, operators and
``$n`` placeholders: every literal of the filter, and the name of every custom search
attribute, reaches Postgres as a parameter, never as SQL text.

Supported: ``=``, ``!=`` (``<>``), ``<``, ``<=``, ``>``, ``>=``, ``IN``, ``NOT IN``,
``BETWEEN .. AND ..``, ``NOT BETWEEN``, ``STARTS_WITH``, ``IS NULL``, ``IS NOT NULL``,
``AND``, ``OR``, parentheses, ``ORDER BY field [ASC|DESC], ...`` and, for counts,
``GROUP BY ExecutionStatus``. Custom search attributes are read from the decoded
``search_values`` column (see ``schema/0004_visibility.sql``).

A filter that does not parse raises :class:`ListFilterError`, whose message names the
character position of the problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

MAX_DEPTH = 50  # parentheses nesting; deeper filters are refused, not recursed into
MAX_LENGTH = 100_000
MAX_PARAMS = 10_000  # Postgres takes at most 65535 parameters per statement
MAX_EXPONENT = 100  # numbers beyond 1e100 are refused rather than overflow in Postgres
MAX_ORDER_TERMS = 10  # ORDER BY fields (each is a keyset column of every page's SQL)
_BIGINT = range(-(2**63), 2**63)


class ListFilterError(ValueError):
    """A list filter that cannot be compiled; ``position`` is a 0-based offset."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"invalid query at position {position}: {message}")
        self.position = position


# ------------------------------------------------------------------ tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # ident, quoted_ident, string, number, op, punct, end
    text: str
    value: Any
    pos: int


_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<quoted_ident>`[^`]*`)
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
    """,
    re.VERBOSE | re.DOTALL,
)


def _check_text(query: str) -> None:
    """Postgres text cannot hold NUL, and only valid UTF-8 can be sent at all."""
    for pos, char in enumerate(query):
        if char == "\x00" or "\ud800" <= char <= "\udfff":
            raise ListFilterError(f"character {char!r} is not allowed", pos)


def _unquote(text: str) -> str:
    quote = text[0]
    body = text[1:-1].replace(quote * 2, quote)
    return re.sub(r"\\(.)", r"\1", body, flags=re.DOTALL)


def tokenize(query: str) -> list[_Token]:
    _check_text(query)
    tokens: list[_Token] = []
    pos = 0
    while pos < len(query):
        match = _TOKEN_RE.match(query, pos)
        if match is None:
            raise ListFilterError(f"unexpected character {query[pos]!r}", pos)
        kind = match.lastgroup or ""
        text = match.group()
        if (
            kind == "number"
            and text.startswith("-")
            and tokens
            and tokens[-1].kind in ("number", "string")
        ):
            # "a-1" style input: a minus sign here is not part of a number.
            raise ListFilterError(f"unexpected {text!r}", pos)
        if kind != "space":
            tokens.append(_Token(kind, text, _token_value(kind, text, pos), pos))
        pos = match.end()
    tokens.append(_Token("end", "", None, len(query)))
    return tokens


def _token_value(kind: str, text: str, pos: int) -> Any:
    if kind == "string":
        return _unquote(text)
    if kind == "quoted_ident":
        name = text[1:-1]
        if not name:
            raise ListFilterError("empty attribute name", pos)
        return name
    if kind == "number":
        number = Decimal(text)
        if not number.is_finite() or not -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
            raise ListFilterError(f"number {text!r} is out of range", pos)
        return number
    return text


# ------------------------------------------------------------------ fields

_STATUS_NAMES = {
    "running": 1,
    "completed": 2,
    "failed": 3,
    "canceled": 4,
    "terminated": 5,
    "continuedasnew": 6,
    "timedout": 7,
}
STATUS_NAMES = {
    1: "Running",
    2: "Completed",
    3: "Failed",
    4: "Canceled",
    5: "Terminated",
    6: "ContinuedAsNew",
    7: "TimedOut",
}


@dataclass(frozen=True)
class _Column:
    sql: str  # a fixed SQL expression over executions
    kind: str  # text, status, time, int


BUILTIN_FIELDS: dict[str, _Column] = {
    "WorkflowId": _Column("workflow_id", "text"),
    "WorkflowType": _Column("workflow_type", "text"),
    "RunId": _Column("run_id::text", "text"),
    "TaskQueue": _Column("task_queue", "text"),
    "ExecutionStatus": _Column("status", "status"),
    "StartTime": _Column("start_time", "time"),
    "CloseTime": _Column("close_time", "time"),
    "ExecutionTime": _Column("execution_time", "time"),
    "HistoryLength": _Column("(next_event_id - 1)", "int"),
    "HistorySizeBytes": _Column("history_size", "int"),
    "ParentWorkflowId": _Column("(parent->>'workflow_id')", "text"),
    "ParentRunId": _Column("(parent->>'run_id')", "text"),
    "RootWorkflowId": _Column(
        "coalesce(parent->'root'->>'workflowId', parent->>'workflow_id', workflow_id)", "text"
    ),
    "RootRunId": _Column(
        "coalesce(parent->'root'->>'runId', parent->>'run_id', run_id::text)", "text"
    ),
}
_CAST = {"text": "text", "status": "smallint", "time": "timestamptz", "int": "bigint"}


@dataclass(frozen=True)
class Vocabulary:
    """The built-in fields and status names of one kind of execution (workflow runs,
    or standalone activities): the same language filters both."""

    fields: dict[str, _Column]
    status_values: dict[str, int]  # lower-case name without "_" -> value
    status_names: dict[int, str]

    def field(self, name: str) -> tuple[str, _Column] | None:
        for canonical, column in self.fields.items():
            if canonical.lower() == name.lower():
                return canonical, column
        return None


WORKFLOWS = Vocabulary(BUILTIN_FIELDS, _STATUS_NAMES, STATUS_NAMES)
# Temporal's ActivityExecutionStatus values, over the standalone_activities table.
ACTIVITIES = Vocabulary(
    fields={
        "ActivityId": _Column("activity_id", "text"),
        "ActivityType": _Column("activity_type", "text"),
        "RunId": _Column("run_id::text", "text"),
        "TaskQueue": _Column("task_queue", "text"),
        "ExecutionStatus": _Column("status", "status"),
        "StartTime": _Column("start_time", "time"),
        "ScheduleTime": _Column("start_time", "time"),
        "ExecutionTime": _Column("execution_time", "time"),
        "CloseTime": _Column("close_time", "time"),
    },
    status_values={
        "running": 1,
        "completed": 2,
        "failed": 3,
        "canceled": 4,
        "terminated": 5,
        "timedout": 6,
        "paused": 7,
    },
    status_names={
        1: "Running",
        2: "Completed",
        3: "Failed",
        4: "Canceled",
        5: "Terminated",
        6: "TimedOut",
        7: "Paused",
    },
)
# Schedules, over the rows list_schedules selects (queries.sql): the schedule's id, the
# type of the workflow it starts, and its search attributes plus the built-in
# TemporalSchedulePaused in search_values. A schedule has no execution status.
SCHEDULES = Vocabulary(
    fields={
        "ScheduleId": _Column("schedule_id", "text"),
        "WorkflowType": _Column("workflow_type", "text"),
    },
    status_values={},
    status_names={},
)
_KEYWORDS = {
    "and", "or", "not", "in", "between", "is", "null", "starts_with", "order", "by",
    "asc", "desc", "group", "true", "false",
}  # fmt: skip


@dataclass(frozen=True)
class OrderTerm:
    """One ORDER BY expression; ``cast`` is its SQL type, for keyset parameters."""

    expr: str
    descending: bool
    cast: str

    @property
    def sql(self) -> str:
        return f"{self.expr} {'DESC NULLS FIRST' if self.descending else 'ASC NULLS LAST'}"


# run_id last makes the order total, so a page boundary is one exact row.
RUN_ID_ORDER = OrderTerm("run_id", False, "uuid")
DEFAULT_ORDER = (OrderTerm("start_time", True, "timestamptz"), RUN_ID_ORDER)


@dataclass
class CompiledFilter:
    """SQL fragments and their parameters; placeholders start at ``first_param``."""

    where: str = "true"
    order_terms: list[OrderTerm] = field(default_factory=lambda: list(DEFAULT_ORDER))
    params: list[Any] = field(default_factory=list)
    group_by: str | None = None
    where_param_count: int = 0  # params[:where_param_count] are the WHERE clause's
    # Custom search attributes the filter names (a search-attribute registry checks them).
    custom_names: list[str] = field(default_factory=list)

    @property
    def where_params(self) -> list[Any]:
        return self.params[: self.where_param_count]

    @property
    def order_by(self) -> str:
        return ", ".join(term.sql for term in self.order_terms)

    def sort_columns(self) -> str:
        """The ORDER BY values as extra select columns, to build the next page's key."""
        return ", ".join(f"{t.expr} AS sort_{i}" for i, t in enumerate(self.order_terms))


# ------------------------------------------------------------------ parser


class _Parser:
    def __init__(self, query: str, first_param: int, vocabulary: Vocabulary = WORKFLOWS) -> None:
        self.vocabulary = vocabulary
        self.tokens = tokenize(query)
        self.index = 0
        self.first_param = first_param
        self.params: list[Any] = []
        self.custom_names: list[str] = []

    # --- token helpers

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.current
        if token.kind != "end":
            self.index += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.current
        return token.kind == "ident" and token.text.lower() in words

    def expect_keyword(self, word: str) -> _Token:
        if not self.at_keyword(word):
            raise self.error(f"expected {word.upper()}")
        return self.advance()

    def expect_punct(self, text: str) -> _Token:
        if self.current.kind != "punct" or self.current.text != text:
            raise self.error(f"expected {text!r}")
        return self.advance()

    def error(self, message: str, token: _Token | None = None) -> ListFilterError:
        token = token or self.current
        found = "end of query" if token.kind == "end" else repr(token.text[:40])
        return ListFilterError(f"{message}, found {found}", token.pos)

    def param(self, value: Any, cast: str) -> str:
        if len(self.params) >= MAX_PARAMS:
            raise self.error(f"filter has more than {MAX_PARAMS} values")
        self.params.append(value)
        return f"${self.first_param + len(self.params) - 1}::{cast}"

    # --- grammar

    def parse(self) -> CompiledFilter:
        out = CompiledFilter()
        if not self.at_keyword("order", "group") and self.current.kind != "end":
            out.where = self.expression(0)
        out.where_param_count = len(self.params)
        if self.at_keyword("group"):
            out.group_by = self.group_by()
        if self.at_keyword("order"):
            out.order_terms = self.order_by()
        if self.current.kind != "end":
            raise self.error("unexpected token")
        out.params = self.params
        out.custom_names = sorted(set(self.custom_names))
        return out

    def expression(self, depth: int) -> str:
        parts = [self.conjunction(depth)]
        while self.at_keyword("or"):
            self.advance()
            parts.append(self.conjunction(depth))
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def conjunction(self, depth: int) -> str:
        parts = [self.primary(depth)]
        while self.at_keyword("and"):
            self.advance()
            parts.append(self.primary(depth))
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def primary(self, depth: int) -> str:
        if self.current.kind == "punct" and self.current.text == "(":
            if depth >= MAX_DEPTH:
                raise self.error(f"parentheses nested deeper than {MAX_DEPTH}")
            self.advance()
            inner = self.expression(depth + 1)
            self.expect_punct(")")
            return inner
        return self.comparison()

    def field_name(self) -> tuple[str, _Column | None]:
        token = self.current
        if token.kind == "quoted_ident":
            self.advance()
            name = token.value
        elif token.kind == "ident" and token.text.lower() not in _KEYWORDS:
            self.advance()
            name = token.text
        else:
            raise self.error("expected a search attribute name")
        found = self.vocabulary.field(name)
        if found is None:
            self.custom_names.append(name)
        return found or (name, None)

    def comparison(self) -> str:
        name, column = self.field_name()
        target = _Target(self, name, column)
        token = self.current
        if token.kind == "op":
            self.advance()
            return target.compare(token.text, self.literal())
        negate = False
        if self.at_keyword("not"):
            self.advance()
            negate = True
            if not self.at_keyword("in", "between"):
                raise self.error("expected IN or BETWEEN after NOT")
        if self.at_keyword("in"):
            self.advance()
            sql = target.among(self.literal_list())
        elif self.at_keyword("between"):
            self.advance()
            low = self.literal()
            self.expect_keyword("and")
            sql = target.between(low, self.literal())
        elif self.at_keyword("starts_with"):
            self.advance()
            sql = target.starts_with(self.literal())
        elif self.at_keyword("is"):
            self.advance()
            if self.at_keyword("not"):
                self.advance()
                negate = True
            self.expect_keyword("null")
            sql = target.is_null()
        else:
            raise self.error("expected a comparison operator")
        return f"NOT {sql}" if negate else sql

    def literal(self) -> _Token:
        token = self.current
        if token.kind in ("string", "number") or self.at_keyword("true", "false"):
            return self.advance()
        raise self.error("expected a value")

    def literal_list(self) -> list[_Token]:
        self.expect_punct("(")
        values = [self.literal()]
        while self.current.kind == "punct" and self.current.text == ",":
            self.advance()
            values.append(self.literal())
        self.expect_punct(")")
        return values

    def group_by(self) -> str:
        self.advance()
        self.expect_keyword("by")
        token = self.current
        name, _ = self.field_name()
        if name != "ExecutionStatus":
            raise self.error("GROUP BY is only supported on ExecutionStatus", token)
        if self.current.kind == "punct" and self.current.text == ",":
            raise self.error("GROUP BY takes a single field")
        return "status"

    def order_by(self) -> list[OrderTerm]:
        self.advance()
        self.expect_keyword("by")
        terms = []
        while True:
            name, column = self.field_name()
            if column:
                expr, cast = column.sql, _CAST[column.kind]
            else:
                expr, cast = f"search_values->{self.param(name, 'text')}", "jsonb"
            descending = False
            if self.at_keyword("asc", "desc"):
                descending = self.advance().text.lower() == "desc"
            terms.append(OrderTerm(expr, descending, cast))
            if not (self.current.kind == "punct" and self.current.text == ","):
                break
            if len(terms) == MAX_ORDER_TERMS:
                raise self.error(f"more than {MAX_ORDER_TERMS} ORDER BY terms")
            self.advance()
        return terms + [RUN_ID_ORDER]


# ------------------------------------------------------------- comparisons


_RANGE_OPS = {"<", "<=", ">", ">="}
_DATETIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?([Zz]|[+-]\d{2}:?\d{2})?$"
)


class _Target:
    """The left side of one comparison: a built-in column or a custom attribute."""

    def __init__(self, parser: _Parser, name: str, column: _Column | None) -> None:
        self.parser = parser
        self.name = name
        self.column = column

    # --- built-in columns

    def _value(self, token: _Token) -> Any:
        kind = self.column.kind if self.column else ""
        convert: dict[str, Callable[[_Token], Any]] = {
            "text": self._text_value,
            "status": self._status_value,
            "time": self._time_value,
            "int": self._int_value,
        }
        return convert[kind](token)

    def _text_value(self, token: _Token) -> str:
        if token.kind != "string":
            raise self.parser.error(f"{self.name} takes a string value", token)
        return token.value

    def _status_value(self, token: _Token) -> int:
        vocabulary = self.parser.vocabulary
        if token.kind == "number" and token.value in vocabulary.status_values.values():
            return int(token.value)
        if token.kind == "string":
            status = vocabulary.status_values.get(token.value.replace("_", "").lower())
            if status is not None:
                return status
        raise self.parser.error(
            "ExecutionStatus takes one of "
            + ", ".join(repr(n) for n in vocabulary.status_names.values()),
            token,
        )

    def _time_value(self, token: _Token) -> datetime:
        parsed = parse_datetime(token.value) if token.kind == "string" else None
        if parsed is None:
            raise self.parser.error(f"{self.name} takes an RFC 3339 datetime string", token)
        return parsed

    def _int_value(self, token: _Token) -> int:
        if (
            token.kind != "number"
            or token.value != token.value.to_integral_value()
            or int(token.value) not in _BIGINT
        ):
            raise self.parser.error(f"{self.name} takes a 64-bit integer value", token)
        return int(token.value)

    def _column_param(self, token: _Token) -> str:
        assert self.column is not None
        return self.parser.param(self._value(token), _CAST[self.column.kind])

    def compare(self, op: str, token: _Token) -> str:
        op = "<>" if op == "!=" else op
        if self.column is None:
            return self._custom_compare(op, token)
        if self.column.kind == "status" and op in _RANGE_OPS:
            raise self.parser.error("ExecutionStatus supports only =, !=, IN and NOT IN", token)
        return f"({self.column.sql} {op} {self._column_param(token)})"

    def among(self, tokens: Sequence[_Token]) -> str:
        if self.column is None:
            return "(" + " OR ".join(self._custom_equal(t) for t in tokens) + ")"
        cast = _CAST[self.column.kind]
        values = [self._value(t) for t in tokens]
        return f"({self.column.sql} = ANY({self.parser.param(values, cast + '[]')}))"

    def between(self, low: _Token, high: _Token) -> str:
        return f"({self.compare('>=', low)} AND {self.compare('<=', high)})"

    def starts_with(self, token: _Token) -> str:
        if token.kind != "string":
            raise self.parser.error("STARTS_WITH takes a string value", token)
        if self.column is not None:
            if self.column.kind != "text":
                raise self.parser.error(f"STARTS_WITH is not supported on {self.name}", token)
            return f"starts_with({self.column.sql}, {self.parser.param(token.value, 'text')})"
        key = self._key()
        return (
            f"(jsonb_typeof(search_values->{key}) = 'string' AND "
            f"starts_with(search_values->>{key}, {self.parser.param(token.value, 'text')}))"
        )

    def is_null(self) -> str:
        if self.column is not None:
            return f"({self.column.sql} IS NULL)"
        return f"(NOT coalesce(search_values ? {self._key()}, false))"

    # --- custom search attributes

    def _key(self) -> str:
        return self.parser.param(self.name, "text")

    def _contains(self, value: Any) -> str:
        return f"search_values @> {self.parser.param({self.name: value}, 'jsonb')}"

    def _custom_equal(self, token: _Token) -> str:
        value = _json_literal(token)
        variants = [value]
        if isinstance(value, str):
            normal = normalized_datetime(value)
            if normal is not None and normal != value:
                variants.append(normal)
        # A KeywordList attribute equals a value when the list holds it.
        tests = [self._contains(v) for v in variants]
        tests += [self._contains([v]) for v in variants if isinstance(v, str)]
        return "(" + " OR ".join(tests) + ")"

    def _custom_compare(self, op: str, token: _Token) -> str:
        if op == "=":
            return self._custom_equal(token)
        if op == "<>":
            return f"(NOT {self._custom_equal(token)})"
        value = _json_literal(token)
        key = self._key()
        if isinstance(value, bool):
            raise self.parser.error(f"{op} is not supported on boolean values", token)
        # CASE, not AND: only CASE guarantees the type test runs before the cast.
        if isinstance(value, (int, float)):
            number = self.parser.param(token.value, "numeric")
            return (
                f"(CASE WHEN jsonb_typeof(search_values->{key}) = 'number' "
                f"THEN (search_values->>{key})::numeric END {op} {number})"
            )
        text = normalized_datetime(value) or value
        return (
            f"(CASE WHEN jsonb_typeof(search_values->{key}) = 'string' "
            f'THEN (search_values->>{key}) END COLLATE "C" {op} {self.parser.param(text, "text")})'
        )


def _json_literal(token: _Token) -> Any:
    if token.kind == "number":
        number = token.value
        return (
            int(number)
            if number == number.to_integral_value() and "." not in token.text
            else float(number)
        )
    if token.kind == "ident":
        return token.text.lower() == "true"
    return token.value


def parse_datetime(text: str) -> datetime | None:
    """An RFC 3339 datetime (a date alone means its midnight); naive means UTC."""
    if not _DATETIME_RE.match(text):
        return None
    try:
        value = datetime.fromisoformat(text.replace("z", "Z"))
        value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)  # also refuses times outside years 1..9999
    except (ValueError, OverflowError):
        return None


def normalized_datetime(text: str) -> str | None:
    """The fixed-width UTC form search_values stores Datetime attributes in."""
    if not _DATETIME_RE.match(text) or "T" not in text.upper():
        return None
    parsed = parse_datetime(text)
    return None if parsed is None else parsed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def keyset_condition(
    terms: Sequence[OrderTerm], last: Sequence[Any], first_param: int
) -> tuple[str, list[Any]]:
    """The rows strictly after ``last`` (the sort values of a page's last row) in the
    order of ``terms``, honouring NULLS LAST for ASC and NULLS FIRST for DESC. Rows
    started or changed meanwhile neither repeat nor shift the pages that follow."""
    params: list[Any] = []
    placeholders: list[str | None] = []
    for term, value in zip(terms, last, strict=True):
        if value is None:
            placeholders.append(None)
        else:
            params.append(value)
            placeholders.append(f"${first_param + len(params) - 1}::{term.cast}")
    # Nested, so that each term appears a fixed number of times (the SQL grows linearly
    # with the ORDER BY): after(t1) OR (t1 = v1 AND (after(t2) OR (t2 = v2 AND ...))).
    condition: str | None = None
    for term, placeholder in reversed(list(zip(terms, placeholders, strict=True))):
        after = _after(term, placeholder)
        equal = f"{term.expr} IS NULL" if placeholder is None else f"{term.expr} = {placeholder}"
        tied = None if condition is None else f"({equal} AND {condition})"
        parts = [part for part in (after, tied) if part is not None]
        condition = "(" + " OR ".join(parts) + ")" if parts else None
    if condition is None:
        return "false", params
    if terms[0].descending and placeholders[0] is not None:
        # Implied by the disjunction, but an index on the first term can range-scan it
        # (NULLS FIRST: every row after a non-null value is at most that value).
        condition = f"({terms[0].expr} <= {placeholders[0]} AND {condition})"
    return condition, params


def _after(term: OrderTerm, placeholder: str | None) -> str | None:
    if term.descending:  # NULLS FIRST: non-nulls follow a null, smaller values follow
        return f"{term.expr} IS NOT NULL" if placeholder is None else f"{term.expr} < {placeholder}"
    if placeholder is None:  # NULLS LAST: nothing follows a null but equal nulls
        return None
    return f"({term.expr} > {placeholder} OR {term.expr} IS NULL)"


def compile_filter(
    query: str | None, first_param: int = 1, vocabulary: Vocabulary = WORKFLOWS
) -> CompiledFilter:
    """Compile a list filter (None or blank means every run) over the fields of
    ``vocabulary``."""
    if query is None or not query.strip():
        return CompiledFilter()
    if len(query) > MAX_LENGTH:
        raise ListFilterError(f"query longer than {MAX_LENGTH} characters", MAX_LENGTH)
    return _Parser(query, first_param, vocabulary).parse()
