"""The list-filter compiler: what it accepts, the SQL and parameters it produces,
its errors, and (hypothesis) that hostile input can neither crash it nor reach SQL as
text, nor change the database when run through list_workflows."""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotmesh_temporal._engine.runtime.list_filter import (
    MAX_DEPTH,
    CompiledFilter,
    ListFilterError,
    compile_filter,
    keyset_condition,
)

# ----------------------------------------------------------------- examples


def test_empty_filter_lists_everything_newest_first():
    for query in (None, "", "   "):
        compiled = compile_filter(query)
        assert compiled.where == "true" and compiled.params == []
        assert compiled.order_by == "start_time DESC NULLS FIRST, run_id ASC NULLS LAST"


def test_builtin_fields_become_columns_and_values_parameters():
    compiled = compile_filter(
        "WorkflowType = 'Order' AND ExecutionStatus IN ('Running', 'TimedOut') "
        "AND StartTime > '2024-01-02T03:04:05+02:00'",
        first_param=2,
    )
    assert compiled.where == (
        "((workflow_type = $2::text) AND (status = ANY($3::smallint[])) "
        "AND (start_time > $4::timestamptz))"
    )
    assert compiled.params == [
        "Order",
        [1, 7],
        datetime(2024, 1, 2, 1, 4, 5, tzinfo=timezone.utc),
    ]


def test_field_names_are_case_insensitive_and_backticks_quote_custom_names():
    compiled = compile_filter("workflowid = 'a' OR `Custom Field` = 'b'")
    assert compiled.where.startswith("((workflow_id = $1::text) OR ")
    assert compiled.params[1] == {"Custom Field": "b"}


def test_custom_equality_uses_containment_for_the_gin_index():
    compiled = compile_filter("CustomKeywordField = 'x'")
    assert compiled.where == "(search_values @> $1::jsonb OR search_values @> $2::jsonb)"
    assert compiled.params == [{"CustomKeywordField": "x"}, {"CustomKeywordField": ["x"]}]
    numbers = compile_filter(
        "CustomIntField = 3 AND CustomDoubleField = 1.5 AND CustomBoolField = TRUE"
    )
    assert numbers.params == [
        {"CustomIntField": 3},
        {"CustomDoubleField": 1.5},
        {"CustomBoolField": True},
    ]


def test_custom_datetime_literals_are_normalized_to_utc():
    compiled = compile_filter("CustomDatetimeField >= '2024-01-02T03:04:05+01:00'")
    assert compiled.params == ["CustomDatetimeField", "2024-01-02T02:04:05.000000Z"]
    equal = compile_filter("CustomDatetimeField = '2024-01-02T03:04:05Z'")
    assert {"CustomDatetimeField": "2024-01-02T03:04:05.000000Z"} in equal.params


def test_order_by_several_fields_and_group_by():
    compiled = compile_filter("ORDER BY ExecutionStatus, CustomIntField desc", first_param=5)
    assert compiled.where == "true"
    assert compiled.order_by == (
        "status ASC NULLS LAST, search_values->$5::text DESC NULLS FIRST, run_id ASC NULLS LAST"
    )
    assert compiled.sort_columns() == (
        "status AS sort_0, search_values->$5::text AS sort_1, run_id AS sort_2"
    )
    assert compiled.params == ["CustomIntField"]
    grouped = compile_filter("WorkflowType = 'x' GROUP BY ExecutionStatus")
    assert grouped.group_by == "status"


def test_keyset_condition_for_the_next_page():
    terms = compile_filter("ORDER BY CloseTime, CustomIntField DESC", first_param=2).order_terms
    where, params = keyset_condition(terms, ["t", 5, "r"], first_param=7)
    # Nested, so each term appears a fixed number of times (linear in the terms).
    assert where == (
        "((close_time > $7::timestamptz OR close_time IS NULL)"
        " OR (close_time = $7::timestamptz AND (search_values->$2::text < $8::jsonb"
        " OR (search_values->$2::text = $8::jsonb"
        " AND ((run_id > $9::uuid OR run_id IS NULL))))))"
    )
    assert params == ["t", 5, "r"]
    # After a NULL: nothing follows it in NULLS LAST; every non-null follows in NULLS FIRST.
    where, params = keyset_condition(terms, [None, None, "r"], first_param=1)
    assert where == (
        "((close_time IS NULL AND (search_values->$2::text IS NOT NULL"
        " OR (search_values->$2::text IS NULL AND ((run_id > $1::uuid OR run_id IS NULL))))))"
    )
    assert params == ["r"]


def test_keyset_bounds_a_descending_first_term_for_the_index():
    terms = compile_filter(None).order_terms  # start_time DESC, run_id
    where, params = keyset_condition(terms, ["t", "r"], first_param=4)
    assert where == (
        "(start_time <= $4::timestamptz AND (start_time < $4::timestamptz"
        " OR (start_time = $4::timestamptz AND ((run_id > $5::uuid OR run_id IS NULL)))))"
    )
    assert params == ["t", "r"]


def test_operators():
    cases = {
        "HistoryLength != 3": "((next_event_id - 1) <> $1::bigint)",
        "HistoryLength <> 3": "((next_event_id - 1) <> $1::bigint)",
        "CloseTime IS NOT NULL": "NOT (close_time IS NULL)",
        "TaskQueue NOT IN ('a', 'b')": "NOT (task_queue = ANY($1::text[]))",
        "RunId STARTS_WITH 'ab'": "starts_with(run_id::text, $1::text)",
        "StartTime BETWEEN '2024-01-01' AND '2024-02-01'": (
            "((start_time >= $1::timestamptz) AND (start_time <= $2::timestamptz))"
        ),
    }
    for query, where in cases.items():
        assert compile_filter(query).where == where, query


@pytest.mark.parametrize(
    "query,position,words",
    [
        ("WorkflowId", 10, "expected a comparison operator"),
        ("WorkflowId = ", 13, "expected a value"),
        ("WorkflowId = 3", 13, "WorkflowId takes a string value"),
        ("= 'x'", 0, "expected a search attribute name"),
        ("ExecutionStatus > 'Running'", 18, "ExecutionStatus supports only"),
        ("ExecutionStatus = 'Asleep'", 18, "ExecutionStatus takes one of"),
        ("StartTime < 'soon'", 12, "RFC 3339"),
        ("HistoryLength = 1.5", 16, "integer"),
        ("a = 'x' AND", 11, "expected a search attribute name"),
        ("a = 'x' b = 'y'", 8, "unexpected token"),
        ("a = 'x", 4, "unexpected character"),
        ("a NOT = 'x'", 6, "expected IN or BETWEEN"),
        ("a IN ()", 6, "expected a value"),
        ("a IN ('x'", 9, "expected ')'"),
        ("a = 'x' GROUP BY WorkflowType", 17, "only supported on ExecutionStatus"),
        ("a = 'x' ORDER BY", 16, "expected a search attribute name"),
        ("a = 'x'; DROP TABLE executions", 7, "unexpected character ';'"),
        ("a = 'x' -- comment", 8, "unexpected character '-'"),
        ("a = 'x' /* c */", 8, "unexpected character '/'"),
        ("`` = 'x'", 0, "empty attribute name"),
        ("a = 'nul\x00'", 8, "not allowed"),
        ("CustomBoolField > true", 18, "not supported on boolean"),
        ("WorkflowId STARTS_WITH 1", 23, "STARTS_WITH takes a string"),
        ("StartTime STARTS_WITH '2024'", 22, "not supported on StartTime"),
    ],
)
def test_errors_name_their_position(query, position, words):
    with pytest.raises(ListFilterError) as err:
        compile_filter(query)
    assert err.value.position == position
    assert f"position {position}" in str(err.value) and words in str(err.value)


def test_nesting_is_bounded_without_recursion_errors():
    ok = "(" * MAX_DEPTH + "a = 'x'" + ")" * MAX_DEPTH
    assert compile_filter(ok).params == [{"a": "x"}, {"a": ["x"]}]
    with pytest.raises(ListFilterError, match="nested deeper"):
        compile_filter("(" * 5000 + "a = 'x'" + ")" * 5000)


def test_size_limits():
    many = " OR ".join(["a=1"] * 10_001)
    with pytest.raises(ListFilterError, match="more than 10000 values"):
        compile_filter(many)
    with pytest.raises(ListFilterError, match="longer than"):
        compile_filter("WorkflowId = '" + "x" * 100_000 + "'")


def test_quotes_inside_literals():
    assert compile_filter("WorkflowId = 'it''s'").params == ["it's"]
    assert compile_filter('WorkflowId = "say \\"hi\\""').params == ['say "hi"']


# ----------------------------------------------------------------- properties

SENTINEL = "Zq9sentinel"
HOSTILE = [
    "'", "''", '"', "\\", ";", "--", "/*", "*/", "DROP TABLE executions", "); DELETE FROM",
    "$1", "::text", "%s", "\u202e", "\u0000", "é", "😀", "\ud800", "`", "OR 1=1", "\n", "NULL",
]  # fmt: skip
FIELDS = [
    "WorkflowId", "WorkflowType", "RunId", "TaskQueue", "ExecutionStatus", "StartTime",
    "CloseTime", "ExecutionTime", "HistoryLength", "RootWorkflowId", "ParentRunId",
    "CustomIntField", "CustomKeywordField",
    "CustomDatetimeField", "CustomBoolField", "CustomKeywordListField",
]  # fmt: skip

hostile_text = st.lists(st.sampled_from(HOSTILE) | st.text(max_size=8), max_size=4).map("".join)


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


string_literals = hostile_text.map(lambda t: _quote(t + SENTINEL))
plain_literals = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(lambda d: format(d, "f")),
    st.sampled_from(["true", "false", "'Running'", "'Completed'", "'2024-01-02T03:04:05Z'"]),
    st.sampled_from(["1e999", "-1E-999", "9223372036854775808", "-9223372036854775809"]),
    st.sampled_from(["'0001-01-01T00:00:00+01:00'", "'9999-12-31T23:59:59-01:00'", "'2024-02-30'"]),
)
literals = string_literals | plain_literals
fields = st.sampled_from(FIELDS) | hostile_text.map(
    lambda t: "`" + (t + SENTINEL).replace("`", "") + "`"
)


@st.composite
def comparisons(draw) -> str:
    field = draw(fields)
    form = draw(st.integers(0, 5))
    if form == 0:
        op = draw(st.sampled_from(["=", "!=", "<>", "<", "<=", ">", ">="]))
        return f"{field} {op} {draw(literals)}"
    if form == 1:
        values = draw(st.lists(literals, min_size=1, max_size=3))
        return f"{field} {draw(st.sampled_from(['IN', 'NOT IN']))} ({', '.join(values)})"
    if form == 2:
        between = draw(st.sampled_from(["BETWEEN", "NOT BETWEEN"]))
        return f"{field} {between} {draw(literals)} AND {draw(literals)}"
    if form == 3:
        return f"{field} STARTS_WITH {draw(literals)}"
    return f"{field} {draw(st.sampled_from(['IS NULL', 'IS NOT NULL']))}"


filters = st.recursive(
    comparisons(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from([" AND ", " OR "]), inner).map("".join),
        inner.map(lambda e: f"({e})"),
    ),
    max_leaves=12,
)
order_clauses = st.lists(
    st.tuples(fields, st.sampled_from(["", " ASC", " DESC"])).map("".join), min_size=1, max_size=3
).map(lambda terms: " ORDER BY " + ", ".join(terms))
well_formed = st.tuples(
    filters, st.sampled_from(["", " GROUP BY ExecutionStatus"]), st.just("") | order_clauses
).map("".join)
garbage = st.text(max_size=200) | st.lists(
    st.sampled_from(HOSTILE + ["(", ")", "AND", "OR", "=", "x"]), max_size=30
).map(" ".join)
mangled = st.tuples(
    well_formed, st.integers(0, 400), st.sampled_from(HOSTILE + ["(", ")", "'"])
).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :])
deep = st.tuples(st.integers(0, 200), st.integers(0, 200)).map(
    lambda t: "(" * t[0] + "CustomIntField = 1" + ")" * t[1]
)
any_filter = well_formed | garbage | mangled | deep

_PLACEHOLDER = re.compile(r"\$(\d+)::[a-z]+(\[\])?")
_SQL_WORDS = {
    "workflow_id", "workflow_type", "run_id", "text", "task_queue", "status", "start_time",
    "close_time", "execution_time", "next_event_id", "history_size", "parent", "search_values",
    "jsonb_typeof", "numeric", "starts_with", "coalesce", "true", "false", "AND", "OR", "NOT",
    "IS", "NULL", "ANY", "COLLATE", "ASC", "DESC", "NULLS", "FIRST", "LAST", "C", "1",
    "root", "workflowId", "runId",
    "CASE", "WHEN", "THEN", "END",
}  # fmt: skip
_SQL_STRINGS = {
    "'string'", "'number'", "'workflow_id'", "'run_id'", "'root'", "'workflowId'", "'runId'", '"C"',
}  # fmt: skip
_SQL_PUNCT = set("()<>=!,-@?:")


def assert_safe_sql(compiled: CompiledFilter, first_param: int) -> None:
    """Only whitelisted words, strings and placeholders: nothing of the user's text."""
    for sql in (
        compiled.where,
        compiled.order_by,
        re.sub(r" AS sort_\d+", "", compiled.sort_columns()),
    ):
        assert SENTINEL not in sql
        numbers = {int(m.group(1)) for m in _PLACEHOLDER.finditer(sql)}
        assert all(first_param <= n < first_param + len(compiled.params) for n in numbers)
        rest = _PLACEHOLDER.sub(" ", sql)
        for quoted in re.findall(r"'[^']*'|\"[^\"]*\"", rest):
            assert quoted in _SQL_STRINGS, quoted
        rest = re.sub(r"'[^']*'|\"[^\"]*\"", " ", rest)
        for word in re.findall(r"[A-Za-z0-9_]+", rest):
            assert word in _SQL_WORDS, word
        assert set(re.sub(r"[A-Za-z0-9_\s]+", "", rest)) <= _SQL_PUNCT, rest


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=any_filter, first_param=st.integers(1, 5))
def test_any_input_compiles_safely_or_fails_with_a_clear_error(query, first_param):
    try:
        compiled = compile_filter(query, first_param=first_param)
    except ListFilterError as err:
        assert 0 <= err.position <= len(query)
        assert str(err).startswith(f"invalid query at position {err.position}: ")
        return
    assert_safe_sql(compiled, first_param)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=well_formed)
def test_generated_filters_keep_literals_out_of_sql(query):
    try:
        compiled = compile_filter(query, first_param=2)
    except ListFilterError:
        return  # e.g. a number compared with WorkflowId
    assert_safe_sql(compiled, 2)
    if SENTINEL in query:
        assert any(SENTINEL in str(p) for p in compiled.params)


def test_decimal_literals_stay_exact():
    compiled = compile_filter("CustomDoubleField > 0.1")
    assert compiled.params[1] == Decimal("0.1")


# --------------------------------------------------- fuzzing the real database


class _LoopThread:
    """An event loop in its own thread, so hypothesis (synchronous) can drive a client."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


async def _seed_runs(client) -> None:
    """Runs whose attributes of one name have different types, so that filters meet
    every kind of stored value (no worker: they stay running, untouched)."""
    import uuid
    from datetime import timedelta

    from hotmesh_temporal.common import SearchAttributeKey as Key
    from hotmesh_temporal.common import SearchAttributePair, TypedSearchAttributes

    now = datetime.now(timezone.utc)
    variants = [
        [(Key.for_int("CustomIntField"), 5), (Key.for_keyword("CustomKeywordField"), "x")],
        [
            (Key.for_keyword("CustomIntField"), "five"),
            (Key.for_datetime("CustomKeywordField"), now),
        ],
        [
            (Key.for_float("CustomIntField"), 5.5),
            (Key.for_keyword_list("CustomKeywordField"), ["a"]),
        ],
        [(Key.for_bool("CustomIntField"), True), (Key.for_datetime("CustomDatetimeField"), now)],
        [
            (Key.for_keyword_list("CustomIntField"), ["1", "2"]),
            (Key.for_int("CustomDatetimeField"), 1),
        ],
    ]
    for pairs in variants:
        await client.start_workflow(
            "FuzzSeed",
            id=f"fuzz-{uuid.uuid4()}",
            task_queue=f"fuzz-{uuid.uuid4()}",
            execution_timeout=timedelta(days=1),
            search_attributes=TypedSearchAttributes([SearchAttributePair(k, v) for k, v in pairs]),
        )


_CHECKSUM_SQL = """
SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = $1)
     + (SELECT count(*) FROM pg_proc WHERE pronamespace = $1::regnamespace),
       (SELECT md5(coalesce(string_agg(e::text, '|' ORDER BY e.run_id), '')) FROM {s}.executions e),
       (SELECT md5(coalesce(string_agg(h::text, '|' ORDER BY h.run_id, h.event_id), ''))
          FROM {s}.history_events h),
       (SELECT count(*) FROM {s}.workflow_tasks) + (SELECT count(*) FROM {s}.activity_tasks)
     + (SELECT count(*) FROM {s}.timers) + (SELECT count(*) FROM {s}.inbox)
     + (SELECT count(*) FROM {s}.schema_migrations)
"""


@pytest.fixture(scope="module")
def fuzz_client(migrated_dsn):
    from hotmesh_temporal._engine.store.dsn import split_schema
    from hotmesh_temporal.client import Client

    runner = _LoopThread()
    client = runner.run(Client.connect(migrated_dsn))
    store = runner.run(client._engine()).store
    schema = split_schema(migrated_dsn)[1]

    async def checksum():
        sql = _CHECKSUM_SQL.replace("{s}", f'"{schema}"')
        return tuple(await store.pool.fetchrow(sql, schema))

    runner.run(_seed_runs(client))
    yield runner, client, checksum
    runner.run(client.service_client.close())
    runner.stop()


def test_fuzzing_list_and_count_leaves_the_database_unchanged(fuzz_client):
    from hotmesh_temporal.service import RPCError, RPCStatusCode

    runner, client, checksum = fuzz_client
    before = runner.run(checksum())
    outcomes = {"ok": 0, "invalid": 0}

    async def run_filter(query: str) -> None:
        try:
            async for _ in client.list_workflows(query, limit=5, page_size=2):
                pass
            await client.count_workflows(query)
            outcomes["ok"] += 1
        except RPCError as err:
            assert err.status == RPCStatusCode.INVALID_ARGUMENT, err
            outcomes["invalid"] += 1

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(query=any_filter)
    def fuzz(query):
        runner.run(run_filter(query))

    fuzz()
    assert runner.run(checksum()) == before
    # Both paths were exercised (about 27 of 150 filters are valid on average; the
    # bound leaves room for hypothesis's random draws).
    assert outcomes["ok"] >= 3 and outcomes["invalid"] >= 3, outcomes
