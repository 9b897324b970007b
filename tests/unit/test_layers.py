"""The layer rule of ``hotmesh_temporal._engine`` (its ``__init__`` states it), checked on
the source: every import of one of the package's own modules, at module level or inside a
function, must point the allowed way.

- ``_engine.runtime`` imports only the type modules and itself;
- ``_engine.store`` imports nothing of the package but itself (and the type modules);
- ``_engine.service`` and ``_engine.worker`` use runtime, store and observability, never a
  public facade (``client``, ``worker``, ``testing``, ``contrib``, ``service``);
- public modules never import ``_engine.store``.

Function-local imports of the package's own modules are counted: they hide cycles, so
only a handful may remain, each for an optional dependency or a cycle that temporalio's
public layout forces.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "hotmesh_temporal"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE

# The modules every layer may use: declarations, data types and the generated API.
TYPE_MODULES = (
    "hotmesh_temporal.common",
    "hotmesh_temporal.converter",
    "hotmesh_temporal.exceptions",
    "hotmesh_temporal.activity",
    "hotmesh_temporal.workflow._definition",
    "hotmesh_temporal.workflow._runtime_contract",
    "hotmesh_temporal.api",
    # temporalio's public layout puts these types in the worker package: the interceptor
    # inputs and base classes, and the sandbox's error. They import nothing of the engine
    # (the engine's layer packages load the worker package first for one load order).
    "hotmesh_temporal.worker._interceptor",
    "hotmesh_temporal.worker.workflow_sandbox._restrictions",
)
# The public workflow API is a type module for the runtime (temporalio's runtime imports
# its workflow module the same way): the instance raises its errors and fills its Info.
RUNTIME_ALLOWED = (
    *TYPE_MODULES,
    "hotmesh_temporal.workflow",
    "hotmesh_temporal._engine.runtime",
)
STORE_ALLOWED = (*TYPE_MODULES, "hotmesh_temporal._engine.store")
ENGINE_ALLOWED = (
    *RUNTIME_ALLOWED,
    "hotmesh_temporal._engine",
)
PUBLIC_FACADES = (
    "hotmesh_temporal.client",
    "hotmesh_temporal.worker",
    "hotmesh_temporal.testing",
    "hotmesh_temporal.contrib",
    "hotmesh_temporal.service",
    "hotmesh_temporal.plugin",
    "hotmesh_temporal.cli",
)
MAX_LOCAL_IMPORTS = 10


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (or module.name for ``from m import name``)
    line: int
    local: bool  # inside a function


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        source = ".".join([*base, node.module] if node.module else base)
    else:
        source = node.module or ""
    # ``from pkg import mod`` imports the module pkg.mod; name it so.
    return [f"{source}.{alias.name}" for alias in node.names]


def _imports() -> list[Import]:
    found: list[Import] = []
    for path in sorted(ROOT.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(), str(path))
        local_nodes = {
            id(inner)
            for func in ast.walk(tree)
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
            for inner in ast.walk(func)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _targets(module, path.name == "__init__.py", node):
                if target == PACKAGE or target.startswith(PACKAGE + "."):
                    found.append(Import(module, target, node.lineno, id(node) in local_nodes))
    return found


IMPORTS = _imports()


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _violations(importer: tuple[str, ...], allowed: tuple[str, ...]) -> list[str]:
    return [
        f"{i.module}:{i.line} imports {i.target}"
        for i in IMPORTS
        if _within(i.module, importer)
        and not _within(i.target, allowed)
        and i.target != "hotmesh_temporal.__version__"
    ]


def test_the_scan_sees_the_package() -> None:
    modules = {i.module for i in IMPORTS}
    assert "hotmesh_temporal._engine.runtime.instance" in modules
    assert "hotmesh_temporal.client._client" in modules


def test_runtime_imports_only_type_modules_and_itself() -> None:
    assert _violations(("hotmesh_temporal._engine.runtime",), RUNTIME_ALLOWED) == []


def test_store_imports_nothing_above_it() -> None:
    assert _violations(("hotmesh_temporal._engine.store",), STORE_ALLOWED) == []


@pytest.mark.parametrize("layer", ["service", "worker", "observability"])
def test_engine_layers_never_import_a_public_facade(layer: str) -> None:
    assert _violations((f"hotmesh_temporal._engine.{layer}",), ENGINE_ALLOWED) == []


def test_public_modules_never_import_the_store() -> None:
    offenders = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in IMPORTS
        if not _within(i.module, ("hotmesh_temporal._engine",))
        and _within(i.target, ("hotmesh_temporal._engine.store",))
    ]
    assert offenders == []


def test_few_function_local_imports_of_the_package(capsys: pytest.CaptureFixture[str]) -> None:
    local = [i for i in IMPORTS if i.local]
    modules_lines = sorted({(i.module, i.line) for i in local})
    with capsys.disabled():
        print(f"\nfunction-local imports of {PACKAGE} modules: {len(modules_lines)}")
        for module, line in modules_lines:
            print(f"  {module}:{line}")
    assert len(modules_lines) < MAX_LOCAL_IMPORTS
