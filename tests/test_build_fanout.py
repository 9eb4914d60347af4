"""Copying high-fanout pipeline registers, one copy per group of loads (ttzo.bitstream.fanout)."""

from __future__ import annotations

import copy
import json

import pytest
from netlist_cells import ff, lut

from ttzo.bitstream.fanout import replicate_fanout_file, replicate_fanout_registers

SRC_D, SRC_Q, SEL_Q, RST = 3, 5, 10, 7
OUT = list(range(100, 110))  # the "out" register's bits, one per load
#: The LUT feeding bit k: names in an order unrelated to the bits they feed.
MUX = {k: f"mux{(k * 3) % 10}" for k in range(10)}


def _netlist(sel_d=SRC_Q, extra_cells=None) -> dict:
    """``sel`` (fed by the register ``src``, with a reset) steers ten LUTs; ``MUX[k]`` feeds bit
    ``k`` of the register ``out``. Cell names and order are unrelated to the bits."""
    cells = {"src": ff(SRC_D, SRC_Q), "sel": ff(sel_d, SEL_Q, LSR=[RST])}
    for k in (7, 2, 9, 0, 5, 3, 8, 1, 6, 4):
        cells[MUX[k]] = lut(SEL_Q, 200 + k)
        cells[f"out_reg{(k * 7) % 10}"] = ff(200 + k, OUT[k])
    cells.update(extra_cells or {})
    return {"modules": {"top": {
        "ports": {"o": {"direction": "output", "bits": OUT}},
        "cells": cells,
        "netnames": {"out": {"hide_name": 0, "bits": OUT},
                     "sel": {"hide_name": 0, "bits": [SEL_Q]}}}}}


def _driver_of(cells: dict, bit) -> str:
    (name,) = [n for n, c in cells.items()
               if c["port_directions"].get("Q") == "output" and c["connections"]["Q"] == [bit]]
    return name


def test_loads_are_split_into_groups_of_neighbouring_bits():
    netlist = _netlist()
    before = copy.deepcopy(netlist["modules"]["top"]["cells"])
    result = replicate_fanout_registers(netlist, max_loads=4)
    cells = netlist["modules"]["top"]["cells"]
    assert result.replicated == {"sel": (10, 2)} and result.copies == 2
    assert "1 pipeline TRELLIS_FFs had more loads than allowed; 2 copies added" \
        in result.log_text()
    drivers = [_driver_of(cells, cells[MUX[k]]["connections"]["A"][0]) for k in range(10)]
    # bits 0-3 stay on the original, 4-7 and 8-9 get a copy each
    assert drivers[:4] == ["sel"] * 4
    assert len(set(drivers[4:8])) == 1 and len(set(drivers[8:])) == 1
    assert len(set(drivers)) == 3
    for name in set(drivers):
        # a copy is the original but for its output: same parameters, data, clock and reset
        twin = cells[name]
        assert {k: v for k, v in twin.items() if k != "connections"} == \
            {k: v for k, v in before["sel"].items() if k != "connections"}
        assert {p: b for p, b in twin["connections"].items() if p != "Q"} == \
            {p: b for p, b in before["sel"]["connections"].items() if p != "Q"}
    new_bits = {cells[n]["connections"]["Q"][0] for n in set(drivers) - {"sel"}}
    used = {b for c in before.values() for bits in c["connections"].values() for b in bits}
    assert not new_bits & used
    named = {b for net in netlist["modules"]["top"]["netnames"].values() for b in net["bits"]}
    assert new_bits <= named
    # nothing else changed
    for name, cell in before.items():
        if not name.startswith("mux"):
            assert cells[name] == cell


@pytest.mark.parametrize("case", ["few loads", "data from logic", "drives a block",
                                  "drives a port"])
def test_registers_that_are_not_copied(case):
    max_loads = 4
    if case == "few loads":
        netlist, max_loads = _netlist(), 10
    elif case == "data from logic":
        netlist = _netlist(sel_d=300, extra_cells={"logic": lut(SRC_Q, 300)})
    elif case == "drives a block":
        ram = {"type": "DP16KD", "parameters": {},
               "port_directions": {"ADA0": "input", "DOA0": "output"},
               "connections": {"ADA0": [SEL_Q], "DOA0": [400]}}
        netlist = _netlist(extra_cells={"ram": ram})
    else:
        netlist = _netlist()
        netlist["modules"]["top"]["ports"]["s"] = {"direction": "output", "bits": [SEL_Q]}
    before = copy.deepcopy(netlist)
    result = replicate_fanout_registers(netlist, max_loads=max_loads)
    assert result.copies == 0 and netlist == before


def test_file_is_rewritten_and_bad_limits_are_named(tmp_path):
    path = tmp_path / "design.json"
    path.write_text(json.dumps(_netlist()))
    assert replicate_fanout_file(path, max_loads=5).copies == 1
    assert len(json.loads(path.read_text())["modules"]["top"]["cells"]) == 23
    with pytest.raises(ValueError, match="max_loads must be a positive integer, not 0"):
        replicate_fanout_registers(_netlist(), max_loads=0)


def _enable_netlist() -> dict:
    """The LUT ``en`` (of the registers ``valid`` and ``ready``) enables the ten flip-flops of
    ``out`` and also feeds a carry chain; ``small`` drives two flip-flops only."""
    valid, ready, en, small = 11, 12, 13, 14
    en_lut = {"type": "LUT4", "parameters": {"INIT": "1110111011101110"},
              "port_directions": {"A": "input", "B": "input", "Z": "output"},
              "connections": {"A": [valid], "B": [ready], "Z": [en]}}
    carry = {"type": "CCU2C", "parameters": {},
             "port_directions": {"A0": "input", "S0": "output"},
             "connections": {"A0": [en], "S0": [300]}}
    cells = {"valid": ff(SRC_Q, valid), "ready": ff(SRC_Q, ready), "en": en_lut,
             "carry": carry, "small": lut(valid, small),
             "src": ff(SRC_D, SRC_Q)}
    for k in (3, 8, 0, 6, 1, 9, 4, 2, 7, 5):
        cells[f"out_ff{(k * 7) % 10}"] = ff(200 + k, OUT[k], CE=[en])
    for k in (0, 1):
        cells[f"small_ff{k}"] = ff(SRC_Q, 400 + k, CE=[small])
    return {"modules": {"top": {
        "ports": {"o": {"direction": "output", "bits": OUT}},
        "cells": cells,
        "netnames": {"out": {"hide_name": 0, "bits": OUT}}}}}


def test_enable_luts_are_copied_per_group_of_flip_flops():
    netlist = _enable_netlist()
    before = copy.deepcopy(netlist["modules"]["top"]["cells"])
    result = replicate_fanout_registers(netlist, max_loads=4)
    cells = netlist["modules"]["top"]["cells"]
    assert result.luts == {"en": (10, 2)} and result.lut_copies == 2 and result.copies == 0
    assert "1 LUT4s had more loads than allowed; 2 copies added" in result.log_text()
    out_ffs = {c["connections"]["Q"][0]: c for c in cells.values()
               if c["connections"].get("Q", [None])[0] in OUT}
    enables = [out_ffs[OUT[k]]["connections"]["CE"][0] for k in range(10)]
    # bits 0-3 keep the original table, 4-7 and 8-9 get a copy each
    assert len({*enables[:4]}) == len({*enables[4:8]}) == len({*enables[8:]}) == 1
    assert len(set(enables)) == 3 and enables[0] == 13
    for bit in set(enables) - {13}:
        (name,) = [n for n, c in cells.items() if c["connections"].get("Z") == [bit]]
        twin = cells[name]
        assert twin["parameters"] == before["en"]["parameters"]
        assert {p: b for p, b in twin["connections"].items() if p != "Z"} == \
            {p: b for p, b in before["en"]["connections"].items() if p != "Z"}
    # the carry chain keeps the original; small fanouts are left alone
    assert cells["carry"] == before["carry"]
    assert cells["small"] == before["small"] and cells["small_ff0"] == before["small_ff0"]
    assert len(cells) == len(before) + 2
