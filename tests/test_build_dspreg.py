"""Packing multiplier input and output registers into a synthesized ECP5 netlist
(ttzo.bitstream.dspreg)."""

from __future__ import annotations

import copy
import json

import pytest
from netlist_cells import CLK, OTHER_CLK
from netlist_cells import ff as _ff
from netlist_cells import lut as _lut

from ttzo.bitstream.dspreg import pack_dsp_netlist_file, pack_dsp_registers
from ttzo.bitstream.replicate import replicate_block_registers


def _mult(a: list, b: list, p: list) -> dict:
    """A MULT18X18D as Yosys maps a product: unused operand bits constant, no registers."""
    conn = {f"A{i}": [a[i]] if i < len(a) else ["0"] for i in range(18)}
    conn |= {f"B{i}": [b[i]] if i < len(b) else ["0"] for i in range(18)}
    conn |= {f"P{i}": [p[i]] if i < len(p) else [900 + i] for i in range(36)}
    conn |= {"SIGNEDA": ["1"], "SIGNEDB": ["1"]}
    return {"type": "MULT18X18D", "parameters": {},
            "port_directions": {k: "output" if k.startswith("P") else "input" for k in conn},
            "connections": conn}


def _netlist(**extra_cells) -> dict:
    """A 2x2-bit product: operand registers a0, a1 (D 10, 11; Q 20, 21) and b0, b1 (D 12, 13;
    Q 22, 23; b1 sign-extends into B2..B17), product bits 30..33 into registers p0..p3 (Q
    40..43) read by LUTs."""
    cells = {"a0": _ff(10, 20), "a1": _ff(11, 21), "b0": _ff(12, 22), "b1": _ff(13, 23),
             "mul": _mult([20, 21], [22] + [23] * 17, [30, 31, 32, 33])}
    for i in range(4):
        cells[f"p{i}"] = _ff(30 + i, 40 + i)
        cells[f"use{i}"] = _lut(40 + i, 50 + i)
    cells.update(extra_cells)
    return {"modules": {"top": {"ports": {}, "cells": cells}}}


def test_both_ends_are_packed_and_the_circuit_keeps_its_nets():
    netlist = _netlist()
    result = pack_dsp_registers(netlist)
    cells = netlist["modules"]["top"]["cells"]
    mul = cells["mul"]
    assert result.inputs == ["mul"] and result.outputs == ["mul"] and not result.skipped
    assert result.removed_ffs == 8 and set(cells) == {"mul", "use0", "use1", "use2", "use3"}
    for reg in ("INPUTA", "INPUTB", "OUTPUT"):
        assert mul["parameters"][f"REG_{reg}_CLK"] == "CLK0"
        assert mul["parameters"][f"REG_{reg}_CE"] == "CE0"
        assert mul["parameters"][f"REG_{reg}_RST"] == "RST0"
    conn = mul["connections"]
    assert (conn["CLK0"], conn["CE0"], conn["RST0"]) == ([CLK], ["1"], ["0"])
    # operands come from the registers' inputs, the product drives their outputs' nets
    assert [conn[f"A{i}"] for i in range(3)] == [[10], [11], ["0"]]
    assert [conn[f"B{i}"] for i in range(3)] == [[12], [13], [13]]
    assert [conn[f"P{i}"] for i in range(4)] == [[40], [41], [42], [43]]
    assert "1 MULT18X18D input and 1 output registers packed, 8 TRELLIS_FFs removed" \
        in result.log_text()


def test_operand_register_shared_by_two_multipliers_becomes_one_register_in_each():
    netlist = _netlist(mul2=_mult([20, 21], [22, 23], [60, 61]))
    result = pack_dsp_registers(netlist)
    cells = netlist["modules"]["top"]["cells"]
    assert result.inputs == ["mul", "mul2"]
    assert not any(name in cells for name in ("a0", "a1", "b0", "b1"))
    assert cells["mul2"]["connections"]["A0"] == [10]


def test_operand_register_driven_by_a_register_is_then_replicated():
    # the operand registers' inputs are themselves registers (w0, w1) that now drive two
    # multipliers' pins: replicate gives the second multiplier its own copies
    netlist = _netlist(w0=_ff(5, 10), w1=_ff(6, 11), mul2=_mult([20, 21], [22, 23], [60, 61]))
    pack_dsp_registers(netlist)
    assert replicate_block_registers(netlist).copies == 2
    cells = netlist["modules"]["top"]["cells"]
    assert cells["mul2"]["connections"]["A0"] == cells["w0$rep1"]["connections"]["Q"]


@pytest.mark.parametrize("change,what,reason", [
    (lambda c: c.update(b1=_ff(13, 23, LSR=[7])), "inputs", "B1's register has a set/reset"),
    (lambda c: c.update(a0=_ff(10, 20, CEMUX="CE", CE=[7])), "inputs",
     "A0's register has a clock enable"),
    (lambda c: c.update(a1=_ff(11, 21, clk=OTHER_CLK)), "inputs", "A1's register has another"),
    (lambda c: c.update(a0=_lut(10, 20)), "inputs", "A0 is not driven by a TRELLIS_FF"),
    (lambda c: c.update(tap=_lut(22, 70)), "inputs", "B0's register drives more than"),
    (lambda c: c.update(tap=_lut(31, 70)), "output", "P1 drives 2 loads"),
    (lambda c: c.update(p2=_lut(32, 42)), "output", "P2 drives A of p2, not a TRELLIS_FF's DI"),
    (lambda c: c.update(p3=_ff(33, 43, LSR=[7])), "output", "P3's register has a set/reset"),
    (lambda c: c.update(p0=_ff(30, 40, clk=OTHER_CLK)), "output", "has another clock"),
])
def test_ineligible_end_is_left_as_it_was_with_the_reason(change, what, reason):
    netlist = _netlist()
    change(netlist["modules"]["top"]["cells"])
    result = pack_dsp_registers(netlist)
    assert reason in result.skipped[f"mul {what}"]
    params = netlist["modules"]["top"]["cells"]["mul"]["parameters"]
    if what == "inputs":
        assert "REG_INPUTA_CLK" not in params and "REG_INPUTB_CLK" not in params
    else:
        assert "REG_OUTPUT_CLK" not in params


def test_nothing_to_pack_leaves_the_netlist_unchanged():
    netlist = _netlist()
    cells = netlist["modules"]["top"]["cells"]
    for name in ("a0", "a1", "b0", "b1"):
        cells[name] = _lut(cells[name]["connections"]["DI"][0], cells[name]["connections"]["Q"][0])
    for i in range(4):
        cells[f"p{i}"] = _lut(30 + i, 40 + i)
    before = copy.deepcopy(netlist)
    result = pack_dsp_registers(netlist)
    assert not result.inputs and not result.outputs and netlist == before


def test_packed_registers_share_one_clock():
    # the output registers are on CLK, the operand registers on another clock
    netlist = _netlist()
    cells = netlist["modules"]["top"]["cells"]
    for name in ("a0", "a1", "b0", "b1"):
        cells[name]["connections"]["CLK"] = [OTHER_CLK]
    result = pack_dsp_registers(netlist)
    assert result.outputs == ["mul"] and "has another clock" in result.skipped["mul inputs"]


def test_a_register_between_two_multipliers_is_packed_once():
    # mul's product bit 0 registered (p0) feeds mul2's operand: p0 is either mul's output
    # register or mul2's operand register, never both
    netlist = _netlist(mul2=_mult([40], [22], [60]))
    cells = netlist["modules"]["top"]["cells"]
    del cells["use0"]
    result = pack_dsp_registers(netlist)
    cells = netlist["modules"]["top"]["cells"]
    p0_driver = [(n, p) for n, c in cells.items() for p, bits in c["connections"].items()
                 if c["port_directions"][p] == "output" and bits == [40]]
    a0_of_mul2 = cells["mul2"]["connections"]["A0"]
    # whichever way it went, mul2's operand is driven by exactly one cell
    drivers = [(n, p) for n, c in cells.items() for p, bits in c["connections"].items()
               if c["port_directions"][p] == "output" and bits == a0_of_mul2]
    assert len(drivers) == 1, (result.log_text(), p0_driver)


def test_file_is_rewritten_in_place(tmp_path):
    path = tmp_path / "ttzo.json"
    path.write_text(json.dumps(_netlist()))
    assert pack_dsp_netlist_file(path).removed_ffs == 8
    assert json.loads(path.read_text())["modules"]["top"]["cells"]["mul"]["parameters"][
        "REG_OUTPUT_CLK"] == "CLK0"
    assert not list(tmp_path.glob("*.tmp"))
