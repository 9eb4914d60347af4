"""cocotb testbench: the whole accelerator behind its byte streams, against the emulator.

The scenario comes from the JSON file named by ``TTZO_SCENARIO``:

``fuzz``     ``frames`` fuzzed frames (``ttzo.driver.campaign.fuzz_frames``) sent one at a time;
             every reply byte must equal the emulator's for the same frame.
``session``  the host driver runs ``ttzo.driver.campaign.session`` through a faulty line
             (``ttzo.driver.faults.FaultyLink``) at the given rates; the results must equal the
             golden model's, with no UPDATE lost or doubled.

The driver is the host's own, blocking code: it runs in a cocotb bridge thread, and its link
advances the simulation while it waits for bytes. Results go to ``TTZO_RESULT``.
"""

from __future__ import annotations

import json
import os
import random
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.task import bridge, resume
from cocotb.triggers import ReadOnly, RisingEdge

from ttzo.driver.campaign import compare_sessions, expected_session, fuzz_frames, session
from ttzo.driver.device import Device
from ttzo.driver.faults import FaultRates, FaultyLink
from ttzo.golden.emulator import Emulator
from ttzo.spec.accelerator import DeviceConfig
from ttzo.spec.model import ModelSpec
from ttzo.spec.protocol import END

PERIOD_NS = 10


class TB:
    """Clock, reset and the two byte streams of one accelerator: random idles on the way in,
    random back-pressure on the way out."""

    def __init__(self, dut, seed: int, idle: float, stall: float):
        self.dut = dut
        self.rng = random.Random(seed)
        self.idle, self.stall = idle, stall
        self.tx: deque[int] = deque()
        self.rx = bytearray()
        self.cycles = 0
        cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())

    async def reset(self):
        d = self.dut
        d.rst.value = 1
        d.i_stream__valid.value = 0
        d.o_stream__ready.value = 0
        for _ in range(3):
            await RisingEdge(d.clk)
        d.rst.value = 0
        await RisingEdge(d.clk)
        cocotb.start_soon(self._io())

    async def _io(self):
        d = self.dut
        while True:
            offer = bool(self.tx) and self.rng.random() >= self.idle
            d.i_stream__valid.value = int(offer)
            if offer:
                d.i_stream__payload.value = self.tx[0]
            ready = self.rng.random() >= self.stall
            d.o_stream__ready.value = int(ready)
            await ReadOnly()
            taken = offer and bool(d.i_stream__ready.value)
            byte = int(d.o_stream__payload.value) if ready and d.o_stream__valid.value else None
            await RisingEdge(d.clk)
            self.cycles += 1
            if taken:
                self.tx.popleft()
            if byte is not None:
                self.rx.append(byte)

    async def run(self, cycles: int, until_bytes: int | None = None):
        """Simulate up to ``cycles`` cycles; stop early when a frame has ended with nothing left
        to send (or, with ``until_bytes``, when that many bytes have arrived)."""
        end = self.cycles + cycles
        while self.cycles < end:
            await RisingEdge(self.dut.clk)
            if until_bytes is not None:
                if len(self.rx) >= until_bytes:
                    return
            elif self.rx and self.rx[-1] == END and not self.tx:
                return


class CocotbLink:
    """A :class:`ttzo.driver.link.Link` for code in a bridge thread: reading simulates."""

    def __init__(self, tb: TB):
        self.tb = tb
        self._run = resume(tb.run)

    def write(self, data: bytes) -> None:
        self.tb.tx.extend(data)

    def read(self, timeout: float) -> bytes:
        self._run(max(1, round(timeout * 1e9 / PERIOD_NS)))
        data, self.tb.rx = bytes(self.tb.rx), bytearray()
        return data

    def receive(self, nbytes: int, cycles: int) -> bytes:
        """Exactly the next ``nbytes`` bytes (fewer if ``cycles`` pass first)."""
        if nbytes:
            self._run(cycles, nbytes)
        else:
            self._run(64)  # a frame that needs no reply: make sure none comes
        data, self.tb.rx = bytes(self.tb.rx), bytearray()
        return data

    def now(self) -> float:
        return self.tb.cycles * PERIOD_NS * 1e-9

    def close(self) -> None:
        pass


def fuzz(link: CocotbLink, config: DeviceConfig, scenario: dict, log) -> dict:
    emulator = Emulator(config)
    rng = random.Random(scenario["seed"])
    mismatches, replies = 0, 0
    for i, frame in enumerate(fuzz_frames(config, rng, scenario["frames"])):
        want = emulator.feed(frame)
        link.write(frame)
        got = link.receive(len(want), scenario["reply_cycles"])
        replies += want.count(END) // 2
        if got != want:
            mismatches += 1
            if mismatches <= 5:
                log.error(f"frame {i} {frame.hex()}: gateware {got.hex()}, emulator {want.hex()}")
    return {"frames": scenario["frames"], "replies": replies, "mismatches": mismatches}


def faulty_session(link: CocotbLink, config: DeviceConfig, scenario: dict, log) -> dict:
    rates = FaultRates(**scenario["rates"])
    faulty = FaultyLink(link, rates, seed=scenario["seed"])
    device = Device(faulty, config, timeout=scenario["timeout"], min_timeout=scenario["timeout"],
                    patience=1e3 * scenario["timeout"])
    got = session(device, config, scenario["seed"], scenario["updates"])
    verdict = compare_sessions(got, expected_session(config, scenario["seed"],
                                                     scenario["updates"]))
    counts = faulty.counts()
    return {**verdict, "driver": device.stats.as_dict(), "line": counts,
            "undetected_corruptions": sum(c["undetected_corruptions"] for c in counts.values()),
            "faults": sum(c["faults"] for c in counts.values())}


@cocotb.test()
async def accelerator_scenario(dut):
    with open(os.environ["TTZO_SCENARIO"]) as fh:
        scenario = json.load(fh)
    config = DeviceConfig(ModelSpec.from_dict(scenario["model"]), **scenario["device"])
    tb = TB(dut, scenario["seed"], scenario["idle"], scenario["stall"])
    await tb.reset()
    link = CocotbLink(tb)
    run = {"fuzz": fuzz, "session": faulty_session}[scenario["kind"]]
    result = await bridge(run)(link, config, scenario, dut._log)
    result["cycles"] = tb.cycles
    with open(os.environ["TTZO_RESULT"], "w") as fh:
        json.dump(result, fh)
    problems = {k: result[k] for k in ("mismatches", "lost_updates", "doubled_updates")
                if result.get(k)}
    assert not problems, f"gateware differs: {problems}"
