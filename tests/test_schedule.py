"""The engine schedule, run in Python, reproduces the golden model bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from ttzo.golden.model import GoldenModel
from ttzo.spec.fixed import FixedFormat
from ttzo.spec.model import LayerSpec, ModelSpec
from ttzo.spec.numerics import NumericsSpec
from ttzo.spec.perturb import Perturbation
from ttzo.spec.schedule import emulate_layer, layer_schedule
from ttzo.train.config import load_model_file

NM = NumericsSpec(input=FixedFormat(8, 5), weight=FixedFormat(8, 5), state=FixedFormat(10, 5),
                  bias=FixedFormat(12, 8), activation=FixedFormat(8, 3))


def layer_params(golden, theta_int, index):
    params = golden.float_model.unpack(theta_int.astype(float))[index]
    block = [b for b in golden.float_model.blocks if b.layer == index]
    start = block[0].offset
    n_weight = golden.spec.layers[index].weight_params
    weights = theta_int[start : start + n_weight]
    bias = None if params.bias is None else params.bias.astype(np.int64)
    return weights, bias


def check_model(spec, rng, batch=5, perturbation=None):
    golden = GoldenModel(spec)
    theta = golden.float_model.init_params(rng) * 2 + 0.2 * rng.standard_normal(golden.dim)
    theta_int = golden.quantize_params(theta)
    if perturbation is not None:
        from ttzo.golden.perturb import apply_perturbation

        theta_int = apply_perturbation(theta_int, perturbation, golden.param_widths())
    x = golden.quantize_inputs(rng.standard_normal((batch, spec.in_features)) * 2)
    h = x
    for index, layer in enumerate(spec.layers):
        schedule = layer_schedule(layer, spec.numerics, index)
        weights, bias = layer_params(golden, theta_int, index)
        got = emulate_layer(schedule, spec.numerics, index, weights, bias, h, golden.activate)
        expected = golden.layer_int(index, theta_int, h)
        np.testing.assert_array_equal(got, expected)
        assert schedule.macs == layer.macs_per_sample()
        h = expected


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_emulated_schedule_equals_golden(rng, d):
    for _ in range(3):
        out_modes = tuple(int(v) for v in rng.integers(1, 5, d))
        in_modes = tuple(int(v) for v in rng.integers(1, 5, d))
        spec = ModelSpec((LayerSpec(in_modes, out_modes, int(rng.integers(1, 4)), "relu"),
                          LayerSpec((int(np.prod(out_modes)),), (3,), None, "none")), numerics=NM)
        check_model(spec, rng)


def test_emulated_schedule_on_paper_model_with_perturbation(rng):
    spec = ModelSpec.from_dict(load_model_file("mnist-paper"))
    check_model(spec, rng, batch=2, perturbation=Perturbation("gauss", mu=3, seed=99))


def test_buffer_depth_of_paper_layer_one():
    spec = ModelSpec.from_dict(load_model_file("mnist-paper"))
    schedule = layer_schedule(spec.layers[0], spec.numerics, 0)
    assert schedule.buffer_depth == 5376
    assert [c.macs for c in schedule.cores] == [37632, 129024, 129024, 43008]
