"""Frame layer of the host link: SLIP framing with CRC-16, between a byte stream and commands.

Golden twin: :mod:`ttzo.device.protocol` (``SlipDecoder``, ``encode_frame``, ``crc16``);
``tests/test_hw_link.py`` checks both components against it, including corrupted, truncated and
over-long frames.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from ttzo.device.protocol import END, ESC, ESC_END, ESC_ESC, Status, crc16

from .bram import BankedMemory

__all__ = ["FrameReceiver", "FrameSender", "crc16_step", "frame_layout", "tx_byte_layout"]


def _crc16_columns() -> list[int]:
    """The byte step of CRC-16/CCITT-FALSE is linear over GF(2) in (crc, byte): the image of
    each of the 24 input bits, computed with the host's bitwise reference."""
    return [crc16(bytes([0]), 1 << i) for i in range(16)] + [
        crc16(bytes([1 << i]), 0) for i in range(8)]


def crc16_step(crc, byte):
    """One byte of CRC-16/CCITT-FALSE as combinational logic: each output bit is the XOR of the
    input bits whose image sets it (two LUT levels, instead of eight chained shift steps)."""
    inputs = Cat(crc, byte)
    columns = _crc16_columns()
    bits = []
    for out_bit in range(16):
        terms = [inputs[i] for i, col in enumerate(columns) if col >> out_bit & 1]
        bit = terms[0]
        for term in terms[1:]:
            bit = bit ^ term
        bits.append(bit)
    return Cat(*bits)


def frame_layout(max_bytes: int) -> data.StructLayout:
    """A received frame: body length (without the CRC) and the receiver's verdict."""
    return data.StructLayout({"length": unsigned(max_bytes.bit_length()), "status": unsigned(3)})


tx_byte_layout = data.StructLayout({"data": unsigned(8), "last": unsigned(1)})


class FrameReceiver(wiring.Component):
    """Collects one SLIP frame into a buffer and checks its CRC.

    While a frame waits on ``frame`` (until ``frame.ready``) incoming bytes are dropped: the link
    is stop-and-wait, and a frame cut short this way fails its CRC and is answered as such.

    Parameters
    ----------
    max_bytes : int
        Buffer size: the longest body plus the two CRC bytes. Longer frames are reported as
        :attr:`Status.TOO_LONG`.

    Attributes
    ----------
    i_stream : In(stream.Signature(8))
        Line bytes (always ready).
    frame : Out(stream.Signature(frame_layout(max_bytes)))
        A complete frame: status ``OK``, ``BAD_CRC`` or ``TOO_LONG``.
    rd_addr, rd_en : In
    rd_data : Out(8)
        Read port of the buffer, a :class:`ttzo.hw.bram.BankedMemory`: the byte addressed
        ``READ_LATENCY`` enabled cycles earlier (every stage holds while ``rd_en`` is low).
    """

    def __init__(self, max_bytes: int, block_shapes: tuple[tuple[int, int], ...] | None = None):
        if not isinstance(max_bytes, int) or max_bytes < 3:
            raise ValueError(f"max_bytes must be an integer of at least 3, not {max_bytes!r}")
        self.max_bytes = max_bytes
        self.block_shapes = block_shapes
        super().__init__({
            "i_stream": In(stream.Signature(8)),
            "frame": Out(stream.Signature(frame_layout(max_bytes))),
            "rd_addr": In(range(max_bytes)), "rd_en": In(1), "rd_data": Out(8),
        })

    def elaborate(self, platform):
        m = Module()
        # Banked: the block RAM's output is registered before the executor's byte logic.
        m.submodules.buffer = mem = BankedMemory(unsigned(8), self.max_bytes, self.block_shapes)
        m.d.comb += [mem.rd_addr.eq(self.rd_addr), mem.rd_en.eq(self.rd_en),
                     self.rd_data.eq(mem.rd_data)]

        length = Signal(range(self.max_bytes + 1))
        escaped = Signal()
        overflow = Signal()
        crc = Signal(16, init=0xFFFF)
        pending = Signal()
        m.d.comb += [self.i_stream.ready.eq(1), self.frame.valid.eq(pending)]
        with m.If(self.frame.valid & self.frame.ready):
            m.d.sync += pending.eq(0)

        byte = self.i_stream.payload
        decoded = Mux(escaped, Mux(byte == ESC_END, END, Mux(byte == ESC_ESC, ESC, byte)), byte)
        m.d.comb += [mem.wr_addr.eq(length), mem.wr_data.eq(decoded)]
        with m.If(self.i_stream.valid & ~pending):
            with m.If(byte == END):
                with m.If((length != 0) | overflow):
                    status = Mux(overflow, Status.TOO_LONG,
                                 Mux((crc != 0) | (length < 3), Status.BAD_CRC, Status.OK))
                    m.d.sync += [pending.eq(1), self.frame.payload.status.eq(status),
                                 self.frame.payload.length.eq(Mux(length < 2, 0, length - 2))]
                m.d.sync += [length.eq(0), escaped.eq(0), overflow.eq(0), crc.eq(0xFFFF)]
            with m.Elif((byte == ESC) & ~escaped):
                m.d.sync += escaped.eq(1)
            with m.Else():
                m.d.sync += escaped.eq(0)
                with m.If(length == self.max_bytes):
                    m.d.sync += overflow.eq(1)
                with m.Else():
                    m.d.comb += mem.wr_en.eq(1)
                    m.d.sync += [length.eq(length + 1), crc.eq(crc16_step(crc, decoded))]
        return m


class _Tx(enum.Enum, shape=3):
    START = 0
    DATA = 1
    CRC_HI = 2
    CRC_LO = 3
    STOP = 4
    ESCAPE = 5


class FrameSender(wiring.Component):
    """Turns a byte stream (``last`` marks a body's final byte) into SLIP frames with CRC.

    Attributes
    ----------
    i_stream : In(stream.Signature(tx_byte_layout))
    o_stream : Out(stream.Signature(8))
        Line bytes: ``END``, the escaped body and CRC (high byte first), ``END``.
    """

    def __init__(self):
        super().__init__({
            "i_stream": In(stream.Signature(tx_byte_layout)),
            "o_stream": Out(stream.Signature(8)),
        })

    def elaborate(self, platform):
        m = Module()
        state = Signal(_Tx)
        after = Signal(_Tx)  # where ESCAPE continues
        code = Signal(8)  # the escape code ESCAPE sends
        crc = Signal(16, init=0xFFFF)
        o, i = self.o_stream, self.i_stream

        def send_escaped(raw, valid, next_state):
            """Send ``raw`` (escaping END and ESC); returns the fire condition."""
            special = (raw == END) | (raw == ESC)
            m.d.comb += [o.valid.eq(valid), o.payload.eq(Mux(special, ESC, raw))]
            fire = valid & o.ready
            with m.If(fire):
                with m.If(special):
                    m.d.sync += [code.eq(Mux(raw == END, ESC_END, ESC_ESC)),
                                 after.eq(next_state), state.eq(_Tx.ESCAPE)]
                with m.Else():
                    m.d.sync += state.eq(next_state)
            return fire

        with m.Switch(state):
            with m.Case(_Tx.START):
                m.d.comb += [o.valid.eq(i.valid), o.payload.eq(END)]
                with m.If(i.valid & o.ready):
                    m.d.sync += state.eq(_Tx.DATA)
            with m.Case(_Tx.DATA):
                raw = i.payload.data
                fire = send_escaped(raw, i.valid, Mux(i.payload.last, _Tx.CRC_HI, _Tx.DATA))
                m.d.comb += i.ready.eq(o.ready)
                with m.If(fire):
                    m.d.sync += crc.eq(crc16_step(crc, raw))
            with m.Case(_Tx.CRC_HI):
                send_escaped(crc[8:], 1, _Tx.CRC_LO)
            with m.Case(_Tx.CRC_LO):
                send_escaped(crc[:8], 1, _Tx.STOP)
            with m.Case(_Tx.STOP):
                m.d.comb += [o.valid.eq(1), o.payload.eq(END)]
                with m.If(o.ready):
                    m.d.sync += [state.eq(_Tx.START), crc.eq(0xFFFF)]
            with m.Case(_Tx.ESCAPE):
                m.d.comb += [o.valid.eq(1), o.payload.eq(code)]
                with m.If(o.ready):
                    m.d.sync += state.eq(after)
        return m
