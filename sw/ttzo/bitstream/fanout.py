"""Split the load of a high-fanout register or enable among copies placed near their loads.

Some registers of the accelerator steer hundreds of multiplexer inputs spread over the chip: the
bank and group selects of a wide :class:`ttzo.hw.bram.BankedMemory` (a 16-lane state buffer's
bank select reaches 1,155 LUT inputs), the engine's state-buffer select. One flip-flop cannot
sit near all of them; on the MNIST accelerator the state buffer select's net took 9.9 ns to
route. As with :mod:`.replicate`, Yosys would merge copies made in the RTL, so this step makes
them on the synthesized netlist: a flip-flop with more than ``max_loads`` loads becomes one
flip-flop per group of at most ``max_loads`` loads, each copy with the original's parameters
and inputs (data, clock, clock enable, set/reset), so the circuit is unchanged cycle for cycle.

Lookup tables get the same treatment. A stream register's clock enable (``~valid | ready`` of a
:class:`ttzo.hw.stream.SkidBuffer` holding a 16-lane payload) is one table driving 250 enable
pins; with the consumer's ``ready`` far away, the MNIST accelerator's worst paths were a long
route into that table and another out of it. With a copy per group of loads, each beside its
group, only the route into the tables is long.

Loads are grouped by what they feed: each load cell is followed forward (through at most
:data:`SEARCH_DEPTH` cells of logic) to the first register or hard block it reaches, and loads
are ordered by that register's net name and bit (a multiplexer LUT of lane 3's bits sorts beside
the other lane-3 bits), so a group is a contiguous slice of the registers the cell steers and
its copy can be placed among them.

Only flip-flops whose data input comes straight from another flip-flop (or a constant) are
copied: the copies then add one long route after a register, not after logic. Registers driving
block RAMs and multipliers are left to :mod:`.replicate`. A lookup table's copies take over
flip-flop and lookup-table inputs only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .netlist import (
    FF,
    HARD_BLOCKS,
    Loads,
    RegisterCopies,
    add_cell_copy,
    max_bit,
    natural_key,
    net_drivers,
    net_loads,
    rewrite_netlist_file,
)

__all__ = ["FanoutResult", "SEARCH_DEPTH", "replicate_fanout_registers",
           "replicate_fanout_file"]

#: Cells of logic followed from a load to the register or block it feeds.
SEARCH_DEPTH = 4

#: The fabric's lookup table, copied when it drives many flip-flop or lookup-table pins.
LUT = "LUT4"

#: Load pins a lookup table's copy may take over: flip-flop and lookup-table inputs. Carry
#: chains, wide-function multiplexers and LUT RAMs keep their driver (the packer pairs them).
_MOVABLE_PINS = {FF: {"DI", "CE", "LSR", "M"}, LUT: {"A", "B", "C", "D"}}


@dataclass
class FanoutResult(RegisterCopies):
    """What the step did: per copied flip-flop (``replicated``) and lookup table (``luts``),
    its loads and the copies added."""

    luts: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def lut_copies(self) -> int:
        """Lookup tables added."""
        return sum(copies for _, copies in self.luts.values())

    def log_text(self) -> str:
        return (self._log_text(f"{len(self.replicated)} pipeline {FF}s had more loads than "
                               "allowed", "loads", 5)
                + self._log_text(f"{len(self.luts)} {LUT}s had more loads than allowed",
                                 "loads", 5, self.luts))


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


def _split_loads(module: dict[str, Any], name: str, output: str, users: list, loads: Loads,
                 names: dict, max_loads: int, next_bit: int, suffix: str) -> int:
    """Give ``users`` (the movable loads of ``name``'s ``output``) one copy of ``name`` per
    group of ``max_loads`` beyond the first, grouped by destination; returns the copies."""
    cells = module["cells"]
    order = sorted(users, key=lambda up: (_destination(*up, cells, loads, names),
                                          natural_key(up[0]), up[1]))
    groups = [order[i:i + max_loads] for i in range(0, len(order), max_loads)]
    for i, group in enumerate(groups[1:], start=1):
        add_cell_copy(module, name, f"{suffix}{i}", next_bit + i - 1, group, output)
    return len(groups) - 1


def replicate_fanout_registers(netlist: dict[str, Any], max_loads: int = 32) -> FanoutResult:
    """Copy every pipeline ``TRELLIS_FF`` and every ``LUT4`` with more than ``max_loads``
    loads (in place), one copy per group of loads.

    A lookup table's copies take only flip-flop and lookup-table input pins; a wide clock
    enable (a stream register's ``~valid | ready``) is such a table, and its copies put the
    long route before one table per group instead of after the only one.

    Parameters
    ----------
    netlist : dict
        A Yosys JSON netlist (``write_json``), modified in place.
    max_loads : int
        Largest number of loads left on one flip-flop or lookup table.

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
        for name in [n for n, c in cells.items() if c.get("type") in (FF, LUT)]:
            cell = cells[name]
            output = "Q" if cell["type"] == FF else "Z"
            out = cell.get("connections", {}).get(output, [])
            users = [(u, p) for u, p in loads.get(out[0], [])] if len(out) == 1 else []
            if cell["type"] == LUT:
                users = [(u, p) for u, p in users
                         if u and p in _MOVABLE_PINS.get(cells[u]["type"], ())]
                if len(users) <= max_loads:
                    continue
            elif len(users) <= max_loads or any(not u for u, _ in users):
                continue  # few loads, or a top-level port among them
            elif any(cells[u]["type"] in HARD_BLOCKS for u, _ in users):
                continue  # the replicate step's case
            else:
                di = cell["connections"].get("DI", [])
                source = drivers.get(di[0]) if di else None
                if source is not None and cells[source[0]]["type"] != FF:
                    continue  # data from logic: copies would put the long route after it
            lut = cell["type"] == LUT
            copies = _split_loads(module, name, output, users, loads, names, max_loads,
                                  next_bit, "$lfan" if lut else "$fan")
            (result.luts if lut else result.replicated)[name] = (len(users), copies)
            next_bit += copies
    return result


def replicate_fanout_file(path: Path, max_loads: int = 32) -> FanoutResult:
    """:func:`replicate_fanout_registers` on a JSON netlist file, rewritten in place."""
    return rewrite_netlist_file(path, lambda netlist: replicate_fanout_registers(netlist,
                                                                                max_loads))
