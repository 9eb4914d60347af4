"""Helpers for the build's own passes over a synthesized Yosys JSON netlist (``write_json``)."""

from __future__ import annotations

import copy
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ttzo.records import write_text_atomic

__all__ = ["FF", "HARD_BLOCKS", "Loads", "RegisterCopies", "add_cell_copy", "ff_problem",
           "is_constant", "max_bit", "natural_key", "net_drivers", "net_loads", "param",
           "rewrite_netlist_file", "sole_register", "absorb_register",
           "cells_of_type"]

#: The ECP5 fabric flip-flop cell of a synthesized netlist.
FF = "TRELLIS_FF"

#: Hard blocks of the ECP5 netlist: block RAMs and multipliers.
HARD_BLOCKS = ("DP16KD", "MULT18X18D")

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


def net_drivers(module: dict[str, Any]) -> dict[Any, tuple[str, str]]:
    """Every net bit driven by a cell output: its ``(cell, port)``."""
    return {bit: (name, port)
            for name, cell in module.get("cells", {}).items()
            for port, bits in cell.get("connections", {}).items()
            if cell.get("port_directions", {}).get(port) == "output"
            for bit in bits}


def max_bit(module: dict[str, Any]) -> int:
    """The largest net bit number in use (constants are strings and do not count)."""
    bits = [b for cell in module.get("cells", {}).values()
            for conn in cell.get("connections", {}).values() for b in conn]
    bits += [b for net in module.get("netnames", {}).values() for b in net.get("bits", [])]
    bits += [b for port in module.get("ports", {}).values() for b in port.get("bits", [])]
    return max((b for b in bits if isinstance(b, int)), default=1)


def natural_key(name: str) -> list:
    """Sort key that orders ``bank1_2`` before ``bank1_10``."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name)]


@dataclass
class RegisterCopies:
    """What a register-copying step did: per copied flip-flop, how many loads (or blocks) it
    had and how many copies it got."""

    replicated: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def copies(self) -> int:
        """Flip-flops added."""
        return sum(copies for _, copies in self.replicated.values())

    def _log_text(self, header: str, unit: str, width: int,
                  entries: dict[str, tuple[int, int]] | None = None) -> str:
        """``header``, then a line per copied cell of ``entries`` (default ``replicated``)."""
        entries = self.replicated if entries is None else entries
        lines = [f"{header}; {sum(c for _, c in entries.values())} copies added"]
        lines += [f"{count:{width}d} {unit} {copies:4d} copies  {name}"
                  for name, (count, copies) in entries.items()]
        return "\n".join(lines) + "\n"


def add_cell_copy(module: dict[str, Any], name: str, suffix: str, bit: int,
                  pins: Iterable[tuple[str, str]], output: str = "Q") -> None:
    """Add a copy of the one-output cell ``name`` (same type, parameters and inputs) named
    ``name + suffix`` with its ``output`` port on the new net ``bit``, and move the
    ``(cell, port)`` pins from the original's output to the copy's."""
    cells = module["cells"]
    old = cells[name]["connections"][output][0]
    twin = copy.deepcopy(cells[name])
    twin["connections"][output] = [bit]
    cells[name + suffix] = twin
    module.setdefault("netnames", {})[f"{name}{suffix}${output.lower()}"] = {
        "hide_name": 1, "bits": [bit], "attributes": {}}
    for cell, port in pins:
        conns = cells[cell]["connections"]
        conns[port] = [bit if b == old else b for b in conns[port]]


def is_constant(bits: list, value: str) -> bool:
    """Whether a one-bit connection is the constant ``value`` (``"0"`` or ``"1"``)."""
    return len(bits) == 1 and bits[0] == value


def param(cell: dict[str, Any], name: str, default: str) -> str:
    """A cell's string parameter (Yosys pads binary-looking strings with a space)."""
    return str(cell.get("parameters", {}).get(name, default)).rstrip()


def rewrite_netlist_file(path: Path, transform: Callable[[dict[str, Any]], T]) -> T:
    """Apply ``transform`` to the netlist in ``path`` (in place) and write it back atomically,
    so that a failed pass never leaves a half-written netlist; returns what ``transform`` did."""
    path = Path(path)
    netlist = json.loads(path.read_text())
    result = transform(netlist)
    write_text_atomic(path, json.dumps(netlist))
    return result


def cells_of_type(module: dict[str, Any], cell_type: str) -> list[str]:
    """Names of a module's cells of ``cell_type``, in netlist order (a list: callers change the
    cells while they go through it)."""
    return [name for name, cell in module.get("cells", {}).items()
            if cell.get("type") == cell_type]


def absorb_register(cells: dict[str, Any], block: dict[str, Any], port: str, ff_name: str,
                    ff_port: str = "Q") -> None:
    """Make ``block``'s pin ``port`` the flip-flop's net at ``ff_port``: ``Q`` for an output
    register (the block now drives the register's output, and the register goes), ``DI`` for
    an input register (the block takes the register's input; the caller removes the register
    once nothing else reads it)."""
    block["connections"][port] = list(cells[ff_name]["connections"][ff_port])
    if ff_port == "Q":
        del cells[ff_name]


def ff_problem(ff: dict[str, Any], clock: list | None) -> str | None:
    """Why a ``TRELLIS_FF`` is not a plain register on ``clock`` (rising edge, loading every
    cycle, no set/reset), as "has ...", or ``None``; ``clock=None`` accepts any clock."""
    conn = ff["connections"]
    if param(ff, "CLKMUX", "CLK") != "CLK" or (clock is not None and conn.get("CLK") != clock):
        return "has another clock"
    cemux = param(ff, "CEMUX", "1")
    if cemux not in ("1", "CE") or (cemux == "CE" and not is_constant(conn.get("CE", ["1"]), "1")):
        return "has a clock enable"
    if param(ff, "LSRMUX", "LSR") == "LSR" and not is_constant(conn.get("LSR", ["0"]), "0"):
        return "has a set/reset"
    return None


def sole_register(port: str, bits: list, cells: dict[str, Any], loads: Loads,
                  clock: list | None) -> tuple[str | None, str | None]:
    """The plain ``TRELLIS_FF`` (see :func:`ff_problem`) whose data input is a cell output pin's
    only load: ``(name, None)``; ``(None, None)`` when the pin drives nothing; ``(None, why)``
    otherwise."""
    users = loads.get(bits[0], []) if bits else []
    if not users:
        return None, None
    if len(users) > 1:
        return None, f"{port} drives {len(users)} loads"
    ff_name, ff_port = users[0]
    ff = cells.get(ff_name)
    if ff is None or ff.get("type") != FF or ff_port != "DI":
        return None, f"{port} drives {ff_port} of {ff_name or 'a top port'}, not a {FF}'s DI"
    why = ff_problem(ff, clock)
    return (None, f"{port}'s register {why}") if why is not None else (ff_name, None)
