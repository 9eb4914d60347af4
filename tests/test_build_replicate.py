"""Copying registers that drive several block RAMs, one per block (ttzo.bitstream.replicate)."""

from __future__ import annotations

import copy
import json

import pytest

from ttzo.bitstream.replicate import replicate_block_registers, replicate_netlist_file

CLK, D, CE = 2, 3, 4


def _cell(kind: str, inputs: dict, outputs: dict, **params) -> dict:
    conn = {**inputs, **outputs}
    return {"type": kind, "parameters": dict(params), "attributes": {"src": "hw/bram.py:1"},
            "port_directions": {p: "output" if p in outputs else "input" for p in conn},
            "connections": conn}


def _ff(d: int, q: int) -> dict:
    return _cell("TRELLIS_FF", {"CLK": [CLK], "DI": [d], "CE": [CE], "LSR": ["0"]}, {"Q": [q]},
                 CEMUX="CE", CLKMUX="CLK", REGSET="RESET")


def _bram(**inputs) -> dict:
    return _cell("DP16KD", {"CLKA": [CLK], **{k: v for k, v in inputs.items()}},
                 {"DOB0": [900 + len(inputs)]})


def _netlist() -> dict:
    """``addr`` (Q = 10) drives ADB4 of three blocks and WEA and ADA0 of the second, plus a LUT;
    ``data`` (Q = 11) drives one block only."""
    cells = {
        "addr": _ff(D, 10), "data": _ff(D + 100, 11),
        "ram0": _bram(ADB4=[10], DIA0=[11]),
        "ram1": _bram(ADB4=[10], WEA=[10], ADA0=[10]),
        "ram2": _bram(ADB4=[10]),
        "lut": _cell("LUT4", {"A": [10]}, {"Z": [20]}),
    }
    return {"modules": {"top": {"ports": {"o": {"direction": "output", "bits": [20]}},
                                "cells": cells, "netnames": {"addr_q": {"bits": [10]}}}}}


def _driver(cells: dict, bit) -> tuple[str, dict]:
    (name, cell), = [(n, c) for n, c in cells.items()
                     if c["port_directions"].get("Q") == "output"
                     and c["connections"]["Q"] == [bit]]
    return name, cell


def test_each_block_gets_its_own_copy_with_the_same_inputs():
    netlist = _netlist()
    before = copy.deepcopy(netlist["modules"]["top"]["cells"])
    result = replicate_block_registers(netlist)
    cells = netlist["modules"]["top"]["cells"]
    assert result.replicated == {"addr": (3, 2)} and result.copies == 2
    assert "1 TRELLIS_FFs drove more than one of DP16KD, MULT18X18D; 2 copies added" \
        in result.log_text()
    drivers = {}
    for ram in ("ram0", "ram1", "ram2"):
        pins = {p: bits for p, bits in cells[ram]["connections"].items()
                if p in ("ADB4", "WEA", "ADA0")}
        # all of a block's pins that the register drove now come from one flip-flop
        assert len({bits[0] for bits in pins.values()}) == 1
        name, ff = _driver(cells, next(iter(pins.values()))[0])
        drivers[ram] = name
        # a copy is the original but for its output: same type, parameters and inputs
        expected = {k: v for k, v in before["addr"].items() if k != "connections"}
        assert {k: v for k, v in ff.items() if k != "connections"} == expected
        assert {p: b for p, b in ff["connections"].items() if p != "Q"} == \
            {p: b for p, b in before["addr"]["connections"].items() if p != "Q"}
    assert drivers["ram0"] == "addr" and len(set(drivers.values())) == 3
    # loads other than block RAMs stay on the original; the one-block register is untouched
    assert cells["lut"]["connections"]["A"] == [10]
    assert cells["data"] == before["data"] and cells["ram0"]["connections"]["DIA0"] == [11]
    # the new nets are fresh bits and have names
    new_bits = {cells[r]["connections"]["ADB4"][0] for r in ("ram1", "ram2")}
    used = {b for n, c in before.items() for bits in c["connections"].values() for b in bits}
    assert not new_bits & used
    named = {b for net in netlist["modules"]["top"]["netnames"].values() for b in net["bits"]}
    assert new_bits <= named


def test_registers_driving_one_block_are_left_alone():
    netlist = _netlist()
    cells = netlist["modules"]["top"]["cells"]
    del cells["ram1"], cells["ram2"]  # addr now drives ram0 and the LUT
    original = copy.deepcopy(netlist)
    assert replicate_block_registers(netlist).replicated == {}
    assert netlist == original


def test_file_is_rewritten_in_place(tmp_path):
    path = tmp_path / "ttzo.json"
    path.write_text(json.dumps(_netlist()))
    result = replicate_netlist_file(path)
    cells = json.loads(path.read_text())["modules"]["top"]["cells"]
    assert result.copies == 2 and {"addr$rep1", "addr$rep2"} <= set(cells)
    assert not list(tmp_path.glob("*.tmp"))


def test_multipliers_sharing_a_register_get_copies_too():
    cells = {"w": _ff(D, 10)}
    for lane in range(4):
        cells[f"mul{lane}"] = _cell("MULT18X18D", {"B0": [10], "A0": [20 + lane]},
                                    {"P0": [30 + lane]})
    netlist = {"modules": {"top": {"cells": cells}}}
    assert replicate_block_registers(netlist).replicated == {"w": (4, 3)}
    drivers = {cells[f"mul{lane}"]["connections"]["B0"][0] for lane in range(4)}
    assert len(drivers) == 4 and all(_driver(cells, bit)[1]["connections"]["DI"] == [D]
                                     for bit in drivers)


def test_copies_can_serve_groups_of_neighbouring_blocks():
    cells = {"w": _ff(D, 10)}
    for lane in (0, 1, 2, 10, 11):  # natural order: 0 1 2 10 11, grouped by two
        cells[f"mul{lane}"] = _cell("MULT18X18D", {"B0": [10]}, {"P0": [30 + lane]})
    netlist = {"modules": {"top": {"cells": cells}}}
    result = replicate_block_registers(netlist, blocks_per_copy=2)
    assert result.replicated == {"w": (5, 2)} and "   5 blocks    2 copies  w" in result.log_text()
    driver = {lane: cells[f"mul{lane}"]["connections"]["B0"][0] for lane in (0, 1, 2, 10, 11)}
    assert driver[0] == driver[1] == 10 and driver[2] == driver[10] != 10
    assert driver[11] not in (10, driver[2])
    with pytest.raises(ValueError, match="blocks_per_copy must be a positive integer, not 0"):
        replicate_block_registers(netlist, blocks_per_copy=0)
