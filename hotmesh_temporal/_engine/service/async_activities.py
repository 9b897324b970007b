"""Completing an activity from outside its worker (``activity.raise_complete_async()``).

The worker leaves such an attempt leased; these operations finish it the way the worker
would have, through the same SQL transitions. The attempt is named either by its task
token (task id and attempt, see :func:`activity_worker.task_token`) or by workflow id,
run id and activity id, as Temporal allows. Payloads arrive already encoded by the
client's data converter.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol, Union

from hotmesh_temporal._engine.service.errors import RPCError, RPCStatusCode
from hotmesh_temporal._engine.store.limits import (
    HEARTBEAT_TOO_LARGE,
    RESULT_TOO_LARGE,
    payloads_json_message_size,
    server_failure,
)
from hotmesh_temporal._engine.store.store import Store
from hotmesh_temporal._engine.worker.activity_worker import (
    encode_attempt_failure,
    limit_failure,
    parse_task_token,
)


class ActivityIds(Protocol):
    workflow_id: str | None
    run_id: str | None
    activity_id: str


IdOrToken = Union[ActivityIds, bytes]  # noqa: UP007 (a runtime alias on 3.10)

_NOT_FOUND = "activity not found: it finished, timed out, or its workflow run closed"


class AsyncActivityOperations:
    def __init__(self, store: Store, namespace: str, identity: str) -> None:
        self._store = store
        self._namespace = namespace
        self._identity = identity

    async def complete(self, ref: IdOrToken, result: dict | None) -> None:
        task, attempt = await self._attempt(ref)
        if payloads_json_message_size(result) > self._store.limits.blob_size_error:
            # The server takes the call and fails the activity for good.
            await self._fail_for_size(task, attempt, RESULT_TOO_LARGE)
            return
        reply = await self._store.fetchval(
            "complete_activity_task", task, attempt, result, self._identity, self._identity, False
        )
        _check(reply)

    async def fail(self, ref: IdOrToken, error: BaseException, data_converter: Any) -> None:
        task, attempt = await self._attempt(ref)
        failure, error_type, non_retryable, next_delay = limit_failure(
            self._store.limits, *await encode_attempt_failure(data_converter, error)
        )
        reply = await self._store.fetchval(
            "fail_activity_task",
            task,
            attempt,
            failure,
            error_type,
            non_retryable,
            next_delay,
            self._identity,
            self._identity,
            False,
        )
        _check(reply)

    async def heartbeat(self, ref: IdOrToken, details: dict | None) -> bool:
        """Record a heartbeat; True when the workflow has asked for cancellation (or
        the details were over the blob limit: the server fails the activity then)."""
        task, attempt = await self._attempt(ref)
        if payloads_json_message_size(details) > self._store.limits.blob_size_error:
            await self._fail_for_size(task, attempt, HEARTBEAT_TOO_LARGE)
            return True
        state = await self._store.fetchval("heartbeat_activity_task", task, attempt, details)
        if state == "gone":
            raise RPCError(_NOT_FOUND, RPCStatusCode.NOT_FOUND, b"")
        return state == "cancel"

    async def _fail_for_size(self, task: int, attempt: int, message: str) -> None:
        reply = await self._store.fetchval(
            "fail_activity_task",
            task,
            attempt,
            server_failure(message),
            "",
            True,
            None,
            self._identity,
            self._identity,
            False,
        )
        _check(reply)

    async def report_cancellation(self, ref: IdOrToken, details: dict | None) -> None:
        task, attempt = await self._attempt(ref)
        reply = await self._store.fetchval(
            "cancel_activity_task", task, attempt, details, self._identity, self._identity, False
        )
        _check(reply)

    async def _attempt(self, ref: IdOrToken) -> tuple[int, int]:
        if isinstance(ref, (bytes, bytearray)):
            try:
                return parse_task_token(bytes(ref))
            except (UnicodeDecodeError, ValueError) as err:
                raise RPCError("invalid task token", RPCStatusCode.INVALID_ARGUMENT, b"") from err
        run_id = ref.run_id or None
        if ref.workflow_id is None and run_id is None:
            # A standalone activity's task is found by its run id: the latest run's.
            run_id = await self._store.fetchval(
                "standalone_activity_run", self._namespace, ref.activity_id
            )
        found = await self._store.fetchval(
            "activity_attempt_by_ids",
            self._namespace,
            ref.workflow_id or "",
            uuid.UUID(str(run_id)) if run_id else None,
            ref.activity_id,
        )
        if found is None:
            raise RPCError(_NOT_FOUND, RPCStatusCode.NOT_FOUND, b"")
        return found["task"], found["attempt"]


def _check(reply: dict | None) -> None:
    if not reply or reply.get("status") == "not_found":
        raise RPCError(_NOT_FOUND, RPCStatusCode.NOT_FOUND, b"")
