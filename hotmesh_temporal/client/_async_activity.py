"""``client.AsyncActivityHandle``: finish an activity that called
``activity.raise_complete_async()``, from anywhere that has a client. Re-exported by
``hotmesh_temporal.client``; the work is done by ``_engine.async_activities``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import hotmesh_temporal.common
import hotmesh_temporal.exceptions
from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal._engine.service.async_activities import AsyncActivityOperations
from hotmesh_temporal.activity import ActivityCancellationDetails
from hotmesh_temporal.client._interceptor import (
    CompleteAsyncActivityInput,
    FailAsyncActivityInput,
    HeartbeatAsyncActivityInput,
    ReportCancellationAsyncActivityInput,
)
from hotmesh_temporal.converter import StorageDriverActivityInfo, StorageDriverWorkflowInfo

if TYPE_CHECKING:
    from hotmesh_temporal.client._client import Client
    from hotmesh_temporal.converter import DataConverter, SerializationContext


@dataclass(frozen=True)
class AsyncActivityIDReference:
    """An activity named by its workflow id, run id (None: the current run) and id."""

    workflow_id: str | None
    run_id: str | None
    activity_id: str


class AsyncActivityCancelledError(hotmesh_temporal.exceptions.TemporalError):
    """A heartbeat found that the activity was asked to cancel."""

    def __init__(self, details: ActivityCancellationDetails | None = None) -> None:
        super().__init__("Activity cancelled")
        self.details = details


class AsyncActivityHandle:
    """Heartbeat, complete, fail or report the cancellation of an async activity."""

    def __init__(
        self,
        client: Client,
        id_or_token: AsyncActivityIDReference | bytes,
        data_converter_override: DataConverter | None = None,
    ) -> None:
        self._client = client
        self._id_or_token = id_or_token
        self._data_converter_override = data_converter_override

    def with_context(self, context: SerializationContext) -> AsyncActivityHandle:
        """A handle whose outbound payloads use the client's data converter bound to
        ``context`` (typically the activity's :py:class:`ActivitySerializationContext`,
        matching what the activity's own payloads were converted with)."""
        data_converter = self._client.data_converter.with_context(context)
        if data_converter is self._client.data_converter:
            return self
        cls = type(self)
        if cls.__init__ is not AsyncActivityHandle.__init__:
            raise TypeError(
                "If you have subclassed AsyncActivityHandle and overridden the __init__ "
                "method then you must override with_context to return an instance of your class."
            )
        return cls(self._client, self._id_or_token, data_converter)

    async def heartbeat(
        self,
        *details: Any,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        await self._client._impl.heartbeat_async_activity(
            HeartbeatAsyncActivityInput(
                id_or_token=self._id_or_token,
                details=details,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
                data_converter_override=self._data_converter_override,
            )
        )

    async def complete(
        self,
        result: Any | None = hotmesh_temporal.common._arg_unset,
        *,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        await self._client._impl.complete_async_activity(
            CompleteAsyncActivityInput(
                id_or_token=self._id_or_token,
                result=result,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
                data_converter_override=self._data_converter_override,
            )
        )

    async def fail(
        self,
        error: Exception,
        *,
        last_heartbeat_details: Sequence[Any] = [],
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        await self._client._impl.fail_async_activity(
            FailAsyncActivityInput(
                id_or_token=self._id_or_token,
                error=error,
                last_heartbeat_details=last_heartbeat_details,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
                data_converter_override=self._data_converter_override,
            )
        )

    async def report_cancellation(
        self,
        *details: Any,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        await self._client._impl.report_cancellation_async_activity(
            ReportCancellationAsyncActivityInput(
                id_or_token=self._id_or_token,
                details=details,
                rpc_metadata=rpc_metadata,
                rpc_timeout=rpc_timeout,
                data_converter_override=self._data_converter_override,
            )
        )


def async_activity_handle(
    client: Client,
    workflow_id: str | None,
    run_id: str | None,
    activity_id: str | None,
    task_token: bytes | None,
) -> AsyncActivityHandle:
    """``Client.get_async_activity_handle``: a task token alone, or ids."""
    if task_token is not None:
        if workflow_id is not None or run_id is not None or activity_id is not None:
            raise ValueError("Task token cannot be present with other IDs")
        return AsyncActivityHandle(client, task_token)
    if workflow_id is not None:
        if activity_id is None:
            raise ValueError("Workflow ID, run ID, and activity ID must all be given together")
        return AsyncActivityHandle(
            client, AsyncActivityIDReference(workflow_id, run_id, activity_id)
        )
    if activity_id is not None:
        # A standalone activity (started by Client.start_activity): no workflow id.
        return AsyncActivityHandle(client, AsyncActivityIDReference(None, run_id, activity_id))
    raise ValueError("Task token or workflow/run/activity ID must be present")


class AsyncActivityCalls:
    """The innermost client link's async-activity operations (mixed into _ClientImpl)."""

    _client: Client

    async def _async_activity_ops(self) -> AsyncActivityOperations:
        engine = await self._client._engine()
        return engine.async_activity_operations(self._client.namespace, self._client.identity)

    def _converter(
        self, override: DataConverter | None, id_or_token: AsyncActivityIDReference | bytes
    ) -> DataConverter:
        converter = override or self._client.data_converter
        return converter._with_store_target(self._store_target(id_or_token))

    def _store_target(
        self, id_or_token: AsyncActivityIDReference | bytes
    ) -> StorageDriverActivityInfo | StorageDriverWorkflowInfo | None:
        """Whom external storage stores on behalf of, as temporalio names it: the
        activity's workflow (or the activity when it has none); nobody for a task token."""
        if not isinstance(id_or_token, AsyncActivityIDReference):
            return None
        namespace = self._client.namespace
        if id_or_token.workflow_id:
            return StorageDriverWorkflowInfo(
                namespace=namespace, id=id_or_token.workflow_id, run_id=id_or_token.run_id or None
            )
        return StorageDriverActivityInfo(
            namespace=namespace, id=id_or_token.activity_id, run_id=id_or_token.run_id or None
        )

    async def _encoded(
        self,
        values: Sequence[Any],
        override: DataConverter | None,
        id_or_token: AsyncActivityIDReference | bytes,
    ) -> Any:
        if not values:
            return None
        return h.payloads(await self._converter(override, id_or_token).encode(list(values)))

    async def heartbeat_async_activity(self, input: HeartbeatAsyncActivityInput) -> None:
        details = await self._encoded(
            input.details, input.data_converter_override, input.id_or_token
        )
        ops = await self._async_activity_ops()
        if await ops.heartbeat(input.id_or_token, details):
            raise AsyncActivityCancelledError(
                details=ActivityCancellationDetails(cancel_requested=True)
            )

    async def complete_async_activity(self, input: CompleteAsyncActivityInput) -> None:
        unset = input.result is hotmesh_temporal.common._arg_unset
        result = (
            None
            if unset
            else await self._encoded(
                [input.result], input.data_converter_override, input.id_or_token
            )
        )
        await (await self._async_activity_ops()).complete(input.id_or_token, result)

    async def fail_async_activity(self, input: FailAsyncActivityInput) -> None:
        ops = await self._async_activity_ops()
        if input.last_heartbeat_details:
            details = await self._encoded(
                input.last_heartbeat_details, input.data_converter_override, input.id_or_token
            )
            await ops.heartbeat(input.id_or_token, details)
        await ops.fail(
            input.id_or_token,
            input.error,
            self._converter(input.data_converter_override, input.id_or_token),
        )

    async def report_cancellation_async_activity(
        self, input: ReportCancellationAsyncActivityInput
    ) -> None:
        details = await self._encoded(
            input.details, input.data_converter_override, input.id_or_token
        )
        await (await self._async_activity_ops()).report_cancellation(input.id_or_token, details)
