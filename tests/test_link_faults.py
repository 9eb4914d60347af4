# amaranth: UnusedElaboratable=no
"""The link under faults: every command exactly once, every result right, every refusal named.

A faulty line (:class:`ttzo.driver.faults.FaultyLink`) sits between the host driver and the
emulator or the gateware in simulation; the results are compared with the golden model and with
a fault-free run. The regression cases are the holes the CRC-16 protocol had."""

from __future__ import annotations

import random

import numpy as np
import pytest

from ttzo.driver.campaign import compare_sessions, expected_session, fuzz_frames, session
from ttzo.driver.device import Device, DeviceError
from ttzo.driver.faults import FaultRates, FaultyLink
from ttzo.driver.link import EmulatorLink, LinkError
from ttzo.driver.simlink import SimulationLink
from ttzo.golden.emulator import Emulator
from ttzo.golden.model import GoldenModel
from ttzo.golden.perturb import apply_update
from ttzo.hw.accelerator import Accelerator
from ttzo.spec.accelerator import DeviceConfig
from ttzo.spec.model import LayerSpec, ModelSpec
from ttzo.spec.perturb import Perturbation
from ttzo.spec.protocol import (
    HEADER_FIELDS,
    REPLY_FIELDS,
    REPLY_HEADER_BYTES,
    Opcode,
    SlipDecoder,
    Status,
    encode_frame,
    pack_fields,
    to_words,
    unpack_fields,
)

SPEC = ModelSpec((LayerSpec((4, 4), (2, 4), 2, "relu"), LayerSpec((8,), (3,), None, "none")))
CONFIG = DeviceConfig(SPEC, lanes=2, input_groups=2, max_directions=4, max_data=64)
WIDTHS = GoldenModel(SPEC).param_widths()
SIM_TIMEOUT = 6e-5  # simulated seconds (6,000 cycles; the longest reply here takes ~2,500)


def make_link(kind: str, seed: int = 0):
    if kind == "emulator":
        return EmulatorLink(Emulator(CONFIG))
    return SimulationLink(Accelerator(CONFIG), seed=seed)


def open_device(link, kind: str) -> Device:
    if kind == "emulator":
        return Device(link, CONFIG)
    return Device(link, CONFIG, timeout=SIM_TIMEOUT, patience=200 * SIM_TIMEOUT)


def random_theta(rng: np.random.Generator) -> np.ndarray:
    lim = 1 << (WIDTHS - 1)
    return rng.integers(-lim, lim)


def command(opcode: int, seq: int, data: bytes = b"", **fields) -> bytes:
    header = pack_fields(HEADER_FIELDS, {"opcode": opcode, "seq": seq, "length": len(data),
                                         **fields})
    return encode_frame(header + data)


def replies(line: bytes) -> list[dict]:
    decoder = SlipDecoder()
    decoder.feed(line)
    assert decoder.errors == []
    return [unpack_fields(REPLY_FIELDS, body) | {"data": body[REPLY_HEADER_BYTES:]}
            for body in decoder.frames]


def check(device: Device, seed: int) -> None:
    """The session of every command through ``device`` equals the golden model's."""
    got = session(device, CONFIG, seed)
    assert compare_sessions(got, expected_session(CONFIG, seed)) == {
        "mismatches": 0, "lost_updates": 0, "doubled_updates": 0}


@pytest.mark.parametrize("rate", [0.01, 0.05])
def test_emulator_session_is_exact_under_faults(rate):
    faults = FaultRates(byte=rate, frame_loss=0.02, frame_duplication=0.02)
    for seed in range(3):
        link = FaultyLink(make_link("emulator"), faults, seed=seed)
        device = open_device(link, "emulator")
        check(device, seed)
        counts = link.counts()
        assert counts["to_device"]["faults"] > 0 and counts["to_host"]["faults"] > 0
        assert counts["to_device"]["undetected_corruptions"] == 0
        assert counts["to_host"]["undetected_corruptions"] == 0
        assert device.stats.retransmissions > 0


def test_gateware_session_is_exact_under_faults():
    """The same faults against the RTL: damaged frames, lost and repeated ones, both ways."""
    faults = FaultRates(byte=0.002, frame_loss=0.01, frame_duplication=0.02)
    link = FaultyLink(make_link("gateware", seed=4), faults, seed=11)
    device = open_device(link, "gateware")
    check(device, 5)
    counts = link.counts()
    assert counts["to_device"]["faults"] + counts["to_host"]["faults"] > 0
    assert device.stats.retransmissions > 0


@pytest.mark.parametrize("kind", ["emulator", "gateware"])
def test_zero_after_the_crc_is_refused(kind):
    """CRC-16 without a final XOR accepted a frame with 0x00 appended after its CRC."""
    link = make_link(kind)
    frame = command(Opcode.READ_PARAMS, 1, addr=0, count=1)
    link.write(frame[:-1] + b"\x00" + frame[-1:])
    got = replies(link.read(SIM_TIMEOUT))
    assert [(r["opcode"], r["status"]) for r in got] == [(0, Status.BAD_CRC)]


@pytest.mark.parametrize("kind", ["emulator", "gateware"])
def test_refused_update_does_not_block_its_clean_resend(kind):
    """A refused command must not be recorded: the clean resend (same seq) is executed."""
    link = make_link(kind)
    theta = random_theta(np.random.default_rng(1))
    link.write(command(Opcode.WRITE_PARAMS, 1, to_words(theta[:8], 2), addr=0, count=8))
    data = to_words([7], 4) + to_words([900], 2)
    bad = command(Opcode.UPDATE, 2, data + b"\x00", count=1, shift=3)  # one byte too many
    good = command(Opcode.UPDATE, 2, data, count=1, shift=3)
    read = command(Opcode.READ_PARAMS, 3, addr=0, count=8)
    got = replies(link.read(SIM_TIMEOUT))
    for frame in (bad, good, good, read):  # the good one twice: its reply was "lost"
        link.write(frame)  # stop-and-wait: one frame, then its reply
        got += replies(link.read(SIM_TIMEOUT))
    assert [r["status"] for r in got] == [Status.OK, Status.BAD_LENGTH, Status.OK,
                                          Status.STALE_UPDATE, Status.OK]
    assert [r["updates"] for r in got] == [0, 0, 1, 1, 1]
    after = np.frombuffer(got[4]["data"], dtype="<i2")
    full = np.zeros(SPEC.params, dtype=np.int64)
    full[:8] = theta[:8]
    np.testing.assert_array_equal(after, apply_update(full, "rademacher", [7], [900], 3,
                                                      WIDTHS)[:8])


@pytest.mark.parametrize("kind", ["emulator", "gateware"])
def test_coordinate_beyond_the_parameters_is_refused(kind):
    device = open_device(make_link(kind), kind)
    device.load_inputs(np.ones((2, SPEC.in_features), dtype=np.int64))
    with pytest.raises(DeviceError, match=rf"EVAL\(.*addr={SPEC.params},.*BAD_ARGUMENT"):
        device.evaluate(Perturbation("coordinate", 1, False, 0, SPEC.params), 1)
    device.evaluate(Perturbation("coordinate", 1, False, 0, SPEC.params - 1), 1)


class Tamper:
    """Changes the n-th reply frame with ``edit`` (a function of its bytes)."""

    def __init__(self, inner, nth: int, edit):
        self.inner, self.nth, self.edit, self.seen = inner, nth, edit, 0

    def write(self, data: bytes) -> None:
        self.inner.write(data)

    def read(self, timeout: float) -> bytes:
        data = self.inner.read(timeout)
        if data:
            self.seen += 1
            if self.seen - 1 == self.nth:
                data = self.edit(data)
        return data

    def now(self) -> float:
        return self.inner.now()

    def close(self) -> None:
        pass


@pytest.mark.parametrize("edit", [
    lambda d: d[:len(d) // 2] + b"\x01" + d[len(d) // 2:],  # an extra byte inside
    lambda d: d[:-1] + b"\x00\xc0",  # a byte after the CRC
    lambda d: d[:-2] + d[-2:-1] * 2 + d[-1:],  # a doubled CRC byte
    lambda d: d[:len(d) // 2] + d[len(d) // 2 + 1:],  # a lost byte
])
def test_damaged_eval_and_read_replies_are_fetched_again(edit):
    rng = np.random.default_rng(2)
    emulator = Emulator(CONFIG)
    # INFO, then the first EVAL reply and the first READ_PARAMS reply are damaged
    link = Tamper(EmulatorLink(emulator), 1, edit)
    device = Device(link, CONFIG)
    x = rng.integers(-128, 128, (4, SPEC.in_features))
    emulator.inputs[:] = 0
    groups = 2
    device.load_inputs(x)  # reply 1 is this one's: damaged, sent again
    link.nth = link.seen  # the next reply (EVAL's) is damaged too
    got = device.evaluate(Perturbation(), groups)
    np.testing.assert_array_equal(got, GoldenModel(SPEC).forward_int(emulator.engine_theta(), x))
    link.nth = link.seen
    np.testing.assert_array_equal(device.read_params(0, 5), np.zeros(5))
    assert device.stats.damaged_replies == 3
    assert link.inner.now() < device.timeout  # retried at once, no timeout waited


def test_too_long_is_retried_at_once():
    emulator = Emulator(CONFIG)
    link = EmulatorLink(emulator)
    device = Device(link, CONFIG)
    real_write = link.write
    doubled = []

    def write(data: bytes) -> None:  # the first WRITE_PARAMS frame arrives with a long tail
        if not doubled and len(data) > 60:
            doubled.append(True)
            data = data[:-1] + bytes(200) + data[-1:]
        real_write(data)

    link.write = write
    theta = random_theta(np.random.default_rng(3))
    device.write_params(theta)
    np.testing.assert_array_equal(emulator.theta, theta)
    assert device.stats.damaged_commands == 1 and link.now() == 0.0


def test_update_with_every_reply_lost_can_be_checked_after_reconnecting():
    emulator = Emulator(CONFIG)

    class Deaf(EmulatorLink):
        deaf = False

        def read(self, timeout: float) -> bytes:
            data = super().read(timeout)
            return b"" if self.deaf else data

    link = Deaf(emulator)
    device = Device(link, CONFIG, patience=5.0)
    theta = random_theta(np.random.default_rng(6))
    device.write_params(theta)
    before = device.updates
    link.deaf = True
    with pytest.raises(LinkError, match=rf"UPDATE: no reply .* update counter was last seen at "
                                        rf"{before}"):
        device.update("gauss", [11, 12], [500, 600], 2)
    link.deaf = False
    again = Device(link, CONFIG)  # a host that reconnects
    assert again.updates == before + 1  # it was applied (once: the attempts after were stale)
    np.testing.assert_array_equal(
        again.read_params(), apply_update(theta, "gauss", [11, 12], [500, 600], 2, WIDTHS))


def test_another_hosts_update_is_refused_as_stale():
    link = EmulatorLink(Emulator(CONFIG))
    first, second = Device(link, CONFIG), Device(link, CONFIG)
    first.update("rademacher", [1], [10], 0)
    with pytest.raises(DeviceError, match="expected the device to have applied 0 updates, it "
                                          "has applied 1"):
        second.update("rademacher", [2], [10], 0)


def test_oversized_frames_are_refused_by_the_host():
    device = Device(EmulatorLink(Emulator(CONFIG)), CONFIG)
    with pytest.raises(ValueError, match="UPDATE with 66 data bytes exceeds .* limit of 64"):
        device._transact(Opcode.UPDATE, bytes(66), count=11)
    with pytest.raises(ValueError, match="max_directions = 20 .* 120 data bytes, more than "
                                         "max_data = 64"):
        DeviceConfig(SPEC, lanes=2, input_groups=2, max_directions=20, max_data=64)


def test_fuzzed_frames_never_crash_the_emulator_and_refusals_change_nothing():
    emulator = Emulator(CONFIG)
    rng = random.Random(7)
    statuses = set()
    for frame in fuzz_frames(CONFIG, rng, 20000):
        before = emulator.state()
        out = replies(emulator.feed(frame))  # garbage may leave a frame for the next to end
        assert len(out) <= 2
        statuses.update(Status(r["status"]) for r in out)
        for reply in out:
            assert reply["length"] == len(reply["data"])
            if reply["status"] != Status.OK:
                assert reply["data"] == b""
        if all(r["status"] != Status.OK for r in out):
            assert emulator.state() == before
    assert statuses == set(Status)


def test_gateware_eval_windows_answer_as_the_emulator():
    """Every output window (the first beats, the middle, the last, all) byte for byte, each
    command sent right after the previous reply: the device is ready again when a reply ends."""
    gateware, emulator = make_link("gateware", seed=9), Emulator(CONFIG)
    rng = np.random.default_rng(8)
    theta = random_theta(rng)
    x = rng.integers(-128, 128, (CONFIG.input_beats, CONFIG.lanes))
    frames = [command(Opcode.WRITE_PARAMS, 1 + lo // 32, to_words(theta[lo:lo + 32], 2),
                      addr=lo, count=theta[lo:lo + 32].size) for lo in range(0, theta.size, 32)]
    frames += [command(Opcode.LOAD_INPUT, 3, to_words(x[:16], 1), addr=0, count=16),
               command(Opcode.LOAD_INPUT, 4, to_words(x[16:], 1), addr=16, count=16)]
    beats = 2 * SPEC.out_features
    windows = [(0, 1), (0, beats), (beats - 1, 1), (2, 3), (1, beats - 1), (0, 2), (4, 2)]
    for seq, (first, window) in enumerate(windows, start=5):
        frames.append(command(Opcode.EVAL, seq, flags=2, mu=3, seed=seq, count=2, first=first,
                              window=window))
    frames.append(command(Opcode.EVAL, 20, count=1, first=0, window=SPEC.out_features))
    for frame in frames:
        gateware.write(frame)
        want = emulator.feed(frame)
        assert replies(want)[0]["status"] == Status.OK
        assert gateware.read(SIM_TIMEOUT) == want


def test_a_lost_link_reports_what_the_device_holds():
    class Cut(EmulatorLink):
        after = None  # frames let through before the line goes dead

        def write(self, data: bytes) -> None:
            if self.after is not None:
                if self.after == 0:
                    return
                self.after -= 1
            super().write(data)

    link = Cut(Emulator(CONFIG))
    device = Device(link, CONFIG, patience=3.0)
    link.after = 2  # two WRITE_PARAMS frames of 32 parameters, then nothing
    with pytest.raises(LinkError, match=rf"64 of {SPEC.params} parameters written from 0 were "
                                        r"confirmed before it, the rest is unknown"):
        device.write_params(random_theta(np.random.default_rng(0)))
