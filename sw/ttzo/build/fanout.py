"""Split the load of a high-fanout pipeline register among copies placed near their loads.

Some registers of the accelerator steer hundreds of multiplexer inputs spread over the chip: the
bank and group selects of a wide :class:`ttzo.hw.bram.BankedMemory` (a 16-lane state buffer's
bank select reaches 1,155 LUT inputs), the engine's state-buffer select. One flip-flop cannot
sit near all of them; on the MNIST accelerator the state buffer select's net took 9.9 ns to
route. As with :mod:`.replicate`, Yosys would merge copies made in the RTL, so this step makes
them on the synthesized netlist: a flip-flop with more than ``max_loads`` loads becomes one
flip-flop per group of at most ``max_loads`` loads, each copy with the original's parameters
and inputs (data, clock, clock enable, set/reset), so the circuit is unchanged cycle for cycle.

Loads are grouped by what they feed: each load cell is followed forward (through at most
:data:`SEARCH_DEPTH` cells of logic) to the first register or hard block it reaches, and loads
are ordered by that register's net name and bit (a multiplexer LUT of lane 3's bits sorts beside
the other lane-3 bits), so a group is a contiguous slice of the registers the flip-flop steers
and its copy can be placed among them.

Only flip-flops whose data input comes straight from another flip-flop (or a constant) are
copied: the copies then add one long route after a register, not after logic. Registers driving
block RAMs and multipliers are left to :mod:`.replicate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .netlist import (FF, HARD_BLOCKS, Loads, RegisterCopies, add_register_copy, max_bit,
                      natural_key, net_drivers, net_loads, rewrite_netlist_file)

__all__ = ["FanoutResult", "SEARCH_DEPTH", "replicate_fanout_registers",
           "replicate_fanout_file"]

#: Cells of logic followed from a load to the register or block it feeds.
SEARCH_DEPTH = 4

class FanoutResult(RegisterCopies):
    """What the step did: per copied flip-flop, its loads and the copies added."""

    def log_text(self) -> str:
        return self._log_text(f"{len(self.replicated)} pipeline {FF}s had more loads than "
                              "allowed", "loads", 5)


def _bit_names(module: dict[str, Any]) -> dict[Any, tuple[str, int]]:
    """Every net bit's name and index, preferring visible names (Yosys's ``hide_name``)."""
    names: dict[Any, tuple[str, int]] = {}
    for hidden in (1, 0):  # visible names written last win
        for name, net in module.get("netnames", {}).items():
            if net.get("hide_name", 0) == hidden:
                for i, bit in enumerate(net.get("bits", [])):
                    names[bit] = (name, i)
    return names


def _destination(cell_name: str, port: str, cells: dict[str, Any], loads: Loads,
                 names: dict[Any, tuple[str, int]]) -> tuple:
    """Sort key of the first register or block that load ``(cell_name, port)`` feeds."""
    frontier = [(cell_name, port)]
    seen = set()
    for _ in range(SEARCH_DEPTH + 1):
        following = []
        for name, _port in sorted(frontier):
            cell = cells[name]
            if cell["type"] == FF:
                q = cell["connections"].get("Q", [])
                net, index = names.get(q[0], (name, 0)) if q else (name, 0)
                return (natural_key(net), index)
            if cell["type"] in HARD_BLOCKS:
                return (natural_key(name), 0)
            if name in seen:
                continue
            seen.add(name)
            directions = cell.get("port_directions", {})
            for out, bits in sorted(cell.get("connections", {}).items()):
                if directions.get(out) == "output":
                    for bit in bits:
                        following += [(u, p) for u, p in loads.get(bit, []) if u]
        if not following:
            break
        frontier = following
    return (natural_key("~" + cell_name), 0)  # feeds nothing registered nearby: last


def replicate_fanout_registers(netlist: dict[str, Any], max_loads: int = 32) -> FanoutResult:
    """Copy every pipeline ``TRELLIS_FF`` with more than ``max_loads`` loads (in place).

    Parameters
    ----------
    netlist : dict
        A Yosys JSON netlist (``write_json``), modified in place.
    max_loads : int
        Largest number of loads left on one flip-flop.

    Returns
    -------
    FanoutResult
    """
    if not isinstance(max_loads, int) or max_loads < 1:
        raise ValueError(f"max_loads must be a positive integer, not {max_loads!r}")
    result = FanoutResult()
    for module in netlist.get("modules", {}).values():
        cells = module.get("cells", {})
        loads = net_loads(module)
        drivers = net_drivers(module)
        names = _bit_names(module)
        next_bit = max_bit(module) + 1
        for name in [n for n, c in cells.items() if c.get("type") == FF]:
            ff = cells[name]
            q = ff.get("connections", {}).get("Q", [])
            users = [(u, p) for u, p in loads.get(q[0], [])] if len(q) == 1 else []
            if len(users) <= max_loads or any(not u for u, _ in users):
                continue  # few loads, or a top-level port among them
            if any(cells[u]["type"] in HARD_BLOCKS for u, _ in users):
                continue  # the replicate step's case
            di = ff["connections"].get("DI", [])
            source = drivers.get(di[0]) if di else None
            if source is not None and cells[source[0]]["type"] != FF:
                continue  # data from logic: copies would put the long route after it
            order = sorted(users, key=lambda up: (_destination(*up, cells, loads, names),
                                                  natural_key(up[0]), up[1]))
            groups = [order[i:i + max_loads] for i in range(0, len(order), max_loads)]
            for i, group in enumerate(groups[1:], start=1):
                add_register_copy(module, name, f"$fan{i}", next_bit, group)
                next_bit += 1
            result.replicated[name] = (len(users), len(groups) - 1)
    return result


def replicate_fanout_file(path: Path, max_loads: int = 32) -> FanoutResult:
    """:func:`replicate_fanout_registers` on a JSON netlist file, rewritten in place."""
    return rewrite_netlist_file(path, lambda netlist: replicate_fanout_registers(netlist,
                                                                                max_loads))
