"""Pack fabric registers around ECP5 multipliers into the MULT18X18D's own registers.

Yosys maps a product to a ``MULT18X18D`` without its registers (all ``REG_*_CLK = "NONE"``), so a
registered product is the multiplier's whole delay plus the route from its outputs to fabric
flip-flops, and registered operands add the routes from their flip-flops to its inputs. The block
has registers at both ends (``REG_INPUTA``, ``REG_INPUTB``, ``REG_OUTPUT``), and nextpnr times a
multiplier that uses them as registered at those pins. This step moves the registers in, on the
synthesized JSON netlist between synthesis and place and route, like :mod:`.outreg` does for
block RAMs; the RTL and its simulations keep the plain product and the fabric registers.

A multiplier's **output register** is packed when every used ``P`` bit drives exactly one load,
the data input of a plain ``TRELLIS_FF`` (rising clock edge, loading every cycle, no set/reset);
the flip-flops are removed and the block drives their outputs.

Its **input registers** are packed when every non-constant ``A`` and ``B`` pin is driven by such
a flip-flop whose output goes to multiplier operand pins only (of this or other multipliers):
each pin then takes the flip-flop's input instead, and a flip-flop left without loads is
removed. Both operands or neither: nextpnr's timing classes do not describe a multiplier with
one registered operand. A flip-flop that fed several multipliers becomes one register in each,
so its input now drives those multipliers' pins; :mod:`.replicate` (run after this step) gives
each multiplier its own copy when that input is itself a flip-flop.

All of a multiplier's packed registers must share one clock, which drives ``CLK0``; ``CE0`` is
tied to 1 and ``RST0`` to 0. The circuit is the same cycle for cycle (the block's registers
start at zero like the flip-flops). Anything else is left as it was, with the reason in the
step's log.
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
    ff_problem,
    net_drivers,
    net_loads,
    rewrite_netlist_file,
    sole_register,
)

__all__ = ["DspRegResult", "pack_dsp_registers", "pack_dsp_netlist_file"]

_DSP = "MULT18X18D"
_OPERAND_PINS = 18
_PRODUCT_PINS = 36


@dataclass
class DspRegResult:
    """What the step did: multipliers whose input and output registers were packed, flip-flops
    removed, and why the others were not packed (per multiplier and register)."""

    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    removed_ffs: int = 0
    skipped: dict[str, str] = field(default_factory=dict)

    def log_text(self) -> str:
        lines = [f"{len(self.inputs)} {_DSP} input and {len(self.outputs)} output registers "
                 f"packed, {self.removed_ffs} {FF}s removed; {len(self.skipped)} left as "
                 "they were"]
        lines += [f"inputs  {name}" for name in self.inputs]
        lines += [f"output  {name}" for name in self.outputs]
        lines += [f"skipped {what}: {why}" for what, why in self.skipped.items()]
        return "\n".join(lines) + "\n"


def _output_registers(dsp: dict[str, Any], cells: dict[str, Any], loads: Loads,
                      operand_ffs: set[str]) -> tuple[dict[str, str], list | None, str | None]:
    """``{P pin: flip-flop}`` of a multiplier's output register and its clock, or why not
    (``operand_ffs``: flip-flops already packed as another multiplier's operand register)."""
    pairs: dict[str, str] = {}
    clock = None
    for i in range(_PRODUCT_PINS):
        port = f"P{i}"
        ff_name, why = sole_register(port, dsp["connections"].get(port, []), cells, loads, clock)
        if why is None and ff_name in operand_ffs:
            why = f"{port}'s register is another multiplier's operand register"
        if why is not None:
            return {}, None, why
        if ff_name is not None:
            clock = cells[ff_name]["connections"]["CLK"]
            pairs[port] = ff_name
    if not pairs:
        return {}, None, "no product bit drives a register"
    return pairs, clock, None


def _input_registers(dsp: dict[str, Any], cells: dict[str, Any], loads: Loads,
                     drivers: dict[Any, tuple[str, str]],
                     clock: list | None) -> tuple[dict[str, str], list | None, str | None]:
    """``{A/B pin: flip-flop}`` of a multiplier's operand registers and their clock, or why
    not."""
    pairs: dict[str, str] = {}
    for side in "AB":
        for i in range(_OPERAND_PINS):
            port = f"{side}{i}"
            bits = dsp["connections"].get(port, [])
            if not bits or isinstance(bits[0], str):
                continue  # unconnected or constant
            ff_name, ff_port = drivers.get(bits[0], ("", ""))
            ff = cells.get(ff_name)
            if ff is None or ff.get("type") != FF or ff_port != "Q":
                return {}, None, f"{port} is not driven by a {FF}"
            if any(not user or cells[user].get("type") != _DSP or user_port[0] not in "AB"
                   for user, user_port in loads.get(bits[0], [])):
                return {}, None, f"{port}'s register drives more than multiplier operands"
            why = ff_problem(ff, clock)
            if why is not None:
                return {}, None, f"{port}'s register {why}"
            clock = ff["connections"]["CLK"]
            pairs[port] = ff_name
    if not pairs:
        return {}, None, "no operand comes from a register"
    return pairs, clock, None


def _clock_dsp(dsp: dict[str, Any], clock: list) -> None:
    """Clock the multiplier's registers from ``clock`` on CLK0, always enabled, never reset."""
    conn, directions = dsp["connections"], dsp.setdefault("port_directions", {})
    for port, bits in (("CLK0", list(clock)), ("CE0", ["1"]), ("RST0", ["0"])):
        conn[port] = bits
        directions[port] = "input"
    dsp.setdefault("parameters", {})["GSR"] = "DISABLED"


def pack_dsp_registers(netlist: dict[str, Any]) -> DspRegResult:
    """Pack eligible ``MULT18X18D`` input and output registers of a Yosys JSON netlist
    (``write_json``) in place (see the module docstring); returns what was packed and why the
    rest was not."""
    result = DspRegResult()
    for module in netlist.get("modules", {}).values():
        cells = module.get("cells", {})
        loads = net_loads(module)
        drivers = net_drivers(module)
        operand_ffs: set[str] = set()
        for name in cells_of_type(module, _DSP):
            dsp = cells[name]
            params = dsp.setdefault("parameters", {})
            out_pairs, clock, why = _output_registers(dsp, cells, loads, operand_ffs)
            if why is not None:
                result.skipped[f"{name} output"] = why
            in_pairs, in_clock, why = _input_registers(dsp, cells, loads, drivers, clock)
            if why is not None:
                result.skipped[f"{name} inputs"] = why
            if not out_pairs and not in_pairs:
                continue
            _clock_dsp(dsp, clock if clock is not None else in_clock)
            for port, ff_name in out_pairs.items():
                absorb_register(cells, dsp, port, ff_name)
                result.removed_ffs += 1
            if out_pairs:
                params.update(REG_OUTPUT_CLK="CLK0", REG_OUTPUT_CE="CE0", REG_OUTPUT_RST="RST0")
                result.outputs.append(name)
            for port, ff_name in in_pairs.items():
                absorb_register(cells, dsp, port, ff_name, "DI")
                operand_ffs.add(ff_name)
            if in_pairs:
                for side in "AB":
                    params.update({f"REG_INPUT{side}_CLK": "CLK0", f"REG_INPUT{side}_CE": "CE0",
                                   f"REG_INPUT{side}_RST": "RST0"})
                result.inputs.append(name)
        # operand registers whose every load was a packed multiplier now have none
        used = {bit for cell in cells.values()
                for port, bits in cell.get("connections", {}).items()
                if cell.get("port_directions", {}).get(port, "input") != "output"
                for bit in bits}
        used |= {bit for port in module.get("ports", {}).values()
                 if port.get("direction") != "input" for bit in port.get("bits", [])}
        for ff_name in sorted(operand_ffs):
            if cells[ff_name]["connections"]["Q"][0] not in used:
                del cells[ff_name]
                result.removed_ffs += 1
    return result


def pack_dsp_netlist_file(path: Path) -> DspRegResult:
    """:func:`pack_dsp_registers` on a JSON netlist file, rewritten in place."""
    return rewrite_netlist_file(path, pack_dsp_registers)
