"""Zeroth-order estimators against the exact gradient of quadratics."""

from __future__ import annotations

import numpy as np
import pytest

from ttzo.zo import CGE, RGE, FunctionObjective, get_directions, make_estimator, query_seed


def quadratic(rng, dim=10):
    a = rng.standard_normal((dim, dim))
    a = a @ a.T / dim + np.eye(dim)
    b = rng.standard_normal(dim)

    def fn(theta):
        return 0.5 * theta @ a @ theta + b @ theta

    return fn, (lambda theta: a @ theta + b), a


@pytest.mark.parametrize("directions", ["gaussian", "rademacher", "sphere"])
@pytest.mark.parametrize("scheme", ["central", "forward"])
def test_rge_with_many_queries_approaches_true_gradient(rng, directions, scheme):
    fn, grad, _ = quadratic(rng)
    theta = rng.standard_normal(10)
    est = RGE(mu=1e-4, n_directions=20000, directions=directions, scheme=scheme)
    g = est.estimate(FunctionObjective(fn, 10), theta, seed=7).grad
    true = grad(theta)
    assert np.linalg.norm(g - true) / np.linalg.norm(true) < 0.1
    # Fewer queries, larger error: the estimate really is a Monte-Carlo average.
    few = RGE(mu=1e-4, n_directions=5, directions=directions, scheme=scheme)
    errs = [np.linalg.norm(few.estimate(FunctionObjective(fn, 10), theta, s).grad - true)
            for s in range(20)]
    assert np.median(errs) > 3 * np.linalg.norm(g - true)


@pytest.mark.parametrize("scheme,per_step", [("central", 2 * 8), ("forward", 8 + 1)])
def test_rge_query_count_matches_formula(rng, scheme, per_step):
    fn, _, _ = quadratic(rng)
    obj = FunctionObjective(fn, 10)
    est = RGE(mu=0.01, n_directions=8, scheme=scheme)
    out = est.estimate(obj, np.zeros(10), seed=1)
    assert out.queries == obj.queries == per_step == est.queries_per_step(10)


def test_cge_is_exact_up_to_order_mu(rng):
    fn, grad, a = quadratic(rng)
    theta = rng.standard_normal(10)
    true = grad(theta)
    for mu in (1e-2, 1e-3):
        g = CGE(mu=mu).estimate(FunctionObjective(fn, 10), theta, seed=0).grad
        # forward difference of a quadratic: g_i = grad_i + mu * A_ii / 2, exactly
        np.testing.assert_allclose(g, true + mu * np.diag(a) / 2, rtol=1e-6, atol=1e-8)
    central = CGE(mu=1e-2, scheme="central").estimate(FunctionObjective(fn, 10), theta, 0).grad
    np.testing.assert_allclose(central, true, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("scheme", ["forward", "central"])
def test_cge_sampling_and_query_count(rng, scheme):
    fn, grad, _ = quadratic(rng, dim=200)
    obj = FunctionObjective(fn, 200)
    est = CGE(mu=1e-3, scheme=scheme, sample_prob=0.5)
    out = est.estimate(obj, np.ones(200), seed=3)
    sampled = est.coordinates(200, 3)
    assert 60 < sampled.size < 140
    assert np.count_nonzero(out.grad) == sampled.size
    expected = sampled.size + 1 if scheme == "forward" else 2 * sampled.size
    assert out.queries == obj.queries == expected
    assert not np.array_equal(sampled, est.coordinates(200, 4))


@pytest.mark.parametrize("kind", ["rge", "signrge", "cge"])
def test_same_seed_same_estimate(rng, kind):
    fn, _, _ = quadratic(rng)
    options = {"mu": 0.01} if kind == "cge" else {"mu": 0.01, "n_directions": 4}
    if kind == "cge":
        options["sample_prob"] = 0.5
    est = make_estimator(kind, **options)
    theta = rng.standard_normal(10)
    first = est.estimate(FunctionObjective(fn, 10), theta, seed=11).grad
    again = est.estimate(FunctionObjective(fn, 10), theta, seed=11).grad
    other = est.estimate(FunctionObjective(fn, 10), theta, seed=12).grad
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_sign_rge_returns_signs_of_rge(rng):
    fn, _, _ = quadratic(rng)
    theta = rng.standard_normal(10)
    plain = RGE(0.01, 6).estimate(FunctionObjective(fn, 10), theta, 5).grad
    signed = RGE(0.01, 6, sign=True).estimate(FunctionObjective(fn, 10), theta, 5).grad
    np.testing.assert_array_equal(signed, np.sign(plain))


@pytest.mark.parametrize("name", ["gaussian", "rademacher", "sphere", "device-rademacher",
                                  "device-gauss"])
def test_direction_moments_and_regeneration(name):
    gen = get_directions(name)
    dim = 50
    u = np.stack([gen(query_seed(1, q), dim) for q in range(4000)])
    np.testing.assert_allclose(u.mean(axis=0), 0, atol=0.1)
    np.testing.assert_allclose(np.cov(u.T), np.eye(dim), atol=0.15)  # E[u u^T] = I
    np.testing.assert_array_equal(gen(99, dim), gen(99, dim))
    if name.endswith("rademacher"):
        assert set(np.unique(u)) == {-1.0, 1.0}
    if name == "sphere":
        np.testing.assert_allclose(np.linalg.norm(u, axis=1), np.sqrt(dim))


def test_query_seed_is_stable_and_spread():
    assert query_seed(0, 1) == query_seed(0, 1)
    seeds = {query_seed(5, q) for q in range(1000)}
    assert len(seeds) == 1000 and all(0 <= s < 2**32 for s in seeds)


@pytest.mark.parametrize(
    "kind,options,message",
    [
        ("rge", {"mu": 0, "n_directions": 3}, "mu must be positive"),
        ("rge", {"mu": 0.1, "n_directions": 0}, "n_directions must be a positive integer"),
        ("cge", {"mu": 0.1, "sample_prob": 1.5}, "sample_prob must be in"),
        ("cge", {"mu": 0.1, "scheme": "backward"}, "scheme must be one of"),
        ("rge", {"mu": 0.1, "n_directions": 2, "directions": "uniform"}, "unknown direction"),
        ("zge", {}, "unknown estimator 'zge'"),
        ("cge", {"mu": 0.1, "radius": 3}, "bad options for estimator 'cge'"),
    ],
)
def test_estimator_config_errors(kind, options, message):
    with pytest.raises(ValueError, match=message):
        make_estimator(kind, **options)
