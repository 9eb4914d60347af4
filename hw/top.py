"""Board top: clock generator, UART, accelerator, status LEDs.

The accelerator's byte streams meet the board's UART (the ULX3S FTDI port, the iCEBreaker's
FT2232H channel B); everything above the bytes is board-independent and simulated without the
UART in ``tests/test_hw_accelerator.py``.
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import io, wiring

from ttzo.hw.accelerator import Accelerator
from ttzo.hw.clocking import ClockGenerator, sync_domain
from ttzo.hw.uart import UARTRx, UARTTx, uart_divisor
from ttzo.spec.accelerator import DeviceConfig

__all__ = ["BoardTop"]


class BoardTop(Elaboratable):
    """The accelerator on a board.

    Parameters
    ----------
    config : DeviceConfig
        What to build (its ``clock_hz`` is replaced by the frequency the PLL reaches).
    clock_hz : float
        Requested system clock.
    baud : int
        UART rate; the host must use the same.
    block_shapes : tuple of (depth, width), optional
        The FPGA's block RAM shapes (sizes the memory banks).
    """

    def __init__(self, config: DeviceConfig, clock_hz: float, baud: int = 3_000_000,
                 block_shapes=None):
        self.config = config
        self.clock_hz = clock_hz
        self.baud = baud
        self.block_shapes = block_shapes
        self.clock = ClockGenerator(clock_hz)
        self.accelerator: Accelerator | None = None

    def elaborate(self, platform):
        from dataclasses import replace

        m = Module()
        m.domains.sync = sync_domain()
        m.submodules.clock = self.clock
        achieved = self.clock.plan(platform)
        divisor = uart_divisor(achieved, self.baud)
        config = replace(self.config, clock_hz=int(round(achieved)))
        m.submodules.accel = accel = self.accelerator = Accelerator(config, self.block_shapes)
        m.submodules.rx = rx = UARTRx(divisor)
        m.submodules.tx = tx = UARTTx(divisor)
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = rx_pin = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx_pin = io.Buffer("o", uart.tx)
        m.d.comb += [rx.rx.eq(rx_pin.i), tx_pin.o.eq(tx.tx)]
        wiring.connect(m, rx.o_stream, accel.i_stream)
        wiring.connect(m, accel.o_stream, tx.i_stream)
        # LED 0: heartbeat (the clock runs); LED 1: a command is executing.
        leds = []
        for i in range(2):
            m.submodules[f"led{i}"] = led = io.Buffer("o", platform.request("led", i, dir="-"))
            leds.append(led)
        beat = Signal(range(max(2, int(achieved) // 2)))
        blink = Signal()
        m.d.sync += beat.eq(beat + 1)
        with m.If(beat == int(achieved) // 2 - 1):
            m.d.sync += [beat.eq(0), blink.eq(~blink)]
        m.d.comb += [leds[0].o.eq(blink), leds[1].o.eq(accel.busy)]
        return m
