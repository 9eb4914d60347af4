# amaranth: UnusedElaboratable=no
"""TT-contraction engine gateware against the golden model (Amaranth simulator).

Small layers, all perturbation modes, random stream idles and back-pressure. The cocotb suite in
sim/ runs the same comparison on Verilog with Icarus and Verilator.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.sim import Simulator
from streams import receive, send

from ttzo.golden.model import GoldenModel
from ttzo.hw.engine import TTLayerEngine, perturb_layout
from ttzo.spec.fixed import FixedFormat
from ttzo.spec.model import LayerSpec, ModelSpec
from ttzo.spec.numerics import NumericsSpec
from ttzo.spec.perturb import MODES, Perturbation

NM = NumericsSpec(input=FixedFormat(8, 5), weight=FixedFormat(8, 5), state=FixedFormat(10, 5),
                  bias=FixedFormat(12, 8), activation=FixedFormat(8, 3), accumulator_width=28)


async def load_group(ctx, dut, theta_int, pert):
    """Write the parameters (accepted between groups only), then set the perturbation."""
    for addr, value in enumerate(theta_int):
        ctx.set(dut.p_stream.payload, {"addr": addr, "data": int(value)})
        ctx.set(dut.p_stream.valid, 1)
        await ctx.tick().until(dut.p_stream.ready)
    ctx.set(dut.p_stream.valid, 0)
    ctx.set(dut.perturb, perturb_layout(16).const({
        "mode": MODES.index(pert.mode), "negate": int(pert.negate), "mu": pert.mu,
        "seed": pert.seed, "index": pert.index}))


def run_engine(layer, numerics, lanes, groups, idle=0.3, stall=0.3, seed=0, rng_stage_ops=1):
    """Simulate groups of (theta_int, x_int (lanes, N), Perturbation); return outputs and the
    cycles from each group's first input beat to its last output beat."""
    dut = TTLayerEngine(layer, numerics, 0, lanes=lanes, param_offset=0, index_width=16,
                        rng_stage_ops=rng_stage_ops)
    rng = random.Random(seed)
    outputs, cycles = [], []

    async def bench(ctx):
        for theta_int, x_int, pert in groups:
            await load_group(ctx, dut, theta_int, pert)
            beats = [[int(v) for v in x_int[:, n]] for n in range(x_int.shape[1])]
            t0 = ctx.get(cycle)
            # The engine holds a whole group, so inputs can all go in before outputs come out.
            await send(ctx, dut.i_stream, beats, rng, idle)
            got = await receive(ctx, dut.o_stream, layer.out_features, rng, stall)
            cycles.append(ctx.get(cycle) - t0)
            outputs.append(np.array([[int(v) for v in beat] for beat in got]).T)

    from amaranth.hdl import Signal

    cycle = Signal(32)

    async def count(ctx):
        ticks = 0
        async for _ in ctx.tick():
            ticks += 1
            ctx.set(cycle, ticks)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.add_process(count)
    sim.run()
    return outputs, cycles, dut


def make_case(layer_spec, rng, lanes, scale=1.0, modes=MODES):
    spec = ModelSpec((layer_spec,), numerics=NM)
    golden = GoldenModel(spec)
    groups, expected = [], []
    for mode in modes:
        theta = golden.float_model.init_params(rng) * 2 * scale
        theta += 0.3 * scale * rng.standard_normal(golden.dim)
        theta_int = golden.quantize_params(theta)
        x_int = golden.quantize_inputs(rng.standard_normal((lanes, spec.in_features)) * 2 * scale)
        pert = Perturbation(mode, mu=int(rng.integers(1, 6)), negate=bool(rng.integers(2)),
                            seed=int(rng.integers(2**32)), index=int(rng.integers(golden.dim)))
        groups.append((theta_int, x_int, pert))
        expected.append(golden.forward_perturbed(theta_int, x_int, pert))
    return groups, expected


@pytest.mark.parametrize("layer_spec", [
    LayerSpec((3, 2), (2, 3), 2, "relu"),
    LayerSpec((2, 3, 2), (3, 1, 2), 3, "none"),
    LayerSpec((5,), (3,), None, "relu"),
    LayerSpec((2, 2), (3, 2), 2, "sine"),
    LayerSpec((3,), (4,), None, "tanh"),
])
def test_engine_matches_golden_in_every_perturbation_mode(rng, layer_spec):
    lanes = 3
    groups, expected = make_case(layer_spec, rng, lanes)
    outputs, _, _ = run_engine(layer_spec, NM, lanes, groups)
    for got, exp in zip(outputs, expected):
        np.testing.assert_array_equal(got, exp)


def test_engine_saturation_corners(rng):
    layer_spec = LayerSpec((2, 2), (2, 2), 2, "none")
    groups, expected = make_case(layer_spec, rng, 2, scale=6.0, modes=("gauss", "none"))
    outputs, _, _ = run_engine(layer_spec, NM, 2, groups, idle=0.0, stall=0.0)
    for got, exp in zip(outputs, expected):
        np.testing.assert_array_equal(got, exp)
    assert any((np.abs(e) >= NM.activation.max_int).any() for e in expected)


def test_mutated_expectation_is_caught(rng):
    """The comparison can fail: a one-LSB change in the expectation is detected."""
    layer_spec = LayerSpec((3, 2), (2, 3), 2, "none")
    groups, expected = make_case(layer_spec, rng, 2, modes=("rademacher",))
    outputs, _, _ = run_engine(layer_spec, NM, 2, groups)
    wrong = expected[0].copy()
    wrong[1, 2] += 1
    assert not np.array_equal(outputs[0], wrong)
    np.testing.assert_array_equal(outputs[0], expected[0])


@pytest.mark.parametrize("layer_spec,lanes,stage_ops", [
    (LayerSpec((3, 2), (2, 3), 2, "relu"), 2, 1),
    (LayerSpec((2, 3, 2), (3, 1, 2), 3, "none"), 4, 1),
    (LayerSpec((2, 3, 2), (3, 1, 2), 3, "relu"), 2, 3),  # the iCE40 RNG pipeline
    (LayerSpec((5, 3, 3), (4, 5, 4), 3, "none"), 3, 1),  # 80 outputs: the streamer's FIFO
])
def test_cycle_model_matches_simulation(rng, layer_spec, lanes, stage_ops):
    groups, expected = make_case(layer_spec, rng, lanes, modes=("none", "gauss", "coordinate"))
    outputs, cycles, dut = run_engine(layer_spec, NM, lanes, groups, idle=0.0, stall=0.0,
                                      rng_stage_ops=stage_ops)
    assert cycles == [dut.cycles_per_group()] * len(groups)
    assert dut.rng_latency == {1: 19, 3: 9}[stage_ops]
    for got, exp in zip(outputs, expected):
        np.testing.assert_array_equal(got, exp)


def test_whole_mlp_engine_matches_golden(rng):
    from ttzo.hw.engine import TTMLPEngine

    spec = ModelSpec((LayerSpec((3, 2), (2, 4), 2, "relu"), LayerSpec((4, 2), (3, 1), 2, "none")),
                     numerics=NM)
    golden = GoldenModel(spec)
    lanes = 2
    dut = TTMLPEngine(spec, lanes=lanes, index_width=16)
    cases = []
    for mode in ("rademacher", "coordinate"):
        theta_int = golden.quantize_params(golden.float_model.init_params(rng) * 2)
        x_int = golden.quantize_inputs(rng.standard_normal((lanes, spec.in_features)) * 2)
        pert = Perturbation(mode, mu=3, seed=int(rng.integers(2**32)),
                            index=int(rng.integers(golden.dim)))
        cases.append((theta_int, x_int, pert, golden.forward_perturbed(theta_int, x_int, pert)))
    outputs = []
    prng = random.Random(4)

    async def bench(ctx):
        for theta_int, x_int, pert, _ in cases:
            await load_group(ctx, dut, theta_int, pert)
            beats = [[int(v) for v in x_int[:, n]] for n in range(x_int.shape[1])]
            await send(ctx, dut.i_stream, beats, prng, 0.2)
            got = await receive(ctx, dut.o_stream, spec.out_features, prng, 0.2)
            outputs.append(np.array([[int(v) for v in beat] for beat in got]).T)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    for got, (_, _, _, expected) in zip(outputs, cases):
        np.testing.assert_array_equal(got, expected)
    assert len(outputs) == 2
