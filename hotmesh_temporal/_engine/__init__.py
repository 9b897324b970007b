"""The engine behind the public modules. Not a public API: nothing outside this package
may rely on these paths.

Layers, and the one rule they follow (``tests/unit/test_layers.py`` checks it): imports go
downwards only.

- ``runtime``: pure, no I/O. The activation protocol, the workflow instance and its event
  loop, determinism, the replay driver, completion building, cron, the list-filter compiler.
  It imports only the type modules (``common``, ``converter``, ``exceptions``, ``activity``,
  ``workflow``, ``api``).
- ``store``: connections, LISTEN, waiters, wake-ups, migrations, DSN, TLS, embedded
  Postgres. It imports nothing above it.
- ``service``: typed operations, the only callers of the store besides the workers.
- ``worker``: the workflow and activity workers, local activities, polling, the sweeper.
- ``observability``: metrics and telemetry shared by the layers above.
- ``sql``: the schema files and the named statements (not Python).
"""
