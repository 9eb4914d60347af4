"""Where the resources go: Yosys's cell counts per module of the design, as LUTs, flip-flops,
carry cells, multipliers and block RAMs.

The build's synthesis flattens the design, so its report has one total. With
``--module-stats`` the build also synthesizes the design with its hierarchy kept
(``synth_<family> -noflatten``) and reads Yosys's ``stat`` back: each module's own cells
(submodules excluded), the numbers to look at when a design does not fit.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["RESOURCE_KINDS", "WHOLE_DESIGN", "module_cells", "module_resources", "stats_script"]

#: The row of the whole design (Yosys's "design hierarchy" total, submodules included).
WHOLE_DESIGN = "(whole design)"
#: The kinds of cell counted per module.
RESOURCE_KINDS = ("LUT", "FF", "carry", "DSP", "BRAM")


def module_cells(text: str) -> dict[str, dict[str, int]]:
    """``{module: {cell type: count}}`` of Yosys ``stat`` output: each module's own cells."""
    modules: dict[str, dict[str, int]] = {}
    current = None
    in_cells = False
    for line in text.splitlines():
        header = re.match(r"^=== (.+) ===$", line.strip())
        if header:
            current, in_cells = header.group(1), False
            modules[current] = {}
            continue
        if current is None:
            continue
        count = re.match(r"^\s+(\d+)\s+(cells|submodules)$", line)
        if count:
            in_cells = count.group(2) == "cells"
            continue
        entry = re.match(r"^\s+(\d+)\s{3}(\S+)$", line)  # a cell type, indented under "cells"
        if entry and in_cells:
            modules[current][entry.group(2)] = int(entry.group(1))
        elif not entry:
            in_cells = False
    return modules


def _kind(cell_type: str, dsp: str, bram: str) -> str | None:
    if cell_type in ("LUT4", "SB_LUT4"):
        return "LUT"
    if cell_type == "TRELLIS_FF" or cell_type.startswith("SB_DFF"):
        return "FF"
    if cell_type in ("CCU2C", "SB_CARRY"):
        return "carry"
    if cell_type == dsp:
        return "DSP"
    if cell_type == bram:
        return "BRAM"
    return None


def module_resources(text: str, dsp: str, bram: str) -> list[dict[str, Any]]:
    """Each module's LUTs, flip-flops, carry cells, multipliers (cell type ``dsp``) and block
    RAMs (``bram``), largest (LUTs plus flip-flops) first."""
    rows = []
    for module, cells in module_cells(text).items():
        name = WHOLE_DESIGN if module == "design hierarchy" else module  # Yosys's total
        row: dict[str, Any] = {"module": name, **dict.fromkeys(RESOURCE_KINDS, 0)}
        for cell_type, count in cells.items():
            kind = _kind(cell_type, dsp, bram)
            if kind is not None:
                row[kind] += count
        rows.append(row)
    return sorted(rows, key=lambda r: (-(r["LUT"] + r["FF"]), r["module"]))


def stats_script(plan_script: str) -> str:
    """The synthesis script of the build plan (Amaranth's ``ttzo.ys``) turned into one that
    keeps the hierarchy and writes the statistics instead of the netlist."""
    lines = []
    for line in plan_script.splitlines():
        stripped = line.strip()
        if stripped.startswith("synth_"):
            lines.append(stripped.replace(" -top ", " -noflatten -top ", 1)
                         if " -top " in stripped else stripped + " -noflatten")
        elif stripped.startswith("write_json"):
            lines.append("tee -q -o module_stats.txt stat")
        else:
            lines.append(line)
    if not any(ln.startswith("tee ") for ln in lines):
        raise ValueError("the build plan's synthesis script writes no netlist (write_json)")
    return "\n".join(lines) + "\n"
