"""Stein estimators against analytic derivatives of the Gaussian-smoothed function."""

from __future__ import annotations

import numpy as np
import pytest

from ttzo.pinn.stein import SteinStencil, monte_carlo_stencil, sparse_grid_stencil


def cubic(dim, rng):
    """``u = a.x + x'Ax + sum_i b_i x_i^3`` and its smoothed value, gradient, Laplacian, Hessian.

    With ``z ~ N(0, s^2 I)``: ``E[(x + z)_i^3] = x_i^3 + 3 s^2 x_i``; ``E[z'Az] = s^2 tr A``.
    """
    a, b = rng.standard_normal(dim), rng.standard_normal(dim)
    A = rng.standard_normal((dim, dim))
    A = (A + A.T) / 2

    def u(x):
        return x @ a + np.einsum("ni,ij,nj->n", x, A, x) + (x**3) @ b

    def smoothed(x, s, space):
        value = u(x) + s**2 * np.trace(A) + 3 * s**2 * (x @ b)
        grad = a + 2 * x @ A + 3 * b * x**2 + 3 * s**2 * b
        hess = 2 * A[None] + np.einsum("ni,ij->nij", 6 * b * x, np.eye(dim))
        lap = sum(hess[:, i, i] for i in space)
        return value, grad, lap, hess

    return u, smoothed


@pytest.mark.parametrize("dim", [1, 2, 5, 21])
@pytest.mark.parametrize("sigma", [0.1, 0.7])
def test_sparse_grid_estimates_of_a_cubic_are_exact(rng, dim, sigma):
    u, smoothed = cubic(dim, rng)
    space = range(dim) if dim < 3 else range(dim - 1)  # the last coordinate as "time"
    stencil = sparse_grid_stencil(dim, sigma, 3, space)
    x = rng.uniform(-1, 1, (6, dim))
    fields = stencil.estimate(u, x)
    value, grad, lap, hess = smoothed(x, sigma, list(space))
    np.testing.assert_allclose(fields.u, value, atol=1e-9)
    np.testing.assert_allclose(fields.grad, grad, atol=1e-8)
    np.testing.assert_allclose(fields.lap, lap, atol=1e-6 / sigma**2 * 1e-2 + 1e-7)
    for i, k in [(0, 0), (0, dim - 1), (dim // 2, dim // 3)]:
        np.testing.assert_allclose(fields.second(i, k), hess[:, i, k], atol=1e-7)


def test_level_2_grid_gets_the_gradient_but_not_the_laplacian(rng):
    u, smoothed = cubic(3, rng)
    x = rng.uniform(-1, 1, (4, 3))
    fields = sparse_grid_stencil(3, 0.3, 2).estimate(lambda p: u(p) + (p[:, 0] ** 2) ** 2, x)
    # x_0^4 is beyond level 2's degree 3: the Laplacian estimate must be off
    _, _, lap, _ = smoothed(x, 0.3, [0, 1, 2])
    exact_extra = 12 * x[:, 0] ** 2 + 12 * 0.3**2  # lap of E[(x_0 + z)^4]
    assert np.abs(fields.lap - (lap + exact_extra)).max() > 1e-3


def test_sine_with_small_radius_matches_closed_form(rng):
    dim, s = 6, 0.05
    a = rng.uniform(-1, 1, dim)
    x = rng.uniform(0, 1, (5, dim))
    damp = np.exp(-(s**2) * (a @ a) / 2)  # E[sin(a.(x + z))] = sin(a.x) exp(-s^2 |a|^2 / 2)
    fields = sparse_grid_stencil(dim, s).estimate(lambda p: np.sin(p @ a), x)
    np.testing.assert_allclose(fields.u, np.sin(x @ a) * damp, atol=1e-8)
    # the rule is exact to degree 5: what is left is the Taylor remainder, O(s^4)
    np.testing.assert_allclose(fields.grad, np.cos(x @ a)[:, None] * a * damp, atol=2e-5)
    # the Laplacian weights (|z|^2 - D) / s^2 meet the degree-4 Taylor term: O(s^2) relative
    np.testing.assert_allclose(fields.lap, -np.sin(x @ a) * (a @ a) * damp, rtol=2e-2, atol=1e-3)


def test_monte_carlo_converges_and_is_unbiased_on_a_quadratic(rng):
    u, smoothed = cubic(4, rng)
    x = rng.uniform(-1, 1, (3, 4))
    _, grad, lap, _ = smoothed(x, 0.2, range(4))
    errors = []
    for samples in (16, 4096):
        est = [monte_carlo_stencil(4, 0.2, samples, np.random.default_rng(seed)).estimate(u, x)
               for seed in range(8)]
        errors.append(np.mean([np.abs(f.lap - lap).mean() for f in est]))
    assert errors[1] < errors[0] / 6  # about sqrt(256) = 16 in theory
    # antithetic pairs: the gradient of a quadratic-plus-cubic has only the cubic's noise left
    f = monte_carlo_stencil(4, 0.2, 20000, np.random.default_rng(0)).estimate(u, x)
    np.testing.assert_allclose(f.grad, grad, atol=0.2)


def test_stencil_sizes_and_centre():
    st = sparse_grid_stencil(21, 0.1, 3, range(20))
    assert st.points_per_estimate == 925 and np.all(st.offsets[0] == 0)
    mc = monte_carlo_stencil(21, 0.1, 50, np.random.default_rng(0))
    assert mc.points_per_estimate == 101
    x = np.zeros((2, 21))
    assert st.points(x).shape == (2, 925, 21)


@pytest.mark.parametrize("make, message", [
    (lambda: sparse_grid_stencil(3, 0.0), "sigma must be positive, not 0.0"),
    (lambda: sparse_grid_stencil(3, 0.1, space=[0, 3]), r"space coordinates \[3\] are outside"),
    (lambda: monte_carlo_stencil(3, 0.1, 0, np.random.default_rng(0)),
     "at least one sample, not 0"),
    (lambda: SteinStencil(np.ones((2, 2)), np.ones(2), 0.1, (0,), "x"), "first offset must be"),
])
def test_invalid_stencils_name_the_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_points_and_values_shapes_are_checked():
    st = sparse_grid_stencil(3, 0.1)
    with pytest.raises(ValueError, match=r"points of shape \(4, 2\) do not fit a stencil in 3"):
        st.points(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"values of shape \(4, 3\) do not match 4 points"):
        st.fields(np.zeros((4, 3)), np.zeros((4, 3)))
