"""The errors a call to the engine raises, with temporalio's public names.

``RPCError`` and ``RPCStatusCode`` are public in ``hotmesh_temporal.service`` (as in
``temporalio.service``); they are defined here, below the public modules, so that the
service layer can raise them without importing a public module.
"""

from __future__ import annotations

from collections.abc import Awaitable
from enum import IntEnum
from typing import Any, TypeVar

from hotmesh_temporal._engine.store.store import DATABASE_GONE_ERRORS
from hotmesh_temporal.api.common.v1 import GrpcStatus
from hotmesh_temporal.exceptions import TemporalError

T = TypeVar("T")


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
            if self._raw_grpc_status:
                self._grpc_status = GrpcStatus.FromString(self._raw_grpc_status)
            else:
                self._grpc_status = GrpcStatus(code=int(self._status), message=self._message)
        return self._grpc_status


# Their public home (repr, pickling, error reports name it).
RPCStatusCode.__module__ = RPCError.__module__ = "hotmesh_temporal.service"


async def call(awaitable: Awaitable[T]) -> T:
    """Run one engine call, turning a lost database into a clear RPCError."""
    try:
        return await awaitable
    except DATABASE_GONE_ERRORS as err:
        raise RPCError(f"database unavailable: {err}", RPCStatusCode.UNAVAILABLE, b"") from err
