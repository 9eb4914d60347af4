"""Update rules and schedules against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ttzo.optim import SGD, Adam, AdamW, make_optimizer, make_schedule


def test_adam_matches_reference_formula(rng):
    theta = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(4)]
    opt = Adam(5, betas=(0.9, 0.5), weight_decay=0.01)
    ref, m, v = theta.copy(), np.zeros(5), np.zeros(5)
    for t, g in enumerate(grads, start=1):
        opt.step(theta, g, 0.1)
        gg = g + 0.01 * ref
        m = 0.9 * m + 0.1 * gg
        v = 0.5 * v + 0.5 * gg * gg
        ref = ref - 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.5**t)) + 1e-8)
    np.testing.assert_allclose(theta, ref, rtol=1e-12)


def test_adamw_decays_outside_the_normalization(rng):
    theta = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(4)]
    opt = make_optimizer("adamw", 5, betas=[0.9, 0.5], weight_decay=0.01)
    assert isinstance(opt, AdamW)
    ref, m, v = theta.copy(), np.zeros(5), np.zeros(5)
    for t, g in enumerate(grads, start=1):
        opt.step(theta, g, 0.1)
        m = 0.9 * m + 0.1 * g
        v = 0.5 * v + 0.5 * g * g
        ref = ref - 0.1 * ((m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.5**t)) + 1e-8) + 0.01 * ref)
    np.testing.assert_allclose(theta, ref, rtol=1e-12)
    # with a zero gradient only the decay acts: theta shrinks by lr * weight_decay per step
    still = np.ones(3)
    AdamW(3, weight_decay=0.5).step(still, np.zeros(3), 0.1)
    np.testing.assert_allclose(still, 0.95)


def test_sgd_momentum_matches_reference(rng):
    theta = rng.standard_normal(3)
    ref, vel = theta.copy(), np.zeros(3)
    opt = SGD(3, momentum=0.9)
    for _ in range(3):
        g = rng.standard_normal(3)
        opt.step(theta, g, 0.5)
        vel = 0.9 * vel + g
        ref = ref - 0.5 * vel
    np.testing.assert_allclose(theta, ref)


@pytest.mark.parametrize("kind", ["adam", "adamw", "sgd"])
def test_state_round_trip_continues_identically(rng, kind):
    a, b = make_optimizer(kind, 4, momentum=0.5) if kind == "sgd" else make_optimizer(kind, 4), None
    theta = rng.standard_normal(4)
    for _ in range(3):
        a.step(theta, rng.standard_normal(4), 0.1)
    b = make_optimizer(kind, 4, momentum=0.5) if kind == "sgd" else make_optimizer(kind, 4)
    b.load_state_dict(a.state_dict())
    g = rng.standard_normal(4)
    t1, t2 = theta.copy(), theta.copy()
    a.step(t1, g, 0.1)
    b.step(t2, g, 0.1)
    np.testing.assert_array_equal(t1, t2)


def test_schedules():
    step = make_schedule(1.0, kind="step", gamma=0.8, every=100)
    assert step(99.9) == 1.0 and step(100) == pytest.approx(0.8)
    assert step(250) == pytest.approx(0.64)
    cos = make_schedule(2.0, kind="cosine", epochs=10, min_factor=0.1)
    assert cos(0) == 2.0 and cos(10) == pytest.approx(0.2) and cos(20) == pytest.approx(0.2)
    assert cos(5) == pytest.approx(0.2 + 1.8 * 0.5 * (1 + math.cos(math.pi / 2)))
    assert make_schedule(0.3)(1e6) == 0.3


def test_warmup_rises_linearly_then_leaves_the_schedule_alone():
    warm = make_schedule(0.5, warmup=0.2, warmup_factor=0.1)
    assert warm(0) == pytest.approx(0.05)
    assert warm(0.1) == pytest.approx(0.5 * (0.1 + 0.9 * 0.5))
    assert warm(0.2) == 0.5 and warm(3) == 0.5
    # on top of a cosine, which keeps counting from epoch 0
    cos = dict(kind="cosine", epochs=1.0, min_factor=0.02)
    plain, warm = make_schedule(0.002, **cos), make_schedule(0.002, warmup=0.1, **cos)
    assert warm(0) == pytest.approx(0.01 * plain(0))
    assert warm(0.05) == pytest.approx((0.01 + 0.99 * 0.5) * plain(0.05))
    for epoch in (0.1, 0.5, 1.0):
        assert warm(epoch) == plain(epoch)
    assert make_schedule(0.1)(0) == 0.1  # no warm-up by default


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: make_schedule(0.0), "learning rate must be positive"),
        (lambda: make_schedule(0.1, kind="linear"), "unknown schedule 'linear'"),
        (lambda: make_schedule(0.1, warmup=-1), "warmup must be >= 0 epochs, not -1"),
        (lambda: make_schedule(0.1, warmup=0.1, warmup_factor=0),
         r"warmup_factor must be in \(0, 1\]"),
        (lambda: make_optimizer("rmsprop", 3), "unknown optimizer 'rmsprop'"),
        (lambda: make_optimizer("adam", 3, betas=[0.9, 1.0]), r"betas\[1\] must be in"),
        (lambda: make_optimizer("sgd", 3, momentum=1.0), "momentum must be in"),
        (lambda: make_optimizer("adam", 3, lr=0.1), "bad options for optimizer 'adam'"),
    ],
)
def test_config_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
