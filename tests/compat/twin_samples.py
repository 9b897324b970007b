"""The samples as a temporalio user would run them: the same files, imports swapped.

Importing ``temporalio_samples.X`` loads the source of ``samples.X`` into a fresh module
with each import of ``hotmesh_temporal[.…]`` turned into ``temporalio[.…]`` and each
import of ``samples[.…]`` into ``temporalio_samples[.…]`` (so a sample's own modules
come from the same swapped tree). Nothing else in the source changes: only import
statements are rewritten, on the syntax tree, and tracebacks point at the sample file.
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.util
import sys
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
PREFIX = "temporalio_samples"
RENAMES = {"hotmesh_temporal": "temporalio", "samples": PREFIX}


def twin_name(module: str) -> str:
    """``samples.hello.hello_activity`` -> ``temporalio_samples.hello.hello_activity``."""
    head, _, rest = module.partition(".")
    if head != "samples":
        raise ValueError(f"{module!r} is not a module of the samples package")
    return f"{PREFIX}.{rest}" if rest else PREFIX


def _renamed(module: str | None) -> str | None:
    if module is None:
        return None
    head, dot, rest = module.partition(".")
    return RENAMES[head] + dot + rest if head in RENAMES else module


class _SwapImports(ast.NodeTransformer):
    def visit_Import(self, node: ast.Import) -> ast.Import:  # noqa: N802 (ast's name)
        for alias in node.names:
            if alias.asname is None and _renamed(alias.name) != alias.name:
                # The code would go on using the old name: not a pure import swap.
                raise ValueError(f"'import {alias.name}' needs 'from ... import' to be swapped")
            alias.name = _renamed(alias.name)
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.ImportFrom:  # noqa: N802
        if node.level == 0:
            node.module = _renamed(node.module)
        return node


class _Loader(importlib.abc.Loader):
    def __init__(self, path: Path) -> None:
        self.path = path

    def create_module(self, spec):  # the default module object
        return None

    def exec_module(self, module) -> None:
        tree = _SwapImports().visit(ast.parse(self.path.read_text(), str(self.path)))
        code = compile(ast.fix_missing_locations(tree), str(self.path), "exec")
        exec(code, module.__dict__)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        head, _, rest = fullname.partition(".")
        if head != PREFIX:
            return None
        base = SAMPLES.joinpath(*rest.split(".")) if rest else SAMPLES
        if (base / "__init__.py").is_file():
            return importlib.util.spec_from_file_location(
                fullname,
                base / "__init__.py",
                loader=_Loader(base / "__init__.py"),
                submodule_search_locations=[str(base)],
            )
        source = base.with_suffix(".py")
        if source.is_file():
            return importlib.util.spec_from_file_location(fullname, source, loader=_Loader(source))
        return None


def install() -> None:
    """Make ``temporalio_samples`` importable (once per process)."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())  # before PathFinder, which would use __path__
