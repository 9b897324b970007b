"""The connection layer under the client. On Temporal it is a gRPC channel; here it is
a Postgres connection pool (opened on first use when ``lazy``), with the same names:
``ServiceClient``, ``ConnectConfig``, ``RPCError`` and ``RPCStatusCode``.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from enum import IntEnum
from typing import Any, Mapping, Optional, Union

from hotmesh_temporal._engine.dsn import resolve_target
from hotmesh_temporal.exceptions import TemporalError
from hotmesh_temporal._engine.store import DatabaseUnavailableError, Store
from hotmesh_temporal._engine.waiter import CloseWaiter, KeyedWaiter


class RPCStatusCode(IntEnum):
    """gRPC status codes, used here for errors of the same meaning."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class RPCError(TemporalError):
    """A request failed: not found, invalid argument, database unavailable..."""

    def __init__(self, message: str, status: RPCStatusCode, raw_grpc_status: bytes) -> None:
        super().__init__(message)
        self._message = message
        self._status = status
        self._raw_grpc_status = raw_grpc_status

    @property
    def message(self) -> str:
        return self._message

    @property
    def status(self) -> RPCStatusCode:
        return self._status

    @property
    def raw_grpc_status(self) -> bytes:
        return self._raw_grpc_status

    @property
    def grpc_status(self) -> Any:
        return None


@dataclass
class TLSConfig:
    """TLS settings of a Temporal connection: accepted (``Client.connect(tls=...)``,
    ``envconfig``) and unused; TLS to Postgres is configured in the DSN
    (``?sslmode=verify-full&sslrootcert=...``)."""

    server_root_ca_cert: Optional[bytes] = None
    domain: Optional[str] = None
    client_cert: Optional[bytes] = None
    client_private_key: Optional[bytes] = None
    verification_server_name: Optional[str] = None


@dataclass
class ConnectConfig:
    """How to reach the database (``target_host``) plus accepted gRPC-only options."""

    target_host: str
    api_key: Optional[str] = None
    tls: Any = None
    retry_config: Any = None
    keep_alive_config: Any = None
    rpc_metadata: Mapping[str, Union[str, bytes]] = field(default_factory=dict)
    identity: str = ""
    lazy: bool = False
    runtime: Any = None
    http_connect_proxy_config: Any = None
    dns_load_balancing_config: Any = None
    grpc_compression: Any = None
    payload_limits: Any = None
    connect_timeout: Optional[timedelta] = None


class ServiceClient:
    """Owns the connection pool of one database schema."""

    def __init__(self, config: ConnectConfig) -> None:
        if not config.identity:
            config.identity = f"{os.getpid()}@{socket.gethostname()}"
        self.config = config
        self._store_obj: Optional[Store] = None
        self._lock = asyncio.Lock()
        self._waiter: Optional[CloseWaiter] = None
        self._answers: Optional[KeyedWaiter] = None

    @staticmethod
    async def connect(target_host: Union[str, ConnectConfig], **kwargs: Any) -> "ServiceClient":
        config = target_host if isinstance(target_host, ConnectConfig) else ConnectConfig(
            target_host=target_host,
            **{k: v for k, v in kwargs.items() if k in ConnectConfig.__dataclass_fields__},
        )
        client = ServiceClient(config)
        if not config.lazy:
            await client._store()
        return client

    async def _store(self) -> Store:
        if self._store_obj is None:
            async with self._lock:
                if self._store_obj is None:
                    dsn = await resolve_target(self.config.target_host)
                    try:
                        self._store_obj = await Store.open(dsn)
                    except DatabaseUnavailableError as err:
                        raise RPCError(str(err), RPCStatusCode.UNAVAILABLE, b"") from err
        return self._store_obj

    def _close_waiter(self, store: Store) -> CloseWaiter:
        if self._waiter is None:
            self._waiter = CloseWaiter(store)
        return self._waiter

    def _answer_waiter(self, store: Store) -> KeyedWaiter:
        if self._answers is None:
            self._answers = KeyedWaiter(store, "r")
        return self._answers

    async def check_health(self, **kwargs: Any) -> bool:
        """True when the database answers."""
        store = await self._store()
        await store.fetchval("now")
        return True

    async def update_rpc_metadata(self, metadata: Mapping[str, Union[str, bytes]]) -> None:
        self.config.rpc_metadata = metadata

    async def update_api_key(self, api_key: Optional[str]) -> None:
        self.config.api_key = api_key

    async def close(self) -> None:
        """Close the pool (hotmesh_temporal addition; Temporal's channel has no close)."""
        if self._store_obj is not None:
            await self._store_obj.close()
            self._store_obj = None
