"""A throwaway Postgres cluster for the benchmark, so pg_stat_statements can be
preloaded without touching the machine's own server.

initdb and the server refuse to run as root: when we are root, the data directory is
handed to the ``postgres`` OS user and every server command runs as that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

# Settings passed to the server (also listed in bench/README.md). fsync and
# synchronous_commit stay on: figures are for a durable configuration.
SERVER_SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
    "pg_stat_statements.max": "10000",
    "max_connections": "200",
    "shared_buffers": "256MB",
    "listen_addresses": "127.0.0.1",
    "log_min_messages": "warning",
}


def find_bin_dir() -> str:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb (or the one on PATH)."""
    candidates = glob.glob("/usr/lib/postgresql/*/bin/initdb")

    def version(path: str) -> float:
        try:
            return float(path.split("/")[4])
        except (IndexError, ValueError):
            return 0.0

    if candidates:
        return os.path.dirname(max(candidates, key=version))
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(found)
    raise RuntimeError("initdb not found under /usr/lib/postgresql/*/bin nor on PATH")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TempCluster:
    def __init__(self, extra_settings: dict | None = None) -> None:
        self.extra_settings = dict(extra_settings or {})
        self.bin_dir = find_bin_dir()
        self.root = tempfile.mkdtemp(prefix="hm-bench-pg-")
        self.data_dir = os.path.join(self.root, "data")
        self.log_file = os.path.join(self.root, "server.log")
        self.port = free_port()
        self._run_as: str | None = None
        self._started = False
        if os.geteuid() == 0:
            self._run_as = "postgres"
            entry = pwd.getpwnam(self._run_as)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def version(self) -> str:
        return os.path.basename(os.path.dirname(self.bin_dir))

    def _cmd(self, args: list[str]) -> list[str]:
        if self._run_as is None:
            return args
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", self._run_as, "--"] + args
        return ["su", self._run_as, "-s", "/bin/sh", "-c", " ".join(_quote(a) for a in args)]

    def give_to_server(self, path: str) -> None:
        """Make a file the server reads (a TLS key, say) owned by the server's user."""
        if self._run_as is not None:
            entry = pwd.getpwnam(self._run_as)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, args: list[str]) -> None:
        proc = subprocess.run(self._cmd(args), capture_output=True, text=True, cwd=self.root)
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )

    def start(self) -> None:
        self._run(
            [
                os.path.join(self.bin_dir, "initdb"),
                "-D",
                self.data_dir,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ]
        )
        self.start_server()

    def start_server(self) -> None:
        """Start the server on the existing data directory (again, after stop_server)."""
        options = [f"-c port={self.port}", f"-c unix_socket_directories={self.root}"]
        settings = {**SERVER_SETTINGS, **self.extra_settings}
        options += [f"-c {k}={v}" for k, v in settings.items()]
        self._run(
            [
                os.path.join(self.bin_dir, "pg_ctl"),
                "-D",
                self.data_dir,
                "-l",
                self.log_file,
                "-w",
                "-t",
                "60",
                "-o",
                " ".join(options),
                "start",
            ]
        )
        self._started = True

    def stop_server(self) -> None:
        """Stop the server (fast shutdown: clients are disconnected), keeping its data."""
        if self._started:
            self._run(
                [
                    os.path.join(self.bin_dir, "pg_ctl"),
                    "-D",
                    self.data_dir,
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                ]
            )
            self._started = False

    def stop(self) -> None:
        try:
            self.stop_server()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\"'\"'") + "'"


def _proc_cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # after the ")" : state ppid ... utime is field 14 of the whole line, i.e. index 11 here
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def server_cpu_seconds(data_dir: str) -> float | None:
    """CPU seconds used so far by the postmaster of ``data_dir`` and its live children
    (backends, walwriter...). None when /proc or the pid file cannot be read."""
    try:
        with open(os.path.join(data_dir, "postmaster.pid")) as f:
            postmaster = int(f.readline().strip())
    except (OSError, ValueError):
        return None
    total = _proc_cpu_seconds(postmaster)
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _ppid(int(entry)) == postmaster:
            total += _proc_cpu_seconds(int(entry))
    return total
