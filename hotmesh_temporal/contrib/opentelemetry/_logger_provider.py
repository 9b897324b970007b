"""A logger provider that drops what workflow code emits while history replays."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# OpenTelemetry's logs API is only published under ``opentelemetry._logs``.
from opentelemetry._logs import Logger, LoggerProvider

from hotmesh_temporal.contrib.opentelemetry._tracer_provider import _replaying_history

if TYPE_CHECKING:
    from opentelemetry.util.types import _ExtendedAttributes


class _ReplaySafeLogger(Logger):
    def __init__(
        self,
        logger: Logger,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
    ) -> None:
        super().__init__(name, version=version, schema_url=schema_url)
        self._logger = logger

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)

    def emit(self, *args: Any, **kwargs: Any) -> None:
        # emit's parameters changed across opentelemetry versions: forward them as given.
        if not _replaying_history():
            self._logger.emit(*args, **kwargs)

    def enabled(self, *args: Any, **kwargs: Any) -> bool:
        # Callers skip building a record when this is False: agree with emit().
        if _replaying_history():
            return False
        wrapped = getattr(self._logger, "enabled", None)
        return True if wrapped is None else wrapped(*args, **kwargs)


class ReplaySafeLoggerProvider(LoggerProvider):
    """Wraps a ``LoggerProvider`` so that log records emitted from workflow code while
    history replays are dropped: each is exported once, by the live execution.
    Queries and update validators are live requests, so what they emit is kept; so
    is everything emitted outside workflows.

    Make it the global provider, before libraries get loggers::

        opentelemetry._logs.set_logger_provider(ReplaySafeLoggerProvider(provider))
    """

    def __init__(self, logger_provider: LoggerProvider) -> None:
        """Wrap ``logger_provider``."""
        self._logger_provider = logger_provider

    def __getattr__(self, name: str) -> Any:
        """Anything else (``shutdown``, ``force_flush``...) is the wrapped provider's."""
        return getattr(self._logger_provider, name)

    def get_logger(
        self,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
        attributes: _ExtendedAttributes | None = None,
    ) -> Logger:
        """A replay-safe logger of the wrapped provider."""
        wrapped = self._logger_provider.get_logger(name, version, schema_url, attributes)
        return _ReplaySafeLogger(wrapped, name, version=version, schema_url=schema_url)
