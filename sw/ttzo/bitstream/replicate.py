"""Give every ECP5 block RAM and multiplier its own copy of the registers that drive it.

A wide or deep memory is many block RAMs, and nextpnr spreads them over the chip (beside the
logic that uses their data); the engine's lanes are a row of multipliers. A register that drives
several of these hard blocks (a bank's address, write enable or a column of write data, see
:class:`ttzo.hw.bram.BankedMemory`; the weight every lane multiplies) then reaches blocks far
apart: on the MNIST accelerator one such net took 13.2 ns to route, and the weight's took up to
4.7 ns of the multiplier path. Synthesis cannot keep copies of such a register apart (Yosys
merges flip-flops with the same inputs, a ``keep`` attribute notwithstanding), so this step makes
them after synthesis, on the JSON netlist: a flip-flop that drives pins of ``n > 1`` hard blocks
becomes ``n`` flip-flops with the same inputs, each driving one block's pins, which the placer
puts beside its block. The circuit is unchanged cycle for cycle; only the fanout of the
flip-flops' inputs grows.

The RTL keeps the memories' control one register away from the blocks (the banks' block-level
registers), so that the copies' inputs come from registers placed among the banks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .netlist import (
    FF,
    HARD_BLOCKS,
    RegisterCopies,
    add_cell_copy,
    max_bit,
    natural_key,
    net_loads,
    rewrite_netlist_file,
)

__all__ = ["ReplicateResult", "replicate_block_registers", "replicate_netlist_file"]


class ReplicateResult(RegisterCopies):
    """What the step did: per replicated flip-flop, the blocks it drove and the copies made."""

    def log_text(self) -> str:
        return self._log_text(f"{len(self.replicated)} {FF}s drove more than one of "
                              f"{', '.join(HARD_BLOCKS)}", "blocks", 4)


def replicate_block_registers(netlist: dict[str, Any],
                              blocks_per_copy: int = 1) -> ReplicateResult:
    """Copy every ``TRELLISFF`` that drives several ``DP16KD`` or ``MULT18X18D`` blocks, one
    per group of ``blocks_per_copy`` blocks (in place).

    Blocks are grouped in natural name order (a bank's slices are named by column, so a group
    holds neighbouring columns). The original keeps the first group and every load that is not
    such a block; each further group gets a copy (same parameters and inputs) on a new net.

    Parameters
    ----------
    netlist : dict
        A Yosys JSON netlist (``write_json``), modified in place.
    blocks_per_copy : int
        Blocks driven by each copy (1: one copy per block).

    Returns
    -------
    ReplicateResult
    """
    if not isinstance(blocks_per_copy, int) or blocks_per_copy < 1:
        raise ValueError(f"blocks_per_copy must be a positive integer, not {blocks_per_copy!r}")
    result = ReplicateResult()
    for module in netlist.get("modules", {}).values():
        cells = module.get("cells", {})
        loads = net_loads(module)
        next_bit = max_bit(module) + 1
        for name in [n for n, c in cells.items() if c.get("type") == FF]:
            ff = cells[name]
            q = ff.get("connections", {}).get("Q", [])
            if len(q) != 1:
                continue
            blocks: dict[str, list[str]] = {}
            for user, port in loads.get(q[0], []):
                if user and cells[user].get("type") in HARD_BLOCKS:
                    blocks.setdefault(user, []).append(port)
            if len(blocks) <= blocks_per_copy:
                continue
            order = sorted(blocks, key=natural_key)
            groups = [order[i:i + blocks_per_copy] for i in range(0, len(order), blocks_per_copy)]
            for i, group in enumerate(groups[1:], start=1):
                add_cell_copy(module, name, f"$rep{i}", next_bit,
                              [(block, port) for block in group for port in blocks[block]])
                next_bit += 1
            result.replicated[name] = (len(blocks), len(groups) - 1)
    return result


def replicate_netlist_file(path: Path, blocks_per_copy: int = 1) -> ReplicateResult:
    """:func:`replicate_block_registers` on a JSON netlist file, rewritten in place."""
    return rewrite_netlist_file(
        path, lambda netlist: replicate_block_registers(netlist, blocks_per_copy))
