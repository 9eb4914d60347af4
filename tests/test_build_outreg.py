"""Packing block RAM output registers into a synthesized ECP5 netlist (ttzo.bitstream.outreg)."""

from __future__ import annotations

import copy
import json

import pytest
from netlist_cells import CLK, OTHER_CLK
from netlist_cells import ff as _ff
from netlist_cells import lut as _lut

from ttzo.bitstream.outreg import pack_netlist_file, pack_output_registers


def _bram(first_bit: int, width: int = 4, **conn) -> dict:
    connections = {"CLKB": [CLK], "CEB": ["1"], "OCEB": ["1"], "RSTB": ["0"],
                   "CSB0": ["0"], "CSB1": ["0"], "CSB2": ["0"]}
    connections.update({f"DOB{i}": [first_bit + i] for i in range(width)})
    connections.update({f"DOA{i}": [first_bit + 100 + i] for i in range(width)})
    connections.update(conn)
    directions = {p: "output" if p.startswith("DO") else "input" for p in connections}
    return {"type": "DP16KD", "parameters": {"REGMODE_B": "NOREG", "CLKBMUX": "CLKB",
                                             "CSDECODE_B": "0b000"},
            "port_directions": directions, "connections": connections}


def _netlist(**extra_cells) -> dict:
    """One 4-bit read port: DOB0..3 (bits 10..13) into registers whose outputs (20..23) feed
    LUTs."""
    cells = {"ram": _bram(10)}
    for i in range(4):
        cells[f"ff{i}"] = _ff(10 + i, 20 + i)
        cells[f"use{i}"] = _lut(20 + i, 30 + i)
    cells.update(extra_cells)
    return {"modules": {"top": {"ports": {}, "cells": cells}}}


def test_eligible_port_takes_its_registers():
    netlist = _netlist()
    result = pack_output_registers(netlist)
    cells = netlist["modules"]["top"]["cells"]
    assert result.packed == ["ram"] and result.absorbed_ffs == 4 and not result.skipped
    assert cells["ram"]["parameters"]["REGMODE_B"] == "OUTREG"
    assert not any(name.startswith("ff") for name in cells)
    # the block drives the nets the registers drove; their loads are untouched
    assert [cells["ram"]["connections"][f"DOB{i}"] for i in range(4)] == [[20], [21], [22], [23]]
    assert [cells[f"use{i}"]["connections"]["A"] for i in range(4)] == [[20], [21], [22], [23]]
    assert "1 DP16KD read ports packed, 4 TRELLIS_FFs absorbed" in result.log_text()


def test_unused_data_bits_do_not_prevent_packing():
    netlist = _netlist()
    del netlist["modules"]["top"]["cells"]["ff3"]
    assert pack_output_registers(netlist).absorbed_ffs == 3


@pytest.mark.parametrize("change,reason", [
    (lambda c: c["ram"]["connections"].update(CEB=[7]), "CEB is not constant 1"),
    (lambda c: c["ram"]["connections"].update(OCEB=["0"]), "OCEB is not constant 1"),
    (lambda c: c["ram"]["connections"].update(RSTB=[7]), "RSTB is not constant 0"),
    (lambda c: c["ram"]["connections"].update(CSB1=[7]), "CSB1 is not constant 0"),
    (lambda c: c["ram"]["parameters"].update(REGMODE_B="OUTREG"), "already has an output reg"),
    (lambda c: c["ram"]["parameters"].update(CLKBMUX="INV"), "clock is inverted"),
    (lambda c: c.update(ff2=_ff(12, 22, clk=OTHER_CLK)), "another clock"),
    (lambda c: c.update(ff2=_ff(12, 22, CEMUX="CE", CE=[7])), "clock enable"),
    (lambda c: c.update(ff2=_ff(12, 22, LSR=[7])), "set/reset"),
    (lambda c: c.update(tap=_lut(11, 40)), "DOB1 drives 2 loads"),
    (lambda c: c.update(ff0=_lut(10, 20)), "DOB0 drives A of ff0, not a TRELLIS_FF's DI"),
    (lambda c: c.update(wide=_lut(112, 41)), "port A's data outputs are used too"),
    (lambda c: [c.pop(f"ff{i}") for i in range(4)], "no data bit drives a register"),
])
def test_ineligible_port_is_left_as_it_was_with_the_reason(change, reason):
    netlist = _netlist()
    change(netlist["modules"]["top"]["cells"])
    before = copy.deepcopy(netlist)
    result = pack_output_registers(netlist)
    assert result.packed == [] and reason in result.skipped["ram"]
    assert netlist == before


def test_register_with_constant_enable_is_packed():
    netlist = _netlist(ff1=_ff(11, 21, CEMUX="CE", CE=["1"]))
    assert pack_output_registers(netlist).absorbed_ffs == 4


def test_top_output_port_counts_as_a_load():
    netlist = _netlist()
    netlist["modules"]["top"]["ports"]["dout"] = {"direction": "output", "bits": [13]}
    assert "DOB3 drives 2 loads" in pack_output_registers(netlist).skipped["ram"]


def test_file_is_rewritten_in_place(tmp_path):
    path = tmp_path / "ttzo.json"
    path.write_text(json.dumps(_netlist()))
    assert pack_netlist_file(path).absorbed_ffs == 4
    assert json.loads(path.read_text())["modules"]["top"]["cells"]["ram"]["parameters"][
        "REGMODE_B"] == "OUTREG"
    assert not list(tmp_path.glob("*.tmp"))
