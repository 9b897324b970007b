"""The database seam: connections and retries, LISTEN and waiters, wake-ups, migrations,
DSN resolution, TLS and the embedded Postgres. Imports nothing above it."""
