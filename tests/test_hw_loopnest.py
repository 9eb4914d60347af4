# amaranth: UnusedElaboratable=no
"""The loop-nest address generator against its golden twin, ``spec.schedule.loop_addresses``:
every core of several layers, stepped with random gaps."""

from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from ttzo.hw.loopnest import LoopNest
from ttzo.spec.model import LayerSpec, ModelSpec
from ttzo.spec.numerics import NumericsSpec
from ttzo.spec.schedule import layer_schedule, loop_addresses
from ttzo.train.config import load_model_file

LAYERS = [
    LayerSpec((3, 2), (2, 3), 2, "relu"),
    LayerSpec((2, 3, 2), (3, 1, 2), 3, "none"),
    LayerSpec((5,), (3,), None, "relu"),
    LayerSpec((7, 4), (4, 4), 3, "relu"),
]


def expected_iterations(core) -> list[tuple]:
    """(src, dst, weight, first, last) of every iteration of ``core``, in loop order."""
    src = loop_addresses(core, core.src_strides)
    dst = loop_addresses(core, core.dst_strides)
    weight = core.weight_base + loop_addresses(core, core.weight_strides)
    position = np.arange(core.macs) % core.reduction
    return list(zip(src.tolist(), dst.tolist(), weight.tolist(),
                    (position == 0).tolist(), (position == core.reduction - 1).tolist()))


def run_nest(schedule, seed: int, gap: float = 0.3) -> list[list[tuple]]:
    """Load each core in turn and step it to its end with random gaps; the issued iterations."""
    dut = LoopNest(schedule.cores, addr_bits=16)
    rng = random.Random(seed)
    issued: list[list[tuple]] = []

    async def bench(ctx):
        for k in range(len(schedule.cores)):
            ctx.set(dut.core, k)
            ctx.set(dut.load, 1)
            for _ in range(rng.randrange(1, 3)):
                await ctx.tick()
            ctx.set(dut.load, 0)
            got = []
            stepping, finished = True, False
            while not finished or len(got) < schedule.cores[k].macs:
                step = stepping and rng.random() >= gap
                last_step = step and ctx.get(dut.done)
                ctx.set(dut.step, step)
                await ctx.tick()
                ctx.set(dut.step, 0)
                if last_step:
                    stepping, finished = False, True
                if ctx.get(dut.issue):
                    got.append(tuple(ctx.get(getattr(dut, n)) for n in
                                     ("src", "dst", "weight")) +
                               (bool(ctx.get(dut.first)), bool(ctx.get(dut.last))))
                assert len(got) <= schedule.cores[k].macs, "issued past the nest's end"
            issued.append(got)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return issued


@pytest.mark.parametrize("case", range(len(LAYERS)))
def test_each_core_issues_its_loop_nest_in_order(case):
    schedule = layer_schedule(LAYERS[case], NumericsSpec(), 0)
    issued = run_nest(schedule, seed=case)
    for core, got in zip(schedule.cores, issued):
        assert got == expected_iterations(core)


def test_mnist_first_layer_core_addresses():
    spec = ModelSpec.from_dict(load_model_file("mnist-paper"))
    schedule = layer_schedule(spec.layers[0], spec.numerics, 0)
    # the paper's first layer, stepped without gaps as RUN does
    issued = run_nest(schedule, seed=1, gap=0.0)
    for core, got in zip(schedule.cores, issued):
        assert got == expected_iterations(core)


def test_address_width_too_small_is_refused_naming_it():
    schedule = layer_schedule(LAYERS[3], NumericsSpec(), 0)
    with pytest.raises(ValueError, match="addr_bits 4 cannot hold address"):
        LoopNest(schedule.cores, addr_bits=4)
