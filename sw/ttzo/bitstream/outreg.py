"""Pack fabric registers behind ECP5 block RAM read ports into the blocks' output registers.

An ECP5 DP16KD read takes 5.8 ns from clock to data without the block's own output register
(``REGMODE_B = "OUTREG"``), and the fabric register that follows is often placed far away: on the
MNIST accelerator that path (clock-to-out plus routing) was the critical one. Yosys 0.70 does not
absorb such registers. This step does, on the synthesized JSON netlist, between synthesis and
place and route: the RTL and its simulations keep the plain memory and the fabric register.

A block's read port is packed only when the result is the same circuit cycle for cycle:

- the block reads every cycle and never resets its port (``CEB = OCEB = 1``, ``RSTB = 0``, no
  chip select, the clock not inverted, no output register yet), so its data latch and an output
  register that loads every cycle hold exactly what a fabric register loading every cycle would;
- nothing reads port A's data outputs (a 36-bit read brings half its row out there);
- every used data bit drives exactly one load, the data input of a ``TRELLISFF`` on the same
  clock with no clock enable and no set/reset.

The packed flip-flops are removed and the block drives their outputs. Anything else is left as it
was, with the reason in the step's log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .netlist import (
    FF,
    Loads,
    absorb_register,
    cells_of_type,
    is_constant,
    net_loads,
    param,
    rewrite_netlist_file,
    sole_register,
)

__all__ = ["OutregResult", "pack_output_registers", "pack_netlist_file"]

_BRAM = "DP16KD"
_DATA_PINS = 18  # DOB0..DOB17; unused ones are unconnected or have no load


@dataclass
class OutregResult:
    """What the step did: blocks packed, flip-flops absorbed, and why other blocks were not."""

    packed: list[str] = field(default_factory=list)
    absorbed_ffs: int = 0
    skipped: dict[str, str] = field(default_factory=dict)

    def log_text(self) -> str:
        lines = [f"{len(self.packed)} {_BRAM} read ports packed, {self.absorbed_ffs} "
                 f"{FF}s absorbed; {len(self.skipped)} left as they were"]
        lines += [f"packed  {name}" for name in self.packed]
        lines += [f"skipped {name}: {why}" for name, why in self.skipped.items()]
        return "\n".join(lines) + "\n"


def _port_problem(bram: dict[str, Any]) -> str | None:
    """Why the block's read port B cannot take an output register, or ``None``."""
    conn = bram["connections"]
    if param(bram, "REGMODE_B", "NOREG") != "NOREG":
        return "port B already has an output register"
    if param(bram, "CLKBMUX", "CLKB") != "CLKB":
        return "port B clock is inverted or unused"
    for port, value in (("CEB", "1"), ("OCEB", "1"), ("RSTB", "0"), ("CSB0", "0"),
                        ("CSB1", "0"), ("CSB2", "0")):
        if not is_constant(conn.get(port, [value]), value):
            return f"{port} is not constant {value}"
    if param(bram, "CSDECODE_B", "0b000") != "0b000":
        return "port B decodes a chip select"
    return None


def _port_registers(bram: dict[str, Any], cells: dict[str, Any],
                    loads: Loads) -> tuple[list[tuple[str, str]], str | None]:
    """The ``(data pin, flip-flop)`` pairs of a block's read port, or why it cannot be packed."""
    why = _port_problem(bram)
    if why is None and any(loads.get(bit) for i in range(_DATA_PINS)
                           for bit in bram["connections"].get(f"DOA{i}", [])):
        # a 36-bit read brings half its row out on port A, which would stay unregistered
        why = "port A's data outputs are used too"
    if why is not None:
        return [], why
    pairs = []
    for i in range(_DATA_PINS):
        port = f"DOB{i}"
        ff_name, why = sole_register(port, bram["connections"].get(port, []), cells, loads,
                                     bram["connections"].get("CLKB"))
        if why is not None:
            return [], why
        if ff_name is not None:
            pairs.append((port, ff_name))
    return pairs, None if pairs else "no data bit drives a register"


def pack_output_registers(netlist: dict[str, Any]) -> OutregResult:
    """Pack eligible ``DP16KD`` read ports of a Yosys JSON netlist (``write_json``) in place
    (see the module docstring); returns what was packed and why the rest was not."""
    result = OutregResult()
    for module in netlist.get("modules", {}).values():
        cells = module.get("cells", {})
        loads = net_loads(module)
        for name in cells_of_type(module, _BRAM):
            bram = cells[name]
            pairs, why = _port_registers(bram, cells, loads)
            if why is not None:
                result.skipped[name] = why
                continue
            for port, ff_name in pairs:
                absorb_register(cells, bram, port, ff_name)
            bram.setdefault("parameters", {})["REGMODE_B"] = "OUTREG"
            result.packed.append(name)
            result.absorbed_ffs += len(pairs)
    return result


def pack_netlist_file(path: Path) -> OutregResult:
    """:func:`pack_output_registers` on a JSON netlist file, rewritten in place."""
    return rewrite_netlist_file(path, pack_output_registers)
