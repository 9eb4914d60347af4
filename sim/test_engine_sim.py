"""cocotb simulation of the engine on Icarus and Verilator, bit-exact against the golden model.

``TTZO_SIMULATORS`` (comma-separated) limits the simulators; ``TTZO_WAVES=1`` keeps waveforms.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from cases import make_case, random_layer
from runner import ensure_verilator_on_path, run_case

from ttzo.spec.fixed import FixedFormat
from ttzo.spec.numerics import NumericsSpec

SIMULATORS = [s for s in os.environ.get("TTZO_SIMULATORS", "icarus,verilator").split(",") if s]
WAVES = os.environ.get("TTZO_WAVES") == "1"

NARROW = NumericsSpec(input=FixedFormat(8, 5), weight=FixedFormat(8, 5), state=FixedFormat(10, 5),
                      bias=FixedFormat(12, 8), activation=FixedFormat(8, 3), accumulator_width=28)

# (d, lanes, seed): every core count from 1 to 4, odd lane counts, random modes and ranks
CASES = {"icarus": [(1, 3, 11), (2, 4, 12), (3, 2, 13), (4, 3, 14), (2, 5, 15)],
         "verilator": [(1, 2, 21), (3, 4, 22), (4, 2, 23)]}


def _available(simulator: str) -> bool:
    ensure_verilator_on_path()
    return shutil.which("iverilog" if simulator == "icarus" else "verilator") is not None


@pytest.mark.parametrize("simulator,d,lanes,seed",
                         [(s, *c) for s in SIMULATORS for c in CASES.get(s, [])])
def test_engine_bit_exact(tmp_path, simulator, d, lanes, seed):
    if not _available(simulator):
        pytest.fail(f"{simulator} is not installed; run the tests through .ci/with-venv")
    rng = np.random.default_rng(seed)
    case = make_case(random_layer(rng, d), NARROW, lanes, rng)
    result = run_case(case, simulator, tmp_path, waves=WAVES)
    if result["failed"] and not WAVES:
        result = run_case(case, simulator, tmp_path / "waves", waves=True)
        pytest.fail(f"{result.get('mismatches')} mismatches; waveforms in {result['build_dir']}")
    assert result["tests"] == 1 and result["failed"] == 0
    expected_vectors = sum(len(g["expected"]) * len(g["expected"][0]) for g in case["groups"])
    assert result["vectors"] == expected_vectors and result["mismatches"] == 0


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_measured_cycles_equal_the_model(tmp_path, simulator):
    rng = np.random.default_rng(5)
    case = make_case(random_layer(rng, 3), NARROW, 3, rng, groups=2, idle=0.0, stall=0.0)
    result = run_case(case, simulator, tmp_path)
    assert result["failed"] == 0
    assert result["cycles"] == [result["cycles_model"]] * 2
