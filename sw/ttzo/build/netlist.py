"""Helpers for the build's own passes over a synthesized Yosys JSON netlist (``write_json``)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["Loads", "net_loads", "param", "rewrite_netlist_file"]

#: Every net bit's loads: ``(cell, port)``, or ``("", port)`` for a top-level output.
Loads = dict[Any, list[tuple[str, str]]]

T = TypeVar("T")


def net_loads(module: dict[str, Any]) -> Loads:
    """Every net bit's loads: ``(cell, port)`` of cell inputs, ``("", port)`` of top outputs."""
    loads: Loads = defaultdict(list)
    for name, cell in module.get("cells", {}).items():
        directions = cell.get("port_directions", {})
        for port, bits in cell.get("connections", {}).items():
            if directions.get(port, "input") != "output":
                for bit in bits:
                    loads[bit].append((name, port))
    for port, info in module.get("ports", {}).items():
        if info.get("direction") != "input":
            for bit in info.get("bits", []):
                loads[bit].append(("", port))
    return loads


def param(cell: dict[str, Any], name: str, default: str) -> str:
    """A cell's string parameter (Yosys pads binary-looking strings with a space)."""
    return str(cell.get("parameters", {}).get(name, default)).rstrip()


def rewrite_netlist_file(path: Path, transform: Callable[[dict[str, Any]], T]) -> T:
    """Apply ``transform`` to the netlist in ``path`` (in place) and write it back atomically,
    so that a failed pass never leaves a half-written netlist; returns what ``transform`` did."""
    path = Path(path)
    netlist = json.loads(path.read_text())
    result = transform(netlist)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(netlist))
    tmp.replace(path)
    return result
