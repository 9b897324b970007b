"""Client plugins (``temporalio.client.Plugin``) and the ``ClientConfig`` they edit.

A plugin sees the client's options before the client is built (``configure_client``)
and wraps the connection to the database (``connect_service_client``). A client plugin
that is also a ``worker.Plugin`` is applied to every worker built on that client.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from hotmesh_temporal.service import ConnectConfig, ServiceClient


class ClientConfig(TypedDict, total=False):
    """``Client.__init__``'s options, as a dict a plugin may change."""

    service_client: Any
    namespace: str
    data_converter: Any
    plugins: Sequence[Plugin]
    interceptors: Sequence[Any]
    default_workflow_query_reject_condition: Any | None
    header_codec_behavior: Any


class Plugin(abc.ABC):
    """Changes how clients are configured and connected."""

    def name(self) -> str:
        """The plugin's name: its class's qualified name unless overridden."""
        return f"{type(self).__module__}.{type(self).__qualname__}"

    @abc.abstractmethod
    def configure_client(self, config: ClientConfig) -> ClientConfig:
        """Return the client options to use (edit and return ``config``)."""

    @abc.abstractmethod
    async def connect_service_client(
        self,
        config: ConnectConfig,
        next: Callable[[ConnectConfig], Awaitable[ServiceClient]],
    ) -> ServiceClient:
        """Connect, usually by calling ``next(config)`` with a changed config."""


async def connect_through_plugins(
    plugins: Sequence[Any],
    config: ConnectConfig,
    connect: Callable[[ConnectConfig], Awaitable[ServiceClient]],
) -> ServiceClient:
    """Run ``connect`` wrapped by each client plugin, the first plugin outermost."""
    chain = connect
    for plugin in reversed([p for p in plugins if isinstance(p, Plugin)]):
        chain = _link(plugin, chain)
    return await chain(config)


def _link(plugin: Plugin, next: Callable) -> Callable:
    return lambda config: plugin.connect_service_client(config, next)


def configure_through_plugins(config: ClientConfig) -> ClientConfig:
    for plugin in config.get("plugins") or []:
        if isinstance(plugin, Plugin):
            config = plugin.configure_client(config)
    return config
