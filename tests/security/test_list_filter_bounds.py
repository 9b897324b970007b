"""List filters have bounded cost (issue 14): limits on length, nesting and ORDER BY
terms (INVALID_ARGUMENT beyond them), generated SQL -- keyset paging included -- that
grows linearly with the filter, and the largest filters allowed run within a small
work_mem and statement timeout. Crafted next_page_tokens are refused."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotmesh_temporal._engine.runtime.list_filter import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_ORDER_TERMS,
    ListFilterError,
    compile_filter,
    keyset_condition,
)
from hotmesh_temporal._engine.runtime.visibility import page_token
from hotmesh_temporal._engine.store.dsn import split_schema, with_schema
from hotmesh_temporal.client import Client
from hotmesh_temporal.service import RPCError, RPCStatusCode

_FIELDS = [
    "WorkflowId",
    "WorkflowType",
    "TaskQueue",
    "ExecutionStatus",
    "StartTime",
    "CloseTime",
    "CustomKeywordField",
    "CustomIntField",
]
_ORDER_FIELDS = ["StartTime", "CloseTime", "WorkflowId", "WorkflowType", "CustomIntField"]

literal = st.one_of(
    st.text(max_size=30).map(lambda t: "'" + t.replace("'", "''") + "'"),
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(["'Running'", "'2024-01-01T00:00:00Z'"]),
)
comparison = st.builds(
    lambda f, op, v: f"{f} {op} {v}",
    st.sampled_from(_FIELDS),
    st.sampled_from(["=", "!=", "<", ">=", "STARTS_WITH"]),
    literal,
)
condition = st.recursive(
    comparison,
    lambda inner: st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(["AND", "OR"]), inner),
        inner.map(lambda c: f"({c})"),
    ),
    max_leaves=40,
)
order_by = st.lists(
    st.builds(
        lambda f, d: f"{f} {d}".strip(),
        st.sampled_from(_ORDER_FIELDS),
        st.sampled_from(["", "ASC", "DESC"]),
    ),
    min_size=1,
    max_size=MAX_ORDER_TERMS,
).map(lambda terms: " ORDER BY " + ", ".join(terms))
a_filter = st.builds(lambda c, o: c + o, condition, st.one_of(st.just(""), order_by))


def _sql_size(query: str) -> int:
    """Every byte of SQL a page of this filter sends: where, order, select columns and
    the keyset condition of a following page."""
    compiled = compile_filter(query, first_param=3)
    last = ["2024-01-01T00:00:00+00:00" for _ in compiled.order_terms]
    keyset, _ = keyset_condition(compiled.order_terms, last, first_param=100)
    return sum(
        len(part) for part in (compiled.where, compiled.order_by, compiled.sort_columns(), keyset)
    )


# The largest SQL any one filter character or ORDER BY term turns into, with room.
_PER_CHARACTER = 12
_PER_ORDER_TERM = 400
_FIXED = 600


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=a_filter)
def test_generated_sql_grows_linearly_with_the_filter(query: str) -> None:
    try:
        size = _sql_size(query)
    except ListFilterError:
        return  # e.g. a number compared with a keyword: refused, nothing generated
    terms = query.count(",") + 1 if "ORDER BY" in query else 0
    assert size <= _FIXED + _PER_CHARACTER * len(query) + _PER_ORDER_TERM * terms, (size, query)


def test_paging_sql_is_linear_in_order_by_terms() -> None:
    """Doubling the ORDER BY roughly doubles the paging SQL (it was quadratic)."""
    sizes = [_sql_size("ORDER BY " + ", ".join(["WorkflowId DESC"] * n)) for n in (1, 2, 4, 8)]
    for smaller, larger in zip(sizes, sizes[1:], strict=False):
        assert larger < 2.3 * smaller, sizes


# ---------------------------------------------------------------- refusals


def _too_many_order_terms() -> str:
    return "ORDER BY " + ", ".join(["StartTime"] * (MAX_ORDER_TERMS + 1))


@pytest.mark.parametrize(
    "query",
    [
        _too_many_order_terms(),
        "(" * (MAX_DEPTH + 1) + "WorkflowId = 'x'" + ")" * (MAX_DEPTH + 1),
        "WorkflowId = '" + "x" * MAX_LENGTH + "'",
        "WorkflowId = 'nul\x00'",
        "WorkflowId = '\ud800'",
    ],
    ids=["order-terms", "depth", "length", "nul", "surrogate"],
)
def test_filters_beyond_the_limits_are_refused(client, query: str, runner) -> None:
    with pytest.raises(RPCError) as err:
        runner.run(_first_page(client, query))
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert "invalid query" in err.value.message


def _b64(value) -> bytes:
    return base64.urlsafe_b64encode(json.dumps(value).encode())


_CRAFTED_TOKENS = {
    "not base64": b"!!!",
    "not json": base64.urlsafe_b64encode(b"\xff\xfe"),
    "a list": _b64([1, 2]),
    "after is a number": _b64({"after": 5}),
    "after is a string": _b64({"after": "ab"}),
    "wrong length": _b64({"after": [None]}),
    "wrong types": _b64({"after": [5, 7]}),
    "uuid as number": _b64({"after": ["2024-01-01T00:00:00+00:00", 123]}),
    "bad time": _b64({"after": ["yesterday", "00000000-0000-0000-0000-000000000000"]}),
    "deep nesting": base64.urlsafe_b64encode(
        b'{"after": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    ),
    "huge": _b64({"after": ["x" * 100_000, "y"]}),
}


@pytest.mark.parametrize("token", list(_CRAFTED_TOKENS.values()), ids=list(_CRAFTED_TOKENS))
def test_crafted_page_tokens_are_refused(client, token: bytes, runner) -> None:
    with pytest.raises(RPCError) as err:
        runner.run(_first_page(client, None, token))
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT


def test_a_token_holding_a_nul_is_refused(client, runner) -> None:
    token = _b64({"after": ["a\u0000b", "00000000-0000-0000-0000-000000000000"]})
    with pytest.raises(RPCError) as err:
        runner.run(_first_page(client, "ORDER BY WorkflowId", token))
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT


def test_a_token_for_another_order_is_refused(client, runner) -> None:
    token = page_token([5, "00000000-0000-0000-0000-000000000000"])  # ExecutionStatus order
    with pytest.raises(RPCError) as err:
        runner.run(_first_page(client, "ORDER BY WorkflowId", token))
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT


# --------------------------------------------------- the database's side of it


def _largest_filters() -> dict[str, str]:
    """The costliest filters the limits allow."""
    order = "ORDER BY " + ", ".join(
        [f"{f} DESC" for f in _ORDER_FIELDS] * (MAX_ORDER_TERMS // len(_ORDER_FIELDS))
    )
    ors = " OR ".join(f"WorkflowId = 'w{i}'" for i in range(4000))[: MAX_LENGTH - 200]
    ors = ors[: ors.rfind(" OR ")]
    in_list = "WorkflowId IN (" + ", ".join(f"'{i}'" for i in range(9000)) + ")"
    nested = "(" * MAX_DEPTH + "WorkflowType STARTS_WITH 'a'" + ")" * MAX_DEPTH
    return {"order": order, "ors": ors, "in": in_list, "nested": nested + " " + order}


@pytest.mark.parametrize("name", list(_largest_filters()))
def test_the_largest_filters_run_within_a_small_work_mem_and_timeout(
    low_memory_client, name: str, runner
) -> None:
    """Under work_mem = 64kB and a 5 s statement timeout (set on every connection of
    the client), every page of the costliest allowed filters comes back."""
    query = _largest_filters()[name]
    assert len(query) <= MAX_LENGTH

    async def two_pages() -> int:
        pages = low_memory_client.list_workflows(query, page_size=2)
        await pages.fetch_next_page()
        if pages.next_page_token is not None:
            await pages.fetch_next_page()
        return len(pages.current_page or [])

    runner.run(two_pages())


# ------------------------------------------------------------------ plumbing


async def _first_page(client: Client, query: str | None, token: bytes | None = None) -> None:
    pages = client.list_workflows(query, next_page_token=token)
    await pages.fetch_next_page()


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def runner():
    loop = _LoopThread()
    yield loop
    loop.stop()


@pytest.fixture(scope="module")
def client(runner, migrated_dsn):
    client = runner.run(Client.connect(migrated_dsn))
    yield client
    runner.run(client.service_client.close())


@pytest.fixture(scope="module")
def low_memory_client(runner, pg_dsn):
    """A deployment with a few runs, whose connections have work_mem = 64kB and a 5 s
    statement_timeout (asyncpg passes unknown DSN parameters as server settings)."""
    import asyncpg

    base, _ = split_schema(pg_dsn)
    schema = f"hm_mem_{secrets.token_hex(4)}"
    sep = "&" if "?" in base else "?"
    dsn = with_schema(f"{base}{sep}work_mem=64kB&statement_timeout=5000", schema)
    client = runner.run(Client.connect(dsn))

    async def seed() -> None:
        for i in range(5):
            await client.start_workflow("Nobody", id=f"w{i}", task_queue="nowhere")
        store = (await client._engine()).store
        assert await store.pool.fetchval("SHOW work_mem") == "64kB"

    runner.run(seed())
    yield client
    runner.run(client.service_client.close())

    async def drop() -> None:
        admin = await asyncpg.connect(base)
        try:
            await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        finally:
            await admin.close()

    runner.run(drop())
