"""The schema files describe the current schema once: every SQL function is created in
exactly one of them, never replaced by a later one.

Before the first release the schema files are edited in place (docs/operations.md,
Migrations), so a later feature that changes an earlier function edits it where it is
defined; a whole body redefined further down would leave the first one dead, and the
reader of the first file misled.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from hotmesh_temporal._engine.store.migrate import migration_files

# A function's creation; the name is what follows "{{schema}}." (or a bare name).
_CREATE = re.compile(
    r"^\s*CREATE\s+(?P<replace>OR\s+REPLACE\s+)?FUNCTION\s+(?:\{\{schema\}\}\.)?(?P<name>\w+)\s*\(",
    re.IGNORECASE | re.MULTILINE,
)


def _without_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def function_creations(files: list[Path]) -> dict[str, list[tuple[str, bool]]]:
    """Each function name with the files that create it (and whether OR REPLACE)."""
    found: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for path in files:
        for match in _CREATE.finditer(_without_comments(path.read_text(encoding="utf-8"))):
            found[match["name"].lower()].append((path.name, bool(match["replace"])))
    return found


def _schema_files() -> list[Path]:
    return [path for _, _, path in migration_files()]


def test_the_parser_sees_the_schema_functions() -> None:
    creations = function_creations(_schema_files())
    # A parser that found nothing would pass the checks below vacuously.
    assert len(creations) > 100
    assert {"start_workflow", "insert_events", "time_is_locked", "schedule_start"} <= set(creations)


def test_every_function_is_created_in_one_schema_file_only() -> None:
    twice = {
        name: [file for file, _ in places]
        for name, places in function_creations(_schema_files()).items()
        if len(places) > 1
    }
    assert twice == {}, f"functions created more than once in sql/schema/: {twice}"


def test_no_schema_file_replaces_a_function() -> None:
    replaced = sorted(
        f"{file}: {name}"
        for name, places in function_creations(_schema_files()).items()
        for file, replace in places
        if replace
    )
    assert replaced == [], "schema files create their functions (no OR REPLACE): " + ", ".join(
        replaced
    )


@pytest.mark.parametrize(
    ("later", "expected"),
    [
        (
            "CREATE OR REPLACE FUNCTION {{schema}}.first(p int) RETURNS int\n"
            "LANGUAGE sql AS $$ SELECT p $$;\n",
            {"first": [("0001_a.sql", False), ("0002_b.sql", True)]},
        ),
        (
            "-- CREATE FUNCTION {{schema}}.first(p int) in a comment is not a creation\n"
            "create function {{schema}}.second() returns int language sql as $$ select 2 $$;\n",
            {"first": [("0001_a.sql", False)], "second": [("0002_b.sql", False)]},
        ),
    ],
)
def test_the_parser_finds_a_redefinition(
    tmp_path: Path, later: str, expected: dict[str, list[tuple[str, bool]]]
) -> None:
    (tmp_path / "0001_a.sql").write_text(
        "CREATE FUNCTION {{schema}}.first(p int) RETURNS int\nLANGUAGE sql AS $$ SELECT p $$;\n"
    )
    (tmp_path / "0002_b.sql").write_text(later)
    files = [path for _, _, path in migration_files(tmp_path)]
    assert dict(function_creations(files)) == expected
