"""hw.mux.select: Python indexing is its reference (every index, odd option counts, views), its
netlist is 2:1 multiplexers only (no shared case decode), and bad arguments name themselves."""

from __future__ import annotations

import random
import re

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data
from amaranth.sim import Simulator

from ttzo.hw.mux import select


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 7, 16])
def test_select_picks_the_indexed_option(count):
    width = 12
    index = Signal(range(max(2, count)))
    options = [Signal(width, name=f"opt{i}") for i in range(count)]
    out = Signal(width)
    m = Module()
    m.d.comb += out.eq(select(index, options))
    rng = random.Random(count)

    async def bench(ctx):
        for _ in range(20):
            values = [rng.randrange(1 << width) for _ in options]
            for signal, value in zip(options, values):
                ctx.set(signal, value)
            for i in range(count):
                ctx.set(index, i)
                assert ctx.get(out) == values[i]

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


def test_select_takes_views_and_ignores_high_index_bits():
    layout = data.ArrayLayout(unsigned(4), 3)
    options = [Signal(layout, name=f"row{i}") for i in range(4)]
    index = Signal(5)
    out = Signal(layout)
    m = Module()
    m.d.comb += out.eq(select(index, options))

    async def bench(ctx):
        for i, row in enumerate(options):
            ctx.set(row, [i, i + 4, i + 8])
        for raw in (0, 6, 9, 31):  # only the two low bits choose among four
            ctx.set(index, raw)
            assert list(ctx.get(out)) == [raw % 4, raw % 4 + 4, raw % 4 + 8]

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


def test_select_is_a_tree_of_two_way_multiplexers():
    """Four options: three $mux cells on the index bits, no comparison a synthesizer could share
    among the output bits (what a Switch gives)."""
    index = Signal(2)
    options = [Signal(32, name=f"opt{i}") for i in range(4)]
    out = Signal(32)
    m = Module()
    m.d.sync += out.eq(select(index, options))
    cells = re.findall(r"^\s*cell \\?(\$\w+)", rtlil.convert(m, ports=[index, out, *options]),
                       re.MULTILINE)
    assert sorted(c for c in cells if c != "$dff") == ["$mux"] * 3


def test_select_rejects_bad_arguments():
    with pytest.raises(ValueError, match="at least one option"):
        select(Signal(2), [])
    with pytest.raises(ValueError, match="index of 2 bits cannot select among 5 options"):
        select(Signal(2), [Signal(4) for _ in range(5)])
