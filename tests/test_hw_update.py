# amaranth: UnusedElaboratable=no
"""Update-pass gateware against the golden update rule (Amaranth simulator)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.sim import Simulator
from streams import receive, send

from ttzo.golden.perturb import apply_update
from ttzo.hw.update import UpdateUnit, update_config_layout, update_item_layout


@pytest.mark.parametrize("kind,count,frac,tables", [
    ("gauss", 5, 3, 8), ("rademacher", 3, 0, 8), ("gauss", 1, 0, 8), ("rademacher", 8, 6, 8),
    ("gauss", 1, 2, 1),  # a one-entry table: the seed looked up ahead wraps around
    ("rademacher", 6, 1, 6),  # a table that does not fill its last group of four
    ("gauss", 16, 4, 16),  # every entry of a full 16-entry table (four groups)
])
def test_update_unit_matches_golden(kind, count, frac, tables):
    rng = np.random.default_rng(count * 7 + frac)
    dut = UpdateUnit(weight_width=8, bias_width=16, max_directions=tables, coef_width=16,
                     index_width=16)
    n = 40
    bias = rng.integers(0, 2, n)
    widths = np.where(bias == 1, 16, 8)
    theta = np.where(bias == 1, rng.integers(-30000, 30000, n), rng.integers(-128, 128, n))
    theta[:4] = [127, -128, 127, -128]  # saturation corners with large coefficients below
    seeds = [int(s) for s in rng.integers(0, 2**32, count)]
    coefs = [int(c) for c in rng.integers(-3000, 3000, count)]
    expected = apply_update(theta.copy(), kind, seeds, coefs, frac, widths)
    shift = frac + (2 if kind == "gauss" else 0)
    config = update_config_layout(tables, 16).const({
        "gauss": int(kind == "gauss"), "count": count, "shift": shift,
        "seeds": seeds + [0] * (tables - count), "coefs": coefs + [0] * (tables - count)})
    layout = update_item_layout(16, 16)
    items = [layout.const({"index": i, "value": int(theta[i]), "bias": int(bias[i])})
             for i in range(n)]
    got = []

    async def bench(ctx):
        ctx.set(dut.config, config)
        await send(ctx, dut.i_stream, items, random.Random(1), 0.3)

    async def sink(ctx):
        got.extend(await receive(ctx, dut.o_stream, n, random.Random(2), 0.3))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.add_testbench(sink)
    sim.run()
    assert [p.index for p in got] == list(range(n))
    np.testing.assert_array_equal([p.value for p in got], expected)
    assert not np.array_equal(expected, theta)
