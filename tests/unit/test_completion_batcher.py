"""CompletionBatcher: a run's reports that arrive while one of its reports is in flight
go together; a lone report goes at once; other runs never wait."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from hotmesh_temporal._engine.worker.completion_batcher import CompletionBatcher


class Recorder:
    def __init__(self) -> None:
        self.sent: list[list[str]] = []
        self.gate = asyncio.Event()

    async def one(self, item: str) -> str:
        self.sent.append([item])
        await self.gate.wait()
        return f"ok {item}"

    async def many(self, items: Sequence[str]) -> list[str]:
        self.sent.append(list(items))
        await self.gate.wait()
        return [f"ok {i}" for i in items]


async def test_reports_of_one_run_pile_up_behind_the_one_in_flight() -> None:
    rec = Recorder()
    batcher: CompletionBatcher[str] = CompletionBatcher(rec.one, rec.many)
    first = asyncio.ensure_future(batcher.send("run-1", "a"))
    await asyncio.sleep(0)
    rest = [asyncio.ensure_future(batcher.send("run-1", x)) for x in "bcd"]
    other = asyncio.ensure_future(batcher.send("run-2", "z"))
    await asyncio.sleep(0)
    # The first report of each run went at once; b, c, d wait for a.
    assert rec.sent == [["a"], ["z"]]
    rec.gate.set()
    assert await first == "ok a"
    assert [await r for r in rest] == ["ok b", "ok c", "ok d"]
    assert await other == "ok z"
    assert rec.sent == [["a"], ["z"], ["b", "c", "d"]]


async def test_a_failed_batch_fails_each_of_its_reports_and_the_run_carries_on() -> None:
    calls: list[list[str]] = []

    async def one(item: str) -> str:
        calls.append([item])
        await asyncio.sleep(0.01)
        return item

    async def many(items: Sequence[str]) -> list[str]:
        calls.append(list(items))
        raise ConnectionError("lost")

    batcher: CompletionBatcher[str] = CompletionBatcher(one, many)
    first = asyncio.ensure_future(batcher.send("r", "a"))
    await asyncio.sleep(0)
    waiting = [asyncio.ensure_future(batcher.send("r", x)) for x in "bc"]
    assert await first == "a"
    for report in waiting:
        with pytest.raises(ConnectionError):
            await report
    # Nothing is left waiting: the next report goes at once.
    assert await batcher.send("r", "d") == "d"
    assert calls == [["a"], ["b", "c"], ["d"]]
