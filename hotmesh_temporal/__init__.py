"""hotmesh_temporal: the Temporal Python SDK's API, running durable workflows on Postgres alone.

Import the modules as from ``temporalio``: ``hotmesh_temporal.client``, ``.worker``,
``.workflow``, ``.activity``, ``.common``, ``.exceptions``, ``.converter``, ``.testing``.
The machinery behind them is in ``hotmesh_temporal._engine`` (not a public API).
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("hotmesh-temporal")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
