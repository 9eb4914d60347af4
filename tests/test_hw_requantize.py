# amaranth: UnusedElaboratable=no
"""The result stage against the golden model's end of a core: state requantization on inner
cores; bias, activation requantization and the activation on the last."""

from __future__ import annotations

import numpy as np
import pytest
from streams import run_pipeline

from ttzo.golden.model import GoldenModel
from ttzo.hw.requantize import Requantizer
from ttzo.spec.fixed import FixedFormat
from ttzo.spec.model import LayerSpec, ModelSpec
from ttzo.spec.numerics import NumericsSpec
from ttzo.spec.schedule import layer_schedule

NM = NumericsSpec(input=FixedFormat(8, 5), weight=FixedFormat(8, 5), state=FixedFormat(10, 5),
                  bias=FixedFormat(12, 8), activation=FixedFormat(8, 3), accumulator_width=28)
LANES, OUT_WIDTH = 3, 10


def golden_results(golden: GoldenModel, schedule, sums, bias, first_core, final) -> np.ndarray:
    """What emulate_layer writes for these sums."""
    nm, cores, layer = golden.numerics, schedule.cores, schedule.layer
    later = cores[1] if len(cores) > 1 else cores[0]
    out = np.empty_like(sums)
    for t in range(len(sums)):
        if final[t]:
            acc_frac = nm.weight.frac + cores[-1].in_frac
            acc = sums[t] + ((int(bias[t]) << (acc_frac - nm.bias.frac)) if layer.bias else 0)
            out[t] = golden.activate(layer.activation, nm.activation.requantize(acc, acc_frac))
        else:
            core = cores[0] if first_core[t] else later
            out[t] = nm.state.requantize(sums[t], nm.weight.frac + core.in_frac)
    return out


@pytest.mark.parametrize("layer", [
    LayerSpec((3, 2), (2, 3), 2, "relu"),
    LayerSpec((2, 2), (3, 2), 2, "sine"),
    LayerSpec((3,), (4,), None, "tanh"),
    LayerSpec((2, 3, 2), (3, 1, 2), 3, "none", bias=False),
], ids=["relu", "sine", "tanh-dense", "none-no-bias"])
def test_results_equal_the_golden_model(layer):
    golden = GoldenModel(ModelSpec((layer,), numerics=NM))
    schedule = layer_schedule(layer, NM, 0)
    rng = np.random.default_rng(len(layer.in_modes))
    cycles = 400
    acc_max = 1 << (NM.accumulator_width - 1)
    sums = rng.integers(-(1 << 16), 1 << 16, (cycles, LANES))
    sums[:10] = rng.choice([-acc_max, acc_max - 1, 0, -1, 1 << 9, -(1 << 9)], (10, LANES))
    bias = rng.integers(-(1 << 11), 1 << 11, cycles)
    first_core = rng.random(cycles) < 0.5
    final = rng.random(cycles) < 0.5
    expected = golden_results(golden, schedule, sums, bias, first_core, final)
    dut = Requantizer(schedule, NM, LANES, NM.accumulator_width, OUT_WIDTH)
    inputs = [{"sums": [int(v) for v in sums[t]], "bias": int(bias[t]),
               "first_core": bool(first_core[t]), "final": bool(final[t])}
              for t in range(cycles)]
    got = run_pipeline(dut, inputs, dut.results, Requantizer.LATENCY)
    np.testing.assert_array_equal(np.array(got), expected)

