"""UART receiver and transmitter (8 data bits, no parity, 1 stop bit) with stream ports.

No UART ships with Amaranth or amaranth-boards. Reference model: the 8N1 bit sequence itself
(start bit 0, data LSB first, stop bit 1), which ``tests/test_hw_uart.py`` generates in Python and
checks against the gateware in both directions.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTRx", "UARTTx", "uart_divisor"]


def uart_divisor(clk_hz: float, baud: float) -> int:
    """Clock cycles per bit; refuses rates the clock cannot resolve within 2 %."""
    divisor = round(clk_hz / baud)
    if divisor < 4:
        raise ValueError(f"baud rate {baud} is too high for a {clk_hz / 1e6:g} MHz clock "
                         f"(needs at least 4 clock cycles per bit)")
    error = abs(clk_hz / divisor - baud) / baud
    if error > 0.02:
        raise ValueError(f"baud rate {baud} is off by {100 * error:.1f} % at "
                         f"{clk_hz / 1e6:g} MHz; choose another rate or clock")
    return divisor


class UARTRx(wiring.Component):
    """Receives 8N1 bytes.

    The line is synchronized with two flip-flops, each bit is sampled in its middle, and a byte
    whose stop bit is not 1 is dropped and counted as a framing error. A byte that arrives while
    the previous one has not been taken is dropped and counted as an overrun.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (at least 4; see :func:`uart_divisor`).

    Attributes
    ----------
    rx : In(1)
        The serial line (idle high).
    o_stream : Out(stream.Signature(8))
    framing_errors, overruns : Out(16)
        Saturating error counters.
    """

    def __init__(self, divisor: int):
        if not isinstance(divisor, int) or divisor < 4:
            raise ValueError(f"divisor must be an integer of at least 4, not {divisor!r}")
        self.divisor = divisor
        super().__init__({
            "rx": In(1, init=1),
            "o_stream": Out(stream.Signature(8)),
            "framing_errors": Out(16),
            "overruns": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(self.divisor * 2))
        bit = Signal(range(9))
        shift = Signal(8)
        with m.If(self.o_stream.valid & self.o_stream.ready):
            m.d.sync += self.o_stream.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    with m.If(line):  # a glitch, not a start bit
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [timer.eq(self.divisor - 1), bit.eq(0)]
                        m.next = "DATA"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], line)), timer.eq(self.divisor - 1),
                                 bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(~line):
                        with m.If(self.framing_errors != 0xFFFF):
                            m.d.sync += self.framing_errors.eq(self.framing_errors + 1)
                    with m.Elif(self.o_stream.valid & ~self.o_stream.ready):
                        with m.If(self.overruns != 0xFFFF):
                            m.d.sync += self.overruns.eq(self.overruns + 1)
                    with m.Else():
                        m.d.sync += [self.o_stream.payload.eq(shift), self.o_stream.valid.eq(1)]
                    m.next = "WAIT_IDLE"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("WAIT_IDLE"):
                with m.If(line):  # after a framing error, wait for the line to return high
                    m.next = "IDLE"
        return m


class UARTTx(wiring.Component):
    """Transmits 8N1 bytes from a stream.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit.

    Attributes
    ----------
    i_stream : In(stream.Signature(8))
    tx : Out(1)
        The serial line (idle high).
    """

    def __init__(self, divisor: int):
        if not isinstance(divisor, int) or divisor < 1:
            raise ValueError(f"divisor must be a positive integer, not {divisor!r}")
        self.divisor = divisor
        super().__init__({
            "i_stream": In(stream.Signature(8)),
            "tx": Out(1, init=1),
        })

    def elaborate(self, platform):
        m = Module()
        frame = Signal(10, init=0x3FF)  # stop, data[7:0], start, sent LSB first
        remaining = Signal(range(11))
        timer = Signal(range(self.divisor))
        m.d.comb += [self.tx.eq(frame[0]), self.i_stream.ready.eq(remaining == 0)]
        with m.If(remaining == 0):
            with m.If(self.i_stream.valid):
                m.d.sync += [frame.eq(Cat(0, self.i_stream.payload, 1)), remaining.eq(10),
                             timer.eq(self.divisor - 1)]
        with m.Elif(timer == 0):
            m.d.sync += [frame.eq(Cat(frame[1:], 1)), remaining.eq(remaining - 1),
                         timer.eq(self.divisor - 1)]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
        return m
