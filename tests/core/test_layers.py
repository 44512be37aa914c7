"""Arrows point down only (docs/ARCHITECTURE.md): every import in a layer, function-local ones included, names a
layer below it or itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GROUND = {"pathatlas.errors", "pathatlas.paths", "pathatlas.plugins", "pathatlas.settings", "pathatlas"}
ALLOWED = {
    "pathatlas": set(),
    "retrieval": {"retrieval"},
    "indexer": {"indexer", "retrieval"},
    "agent": {"agent", "retrieval"},
    "corpora": {"corpora"},
    "ui": {"ui", "indexer", "agent", "retrieval", "corpora"},
}
RE_EXPORTS = {("pathatlas/__init__.py", "pathatlas.ui.library")}
"""The package's one upward import: ``from pathatlas import Atlas``, loaded on first use (module ``__getattr__``)."""


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.split(".")[0] == "pathatlas"]


def layer_of(module: str) -> str:
    parts = module.split(".")
    return "pathatlas" if len(parts) == 1 or module in GROUND else parts[1]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_layers_below_it(layer):
    files = sorted((ROOT / layer).rglob("*.py"))
    assert files, f"no modules found in {layer}/"
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in files
        for line, module in imported_modules(path)
        if module not in GROUND
        and layer_of(module) not in ALLOWED[layer]
        and (path.relative_to(ROOT).as_posix(), module) not in RE_EXPORTS
    ]
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_function_local_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from pathatlas.indexer.sources.cases import read_metadata\n")
    assert imported_modules(module) == [(2, "pathatlas.indexer.sources.cases")]
    assert layer_of("pathatlas.indexer.sources.cases") not in ALLOWED["retrieval"]
