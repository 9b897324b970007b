"""The connection layer under the client. On Temporal it is a gRPC channel; here it is
a Postgres connection pool (opened on first use when ``lazy``), with the same names:
``ServiceClient``, ``ConnectConfig``, ``RPCError`` and ``RPCStatusCode``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar, TypeVar

from hotmesh_temporal._engine.service.connection import open_engine
from hotmesh_temporal._engine.service.engine import Engine
from hotmesh_temporal._engine.service.errors import RPCError, RPCStatusCode
from hotmesh_temporal._engine.service.limits import (
    MEMO_TOO_LARGE,
    MEMO_WARNING,
    InvalidStringError,
    Limits,
    check_name,
    memo_size,
)
from hotmesh_temporal._rpc_services import OperatorService, WorkflowService


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


def _refuse_large_memo(limits: Limits, warn_size: int, fields: Any) -> None:
    """Temporal's memo-size limits on a memo a client sends ({name: Payload JSON}):
    temporalio's warning past ``payload_limits.memo_warn_size``, then the server's
    INVALID_ARGUMENT "Memo size exceeds limit." past the deployment's memo_size_error."""
    if not fields:
        return
    size = memo_size(fields)
    if warn_size and size > warn_size:
        logging.getLogger("hotmesh_temporal").warning(
            "%s size=%d limit=%d", MEMO_WARNING, size, warn_size
        )
    if size > limits.memo_size_error:
        raise _invalid_argument(MEMO_TOO_LARGE)


class ServiceClient:
    """Owns the connection pool of one database schema."""

    def __init__(self, config: ConnectConfig) -> None:
        if not config.identity:
            config.identity = f"{os.getpid()}@{socket.gethostname()}"
        self.config = config
        self._engine_obj: Engine | None = None
        # A client dropped without close() still lets go of its share of the pool
        # (Temporal clients are never closed).
        self._release_on_collect: weakref.finalize | None = None
        self._lock = asyncio.Lock()
        self.workflow_service = WorkflowService(self)
        self.operator_service = OperatorService(self)

    @staticmethod
    async def connect(config: ConnectConfig) -> ServiceClient:
        """Open the database that ``config.target_host`` names (unless ``lazy``)."""
        client = ServiceClient(config)
        if not config.lazy:
            await client._engine()
        return client

    @property
    def worker_service_client(self) -> ServiceClient:
        """The client workers use: the same pool here."""
        return self

    async def _engine(self) -> Engine:
        """The engine's service layer over this connection's database (opened once)."""
        if self._engine_obj is None:
            async with self._lock:
                if self._engine_obj is None:
                    engine = await open_engine(self.config.target_host, self.config.tls)
                    self._release_on_collect = weakref.finalize(
                        self, engine.release_soon, asyncio.get_running_loop()
                    )
                    self._engine_obj = engine
        return self._engine_obj

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
            await (await self._engine()).now()

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
        """Let go of the shared pool, closing it when no other client of this process
        uses it (hotmesh_temporal addition; Temporal's channel has no close)."""
        if self._engine_obj is not None:
            if self._release_on_collect is not None:
                self._release_on_collect.detach()
                self._release_on_collect = None
            engine, self._engine_obj = self._engine_obj, None
            await engine.close()
