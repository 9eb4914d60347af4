"""The fixed-point golden model against independent references (Python integers, exact math)."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from ttzo.golden.model import GoldenModel
from ttzo.model import TTMLP
from ttzo.spec.fixed import FixedFormat, round_shift, saturate
from ttzo.spec.model import LayerSpec, ModelSpec
from ttzo.spec.numerics import NumericsSpec, activation_table


def test_round_shift_is_round_half_up_for_all_small_values():
    values = np.arange(-300, 301)
    for shift in range(0, 6):
        expected = [math.floor(Fraction(int(v), 2**shift) + Fraction(1, 2)) for v in values]
        assert round_shift(values, shift).tolist() == expected
    assert round_shift(np.array([3, -3]), -2).tolist() == [12, -12]


def test_saturate_and_quantize_corners():
    assert saturate(np.array([-200, -128, 127, 200]), 8).tolist() == [-128, -128, 127, 127]
    fmt = FixedFormat(8, 4)
    got = fmt.quantize(np.array([0.03125, -0.03125, 0.09375, 100.0, -100.0, 7.9375, -8.0]))
    assert got.tolist() == [1, 0, 2, 127, -128, 127, -128]  # ties go up
    np.testing.assert_array_equal(fmt.dequantize(fmt.quantize(np.arange(-8, 8, 1 / 16))),
                                  np.arange(-8, 8, 1 / 16))
    assert fmt.requantize(np.array([255, 256, -257, 100000]), 8).tolist() == [16, 16, -16, 127]


@pytest.mark.parametrize("bad", [{"width": 1, "frac": 0}, {"width": 8}, {"width": 8, "frac": 1.5},
                                 {"width": 60, "frac": 0}])
def test_bad_formats_are_named(bad):
    with pytest.raises(ValueError, match="numerics.state"):
        FixedFormat.from_dict("numerics.state", bad)


def reference_layer(cores, bias, x, nm: NumericsSpec, index: int, activation: str):
    """Index-by-index TT layer on Python integers: states as dicts keyed by explicit indices."""
    d = len(cores)
    out_modes = [c.shape[1] for c in cores]
    in_modes = [c.shape[2] for c in cores]
    results = []
    for b in range(x.shape[0]):
        # state[(m_1..m_k), a, (n_{k+1}..n_d)] for k = 0: (), 0, all in modes
        state = {((), 0, ni): int(x[b, np.ravel_multi_index(ni, in_modes)])
                 for ni in itertools.product(*map(range, in_modes))}
        frac_in = nm.layer_input(index).frac
        for k, core in enumerate(cores):
            r0, m, n, r1 = core.shape
            new = {}
            rest_modes = in_modes[k + 1:]
            for mi in itertools.product(*map(range, out_modes[:k])):
                for rest in itertools.product(*map(range, rest_modes)):
                    for mk in range(m):
                        for c in range(r1):
                            acc = 0
                            for a in range(r0):
                                for nk in range(n):
                                    acc += int(core[a, mk, nk, c]) * state[(mi, a, (nk, *rest))]
                            new[((*mi, mk), c, rest)] = acc
            acc_frac = nm.weight.frac + frac_in
            if k < d - 1:
                shift = acc_frac - nm.state.frac
                lo, hi = nm.state.min_int, nm.state.max_int
                new = {key: min(max(math.floor(Fraction(v, 2**shift) + Fraction(1, 2)), lo), hi)
                       for key, v in new.items()}
                frac_in = nm.state.frac
            state = new
        row = []
        for mi in itertools.product(*map(range, out_modes)):
            acc = state[(mi, 0, ())]
            acc_frac = nm.weight.frac + frac_in
            if bias is not None:
                acc += int(bias[np.ravel_multi_index(mi, out_modes)]) << (acc_frac - nm.bias.frac)
            v = math.floor(Fraction(acc, 2 ** (acc_frac - nm.activation.frac)) + Fraction(1, 2))
            v = min(max(v, nm.activation.min_int), nm.activation.max_int)
            row.append(max(v, 0) if activation == "relu" else v)
        results.append(row)
    return np.array(results)


NARROW = NumericsSpec(input=FixedFormat(6, 3), weight=FixedFormat(5, 3), state=FixedFormat(7, 3),
                      bias=FixedFormat(8, 4), activation=FixedFormat(6, 2), accumulator_width=24)


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("scale", [0.5, 4.0])  # 4.0 drives states and outputs into saturation
def test_tt_layer_matches_index_by_index_reference(rng, d, scale):
    out_modes = tuple(int(v) for v in rng.integers(1, 4, d))
    in_modes = tuple(int(v) for v in rng.integers(1, 4, d))
    rank = int(rng.integers(1, 4))
    spec = ModelSpec((LayerSpec(in_modes, out_modes, rank, "relu"),), numerics=NARROW)
    golden = GoldenModel(spec)
    theta = golden.float_model.init_params(rng) * scale + 0.3 * rng.standard_normal(golden.dim)
    theta_int = golden.quantize_params(theta)
    x = golden.quantize_inputs(rng.standard_normal((3, spec.in_features)) * 2 * scale)
    got = golden.forward_int(theta_int, x)
    params = golden.float_model.unpack(theta_int.astype(float))[0]
    cores = [c.astype(np.int64) for c in params.cores]
    expected = reference_layer(cores, params.bias.astype(np.int64), x, NARROW, 0, "relu")
    np.testing.assert_array_equal(got, expected)
    if scale > 1:
        assert (got == NARROW.activation.max_int).any()  # the corner was really exercised


def test_contraction_order_is_part_of_the_format(rng):
    """docs/numerics.md: the contraction starts at core 1. Rounding the states between cores
    makes the order matter: the golden model equals the core-1-first reference on every input,
    and the same cores contracted from the last core first give other outputs on some (with a
    state format that rounds nothing, both orders agree: the reversal itself is right)."""
    exact = NumericsSpec(input=NARROW.input, weight=NARROW.weight, state=FixedFormat(16, 6),
                         bias=NARROW.bias, activation=NARROW.activation, accumulator_width=24)
    for nm, orders_agree in ((exact, True), (NARROW, False)):
        spec = ModelSpec((LayerSpec((3, 4), (4, 3), 3, "none"),), numerics=nm)
        golden = GoldenModel(spec)
        theta_int = golden.quantize_params(golden.float_model.init_params(rng) * 2)
        x = golden.quantize_inputs(rng.standard_normal((40, spec.in_features)) * 2)
        params = golden.float_model.unpack(theta_int.astype(float))[0]
        cores = [c.astype(np.int64) for c in params.cores]
        bias = params.bias.astype(np.int64)
        got = golden.forward_int(theta_int, x)
        np.testing.assert_array_equal(got, reference_layer(cores, bias, x, nm, 0, "none"))
        # last core first: the cores reversed (ranks swapped), in and out modes likewise
        flipped = [np.transpose(c, (3, 1, 2, 0)) for c in reversed(cores)]
        swap_in = x.reshape(-1, 3, 4).transpose(0, 2, 1).reshape(-1, 12)
        swap_bias = bias.reshape(4, 3).T.ravel()
        backwards = reference_layer(flipped, swap_bias, swap_in, nm, 0, "none")
        backwards = backwards.reshape(-1, 3, 4).transpose(0, 2, 1).reshape(-1, 12)
        assert np.array_equal(backwards, got) == orders_agree


def test_activation_table_samples_each_bin_at_its_centre_code():
    """docs/numerics.md: bin ``i`` holds codes ``i 2^s .. (i+1) 2^s - 1`` and is sampled at code
    ``i 2^s + 2^(s-1)`` (``s = 0``: the code itself)."""
    fmt = FixedFormat(12, 6)
    for bits in (10, 12):
        s = fmt.width - bits
        i = np.arange(1 << bits) - (1 << (bits - 1))
        centre = i * 2**s + (2 ** (s - 1) if s else 0)
        for name, func in (("sine", np.sin), ("tanh", np.tanh)):
            want = [fmt.quantize(func(float(Fraction(int(c), 2**fmt.frac)))) for c in centre]
            np.testing.assert_array_equal(activation_table(name, fmt, bits), want)


def test_wide_formats_track_the_float_model(rng):
    wide = NumericsSpec(input=FixedFormat(24, 16), weight=FixedFormat(24, 18),
                        state=FixedFormat(24, 14), bias=FixedFormat(24, 16),
                        activation=FixedFormat(20, 14), accumulator_width=53, lut_bits=16)
    spec = ModelSpec((LayerSpec((3, 4), (4, 2), 3, "sine"), LayerSpec((8,), (5,), None, "tanh"),
                      LayerSpec((5,), (3,), None, "none")), numerics=wide)
    golden = GoldenModel(spec)
    theta = golden.float_model.init_params(rng) + 0.05 * rng.standard_normal(golden.dim)
    x = rng.uniform(-1, 1, (16, 12))
    np.testing.assert_allclose(golden.forward(theta, x), TTMLP(spec).forward(theta, x),
                               atol=2e-3)


def test_activation_tables_follow_the_function():
    fmt = FixedFormat(10, 6)
    table = activation_table("sine", fmt, 10)
    inputs = (np.arange(1024) - 512) * fmt.lsb
    np.testing.assert_allclose(fmt.dequantize(table), np.sin(inputs), atol=fmt.lsb)
    coarse = activation_table("tanh", fmt, 6)
    assert coarse.shape == (64,)


def test_accumulator_overflow_is_refused():
    small = NumericsSpec(accumulator_width=16)
    with pytest.raises(ValueError, match=r"layer 0 core 0: .* needs a \d+-bit accumulator, but "
                                         r"accumulator_width is 16"):
        ModelSpec((LayerSpec((784,), (10,), None, "none"),), numerics=small)
    late_bias = NumericsSpec(bias=FixedFormat(16, 20))
    with pytest.raises(ValueError, match="bias format Q16.20 has more fraction bits"):
        ModelSpec((LayerSpec((4,), (4,), None, "none"),), numerics=late_bias)


def test_numerics_round_trip_through_model_file():
    spec = ModelSpec((LayerSpec((4, 2), (2, 2), 2, "relu"),), numerics=NARROW)
    again = ModelSpec.from_dict(spec.to_dict())
    assert again.numerics == NARROW
    with pytest.raises(ValueError, match="unknown numerics setting"):
        ModelSpec.from_dict({**spec.to_dict(), "numerics": {"weights": {"width": 8, "frac": 4}}})


def test_perturbation_modes_follow_the_definition(rng):
    from ttzo.golden.perturb import apply_update
    from ttzo.spec.perturb import Perturbation, perturbation_delta
    from ttzo.spec.rng import gauss_int, rademacher_int

    idx = np.arange(50)
    assert perturbation_delta(Perturbation("none"), idx).tolist() == [0] * 50
    coord = perturbation_delta(Perturbation("coordinate", mu=3, negate=True, index=7), idx)
    assert coord[7] == -3 and np.count_nonzero(coord) == 1
    rad = perturbation_delta(Perturbation("rademacher", mu=5, seed=9), idx)
    np.testing.assert_array_equal(rad, 5 * rademacher_int(9, idx))
    gauss = perturbation_delta(Perturbation("gauss", mu=3, negate=True, seed=9), idx)
    expected = [math.floor(Fraction(-3 * int(g), 4) + Fraction(1, 2)) for g in gauss_int(9, idx)]
    assert gauss.tolist() == expected
    theta = rng.integers(-120, 120, 50)
    widths = np.full(50, 8)
    updated = apply_update(theta, "gauss", [1, 2], [6, -3], 1, widths)
    acc = 6 * gauss_int(1, idx) - 3 * gauss_int(2, idx)
    ref = [max(-128, min(127, int(t) - math.floor(Fraction(int(a), 8) + Fraction(1, 2))))
           for t, a in zip(theta, acc)]
    assert updated.tolist() == ref
    with pytest.raises(ValueError, match="mu must be"):
        Perturbation("gauss", mu=0)
    with pytest.raises(ValueError, match="unknown perturbation mode 'uniform'"):
        Perturbation("uniform")


def test_golden_objective_serves_device_queries_and_trains(rng):
    from ttzo.golden.objective import GoldenObjective
    from ttzo.model import get_loss
    from ttzo.optim import Adam
    from ttzo.spec.perturb import Perturbation
    from ttzo.zo import RGE, get_directions

    spec = ModelSpec((LayerSpec((3, 4), (4, 4), 2, "relu"), LayerSpec((16,), (3,), None, "none")))
    golden = GoldenModel(spec)
    x = rng.standard_normal((200, 12))
    teacher = rng.standard_normal((12, 3))
    y = (x @ teacher).argmax(axis=1)
    loss = get_loss("cross_entropy")
    theta = golden.float_model.init_params(rng)
    obj = GoldenObjective(golden, x, y, loss)
    lsb = spec.numerics.weight.lsb
    got = obj.direction_losses(theta, get_directions("device-rademacher"), [5, 6], [2 * lsb, -lsb])
    for (seed, mu, neg), value in zip([(5, 2, False), (6, 1, True)], got):
        out = golden.forward_perturbed(golden.quantize_params(theta), golden.quantize_inputs(x),
                                       Perturbation("rademacher", mu=mu, negate=neg, seed=seed))
        assert value == pytest.approx(loss.fn(spec.numerics.activation.dequantize(out), y))
    # quantization-aware BP-free training lowers the fixed-point loss
    est = RGE(mu=2 * lsb, n_directions=6, directions="device-rademacher", scheme="central")
    opt = Adam(golden.dim)
    start = obj.loss(theta)
    for step in range(60):
        opt.step(theta, est.estimate(obj, theta, step).grad, 0.02)
    assert obj.loss(theta) < 0.8 * start
