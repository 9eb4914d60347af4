# amaranth: UnusedElaboratable=no
"""The MAC lanes against NumPy: running sums of products, restarted at ``first``."""

from __future__ import annotations

import numpy as np
import pytest
from streams import run_pipeline

from ttzo.hw.mac import MacLanes


def wrap(values: np.ndarray, width: int) -> np.ndarray:
    """Two's-complement wrap to ``width`` bits."""
    half = 1 << (width - 1)
    return (values + half) % (1 << width) - half


@pytest.mark.parametrize("lanes,acc_width", [(1, 24), (4, 24), (3, 12)])
def test_sums_are_the_running_dot_products_since_first(lanes, acc_width):
    rng = np.random.default_rng(lanes * 100 + acc_width)
    cycles = 300
    weights = rng.integers(-128, 128, cycles)
    states = rng.integers(-512, 512, (cycles, lanes))
    weights[:3], states[:3] = -128, -512  # the most negative product, three times
    first = rng.random(cycles) < 0.2
    first[0] = True
    expected = np.zeros((cycles, lanes), dtype=np.int64)
    for t in range(cycles):
        product = weights[t] * states[t]
        expected[t] = product if first[t] else expected[t - 1] + product
    expected = wrap(expected, acc_width)  # a 12-bit accumulator wraps: that is its contract
    dut = MacLanes(lanes, 8, 10, acc_width)
    inputs = [{"weight": int(weights[t]), "state": [int(v) for v in states[t]],
               "first": bool(first[t])} for t in range(cycles)]
    got = run_pipeline(dut, inputs, dut.sums, MacLanes.LATENCY)
    np.testing.assert_array_equal(np.array(got), expected)


def test_bad_width_is_refused_naming_it():
    with pytest.raises(ValueError, match="acc_width must be a positive integer, not 0"):
        MacLanes(4, 8, 10, 0)
