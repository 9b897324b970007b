"""``hotmesh-temporal migrate``: create or upgrade the tables (or print their SQL)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from hotmesh_temporal._engine.service import connection


def add(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "migrate",
        help="create or upgrade the hotmesh tables in a Postgres database",
        description=(
            "Apply the pending schema migrations to the database (idempotent; safe to run "
            "from many processes at once). With --print-sql, print the SQL instead, "
            "without connecting."
        ),
    )
    parser.add_argument(
        "--dsn",
        default=os.environ.get("HOTMESH_DSN"),
        help="postgresql:// URL of the database (default: $HOTMESH_DSN); a schema= "
        "query parameter selects the schema",
    )
    parser.add_argument(
        "--schema",
        help="Postgres schema to hold the tables (default: the DSN's schema= parameter, "
        "else $HOTMESH_SCHEMA, else 'hotmesh')",
    )
    parser.add_argument(
        "--print-sql",
        action="store_true",
        help="print the SQL of every migration (for your own migration tool) and exit",
    )
    parser.set_defaults(func=_run_migrate)


async def _run_migrate(args: argparse.Namespace) -> int:
    schema = args.schema
    dsn = args.dsn
    if dsn:
        dsn, dsn_schema = connection.split_schema(dsn)
        schema = schema or dsn_schema
    schema = connection.validate_schema(
        schema or os.environ.get(connection.SCHEMA_ENV) or connection.DEFAULT_SCHEMA
    )

    if args.print_sql:
        sys.stdout.write(connection.migration_script(schema))
        return 0
    if not dsn:
        print("error: --dsn is required (or set HOTMESH_DSN)", file=sys.stderr)
        return 2

    applied = await connection.migrate(dsn, schema)
    if applied:
        print(f"schema {schema}: applied migrations {', '.join(str(v) for v in applied)}")
    else:
        print(f"schema {schema}: up to date")
    return 0
