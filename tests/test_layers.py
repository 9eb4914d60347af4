"""The package's three layers: specs <- twins <- flows, imports running one way only.

Every module of ``sw/ttzo`` and ``hw/`` belongs to exactly one layer (:data:`LAYERS`); an import
of a module in a higher layer, or a package without a first docstring naming its layer, fails.
docs/architecture.md draws the same picture.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Layer of each top-level part of the package, lowest first.
LAYERS = {
    "spec": ["ttzo.spec"],
    "twin": ["ttzo.tt", "ttzo.model", "ttzo.zo", "ttzo.optim", "ttzo.pinn", "ttzo.golden",
             "ttzo.hw", "ttzo.estimate"],
    "flow": ["ttzo.driver", "ttzo.bitstream", "ttzo.train", "ttzo.tasks", "ttzo.data",
             "ttzo.cli", "ttzo.provenance", "ttzo.records", "ttzo"],
}
RANK = {layer: rank for rank, layer in enumerate(LAYERS)}
#: The word each package's first docstring starts with.
TITLE = {"spec": "Specs", "twin": "Twins", "flow": "Flows"}


def module_name(path: Path) -> tuple[str, str]:
    """(dotted name, package its relative imports start from) of a source file."""
    rel = path.relative_to(ROOT).with_suffix("")
    parts = ["ttzo", "hw", *rel.parts[1:]] if rel.parts[0] == "hw" else list(rel.parts[1:])
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def layer_of(name: str) -> str:
    """The layer of module ``name``: that of the longest part it belongs to."""
    best = max((part for parts in LAYERS.values() for part in parts
                if name == part or name.startswith(part + ".")), key=len)
    return next(layer for layer, parts in LAYERS.items() if best in parts)


def imports(path: Path) -> set[str]:
    """ttzo modules a source file imports (relative imports resolved)."""
    _, package = module_name(path)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "ttzo"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "ttzo":
                found.add(target)
    return found


SOURCES = sorted([*(ROOT / "sw" / "ttzo").rglob("*.py"), *(ROOT / "hw").rglob("*.py")])


def test_every_module_has_one_layer():
    for path in SOURCES:
        layer_of(module_name(path)[0])  # raises if it belongs to none


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_down_the_layers(path):
    name, _ = module_name(path)
    mine = RANK[layer_of(name)]
    upward = sorted(t for t in imports(path) if RANK[layer_of(t)] > mine)
    assert not upward, f"{name} ({layer_of(name)}) imports a higher layer: {upward}"


def test_each_package_states_its_layer():
    for init in [*(ROOT / "sw" / "ttzo").rglob("__init__.py"), ROOT / "hw" / "__init__.py"]:
        name, _ = module_name(init)
        if name == "ttzo":
            continue  # the root names all three
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert doc.startswith(TITLE[layer_of(name)]), f"{init}: docstring {doc[:40]!r}"


def test_the_layer_check_catches_an_upward_import(tmp_path):
    # a spec importing the driver must be found (the check itself can fail)
    assert RANK[layer_of("ttzo.driver.device")] > RANK[layer_of("ttzo.spec.protocol")]
    assert layer_of("ttzo.hw.engine") == "twin" and layer_of("ttzo") == "flow"
    assert layer_of("ttzo.spec.board_files") == "spec"
