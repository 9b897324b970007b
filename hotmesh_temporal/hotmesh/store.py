"""The YAML front end's only SQL: its two tables (``sql/schema.sql``) and the named
statements of ``sql/queries.sql``, run on the engine's connection pool."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hotmesh_temporal._engine.service.connection import quote_ident

_SQL_DIR = Path(__file__).with_name("sql")
_NAME_RE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def _queries(schema: str) -> dict[str, str]:
    text = (_SQL_DIR / "queries.sql").read_text(encoding="utf-8")
    parts = _NAME_RE.split(text)
    quoted = quote_ident(schema)
    result = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = [ln for ln in body.strip().splitlines() if not ln.lstrip().startswith("--")]
        result[name] = "\n".join(lines).strip().rstrip(";").replace("{schema}", quoted)
    return result


class AppStore:
    """Versions and escalations, on the pool of the engine's ``Store``."""

    def __init__(self, pool: Any, schema: str) -> None:
        self.pool = pool
        self.schema = schema
        self.sql = _queries(schema)

    async def ensure_schema(self) -> None:
        ddl = (
            (_SQL_DIR / "schema.sql")
            .read_text(encoding="utf-8")
            .replace("{schema}", quote_ident(self.schema))
        )
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(self.sql["lock_schema"], self.schema)
            await conn.execute(ddl)

    async def fetch(self, name: str, *args: Any) -> list[Any]:
        return await self.pool.fetch(self.sql[name], *args)

    async def fetchrow(self, name: str, *args: Any) -> Any:
        return await self.pool.fetchrow(self.sql[name], *args)

    async def execute(self, name: str, *args: Any) -> str:
        return await self.pool.execute(self.sql[name], *args)
