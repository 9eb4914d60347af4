"""TT shapes, TT-SVD, the contraction forward and the counts."""

from __future__ import annotations

import itertools
from math import prod

import numpy as np
import pytest

from ttzo.spec.shape import TTShape
from ttzo.tt import (
    TTMatrix,
    choose_forward_method,
    tt_core_grads,
    tt_core_responses,
    tt_forward,
    tt_forward_split,
    tt_left_states,
    tt_right_envs,
    tt_to_dense,
)
from ttzo.tt.contract import tt_dense_grad_to_cores


def random_shape(rng, d):
    out_modes = tuple(int(v) for v in rng.integers(1, 6, d))
    in_modes = tuple(int(v) for v in rng.integers(1, 6, d))
    ranks = (1, *(int(v) for v in rng.integers(1, 5, d - 1)), 1)
    return TTShape(out_modes, in_modes, ranks)


def brute_force_dense(cores):
    """W[m, n] as the explicit sum over rank paths, index by index."""
    out_modes = [c.shape[1] for c in cores]
    in_modes = [c.shape[2] for c in cores]
    w = np.zeros((prod(out_modes), prod(in_modes)))
    for mi in itertools.product(*map(range, out_modes)):
        for ni in itertools.product(*map(range, in_modes)):
            acc = np.ones((1, 1))
            for core, m, n in zip(cores, mi, ni):
                acc = acc @ core[:, m, n, :]
            row = np.ravel_multi_index(mi, out_modes)
            col = np.ravel_multi_index(ni, in_modes)
            w[row, col] = acc[0, 0]
    return w


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5])
def test_forward_matches_dense_for_random_modes_and_ranks(rng, d):
    for _ in range(3):
        shape = random_shape(rng, d)
        tt = TTMatrix.random(shape, rng)
        x = rng.standard_normal((5, shape.cols))
        dense = tt.to_dense()
        np.testing.assert_allclose(tt.matvec(x, "contract"), x @ dense.T, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(tt.matvec(x, "dense"), x @ dense.T, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(tt.matvec(x[0]), x[0] @ dense.T, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_to_dense_matches_index_by_index_definition(rng, d):
    shape = random_shape(rng, d)
    tt = TTMatrix.random(shape, rng)
    np.testing.assert_allclose(tt.to_dense(), brute_force_dense(tt.cores), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("d,max_rank", [(2, 2), (3, 3), (4, 2), (3, None), (5, 4)])
def test_tt_svd_error_within_stated_bound(rng, d, max_rank):
    out_modes = tuple(int(v) for v in rng.integers(2, 5, d))
    in_modes = tuple(int(v) for v in rng.integers(2, 5, d))
    w = rng.standard_normal((prod(out_modes), prod(in_modes)))
    result = TTMatrix.from_dense(w, out_modes, in_modes, max_rank=max_rank)
    err = np.linalg.norm(result.matrix.to_dense() - w)
    assert err <= result.error_bound * (1 + 1e-9) + 1e-10
    if max_rank is None:
        assert err < 1e-9  # no cap: exact
    else:
        assert max(result.matrix.shape_tt.ranks) <= max_rank


def test_tt_svd_recovers_a_low_rank_tt_exactly(rng):
    shape = TTShape.uniform((3, 4, 2), (2, 5, 3), 2)
    w = TTMatrix.random(shape, rng).to_dense()
    result = TTMatrix.from_dense(w, shape.out_modes, shape.in_modes)
    assert result.matrix.shape_tt.ranks == (1, 2, 2, 1)
    np.testing.assert_allclose(result.matrix.to_dense(), w, atol=1e-12)


def test_tt_svd_relative_tolerance_bound(rng):
    w = rng.standard_normal((24, 30))
    result = TTMatrix.from_dense(w, (2, 3, 4), (3, 2, 5), rel_tol=0.3)
    err = np.linalg.norm(result.matrix.to_dense() - w)
    assert err <= 0.3 * np.linalg.norm(w) + 1e-12
    assert err <= result.error_bound + 1e-12


def count_matmul_macs(fn, *args):
    """Run fn with np.matmul instrumented; return the multiply-accumulates it performed."""
    total = 0
    real = np.matmul

    def counting(a, b, *rest, **kw):
        nonlocal total
        out = real(a, b, *rest, **kw)
        total += out.size * a.shape[-1]
        return out

    np.matmul = counting
    try:
        fn(*args)
    finally:
        np.matmul = real
    return total


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_counts_equal_brute_force(rng, d):
    shape = random_shape(rng, d)
    tt = TTMatrix.random(shape, rng)
    assert shape.params == sum(c.size for c in tt.cores)
    assert shape.dense_params == tt.to_dense().size
    macs = count_matmul_macs(tt_forward, tt.cores, rng.standard_normal((1, shape.cols)))
    assert macs == shape.contraction_macs()
    assert shape.compression == pytest.approx(shape.dense_params / shape.params)


@pytest.mark.parametrize("d", [2, 3, 4])
def test_split_forward_matches_dense_and_its_count(rng, d):
    shape = random_shape(rng, d)
    tt = TTMatrix.random(shape, rng)
    x = rng.standard_normal((5, shape.cols))
    expected = x @ brute_force_dense(tt.cores).T
    for split in range(1, d):
        np.testing.assert_allclose(tt_forward_split(tt.cores, x, split), expected,
                                   rtol=1e-12, atol=1e-12)
        macs = count_matmul_macs(tt_forward_split, tt.cores, x[:1], split)
        assert macs == shape.split_macs(split)
    for bad in (0, d):
        with pytest.raises(ValueError, match=f"not {bad}"):
            tt_forward_split(tt.cores, x, bad)
        with pytest.raises(ValueError, match=f"not {bad}"):
            shape.split_macs(bad)


def test_best_split_beats_the_dense_product_or_is_none():
    hjb = TTShape.uniform((8, 4, 4, 4), (4, 4, 4, 8), 2)  # the HJB network's hidden layer
    assert hjb.best_split() == 2
    assert hjb.split_macs(2) == 2 * 16 * 16 * (32 + 32) < hjb.dense_macs()
    assert TTShape.uniform((8,), (8,), 1).best_split() is None  # one core: nothing to split
    wide_rank = TTShape((2, 2), (2, 2), (1, 4, 1))  # 64 MACs split, 16 dense
    assert wide_rank.best_split() is None


def test_paper_mnist_counts():
    l1 = TTShape.uniform((8, 4, 4, 8), (7, 4, 4, 7), 6)
    l2 = TTShape.uniform((1, 5, 2, 1), (8, 4, 4, 8), 6)
    assert (l1.params, l2.params) == (1824, 1104)
    assert l1.dense_params + l2.dense_params == 813_056
    assert l1.contraction_macs() == 338_688  # REFERENCE.md: ~339k MACs per sample


def test_forward_method_choice_follows_cost():
    shape = TTShape.uniform((8, 4, 4, 8), (7, 4, 4, 7), 6)
    assert choose_forward_method(shape, 1) == "contract"
    tiny_out = TTShape.uniform((1, 5, 2, 1), (8, 4, 4, 8), 6)
    assert choose_forward_method(tiny_out, 1000) == "dense"


def test_random_init_matches_dense_layer_scale(rng):
    shape = TTShape.uniform((8, 4, 4, 8), (7, 4, 4, 7), 6)
    stds = [TTMatrix.random(shape, np.random.default_rng(s)).to_dense().std() for s in range(20)]
    assert np.mean(stds) == pytest.approx(1 / np.sqrt(784), rel=0.1)
    he = TTMatrix.random(shape, rng, scheme="he").to_dense().std()
    assert he == pytest.approx(np.sqrt(2 / 784), rel=0.35)


def test_responses_and_core_gradients_match_finite_differences(rng):
    shape = TTShape((3, 2, 4), (2, 5, 3), (1, 2, 3, 1))
    tt = TTMatrix.random(shape, rng)
    x = rng.standard_normal((4, shape.cols))
    grad_y = rng.standard_normal((4, shape.rows))
    states = tt_left_states(tt.cores, x)
    responses = tt_core_responses(states, tt_right_envs(tt.cores))
    grads = tt_core_grads(responses, shape.out_modes, grad_y)
    eps = 1e-6
    for k, core in enumerate(tt.cores):
        for idx in [tuple(int(rng.integers(s)) for s in core.shape) for _ in range(5)]:
            bumped = [c.copy() for c in tt.cores]
            bumped[k][idx] += eps
            fd = (np.sum(tt_forward(bumped, x) * grad_y) - np.sum(tt_forward(tt.cores, x) * grad_y))
            assert grads[k][idx] == pytest.approx(fd / eps, rel=1e-5, abs=1e-7)


def test_to_dense_of_transposed_cores_is_transpose(rng):
    from ttzo.tt import tt_transpose

    tt = TTMatrix.random(TTShape.uniform((2, 3), (4, 5), 3), rng)
    np.testing.assert_allclose(tt_to_dense(tt_transpose(tt.cores)), tt.to_dense().T)


@pytest.mark.parametrize(
    "args,message",
    [
        (((8, 4), (7, 4, 4), (1, 6, 1)), "same length"),
        (((8, 4), (7, 4), (1, 6, 6, 1)), r"d \+ 1 = 3"),
        (((8, 4), (7, 4), (2, 6, 1)), "boundary ranks must be 1"),
        (((8, 4), (7, 4), (1, 0, 1)), "ranks must be positive"),
        (((8, -4), (7, 4), (1, 3, 1)), "out_modes must be positive"),
        (((), (), (1,)), "at least one core"),
    ],
)
def test_invalid_shapes_name_the_value(args, message):
    with pytest.raises(ValueError, match=message):
        TTShape(*args)


def test_from_dense_rejects_modes_that_do_not_multiply_to_the_size(rng):
    with pytest.raises(ValueError, match=r"product 30"):
        TTMatrix.from_dense(rng.standard_normal((12, 28)), (3, 4), (5, 6))
    with pytest.raises(ValueError, match="max_rank must be positive"):
        TTMatrix.from_dense(rng.standard_normal((12, 30)), (3, 4), (5, 6), max_rank=0)


def test_matvec_rejects_wrong_input_width(rng):
    tt = TTMatrix.random(TTShape.uniform((2, 3), (4, 5), 2), rng)
    with pytest.raises(ValueError, match=r"shape \(3, 21\).*20 columns"):
        tt.matvec(rng.standard_normal((3, 21)))


def test_core_list_rank_mismatch(rng):
    with pytest.raises(ValueError, match="rank mismatch between core 0"):
        TTMatrix([np.ones((1, 2, 2, 3)), np.ones((2, 2, 2, 1))])


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_dense_gradient_projection_equals_the_contraction_gradient(rng, d):
    shape = random_shape(rng, d)
    cores = TTMatrix.random(shape, rng).cores
    x = rng.standard_normal((5, shape.cols))
    gy = rng.standard_normal((5, shape.rows))
    responses = tt_core_responses(tt_left_states(cores, x), tt_right_envs(cores))
    expected = tt_core_grads(responses, shape.out_modes, gy)
    for got, want in zip(tt_dense_grad_to_cores(cores, gy.T @ x), expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
