"""The analytic estimate against exact rules, simulation and a real synthesis report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ttzo.cli import main
from ttzo.estimate import RNG_LATENCY, banked_blocks, bram_blocks, estimate
from ttzo.hw.rng import rng_latency
from ttzo.spec.boards import bank_rows, bank_slices, get_board
from ttzo.spec.model import ModelSpec
from ttzo.train.config import load_model_file

ROOT = Path(__file__).resolve().parents[1]


def paper():
    return ModelSpec.from_dict(load_model_file("mnist-paper"))


def test_rng_latency_in_step_with_gateware():
    assert RNG_LATENCY == rng_latency() == 19
    assert rng_latency(3) == 1 + 6 + 2


def test_banked_memories_are_tiled_bank_by_bank():
    ecp5 = get_board("ulx3s-85f").device
    # banks use true-dual-port shapes only: not ECP5's 512 x 36
    assert ecp5.bank_shapes == ecp5.bram_shapes[:-1]
    assert get_board("icebreaker").device.bank_shapes == get_board("icebreaker").device.bram_shapes
    # 192-bit rows: banks of 1K rows in slices of 18 bits (10 x 18 + 12), one 1K x 18 block
    # each, also for the last 256 rows (a plain memory would take 512 x 36 there)
    assert bank_rows(192, ecp5.bank_shapes) == 1024
    assert bank_slices(192, ecp5.bank_shapes) == [18] * 10 + [12]
    assert banked_blocks(5376, 192, ecp5) == 6 * 11
    # narrow memories get deep banks: one block each
    assert bank_rows(8, ecp5.bank_shapes) == 2048
    assert bank_slices(8, ecp5.bank_shapes) == [8]
    assert banked_blocks(1824, 8, ecp5) == 1
    assert bank_rows(16, get_board("icebreaker").device.bank_shapes) == 256
    assert bank_slices(36, get_board("icebreaker").device.bank_shapes) == [16, 16, 4]


def test_bram_tiling():
    ecp5 = get_board("ulx3s-85f").device
    assert bram_blocks(16, 100, ecp5) == 0  # LUT RAM
    assert bram_blocks(1024, 18, ecp5) == 1
    assert bram_blocks(1025, 18, ecp5) == 2
    assert bram_blocks(5376, 192, ecp5) == 66  # 11 x 6 of 512 x 36, or 6 x 11 of 1K x 18
    assert bram_blocks(2048, 9, ecp5) == 1
    assert bram_blocks(300, 16, get_board("icebreaker").device) == 2


def test_cycles_and_utilization_of_paper_layer_one():
    est = estimate(paper(), 16)
    # load, MACs, drains between the 4 cores, drain after the last (RNG 19 + 11 + the address
    # lag), output beats, output latency (six-cycle banked read + two FIFO cycles)
    assert est.layer_cycles[0] == 784 + 338_688 + 3 * 14 + 31 + 1024 + 8
    assert est.layer_utilization[0] == pytest.approx(338_688 / est.layer_cycles[0])
    assert est.samples_per_s == pytest.approx(16 * 100e6 / est.layer_cycles[0])


def test_estimate_agrees_with_measured_synthesis():
    measured = json.loads((ROOT / "benchmarks/results/engine.json").read_text())
    syn = measured["synthesis_ecp5"]
    est = estimate(paper(), syn["lanes"])
    assert est.used["BRAM"] == syn["used"]["DP16KD"]
    assert est.used["DSP"] == syn["used"]["MULT18X18D"]
    # LUT and FF are a fit calibrated on this synthesis (and one at 2 lanes): a consistency check
    assert est.used["LUT"] == pytest.approx(syn["used"]["LUT4"], rel=0.1)
    # (synthesis alone: without the flip-flops the build's replicate step copies afterwards,
    # with those its dspreg step moves into the multipliers)
    assert est.replicated_ffs > 0 and est.dsp_packed_ffs > 0
    assert est.used["FF"] - est.replicated_ffs + est.dsp_packed_ffs == pytest.approx(
        syn["used"]["FF"], rel=0.1)
    assert measured["cycles_measured"] == est.layer_cycles[0]


def test_too_big_model_names_the_exceeded_resources(capsys):
    est = estimate(paper(), 16, "icebreaker")
    assert not est.fits and {"BRAM", "DSP", "LUT", "FF"} <= set(est.exceeded)
    assert main(["estimate", "--board", "icebreaker", "--model", "mnist-paper",
                 "--lanes", "16"]) == 3
    assert "EXCEEDED" in capsys.readouterr().out


def test_estimate_cli_json_and_errors(capsys):
    assert main(["estimate", "--model", "mnist-paper", "--lanes", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # the whole accelerator: engine lanes, perturbation products and the update unit's product
    assert out["fits"] and out["lanes"] == 8 and out["used"]["DSP"] == 2 * (8 + 2) + 1
    names = {m["memory"] for m in out["memories"]}
    assert {"buffer0", "weights", "inputs", "theta", "frame"} <= names
    assert main(["estimate", "--board", "arty"]) == 2
    assert "unknown board 'arty'" in capsys.readouterr().err
    assert main(["estimate", "--model", "nonexistent-model"]) == 2
    assert "neither a file nor a shipped model" in capsys.readouterr().err
