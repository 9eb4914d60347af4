"""Training on the device: every query of the optimizer answered by the accelerator (here its
bit-exact emulator behind the real driver and protocol) gives the golden objective's loss bit
for bit, memories are written only when they change, and BP-free training on it learns."""

from __future__ import annotations

import numpy as np
import pytest

from ttzo.driver.device import Device
from ttzo.driver.link import EmulatorLink
from ttzo.driver.objective import DeviceObjective, DeviceSession
from ttzo.golden.emulator import Emulator
from ttzo.golden.model import GoldenModel
from ttzo.golden.objective import GoldenObjective
from ttzo.model import get_loss
from ttzo.optim import Adam
from ttzo.spec.accelerator import DeviceConfig
from ttzo.spec.model import LayerSpec, ModelSpec
from ttzo.zo import CGE, RGE, get_directions

SPEC = ModelSpec((LayerSpec((3, 4), (4, 4), 2, "relu"), LayerSpec((16,), (3,), None, "none")))


def make_session(lanes: int = 4, input_groups: int = 2) -> DeviceSession:
    config = DeviceConfig(SPEC, lanes=lanes, input_groups=input_groups, max_data=256)
    return DeviceSession(Device(EmulatorLink(Emulator(config)), config))


@pytest.fixture
def problem(rng):
    x = rng.standard_normal((20, 12))
    y = (x @ rng.standard_normal((12, 3))).argmax(axis=1)
    golden = GoldenModel(SPEC)
    return golden, x, y, golden.float_model.init_params(rng)


@pytest.mark.parametrize("batch", [5, 8, 20])  # one partial group, the whole chip, three slices
def test_device_losses_equal_the_golden_objective(problem, batch):
    golden, x, y, theta = problem
    loss = get_loss("cross_entropy")
    session = make_session()
    on_device = DeviceObjective(session, golden, x[:batch], y[:batch], loss)
    reference = GoldenObjective(golden, x[:batch], y[:batch], loss)
    lsb = SPEC.numerics.weight.lsb
    for obj in (on_device, reference):
        obj.got = [
            [obj.loss(theta)],
            obj.direction_losses(theta, get_directions("device-rademacher"), [3, 4, 2**31],
                                 [lsb, -2 * lsb, 3 * lsb]),
            obj.direction_losses(theta, get_directions("device-gauss"), [7], [-lsb]),
            obj.coordinate_losses(theta, np.array([0, 5, golden.dim - 1]), 2 * lsb),
            obj.coordinate_losses(theta, np.array([1]), -0.3 * lsb),  # rounds to one LSB
        ]
    for got, ref in zip(on_device.got, reference.got):
        assert list(got) == list(ref)  # exact
    assert on_device.queries == reference.queries == 1 + 3 + 1 + 3 + 1
    # the parameters went over once (theta did not change); the inputs once if they fit
    assert session.param_writes == 1
    assert session.input_loads == (1 if batch <= session.capacity else 5 * 3)
    # a new theta is written again; the losses still agree
    theta2 = theta + 5 * lsb
    assert on_device.loss(theta2) == reference.loss(theta2) and session.param_writes == 2


def test_device_refuses_directions_it_cannot_draw(problem):
    golden, x, y, theta = problem
    obj = DeviceObjective(make_session(), golden, x, y, get_loss("cross_entropy"))
    with pytest.raises(ValueError, match="use device-rademacher or device-gauss, not 'gaussian'"):
        obj.direction_losses(theta, get_directions("gaussian"), [1], [0.01])
    with pytest.raises(ValueError, match="mu must be an integer number of LSBs from 1 to 255"):
        obj.coordinate_losses(theta, np.array([0]), 300 * SPEC.numerics.weight.lsb)


@pytest.mark.parametrize("estimator", ["rge", "cge"])
def test_bp_free_training_on_the_device_lowers_the_loss(problem, estimator):
    golden, x, y, theta = problem
    obj = DeviceObjective(make_session(lanes=4, input_groups=5), golden, x, y,
                          get_loss("cross_entropy"))
    lsb = SPEC.numerics.weight.lsb
    est = (RGE(mu=2 * lsb, n_directions=6, directions="device-rademacher", scheme="central")
           if estimator == "rge" else CGE(mu=2 * lsb, scheme="central"))
    opt = Adam(golden.dim)
    start = obj.loss(theta)
    for step in range(40 if estimator == "rge" else 15):
        opt.step(theta, est.estimate(obj, theta, step).grad, 0.02)
    assert obj.loss(theta) < 0.8 * start
