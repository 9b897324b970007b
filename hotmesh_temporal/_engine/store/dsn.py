"""Connection targets: which database and which schema a client or worker talks to.

A DSN may carry a ``schema=`` query parameter naming the Postgres schema that holds
the tables. libpq and asyncpg do not know that parameter, so it is taken out of the
URL before connecting (:func:`split_schema`).

``Client.connect(target_host)`` accepts either a Postgres URL or a Temporal-style
``host:port``; :func:`resolve_target` turns the latter into the default database.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from hotmesh_temporal._engine.store import embedded

logger = logging.getLogger("hotmesh_temporal")

DEFAULT_SCHEMA = "hotmesh"
SCHEMA_ENV = "HOTMESH_SCHEMA"
DSN_ENV = "HOTMESH_DSN"
LOCAL_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PROBE_TIMEOUT = 1.0

_URL_PREFIXES = ("postgresql://", "postgres://")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_MAX_IDENT_BYTES = 63  # NAMEDATALEN - 1


def is_postgres_url(target: str) -> bool:
    """True when ``target`` is a ``postgresql://`` or ``postgres://`` URL."""
    return target.strip().lower().startswith(_URL_PREFIXES)


def validate_schema(schema: str) -> str:
    """Return ``schema`` if it is a plain SQL identifier, else raise ``ValueError``.

    Plain means: a letter or underscore, then letters, digits or underscores, at most
    63 bytes, and not starting with ``pg_`` (Postgres reserves those names).
    """
    if not isinstance(schema, str) or not _IDENT_RE.match(schema):
        raise ValueError(
            f"invalid schema name {schema!r}: use a plain identifier "
            "(letters, digits and underscores, not starting with a digit)"
        )
    if len(schema.encode()) > _MAX_IDENT_BYTES:
        raise ValueError(f"invalid schema name {schema!r}: longer than 63 bytes")
    if schema.lower().startswith("pg_"):
        raise ValueError(f"invalid schema name {schema!r}: names starting with pg_ are reserved")
    return schema


def quote_ident(name: str) -> str:
    """Quote an identifier for SQL (after validating it)."""
    validate_schema(name)
    return '"' + name.replace('"', '""') + '"'


def _query_parts(query: str) -> list[str]:
    return [p for p in query.split("&") if p]


def _part_key(part: str) -> str:
    return unquote_plus(part.split("=", 1)[0])


def split_schema(dsn: str) -> tuple[str, str]:
    """Split a DSN into (DSN without its ``schema`` parameter, schema name).

    The schema is the URL's ``schema=`` query parameter (the last one if repeated),
    else the ``HOTMESH_SCHEMA`` environment variable, else ``"hotmesh"``. Every other
    part of the URL is kept byte for byte. Raises ``ValueError`` for a schema name that
    is not a plain identifier.
    """
    parts = urlsplit(dsn)
    schema: str | None = None
    kept: list[str] = []
    for part in _query_parts(parts.query):
        if _part_key(part) == "schema":
            schema = unquote_plus(part.split("=", 1)[1]) if "=" in part else ""
        else:
            kept.append(part)
    if schema is not None:
        dsn = urlunsplit(parts._replace(query="&".join(kept)))
    else:
        schema = os.environ.get(SCHEMA_ENV) or DEFAULT_SCHEMA
    return dsn, validate_schema(schema)


def with_schema(dsn: str, schema: str) -> str:
    """Return ``dsn`` with its ``schema`` query parameter set to ``schema``."""
    validate_schema(schema)
    parts = urlsplit(dsn)
    kept = [p for p in _query_parts(parts.query) if _part_key(p) != "schema"]
    kept.append("schema=" + quote(schema))
    return urlunsplit(parts._replace(query="&".join(kept)))


def redact(dsn: str) -> str:
    """The DSN with any password replaced by ``***``, for logs."""
    parts = urlsplit(dsn)
    if parts.password:
        host = parts.netloc.rsplit("@", 1)[1]
        user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    return dsn


async def _reachable(dsn: str, timeout: float = PROBE_TIMEOUT) -> bool:
    import asyncio

    import asyncpg

    try:
        conn = await asyncio.wait_for(asyncpg.connect(dsn, timeout=timeout), timeout + 0.5)
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    except Exception:  # pragma: no cover - any other failure also means "not usable"
        return False
    try:
        await conn.close(timeout=timeout)
    except Exception:  # pragma: no cover
        conn.terminate()
    return True


async def resolve_target(target_host: str) -> str:
    """Turn a ``Client.connect`` target into a Postgres DSN.

    A ``postgresql://`` or ``postgres://`` URL is returned unchanged. Anything else
    (a Temporal-style ``host:port`` such as ``localhost:7233``) means the default
    database: ``HOTMESH_DSN`` if set, else a Postgres on 127.0.0.1:5432 (user
    ``postgres``, database ``postgres``) if one answers within about a second, else an
    embedded Postgres started by :func:`hotmesh_temporal._engine.store.embedded.start_embedded`.
    """
    if target_host and is_postgres_url(target_host):
        return target_host.strip()
    env_dsn = os.environ.get(DSN_ENV)
    if env_dsn:
        logger.info("target %r: using HOTMESH_DSN (%s)", target_host, redact(env_dsn))
        return env_dsn
    if await _reachable(LOCAL_DSN):
        logger.info("target %r: using the local Postgres at %s", target_host, LOCAL_DSN)
        return LOCAL_DSN

    dsn = await embedded.start_embedded()
    logger.info(
        "target %r: no HOTMESH_DSN and no Postgres on 127.0.0.1:5432; using an embedded "
        "Postgres (%s)",
        target_host,
        dsn,
    )
    return dsn


# --------------------------------------------------------------- connection poolers

POOLER_MODES = ("transaction",)
DEFAULT_POOLED_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class PoolerOptions:
    """How to talk to Postgres through a connection pooler (PgBouncer and the like).

    ``mode`` is None for a direct connection. In ``transaction`` mode a pooled server
    connection belongs to a client for one transaction only, so nothing may rely on
    session state: no prepared statements kept across statements, no session advisory
    locks, no LISTEN. ``direct_dsn`` (from ``direct_host`` / ``direct_port``) is a
    connection that bypasses the pooler, used for LISTEN, wake-ups and migrations;
    without one the engine runs poll-only, re-reading every ``poll_seconds``.
    """

    mode: str | None = None
    direct_dsn: str | None = None
    poll_seconds: float = DEFAULT_POOLED_POLL_SECONDS

    @property
    def poll_only(self) -> bool:
        return self.mode is not None and self.direct_dsn is None


_POOLER_KEYS = ("pooler", "direct_host", "direct_port", "poll_interval")


def split_pooler(dsn: str) -> tuple[str, PoolerOptions]:
    """Take the pooler parameters out of ``dsn`` (asyncpg would send unknown ones to the
    server as settings): ``pooler=transaction``, ``direct_host``, ``direct_port`` and
    ``poll_interval`` (seconds, poll-only mode). Raises ``ValueError`` for bad values."""
    parts = urlsplit(dsn)
    found: dict[str, str] = {}
    kept: list[str] = []
    for part in _query_parts(parts.query):
        key = _part_key(part)
        if key in _POOLER_KEYS:
            found[key] = unquote_plus(part.split("=", 1)[1]) if "=" in part else ""
        else:
            kept.append(part)
    if not found:
        return dsn, PoolerOptions()
    plain = urlunsplit(parts._replace(query="&".join(kept)))
    mode = found.get("pooler") or None
    if mode is not None and mode not in POOLER_MODES:
        raise ValueError(f"unknown pooler mode {mode!r}: use one of {', '.join(POOLER_MODES)}")
    direct = None
    if "direct_host" in found or "direct_port" in found:
        direct = _replace_host(plain, found.get("direct_host"), found.get("direct_port"))
    try:
        poll = float(found.get("poll_interval", DEFAULT_POOLED_POLL_SECONDS))
    except ValueError:
        raise ValueError(
            f"poll_interval must be a number of seconds, not {found['poll_interval']!r}"
        ) from None
    if not 0.01 <= poll <= 60:
        raise ValueError("poll_interval must be between 0.01 and 60 seconds")
    return plain, PoolerOptions(mode, direct, poll)


def _replace_host(dsn: str, host: str | None, port: str | None) -> str:
    parts = urlsplit(dsn)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    old_host, _, old_port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
    if port is not None and not port.isdigit():
        raise ValueError(f"direct_port must be a port number, not {port!r}")
    new = f"{host or old_host}:{port or old_port}" if (port or old_port) else (host or old_host)
    netloc = f"{userinfo}@{new}" if userinfo else new
    return urlunsplit(parts._replace(netloc=netloc))


def connection_settings(dsn: str, **settings: str) -> dict[str, str]:
    """Server settings for the engine's connections: ``application_name`` names the
    process (``hotmesh_temporal[<pid>]``) so operators can tell a worker's connections
    apart in ``pg_stat_activity``, unless the URL names one itself."""
    if "application_name=" not in dsn:
        settings.setdefault("application_name", f"hotmesh_temporal[{os.getpid()}]")
    return settings
