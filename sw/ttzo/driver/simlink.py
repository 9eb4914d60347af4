"""A link to the accelerator gateware running in the Amaranth simulator.

The same driver that talks to a board over its serial port talks to the gateware here, so tests
and the fault campaign run the host code against the RTL itself. Bytes go in with random idles
and come out under random back-pressure; the link's clock is simulated time, so the driver's
timeouts are measured in the design's cycles.
"""

from __future__ import annotations

import random
from collections import deque

from amaranth.sim import Simulator

from ttzo.spec.protocol import END

__all__ = ["SimulationLink"]


class SimulationLink:
    """A :class:`ttzo.driver.link.Link` to a component with byte streams ``i_stream`` (in) and
    ``o_stream`` (out), such as :class:`ttzo.hw.accelerator.Accelerator`, in simulation.

    Parameters
    ----------
    dut : wiring.Component
        The design.
    seed : int
        Seeds the random idles and back-pressure.
    clock_hz : float
        Simulated clock; the driver's timeouts count in this time.
    idle, stall : float
        Probability of offering no byte / of not taking one, per cycle.
    """

    STEP_CYCLES = 500  # cycles simulated between checks for a complete reply

    def __init__(self, dut, seed: int = 0, clock_hz: float = 100e6, idle: float = 0.2,
                 stall: float = 0.3):
        self.period = 1 / clock_hz
        self.sim = Simulator(dut)
        self.sim.add_clock(self.period)
        self.tx: deque[int] = deque()
        self.rx = bytearray()
        self._cycles = 0  # simulated so far (whole cycles, so deadlines never go backwards)
        rng = random.Random(seed)

        async def io(ctx):
            while True:
                offer = bool(self.tx) and rng.random() >= idle
                ctx.set(dut.i_stream.valid, offer)
                if offer:
                    ctx.set(dut.i_stream.payload, self.tx[0])
                ready = rng.random() >= stall
                ctx.set(dut.o_stream.ready, ready)
                _, _, i_ready, o_valid, o_byte = await ctx.tick().sample(
                    dut.i_stream.ready, dut.o_stream.valid, dut.o_stream.payload)
                if offer and i_ready:
                    self.tx.popleft()
                if ready and o_valid:
                    self.rx.append(o_byte)

        self.sim.add_testbench(io, background=True)

    def write(self, data: bytes) -> None:
        self.tx.extend(data)

    def read(self, timeout: float) -> bytes:
        """Simulate until a frame ends with nothing left to send, or ``timeout`` seconds."""
        deadline = self._cycles + max(1, round(timeout / self.period))
        while self._cycles < deadline:
            self._cycles = min(self._cycles + self.STEP_CYCLES, deadline)
            self.sim.run_until(self._cycles * self.period)
            if self.rx and self.rx[-1] == END and not self.tx:
                break
        data, self.rx = bytes(self.rx), bytearray()
        return data

    def now(self) -> float:
        return self._cycles * self.period

    def close(self) -> None:
        pass
