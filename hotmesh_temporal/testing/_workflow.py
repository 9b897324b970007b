"""``WorkflowEnvironment``: a place to run workflows in tests, with temporalio's API.

Temporal's environments download and start a server binary. Here an environment is a
fresh Postgres schema: ``HOTMESH_DSN`` if set, else the local Postgres on
127.0.0.1:5432, else an embedded Postgres. Every environment gets its own schema
(dropped on :meth:`WorkflowEnvironment.shutdown`), so environments alive at the same
time, in one process or many, never see each other's workflows. The ``dev_server_*``,
``test_server_*``, ``ip``, ``port``, ``ui`` and download options configure Temporal's
binaries and are accepted and ignored.

The time-skipping environment moves the schema's clock (see
``hotmesh_temporal/_engine/timeskip.py``): while a result of this environment's
client is awaited, or during :meth:`WorkflowEnvironment.sleep`, time jumps to the
next deadline whenever no workflow or activity task can run.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import hotmesh_temporal.client
import hotmesh_temporal.common
import hotmesh_temporal.converter
import hotmesh_temporal.exceptions
import hotmesh_temporal.worker
from hotmesh_temporal._engine.service.connection import (
    drop_schema,
    resolve_target,
    split_schema,
    with_schema,
)
from hotmesh_temporal._engine.worker.timeskip import TimeSkipper as _Clock
from hotmesh_temporal._engine.worker.timeskip import TimeSkippingCloseWaiter
from hotmesh_temporal.common import QueryRejectCondition
from hotmesh_temporal.converter import DataConverter

logger = logging.getLogger("hotmesh_temporal.testing")

# What start_local/start_time_skipping connect to when no DSN is given: resolve_target
# maps a Temporal-style address to HOTMESH_DSN, the local Postgres or an embedded one.
_DEFAULT_TARGET = "localhost:7233"


@dataclass(frozen=True)
class FastForwardConfig:
    """Accepted for temporalio's API (time-skipping V2 is not supported here)."""

    id: str
    duration: timedelta


@dataclass(frozen=True)
class TimeSkippingConfig:
    """Accepted for temporalio's API (time-skipping V2 is not supported here)."""

    enabled: bool = True
    fast_forward_config: FastForwardConfig | None = None
    disable_propagation: bool = False
    max_session_skip_count: int = 0


_V2_UNSUPPORTED = (
    "time-skipping V2 (a virtual clock per workflow) is not supported by hotmesh_temporal; "
    "use WorkflowEnvironment.start_time_skipping(), whose clock is shared by the environment"
)


class TimeSkipper:
    """temporalio's V2 per-workflow time skipper: not supported here (one clock per
    environment instead, see ``WorkflowEnvironment.start_time_skipping``)."""

    def __init__(self, client: Any, *, config: TimeSkippingConfig = TimeSkippingConfig()) -> None:
        raise NotImplementedError(_V2_UNSUPPORTED)

    # temporalio's members, for the API's shape: an instance cannot be created.
    @property
    def client(self) -> hotmesh_temporal.client.Client:
        raise NotImplementedError(_V2_UNSUPPORTED)

    @property
    def config(self) -> TimeSkippingConfig:
        raise NotImplementedError(_V2_UNSUPPORTED)

    @config.setter
    def config(self, value: TimeSkippingConfig) -> None:
        raise NotImplementedError(_V2_UNSUPPORTED)

    async def fast_forward(
        self,
        handle: hotmesh_temporal.client.WorkflowHandle,
        duration: timedelta | float | None = None,
        /,
    ) -> bool:
        raise NotImplementedError(_V2_UNSUPPORTED)

    async def get_time_skipping_info(self, handle: hotmesh_temporal.client.WorkflowHandle) -> Any:
        raise NotImplementedError(_V2_UNSUPPORTED)

    async def get_current_time(self, handle: hotmesh_temporal.client.WorkflowHandle) -> datetime:
        raise NotImplementedError(_V2_UNSUPPORTED)

    @contextmanager
    def with_time_skipping_disabled(self) -> Iterator[None]:
        raise NotImplementedError(_V2_UNSUPPORTED)
        yield None  # unreachable: makes this a generator for @contextmanager


class WorkflowEnvironment:
    """Runs workflows for tests; use :meth:`start_local`, :meth:`start_time_skipping`
    or :meth:`from_client`, then :attr:`client`. An async context manager that calls
    :meth:`shutdown` on exit. Workflows run by workers built on this environment's
    client fail (instead of retrying their task) on an ``assert`` that fails.
    """

    @classmethod
    def from_client(cls, client: hotmesh_temporal.client.Client) -> WorkflowEnvironment:
        """An environment on an existing client: no time skipping, nothing to shut down."""
        return cls(_client_with_interceptors(client, _AssertionErrorInterceptor()))

    @classmethod
    async def start_local(
        cls,
        *,
        namespace: str = "default",
        data_converter: DataConverter = DataConverter.default,
        interceptors: Sequence[Any] = [],
        plugins: Sequence[Any] = [],
        default_workflow_query_reject_condition: QueryRejectCondition | None = None,
        retry_config: Any = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        identity: str | None = None,
        tls: Any = False,
        ip: str = "127.0.0.1",
        port: int | None = None,
        download_dest_dir: str | None = None,
        ui: bool = False,
        runtime: Any = None,
        search_attributes: Sequence[Any] = (),
        dev_server_existing_path: str | None = None,
        dev_server_database_filename: str | None = None,
        dev_server_log_format: str = "pretty",
        dev_server_log_level: str | None = "warn",
        dev_server_download_version: str = "default",
        dev_server_extra_args: Sequence[str] = [],
        dev_server_download_ttl: timedelta | None = None,
        dev_server_startup_timeout: timedelta | None = None,
        ui_port: int | None = None,
    ) -> WorkflowEnvironment:
        """A fresh schema of the default database (``HOTMESH_DSN``, else the local
        Postgres, else an embedded one). Real time: no time skipping. The dev-server
        options (``ip``, ``port``, ``ui``, ``dev_server_*``, downloads) are ignored.
        """
        return await _SchemaEnvironment._create(
            None,
            time_skipping=False,
            namespace=namespace,
            data_converter=data_converter,
            interceptors=interceptors,
            plugins=plugins,
            default_workflow_query_reject_condition=default_workflow_query_reject_condition,
            rpc_metadata=rpc_metadata,
            identity=identity,
            runtime=runtime,
        )

    @classmethod
    async def start_time_skipping(
        cls,
        *,
        data_converter: DataConverter = DataConverter.default,
        interceptors: Sequence[Any] = [],
        plugins: Sequence[Any] = [],
        default_workflow_query_reject_condition: QueryRejectCondition | None = None,
        retry_config: Any = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        identity: str | None = None,
        port: int | None = None,
        download_dest_dir: str | None = None,
        runtime: Any = None,
        test_server_existing_path: str | None = None,
        test_server_download_version: str = "default",
        test_server_extra_args: Sequence[str] = [],
        test_server_download_ttl: timedelta | None = None,
        test_server_startup_timeout: timedelta | None = None,
    ) -> WorkflowEnvironment:
        """Like :meth:`start_local` (namespace ``default``), with a virtual clock:
        awaiting a workflow result of :attr:`client` skips time to the next deadline
        whenever nothing else can run; :meth:`sleep` advances it. The clock belongs
        to the environment (its schema), not to one workflow. ``test_server_*``,
        ``port`` and download options are ignored.
        """
        return await _SchemaEnvironment._create(
            None,
            time_skipping=True,
            data_converter=data_converter,
            interceptors=interceptors,
            plugins=plugins,
            default_workflow_query_reject_condition=default_workflow_query_reject_condition,
            rpc_metadata=rpc_metadata,
            identity=identity,
            runtime=runtime,
        )

    @classmethod
    async def start_time_skipping_v2(
        cls, *, ts_config: TimeSkippingConfig = TimeSkippingConfig(), **kwargs: Any
    ) -> WorkflowEnvironment:
        """Not supported: raises ``NotImplementedError`` (use start_time_skipping)."""
        raise NotImplementedError(_V2_UNSUPPORTED)

    def __init__(self, client: hotmesh_temporal.client.Client) -> None:
        self._client = client

    async def __aenter__(self) -> WorkflowEnvironment:
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self.shutdown()

    @property
    def client(self) -> hotmesh_temporal.client.Client:
        """The client of this environment."""
        return self._client

    async def connect_client(self, **kwargs: Any) -> hotmesh_temporal.client.Client:
        """Another client on this environment's database and schema; ``kwargs`` go
        to ``Client.connect`` and override the environment client's namespace and
        credentials. Awaiting its results does not skip time."""
        config = self.client.service_client.config
        options: dict = {
            "namespace": self.client.namespace,
            "api_key": config.api_key,
            "tls": config.tls,
            "rpc_metadata": config.rpc_metadata,
            "runtime": config.runtime,
        }
        options.update(kwargs)
        return await hotmesh_temporal.client.Client.connect(config.target_host, **options)

    async def shutdown(self) -> None:
        """Shut the environment down (nothing to do for :meth:`from_client`)."""

    async def sleep(self, duration: timedelta | float) -> None:
        """Sleep ``duration``: real time here, virtual time in a time-skipping one."""
        await asyncio.sleep(_seconds(duration))

    async def get_current_time(
        self, handle: hotmesh_temporal.client.WorkflowHandle | None = None
    ) -> datetime:
        """The environment's current time (the virtual clock when time skips)."""
        return datetime.now(timezone.utc)

    @property
    def supports_time_skipping_v1(self) -> bool:
        return False

    @property
    def supports_time_skipping_v2(self) -> bool:
        return False

    @property
    def supports_time_skipping(self) -> bool:
        """True for :meth:`start_time_skipping` environments."""
        return self.supports_time_skipping_v1 or self.supports_time_skipping_v2

    async def create_nexus_endpoint(self, endpoint_name: str, task_queue: str) -> Any:
        """Not supported: Nexus is not implemented by hotmesh_temporal."""
        raise NotImplementedError("Nexus endpoints are not supported by hotmesh_temporal")

    async def delete_nexus_endpoint(self, endpoint: Any) -> None:
        """Not supported: Nexus is not implemented by hotmesh_temporal."""
        raise NotImplementedError("Nexus endpoints are not supported by hotmesh_temporal")

    @contextmanager
    def auto_time_skipping_disabled(self) -> Iterator[None]:
        """Within the block, awaiting results does not skip time (no-op without
        time skipping)."""
        yield None

    async def fast_forward(
        self,
        handle: hotmesh_temporal.client.WorkflowHandle,
        duration: timedelta | float | None = None,
        /,
    ) -> bool:
        """Time-skipping V2 only: raises ``RuntimeError`` here, as temporalio does
        outside V2 environments (use :meth:`sleep`)."""
        raise RuntimeError(
            "fast_forward requires a time-skipping V2 environment, which hotmesh_temporal "
            "does not provide; use env.sleep() in a start_time_skipping() environment"
        )

    @contextmanager
    def with_time_skipping_disabled(self) -> Iterator[None]:
        """Time-skipping V2 only; a no-op here, as on temporalio's other environments."""
        yield None

    async def get_time_skipping_info(self, handle: hotmesh_temporal.client.WorkflowHandle) -> Any:
        """Time-skipping V2 only: raises ``RuntimeError`` here."""
        raise RuntimeError(
            "get_time_skipping_info requires a time-skipping V2 environment, which "
            "hotmesh_temporal does not provide"
        )


class _SchemaEnvironment(WorkflowEnvironment):
    """An environment on one schema (dropped on shutdown when the environment made
    it) that, when time skips, owns the schema's clock."""

    def __init__(
        self,
        client: hotmesh_temporal.client.Client,
        base_dsn: str,
        schema: str | None,
        skipper: _Clock | None,
    ) -> None:
        super().__init__(client)
        self._base_dsn = base_dsn
        self._schema = schema
        self._skipper = skipper
        self._closed = False

    @classmethod
    async def _create(
        cls, dsn: str | None, *, time_skipping: bool, **client_options: Any
    ) -> _SchemaEnvironment:
        """Connect a client to a new schema of the default database (``dsn`` None),
        or to the schema ``dsn`` names, which then outlives the environment (the
        test suite's fixtures use that)."""
        if dsn is None:
            base, _ = split_schema(await resolve_target(_DEFAULT_TARGET))
            schema, owned = f"hm_env_{secrets.token_hex(6)}", True
        else:
            (base, schema), owned = split_schema(dsn), False
        options = dict(client_options)
        options["interceptors"] = [*options.get("interceptors", []), _AssertionErrorInterceptor()]
        client = await hotmesh_temporal.client.Client.connect(with_schema(base, schema), **options)
        skipper = None
        if time_skipping:
            service = client.service_client
            engine = await service._engine()
            # Workers of other processes on this schema announce their queues (schema/0006).
            await engine.start_skipping_time()
            skipper = _Clock(engine.store)
            # Results of this client are awaited through this waiter: it unlocks time.
            engine.replace_close_waiter(TimeSkippingCloseWaiter(engine.store, skipper))
        return cls(client, base, schema if owned else None, skipper)

    async def shutdown(self) -> None:
        """Stop skipping time, close the client and drop the environment's schema."""
        if self._closed:
            return
        self._closed = True
        if self._skipper is not None:
            await self._skipper.close()
        await self._client.service_client.close()
        if self._schema is not None:
            await _drop_schema(self._base_dsn, self._schema)

    async def sleep(self, duration: timedelta | float) -> None:
        if self._skipper is None:
            await super().sleep(duration)
        else:
            await self._skipper.sleep(_seconds(duration))

    async def get_current_time(
        self, handle: hotmesh_temporal.client.WorkflowHandle | None = None
    ) -> datetime:
        if self._skipper is None:
            return await super().get_current_time(handle)
        return await self._skipper.now()

    @property
    def supports_time_skipping_v1(self) -> bool:
        return self._skipper is not None

    @contextmanager
    def auto_time_skipping_disabled(self) -> Iterator[None]:
        if self._skipper is None:
            yield None
            return
        was_enabled = self._skipper.auto
        self._skipper.auto = False
        try:
            yield None
        finally:
            self._skipper.auto = was_enabled


async def _drop_schema(base_dsn: str, schema: str) -> None:
    unreachable = await drop_schema(base_dsn, schema)
    if unreachable is not None:  # the database is gone already: nothing left to drop
        logger.warning("environment shutdown: cannot drop schema %s: %s", schema, unreachable)


def _seconds(duration: timedelta | float) -> float:
    return duration.total_seconds() if isinstance(duration, timedelta) else float(duration)


# ------------------------------------------------------------- assert -> failure


class _AssertionErrorInterceptor(
    hotmesh_temporal.client.Interceptor, hotmesh_temporal.worker.Interceptor
):
    """As in temporalio's environments: a failed ``assert`` in workflow code fails
    the workflow (non-retryable ApplicationError) instead of retrying its task."""

    def workflow_interceptor_class(
        self, input: hotmesh_temporal.worker.WorkflowInterceptorClassInput
    ) -> type[hotmesh_temporal.worker.WorkflowInboundInterceptor] | None:
        return _AssertionErrorWorkflowInboundInterceptor


class _AssertionErrorWorkflowInboundInterceptor(hotmesh_temporal.worker.WorkflowInboundInterceptor):
    async def execute_workflow(self, input: hotmesh_temporal.worker.ExecuteWorkflowInput) -> Any:
        with _assertion_as_application_error():
            return await super().execute_workflow(input)

    async def handle_signal(self, input: hotmesh_temporal.worker.HandleSignalInput) -> None:
        with _assertion_as_application_error():
            return await super().handle_signal(input)


@contextmanager
def _assertion_as_application_error() -> Iterator[None]:
    try:
        yield None
    except AssertionError as err:
        failure = hotmesh_temporal.exceptions.ApplicationError(
            str(err), type="AssertionError", non_retryable=True
        )
        failure.__traceback__ = err.__traceback__
        raise failure from None


def _client_with_interceptors(
    client: hotmesh_temporal.client.Client, *interceptors: Any
) -> hotmesh_temporal.client.Client:
    config = client.config()
    config["interceptors"] = [*config["interceptors"], *interceptors]
    return hotmesh_temporal.client.Client(**config)
