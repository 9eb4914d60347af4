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


def quintic(x):
    """A degree-5 polynomial over coordinates 0-2 plus time-like coordinate 3 (D = 4)."""
    x0, x1, x2, x3 = x.T
    return x0**4 * x1 + x0**2 * x1**2 * x2 + x1**3 + x0**2 * x3**2 + x3**4 * x2


def quintic_smoothed_laplacian(x, s):
    """Laplacian over coordinates 0-2 of ``quintic`` smoothed in all four (exact math).

    ``lap_S u_s = E[lap_S u(x + s z)]``, and ``lap_S u = 12 x0^2 x1 + 2 x1^2 x2 + 2 x0^2 x2
    + 6 x1 + 2 x3^2``; with ``E[(x_i + s z)^2] = x_i^2 + s^2`` and independent coordinates.
    """
    x0, x1, x2, x3 = x.T
    s2 = s**2
    return (12 * (x0**2 + s2) * x1 + 2 * (x1**2 + s2) * x2 + 2 * (x0**2 + s2) * x2 + 6 * x1
            + 2 * (x3**2 + s2))


@pytest.mark.parametrize("sigma", [0.1, 0.5])
def test_heat_laplacian_of_a_quintic_is_exact_at_level_3(rng, sigma):
    x = rng.uniform(-1, 1, (6, 4))
    exact = quintic_smoothed_laplacian(x, sigma)
    heat = sparse_grid_stencil(4, sigma, 3, range(3), laplacian="heat").estimate(quintic, x)
    np.testing.assert_allclose(heat.lap, exact, atol=1e-8)
    # the Stein weights (|z|^2 - D) / s^2 take the rule to degree 7 here: not exact
    stein = sparse_grid_stencil(4, sigma, 3, range(3)).estimate(quintic, x)
    assert np.abs(stein.lap - exact).max() > 1e-2
    # value, gradient and second derivatives are the Stein stencil's (the same grid points)
    np.testing.assert_allclose(heat.u, stein.u, atol=1e-12)
    np.testing.assert_allclose(heat.grad, stein.grad, atol=1e-9)
    np.testing.assert_allclose(heat.second(0, 2), stein.second(0, 2), atol=1e-8)


def test_heat_laplacian_error_is_the_s4_term_on_a_sine(rng):
    dim, s = 6, 0.2
    a = rng.uniform(-1, 1, dim)
    x = rng.uniform(0, 1, (5, dim))
    fields = sparse_grid_stencil(dim, s, 4, laplacian="heat").estimate(lambda p: np.sin(p @ a), x)
    exact = -np.sin(x @ a) * (a @ a) * np.exp(-(s**2) * (a @ a) / 2)
    # (u_{sqrt2 s} - u) / s^2 - lap u_s = s^4 lap^3 u / 24 + O(s^6) for u = sin(a.x)
    expected = s**4 / 24 * (-(a @ a) ** 3) * np.sin(x @ a)
    np.testing.assert_allclose(fields.lap - exact, expected, rtol=0.1, atol=1e-8)


def test_heat_stencil_points_are_shared_once():
    full = sparse_grid_stencil(5, 0.1, 3, laplacian="heat")
    base = sparse_grid_stencil(5, 0.1, 3)
    # every coordinate smoothed: the wide grid's points are new except the centre
    assert full.points_per_estimate == 2 * base.points_per_estimate - 1
    assert np.all(full.point_offsets[0] == 0)
    assert len(np.unique(full.point_offsets, axis=0)) == full.points_per_estimate
    # a time-like coordinate: its axis points repeat in the wide grid and become the narrow one
    part = sparse_grid_stencil(5, 0.1, 3, range(4), laplacian="heat")
    assert base.points_per_estimate < part.points_per_estimate < full.points_per_estimate
    assert abs(part.coefficients("lap").sum()) < 1e-9 and abs(part.coefficients("value").sum()
                                                               - 1) < 1e-12


def test_monte_carlo_heat_laplacian_converges(rng):
    x = rng.uniform(-1, 1, (3, 4))
    exact = quintic_smoothed_laplacian(x, 0.2)
    errors = [np.mean([np.abs(monte_carlo_stencil(4, 0.2, n, np.random.default_rng(seed),
                                                  range(3), "heat").estimate(quintic, x).lap
                              - exact).mean() for seed in range(8)]) for n in (16, 4096)]
    assert errors[1] < errors[0] / 6


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
    (lambda: sparse_grid_stencil(3, 0.1, laplacian="fd"), "must be one of stein, heat, not 'fd'"),
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


def smoothed_monomial(x0: np.ndarray, n: int, s: float) -> np.ndarray:
    """``E[(x0 + s z)^n]`` for ``z ~ N(0, 1)`` (exact: ``E[z^k] = (k-1)!!`` for even ``k``)."""
    from math import comb, prod

    if n < 0:
        return np.zeros_like(x0)
    return sum(comb(n, k) * x0 ** (n - k) * s**k * prod(range(k - 1, 0, -2))
               for k in range(0, n + 1, 2))


@pytest.mark.parametrize("level", [2, 3, 4])
def test_sparse_grid_gradient_is_exact_to_degree_2l_minus_2(rng, level):
    """``E[z u(x + s z)] / s`` integrates a polynomial one degree above ``u``'s: the level-L
    rule (exact to ``2L - 1``) gives the smoothed gradient of degree ``2L - 2`` exactly, and
    not of degree ``2L - 1``."""
    x, s = rng.standard_normal((6, 3)), 0.3
    stencil = sparse_grid_stencil(3, s, level)
    for degree, exact in ((2 * level - 2, True), (2 * level - 1, False)):
        grad = stencil.estimate(lambda p, n=degree: p[:, 0] ** n, x).grad[:, 0]
        want = degree * smoothed_monomial(x[:, 0], degree - 1, s)
        assert np.allclose(grad, want, atol=1e-9) == exact, (level, degree)


@pytest.mark.parametrize("level", [2, 3, 4])
def test_heat_laplacian_is_exact_to_degree_min_2l_minus_1_and_5(rng, level):
    """The heat form is a difference in ``s^2`` whose error term is ``s^4 lap^3 u / 24``: past
    degree 5 it is not exact whatever the rule, so level 4 is exact to degree 5, not 7."""
    x, s = rng.standard_normal((6, 3)), 0.3
    stencil = sparse_grid_stencil(3, s, level, laplacian="heat")
    top = min(2 * level - 1, 5)
    for degree, exact in ((top, True), (top + 1, False)):
        lap = stencil.estimate(lambda p, n=degree: p[:, 0] ** n, x).lap
        want = degree * (degree - 1) * smoothed_monomial(x[:, 0], degree - 2, s)
        assert np.allclose(lap, want, atol=1e-8) == exact, (level, degree)
