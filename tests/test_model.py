"""Model description, flat parameter layout, back-propagation and fast coordinate queries."""

from __future__ import annotations

import numpy as np
import pytest

from ttzo.model import TTMLP, CoordinateQueries, get_loss
from ttzo.spec.model import LayerSpec, ModelSpec


def mixed_model() -> TTMLP:
    """Three layers: TT (tanh), dense (relu), TT (none): every code path of the fast queries."""
    spec = ModelSpec((
        LayerSpec((3, 5), (4, 2), 2, "tanh"),
        LayerSpec((8,), (6,), None, "relu"),
        LayerSpec((2, 3), (1, 3), (1, 2, 1), "none"),
    ))
    return TTMLP(spec)


def paper_spec() -> ModelSpec:
    return ModelSpec((
        LayerSpec((7, 4, 4, 7), (8, 4, 4, 8), 6, "relu"),
        LayerSpec((8, 4, 4, 8), (1, 5, 2, 1), 6, "none"),
    ))


def test_paper_model_counts():
    spec = paper_spec()
    assert spec.weight_params == 2928
    assert spec.params == 2928 + 1034
    assert spec.dense_params == 813_056 + 1034
    assert spec.compression > 200  # biases counted on both sides


def test_flat_layout_views_write_through(rng):
    model = mixed_model()
    theta = model.init_params(rng)
    assert theta.shape == (model.dim,) == (model.spec.params,)
    layers = model.unpack(theta)
    layers[0].cores[1][0, 0, 0, 0] = 42.0
    block, pos = model.locate(int(np.nonzero(theta == 42.0)[0][0]))
    assert (block.layer, block.kind, block.index, pos) == (0, "core", 1, (0, 0, 0, 0))
    assert all(np.all(p.bias == 0) for p in layers if p.bias is not None)


def test_forward_matches_dense_reference(rng):
    model = mixed_model()
    theta = model.init_params(rng) + 0.1 * rng.standard_normal(model.dim)
    x = rng.standard_normal((9, 15))
    h = x
    for p, act in zip(model.unpack(theta), (np.tanh, lambda z: np.maximum(z, 0), lambda z: z)):
        h = act(h @ p.dense_weight().T + p.bias)
    np.testing.assert_allclose(model.forward(theta, x), h, rtol=1e-12, atol=1e-12)


def test_backprop_gradient_matches_central_differences(rng):
    model = mixed_model()
    loss = get_loss("cross_entropy")
    theta = model.init_params(rng) + 0.1 * rng.standard_normal(model.dim)
    x, y = rng.standard_normal((7, 15)), rng.integers(0, 3, 7)
    grad, _ = model.gradient(theta, x, lambda out: loss.grad(out, y))
    eps = 1e-6
    for i in range(model.dim):
        e = np.zeros(model.dim)
        e[i] = eps
        fd = (loss.fn(model.forward(theta + e, x), y) - loss.fn(model.forward(theta - e, x), y))
        assert grad[i] == pytest.approx(fd / (2 * eps), rel=1e-5, abs=1e-8)


def test_dense_products_give_the_same_outputs_and_gradients(rng):
    spec = mixed_model().spec
    contract, dense = TTMLP(spec), TTMLP(spec, dense_products=True)
    theta = contract.init_params(rng)
    x = rng.standard_normal((9, 15))
    np.testing.assert_allclose(dense.forward(theta, x), contract.forward(theta, x), atol=1e-12)
    g_out = rng.standard_normal((9, 3))
    g_contract, _ = contract.gradient(theta, x, lambda out: g_out)
    g_dense, _ = dense.gradient(theta, x, lambda out: g_out)
    np.testing.assert_allclose(g_dense, g_contract, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("step", [1e-3, -0.5])
def test_coordinate_queries_equal_from_scratch_forward(rng, step):
    model = mixed_model()
    loss = get_loss("cross_entropy")
    theta = model.init_params(rng) + 0.1 * rng.standard_normal(model.dim)
    x, y = rng.standard_normal((7, 15)), rng.integers(0, 3, 7)
    queries = CoordinateQueries(model, theta, x, y, loss.fn, max_elements=64)  # forces chunking
    indices = np.concatenate([rng.permutation(model.dim), [3, 3]])
    fast = queries.losses(indices, step)
    for i, got in zip(indices, fast):
        probe = theta.copy()
        probe[i] += step
        assert got == pytest.approx(loss.fn(model.forward(probe, x), y), rel=1e-12, abs=1e-14)
    assert queries.base_loss() == pytest.approx(loss.fn(model.forward(theta, x), y), rel=1e-14)


def test_coordinate_queries_on_paper_model_sample(rng):
    model = TTMLP(paper_spec())
    loss = get_loss("cross_entropy")
    theta = model.init_params(rng)
    x, y = rng.standard_normal((16, 784)), rng.integers(0, 10, 16)
    queries = CoordinateQueries(model, theta, x, y, loss.fn)
    picks = rng.choice(model.dim, 60, replace=False)
    fast = queries.losses(picks, 0.01)
    for i, got in zip(picks, fast):
        probe = theta.copy()
        probe[i] += 0.01
        assert got == pytest.approx(loss.fn(model.forward(probe, x), y), rel=1e-11)


def test_coordinate_index_out_of_range(rng):
    model = mixed_model()
    theta = model.init_params(rng)
    q = CoordinateQueries(model, theta, rng.standard_normal((2, 15)), np.array([0, 1]),
                          get_loss("cross_entropy").fn)
    with pytest.raises(IndexError, match=f"coordinate {model.dim} is outside"):
        q.losses(np.array([0, model.dim]), 0.1)


@pytest.mark.parametrize(
    "data,message",
    [
        ({"layers": []}, "at least one layer"),
        ({"layers": [{"in_modes": [7, 4], "out_modes": [8, 4], "rank": 2},
                     {"in_modes": [30], "out_modes": [10]}]}, "layer 1 takes 30 inputs"),
        ({"layers": [{"in_modes": [4], "out_modes": [4], "activation": "gelu"}]},
         "unknown activation 'gelu'"),
        ({"layers": [{"in_modes": [4], "out_modes": [4], "ranks": 2}]}, "unknown setting"),
        ({"layers": [{"in_modes": [4, 2], "out_modes": [4, 2], "rank": [1, 2, 2, 1]}]},
         "d \\+ 1 = 3"),
        ({"layers": [{"out_modes": [4]}]}, "missing in_modes"),
        ({"layer": []}, "unknown model setting"),
    ],
)
def test_spec_errors_name_the_problem(data, message):
    with pytest.raises(ValueError, match=message):
        ModelSpec.from_dict(data)


def test_spec_round_trip():
    spec = paper_spec()
    again = ModelSpec.from_dict(spec.to_dict())
    assert again == spec and again.params == spec.params


def test_wrong_parameter_and_input_shapes(rng):
    model = mixed_model()
    with pytest.raises(ValueError, match="does not fit model"):
        model.forward(np.zeros(model.dim + 1), np.zeros((1, 15)))
    with pytest.raises(ValueError, match=r"input of shape \(1, 14\)"):
        model.forward(np.zeros(model.dim), np.zeros((1, 14)))
