# amaranth: UnusedElaboratable=no
"""The accelerator gateware and its emulator, driven by the same host driver, against the golden
model; link errors (damaged frames, lost replies) and refused commands."""

from __future__ import annotations

import numpy as np
import pytest

from ttzo.driver.device import Device, DeviceError
from ttzo.driver.link import EmulatorLink
from ttzo.driver.simlink import SimulationLink
from ttzo.golden.emulator import Emulator
from ttzo.golden.model import GoldenModel
from ttzo.golden.perturb import apply_update
from ttzo.hw.accelerator import Accelerator
from ttzo.spec.accelerator import DeviceConfig
from ttzo.spec.model import LayerSpec, ModelSpec
from ttzo.spec.perturb import Perturbation
from ttzo.spec.protocol import Opcode

SPEC = ModelSpec((LayerSpec((4, 4), (2, 4), 2, "relu"), LayerSpec((8,), (3,), None, "none")))
CONFIG = DeviceConfig(SPEC, lanes=2, input_groups=2, max_directions=4, max_data=64)
SIM_TIMEOUT = 2e-4  # simulated seconds: 20,000 cycles, several times the longest reply here
PATIENCE = 20 * SIM_TIMEOUT


def random_theta(rng: np.random.Generator) -> np.ndarray:
    widths = GoldenModel(SPEC).param_widths()
    lim = 1 << (widths - 1)
    return rng.integers(-lim, lim)


def session(device: Device, seed: int) -> dict:
    """One scripted use of the device; returns everything it read back."""
    rng = np.random.default_rng(seed)
    theta = random_theta(rng)
    theta[:3] = [-128, 127, 0]  # weight format corners
    x = rng.integers(-128, 128, (3, SPEC.in_features))
    x[0, :4] = [-128, 127, -128, 127]
    out = {"theta": theta, "x": x}
    device.write_params(theta)
    out["read"] = device.read_params()
    out["read_short"] = [device.read_params(5, 1), device.read_params(7, 2)]  # last-byte edges
    out["groups"] = device.load_inputs(x)
    queries = [Perturbation(), Perturbation("coordinate", 3, False, 0, 5),
               Perturbation("rademacher", 2, True, 0xDEADBEEF), Perturbation("gauss", 5, False, 7)]
    out["queries"] = queries
    out["evals"] = [device.evaluate(p, out["groups"]) for p in queries]
    device.update("rademacher", [1, 2], [300, -200], 4)
    out["after_rad"] = device.read_params()
    device.update("gauss", [9], [-77], 1)
    out["after_gauss"] = device.read_params()
    out["eval_after"] = device.evaluate(Perturbation(), 1)
    return out


def check_against_golden(got: dict) -> None:
    golden = GoldenModel(SPEC)
    widths = golden.param_widths()
    np.testing.assert_array_equal(got["read"], got["theta"])
    np.testing.assert_array_equal(np.concatenate(got["read_short"]), got["theta"][[5, 7, 8]])
    padded = np.zeros((got["groups"] * CONFIG.lanes, SPEC.in_features), dtype=np.int64)
    padded[:3] = got["x"]
    for p, y in zip(got["queries"], got["evals"]):
        np.testing.assert_array_equal(y, golden.forward_perturbed(got["theta"], padded, p))
    theta = apply_update(got["theta"], "rademacher", [1, 2], [300, -200], 4, widths)
    np.testing.assert_array_equal(got["after_rad"], theta)
    theta = apply_update(theta, "gauss", [9], [-77], 1, widths)
    np.testing.assert_array_equal(got["after_gauss"], theta)
    np.testing.assert_array_equal(got["eval_after"],
                                  golden.forward_int(theta, padded[:CONFIG.lanes]))


def test_emulator_matches_golden_model():
    device = Device(EmulatorLink(Emulator(CONFIG)), CONFIG)
    check_against_golden(session(device, seed=1))


def test_gateware_matches_emulator_and_golden_model():
    sim_device = Device(SimulationLink(Accelerator(CONFIG), seed=3), CONFIG, timeout=SIM_TIMEOUT,
                        patience=PATIENCE)
    emu_device = Device(EmulatorLink(Emulator(CONFIG)), CONFIG)
    got = session(sim_device, seed=2)
    check_against_golden(got)
    ref = session(emu_device, seed=2)
    for key in ("read", "after_rad", "after_gauss", "eval_after"):
        np.testing.assert_array_equal(got[key], ref[key])
    for a, b in zip(got["evals"], ref["evals"]):
        np.testing.assert_array_equal(a, b)
    assert sim_device.info == emu_device.info


class FaultyLink:
    """Damages the n-th frame written, or drops the n-th reply read."""

    def __init__(self, inner, corrupt_write: int | None = None, drop_reply: int | None = None):
        self.inner = inner
        self.corrupt_write = corrupt_write
        self.drop_reply = drop_reply
        self.writes = 0
        self.replies = 0

    def write(self, data: bytes) -> None:
        if self.writes == self.corrupt_write:
            data = bytearray(data)
            data[len(data) // 2] ^= 0x04
            data = bytes(data)
        self.writes += 1
        self.inner.write(data)

    def read(self, timeout: float) -> bytes:
        data = self.inner.read(timeout)
        if data:
            self.replies += 1
            if self.replies - 1 == self.drop_reply:
                return b""
        return data

    def now(self) -> float:
        return self.inner.now()

    def close(self) -> None:
        pass


@pytest.mark.parametrize("make_link", ["emulator", "gateware"])
def test_damaged_command_frame_is_sent_again(make_link):
    inner = (EmulatorLink(Emulator(CONFIG)) if make_link == "emulator"
             else SimulationLink(Accelerator(CONFIG), seed=5))
    link = FaultyLink(inner, corrupt_write=2)  # INFO, WRITE_PARAMS, then the damaged frame
    device = Device(link, CONFIG, timeout=SIM_TIMEOUT, patience=PATIENCE)
    theta = random_theta(np.random.default_rng(4))
    device.write_params(theta)
    device.update("rademacher", [5], [1000], 3)
    assert device.retransmissions == 1
    widths = GoldenModel(SPEC).param_widths()
    np.testing.assert_array_equal(device.read_params(),
                                  apply_update(theta, "rademacher", [5], [1000], 3, widths))


def test_lost_update_reply_is_not_applied_twice():
    link = FaultyLink(EmulatorLink(Emulator(CONFIG)), drop_reply=2)
    device = Device(link, CONFIG, timeout=0.05)
    theta = random_theta(np.random.default_rng(6))
    device.write_params(theta)
    device.update("gauss", [11, 12], [500, 600], 2)  # its first reply is lost
    assert device.retransmissions == 1
    widths = GoldenModel(SPEC).param_widths()
    np.testing.assert_array_equal(
        device.read_params(), apply_update(theta, "gauss", [11, 12], [500, 600], 2, widths))


@pytest.mark.parametrize("make_link", ["emulator", "gateware"])
def test_refused_commands_name_the_problem(make_link):
    link = (EmulatorLink(Emulator(CONFIG)) if make_link == "emulator"
            else SimulationLink(Accelerator(CONFIG), seed=8))
    device = Device(link, CONFIG, timeout=SIM_TIMEOUT, patience=PATIENCE)
    with pytest.raises(DeviceError, match=r"EVAL\(.*count=3,.*\).*BAD_ARGUMENT"):
        device.evaluate(Perturbation(), 3)
    with pytest.raises(DeviceError, match=rf"WRITE_PARAMS\(addr={SPEC.params}.*BAD_ARGUMENT"):
        device.write_params(np.zeros(1, dtype=np.int64), start=SPEC.params)
    with pytest.raises(DeviceError, match="BAD_OPCODE"):
        device._transact(99)  # type: ignore[arg-type]
    # the device still works afterwards
    np.testing.assert_array_equal(device.read_params(0, 2), [0, 0])


def test_host_refuses_a_bitstream_for_another_model():
    other = DeviceConfig(SPEC, lanes=4, input_groups=2, max_directions=4, max_data=64)
    with pytest.raises(DeviceError, match="lanes: device 2, host 4"):
        Device(EmulatorLink(Emulator(CONFIG)), other)


@pytest.mark.parametrize("make_link", ["emulator", "gateware"])
def test_device_without_update_unit_updates_through_the_host(make_link):
    config = DeviceConfig(SPEC, lanes=2, input_groups=1, max_directions=0, max_data=64)
    link = (EmulatorLink(Emulator(config)) if make_link == "emulator"
            else SimulationLink(Accelerator(config), seed=9))
    device = Device(link, config, timeout=SIM_TIMEOUT, patience=PATIENCE)
    theta = random_theta(np.random.default_rng(10))
    device.write_params(theta)
    device.update("rademacher", [3, 4], [700, -900], 5)
    widths = GoldenModel(SPEC).param_widths()
    np.testing.assert_array_equal(
        device.read_params(), apply_update(theta, "rademacher", [3, 4], [700, -900], 5, widths))
    with pytest.raises(DeviceError, match="UPDATE.*BAD_OPCODE"):
        device._transact(Opcode.UPDATE, flags=0, shift=1, count=0)


def test_open_device_sim_runs_the_gateware():
    """``--device sim``: the same driver on the gateware in simulation, checked against the
    golden model like a board."""
    from ttzo.driver.connect import open_device

    device, what = open_device("sim", CONFIG, baud=0)
    assert what == "sim" and isinstance(device.link, SimulationLink)
    check_against_golden(session(device, 11))


def test_lean_accelerator_answers_the_same():
    """A lean build (deep banks, no skid buffers: the iCEBreaker's) against the golden model,
    with the iCE40's block shapes, through the same driver."""
    from ttzo.spec.boards import get_board

    lean = DeviceConfig(SPEC, lanes=2, input_groups=2, max_directions=4, max_data=64, lean=True)
    shapes = get_board("icebreaker").device.bank_shapes
    link = SimulationLink(Accelerator(lean, shapes), seed=13)
    device = Device(link, lean, timeout=SIM_TIMEOUT, patience=PATIENCE)
    check_against_golden(session(device, 21))
