# amaranth: UnusedElaboratable=no
"""Gateware rounding and saturation against their golden twins on every value of a range."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from ttzo.hw.fixed import round_shift, saturate
from ttzo.spec import fixed


@pytest.mark.parametrize("in_width,shift,width", [(10, 3, 6), (10, 0, 10), (8, -2, 9), (12, 5, 4)])
def test_round_shift_then_saturate_equal_the_golden_model_on_every_value(in_width, shift, width):
    value = Signal(signed(in_width))
    out = Signal(signed(width))
    m = Module()
    m.d.comb += out.eq(saturate(round_shift(value, shift), width))
    values = np.arange(-(1 << (in_width - 1)), 1 << (in_width - 1))
    expected = fixed.saturate(fixed.round_shift(values, shift), width)
    got = []

    async def bench(ctx):
        for v in values:
            ctx.set(value, int(v))
            got.append(ctx.get(out))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    np.testing.assert_array_equal(got, expected)
