"""The connection layer under the client. On Temporal it is a gRPC channel; here it is
a Postgres connection pool (opened on first use when ``lazy``), with the same names:
``ServiceClient``, ``ConnectConfig``, ``RPCError`` and ``RPCStatusCode``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import IntEnum
from typing import Any, ClassVar, TypeVar

from hotmesh_temporal._engine.store.dsn import resolve_target
from hotmesh_temporal._engine.store.limits import InvalidStringError, Limits, check_name
from hotmesh_temporal._engine.store.store import DatabaseUnavailableError, Store
from hotmesh_temporal._engine.store.tls import tls_context
from hotmesh_temporal._engine.store.waiter import CloseWaiter, KeyedWaiter, UpdateWaiter
from hotmesh_temporal.exceptions import TemporalError


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
        self._grpc_status: Any = None

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
        """The call's status (``api.common.v1.GrpcStatus``: ``code``, ``message``,
        ``details``): decoded from ``raw_grpc_status``, or, for the errors this package
        raises (no raw status), made of the error's status code and message."""
        if self._grpc_status is None:
            from hotmesh_temporal.api.common.v1 import GrpcStatus

            if self._raw_grpc_status:
                self._grpc_status = GrpcStatus.FromString(self._raw_grpc_status)
            else:
                self._grpc_status = GrpcStatus(code=int(self._status), message=self._message)
        return self._grpc_status


@dataclass
class TLSConfig:
    """TLS to the database: ``server_root_ca_cert`` verifies the server, and
    ``client_cert`` with ``client_private_key`` authenticates this client (PEM bytes).
    ``domain`` and ``verification_server_name`` are accepted; the server name checked is
    the DSN's host."""

    server_root_ca_cert: bytes | None = None
    domain: str | None = None
    client_cert: bytes | None = None
    client_private_key: bytes | None = None
    verification_server_name: str | None = None


@dataclass
class RetryConfig:
    """Accepted for compatibility: connections to Postgres are retried by the pool."""

    initial_interval_millis: int = 100
    randomization_factor: float = 0.2
    multiplier: float = 1.5
    max_interval_millis: int = 5000
    max_elapsed_time_millis: int | None = 10000
    max_retries: int = 10


@dataclass(frozen=True)
class KeepAliveConfig:
    """Accepted for compatibility (a gRPC keep-alive setting)."""

    interval_millis: int = 30000
    timeout_millis: int = 15000
    default: ClassVar[KeepAliveConfig]


KeepAliveConfig.default = KeepAliveConfig()


@dataclass(frozen=True)
class HttpConnectProxyConfig:
    """Accepted for compatibility (an HTTP CONNECT proxy for gRPC)."""

    target_host: str
    basic_auth: tuple[str, str] | None = None


@dataclass(frozen=True)
class DnsLoadBalancingConfig:
    """Accepted for compatibility (gRPC DNS round-robin)."""

    resolution_interval_millis: int = 30000
    default: ClassVar[DnsLoadBalancingConfig]


DnsLoadBalancingConfig.default = DnsLoadBalancingConfig()


class GrpcCompression:
    """Accepted for compatibility: ``GrpcCompression.NONE`` or ``GrpcCompression.GZIP``."""

    NONE: ClassVar[GrpcCompression]
    GZIP: ClassVar[GrpcCompression]

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"GrpcCompression.{self._name.upper()}"


GrpcCompression.NONE = GrpcCompression("none")
GrpcCompression.GZIP = GrpcCompression("gzip")


@dataclass(frozen=True)
class PayloadLimitsConfig:
    """Sizes above which payloads and memos log a warning (0 disables)."""

    payloads_warn_size: int = 512 * 1024
    memo_warn_size: int = 2 * 1024


@dataclass
class ConnectConfig:
    """How to reach the database (``target_host``); ``tls`` turns on verified TLS."""

    target_host: str
    api_key: str | None = None
    tls: bool | TLSConfig | None = None
    retry_config: RetryConfig | None = None
    keep_alive_config: KeepAliveConfig | None = KeepAliveConfig.default
    rpc_metadata: Mapping[str, str | bytes] = field(default_factory=dict)
    identity: str = ""
    lazy: bool = False
    runtime: Any = None
    http_connect_proxy_config: HttpConnectProxyConfig | None = None
    dns_load_balancing_config: DnsLoadBalancingConfig | None = None
    grpc_compression: GrpcCompression = GrpcCompression.GZIP
    payload_limits: PayloadLimitsConfig = field(default_factory=PayloadLimitsConfig)
    connect_timeout: timedelta | None = None

    def __post_init__(self) -> None:
        if not self.identity:
            self.identity = f"{os.getpid()}@{socket.gethostname()}"


# temporalio's type variables for raw service calls (kept for imports that name them).
ServiceRequest = TypeVar("ServiceRequest")
ServiceResponse = TypeVar("ServiceResponse")

logger = logging.getLogger(__name__)

# temporalio logs every request and response protobuf when this is True; there are no
# protobufs on the wire here, so it has no effect.
LOG_PROTOS = False


def _invalid_argument(message: str) -> RPCError:
    """The error for input the server (here: Postgres) cannot take, before any SQL."""
    return RPCError(message, RPCStatusCode.INVALID_ARGUMENT, b"")


def _refuse_bad_names(limits: Limits, **names: str) -> None:
    """Ids and names as the server checks them (UTF-8 bytes against the deployment's
    max_id_length, with its messages), plus what Postgres cannot store (NUL, lone
    surrogates): INVALID_ARGUMENT before any SQL. Keywords are the kinds of
    ``limits.check_name`` (WorkflowId, TaskQueue, ...)."""
    for kind, value in names.items():
        try:
            check_name(kind, value, limits)
        except InvalidStringError as err:
            raise _invalid_argument(str(err)) from None


class ServiceClient:
    """Owns the connection pool of one database schema."""

    def __init__(self, config: ConnectConfig) -> None:
        if not config.identity:
            config.identity = f"{os.getpid()}@{socket.gethostname()}"
        self.config = config
        self._store_obj: Store | None = None
        self._lock = asyncio.Lock()
        self._waiter: CloseWaiter | None = None
        self._answers: KeyedWaiter | None = None
        self._updates: UpdateWaiter | None = None

    @staticmethod
    async def connect(config: ConnectConfig) -> ServiceClient:
        """Open the database that ``config.target_host`` names (unless ``lazy``)."""
        client = ServiceClient(config)
        if not config.lazy:
            await client._store()
        return client

    @property
    def worker_service_client(self) -> ServiceClient:
        """The client workers use: the same pool here."""
        return self

    async def _store(self) -> Store:
        if self._store_obj is None:
            async with self._lock:
                if self._store_obj is None:
                    dsn = await resolve_target(self.config.target_host)
                    try:
                        store = await Store.open(dsn, ssl=tls_context(self.config.tls))
                    except DatabaseUnavailableError as err:
                        raise RPCError(str(err), RPCStatusCode.UNAVAILABLE, b"") from err
                    store.refuse_invalid = _invalid_argument
                    self._store_obj = store
        return self._store_obj

    def _close_waiter(self, store: Store) -> CloseWaiter:
        if self._waiter is None:
            self._waiter = CloseWaiter(store)
        return self._waiter

    def _answer_waiter(self, store: Store) -> KeyedWaiter:
        if self._answers is None:
            self._answers = KeyedWaiter(store, "r")
        return self._answers

    def _update_waiter(self, store: Store) -> UpdateWaiter:
        """Waits on 'u|<update row id>|...': an update changed state."""
        if self._updates is None:
            self._updates = UpdateWaiter(store)
        return self._updates

    async def check_health(
        self,
        *,
        service: str = "temporal.api.workflowservice.v1.WorkflowService",
        retry: bool = False,
        metadata: Mapping[str, str | bytes] = {},
        timeout: timedelta | None = None,
    ) -> bool:
        """True when the database answers; a database that cannot be reached raises
        RPCError UNAVAILABLE (``timeout`` bounds the wait)."""

        async def ping() -> None:
            store = await self._store()
            await store.fetchval("now")

        try:
            await asyncio.wait_for(ping(), timeout.total_seconds() if timeout else None)
        except asyncio.TimeoutError as err:
            raise RPCError("health check timed out", RPCStatusCode.DEADLINE_EXCEEDED, b"") from err
        except OSError as err:
            raise RPCError(f"database unavailable: {err}", RPCStatusCode.UNAVAILABLE, b"") from err
        return True

    def update_rpc_metadata(self, metadata: Mapping[str, str | bytes]) -> None:
        self.config.rpc_metadata = metadata

    def update_api_key(self, api_key: str | None) -> None:
        self.config.api_key = api_key

    async def close(self) -> None:
        """Close the pool (hotmesh_temporal addition; Temporal's channel has no close)."""
        if self._store_obj is not None:
            await self._store_obj.close()
            self._store_obj = None
