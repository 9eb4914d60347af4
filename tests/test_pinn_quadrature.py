"""Gauss-Hermite and Smolyak sparse-grid rules against exact Gaussian moments."""

from __future__ import annotations

import itertools
from math import prod

import numpy as np
import pytest

from ttzo.pinn.quadrature import gauss_hermite, sparse_grid


def gaussian_moment(k: int) -> float:
    """``E[z^k]`` for ``z ~ N(0, 1)``: ``(k - 1)!!`` for even ``k``, 0 for odd."""
    return 0.0 if k % 2 else float(prod(range(k - 1, 0, -2)))


def rule_moment(rule, powers) -> float:
    return float(rule.weights @ np.prod(rule.nodes ** np.array(powers), axis=1))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6, 9])
def test_gauss_hermite_exact_to_degree_2n_minus_1(n):
    rule = gauss_hermite(n)
    for k in range(2 * n):
        assert rule_moment(rule, [k]) == pytest.approx(gaussian_moment(k), abs=1e-9, rel=1e-11)
    # and no further: degree 2n is integrated wrongly (the test can fail)
    assert abs(rule_moment(rule, [2 * n]) - gaussian_moment(2 * n)) > 1e-3


@pytest.mark.parametrize("dim", [2, 3, 4, 7, 12, 21])
def test_level_node_counts(dim):
    assert len(sparse_grid(dim, 1)) == 1
    assert len(sparse_grid(dim, 2)) == 2 * dim + 1
    assert len(sparse_grid(dim, 3)) == 2 * dim**2 + 2 * dim + 1


def test_level_3_in_21_dimensions_has_925_nodes_and_the_documented_structure():
    rule = sparse_grid(21, 3)
    assert len(rule) == 925
    nonzero = (rule.nodes != 0).sum(axis=1)
    values = {round(abs(v), 9) for v in rule.nodes[rule.nodes != 0]}
    assert values == {1.0, round(np.sqrt(3), 9)}
    assert (nonzero == 0).sum() == 1
    on_axis = nonzero == 1
    axis_values = np.abs(rule.nodes[on_axis]).max(axis=1)
    assert np.isclose(axis_values, 1.0).sum() == 42
    assert np.isclose(axis_values, 3**0.5).sum() == 42
    assert np.all(rule.weights[on_axis][np.isclose(axis_values, 1.0)] < 0)  # negative weights
    pairs = rule.nodes[nonzero == 2]
    assert len(pairs) == 2 * 21 * 20 and np.all(np.isin(np.abs(pairs), [0.0, 1.0]))
    assert rule.weights.sum() == pytest.approx(1.0, abs=1e-12)


def monomials(dim: int, degree: int):
    for powers in itertools.product(range(degree + 1), repeat=dim):
        if sum(powers) <= degree:
            yield powers


@pytest.mark.parametrize("level", [1, 2, 3, 4])
@pytest.mark.parametrize("dim", [1, 2, 3, 5])
def test_sparse_grid_exact_for_total_degree_2l_minus_1(dim, level):
    rule = sparse_grid(dim, level)
    assert rule.weights.sum() == pytest.approx(1.0, abs=1e-12)
    for powers in monomials(dim, 2 * level - 1):
        exact = prod(gaussian_moment(k) for k in powers)
        assert rule_moment(rule, powers) == pytest.approx(exact, abs=1e-8), powers
    # and not beyond: some monomial of degree 2L is integrated wrongly
    errors = [abs(rule_moment(rule, p) - prod(gaussian_moment(k) for k in p))
              for p in monomials(dim, 2 * level) if sum(p) == 2 * level]
    assert max(errors) > 1e-6


def test_level_3_integrates_the_gaussian_second_and_fourth_moments_in_21_dimensions():
    rule = sparse_grid(21, 3)
    z = rule.nodes
    assert rule.expectation(z[:, 4] ** 2) == pytest.approx(1.0)
    assert rule.expectation(z[:, 4] ** 4) == pytest.approx(3.0)
    assert rule.expectation(z[:, 2] ** 2 * z[:, 9] ** 2) == pytest.approx(1.0)
    assert rule.expectation((z**2).sum(axis=1) ** 2) == pytest.approx(21 * 23)


@pytest.mark.parametrize("args, message", [
    ((0, 3), "dim must be a positive integer, not 0"),
    ((3, 0), "level must be a positive integer, not 0"),
    ((2.5, 2), "dim must be a positive integer, not 2.5"),
])
def test_invalid_grid_arguments_name_the_value(args, message):
    with pytest.raises(ValueError, match=message):
        sparse_grid(*args)


def test_invalid_gauss_hermite_size():
    with pytest.raises(ValueError, match="at least one point, not 0"):
        gauss_hermite(0)
