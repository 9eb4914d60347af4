"""Frame layer of the host link: SLIP framing with CRC-32, between a byte stream and commands.

Golden twin: :mod:`ttzo.spec.protocol` (``SlipDecoder``, ``encode_frame``, ``crc32``);
``tests/test_hw_link.py`` checks both components against it, including corrupted, truncated,
over-long and fuzzed frames.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from ttzo.hw.bram import BankedMemory
from ttzo.spec.protocol import (
    CRC_BYTES,
    CRC_RESIDUE,
    END,
    ESC,
    ESC_END,
    ESC_ESC,
    Status,
    crc32_register,
)

__all__ = ["FrameReceiver", "FrameSender", "crc32_step", "frame_layout", "tx_byte_layout"]

CRC_INIT = crc32_register(b"")


def _crc32_columns() -> list[int]:
    """The byte step of the CRC-32 register is linear over GF(2) in (register, byte): the image
    of each of the 40 input bits, computed with the host's reference."""
    return [crc32_register(bytes([0]), 1 << i) for i in range(32)] + [
        crc32_register(bytes([1 << i]), 0) for i in range(8)]


def crc32_step(crc, byte):
    """One byte of the CRC-32 register as combinational logic: each output bit is the XOR of the
    input bits whose image sets it (a few LUT levels, instead of eight chained shift steps)."""
    inputs = Cat(crc, byte)
    columns = _crc32_columns()
    bits = []
    for out_bit in range(32):
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
    """Collects one SLIP frame into a buffer and checks its CRC-32 (the register over body and
    CRC must end at :data:`~ttzo.spec.protocol.CRC_RESIDUE`).

    While a frame waits on ``frame`` (until ``frame.ready``) no byte is taken (``i_stream.ready``
    is low): the bytes that follow wait upstream, in the accelerator's receive FIFO.

    Parameters
    ----------
    max_bytes : int
        Buffer size: the longest body plus the CRC bytes. Longer frames are reported as
        :attr:`Status.TOO_LONG`.
    block_shapes, deep_banks
        The buffer's banks (see :class:`ttzo.hw.bram.BankedMemory`).

    Attributes
    ----------
    i_stream : In(stream.Signature(8))
        Line bytes (ready unless a frame is waiting).
    frame : Out(stream.Signature(frame_layout(max_bytes)))
        A complete frame: status ``OK``, ``BAD_CRC`` or ``TOO_LONG``.
    rd_addr, rd_en : In
    rd_data : Out(8)
        Read port of the buffer, a :class:`ttzo.hw.bram.BankedMemory`: the byte addressed
        ``READ_LATENCY`` enabled cycles earlier (every stage holds while ``rd_en`` is low).
    """

    def __init__(self, max_bytes: int, block_shapes: tuple[tuple[int, int], ...] | None = None,
                 deep_banks: bool = False):
        if not isinstance(max_bytes, int) or max_bytes <= CRC_BYTES:
            raise ValueError(f"max_bytes must be an integer above {CRC_BYTES}, not {max_bytes!r}")
        self.max_bytes = max_bytes
        self.block_shapes = block_shapes
        self.deep_banks = deep_banks
        super().__init__({
            "i_stream": In(stream.Signature(8)),
            "frame": Out(stream.Signature(frame_layout(max_bytes))),
            "rd_addr": In(range(max_bytes)), "rd_en": In(1), "rd_data": Out(8),
        })

    def elaborate(self, platform):
        m = Module()
        # Banked: the block RAM's output is registered before the executor's byte logic.
        m.submodules.buffer = mem = BankedMemory(unsigned(8), self.max_bytes, self.block_shapes,
                                                 deep_banks=self.deep_banks)
        m.d.comb += [mem.rd_addr.eq(self.rd_addr), mem.rd_en.eq(self.rd_en),
                     self.rd_data.eq(mem.rd_data)]

        length = Signal(range(self.max_bytes + 1))
        escaped = Signal()
        overflow = Signal()
        crc = Signal(32, init=CRC_INIT)
        pending = Signal()
        m.d.comb += [self.i_stream.ready.eq(~pending), self.frame.valid.eq(pending)]
        with m.If(self.frame.valid & self.frame.ready):
            m.d.sync += pending.eq(0)

        byte = self.i_stream.payload
        decoded = Mux(escaped, Mux(byte == ESC_END, END, Mux(byte == ESC_ESC, ESC, byte)), byte)
        m.d.comb += [mem.wr_addr.eq(length), mem.wr_data.eq(decoded)]
        with m.If(self.i_stream.valid & ~pending):
            with m.If(byte == END):
                with m.If((length != 0) | overflow):
                    damaged = (crc != CRC_RESIDUE) | (length <= CRC_BYTES)
                    status = Mux(overflow, Status.TOO_LONG, Mux(damaged, Status.BAD_CRC,
                                                                Status.OK))
                    m.d.sync += [pending.eq(1), self.frame.payload.status.eq(status),
                                 self.frame.payload.length.eq(
                                     Mux(length < CRC_BYTES, 0, length - CRC_BYTES))]
                m.d.sync += [length.eq(0), escaped.eq(0), overflow.eq(0), crc.eq(CRC_INIT)]
            with m.Elif((byte == ESC) & ~escaped):
                m.d.sync += escaped.eq(1)
            with m.Else():
                m.d.sync += escaped.eq(0)
                with m.If(length == self.max_bytes):
                    m.d.sync += overflow.eq(1)
                with m.Else():
                    m.d.comb += mem.wr_en.eq(1)
                    m.d.sync += [length.eq(length + 1), crc.eq(crc32_step(crc, decoded))]
        return m


class _Tx(enum.Enum, shape=3):
    START = 0
    DATA = 1
    CRC = 2
    STOP = 3
    ESCAPE = 4


class FrameSender(wiring.Component):
    """Turns a byte stream (``last`` marks a body's final byte) into SLIP frames with CRC-32.

    Attributes
    ----------
    i_stream : In(stream.Signature(tx_byte_layout))
    o_stream : Out(stream.Signature(8))
        Line bytes: ``END``, the escaped body and CRC (low byte first), ``END``.
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
        crc = Signal(32, init=CRC_INIT)
        crc_byte = Signal(range(CRC_BYTES))
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
                fire = send_escaped(raw, i.valid, Mux(i.payload.last, _Tx.CRC, _Tx.DATA))
                m.d.comb += i.ready.eq(o.ready)
                with m.If(fire):
                    m.d.sync += crc.eq(crc32_step(crc, raw))
            with m.Case(_Tx.CRC):
                # the CRC is the register's complement, low byte first; it leaves from the low
                # byte as the register shifts down (no byte multiplexer)
                last = crc_byte == CRC_BYTES - 1
                fire = send_escaped(~crc[:8], 1, Mux(last, _Tx.STOP, _Tx.CRC))
                with m.If(fire):
                    m.d.sync += [crc.eq(crc >> 8), crc_byte.eq(crc_byte + 1)]
            with m.Case(_Tx.STOP):
                m.d.comb += [o.valid.eq(1), o.payload.eq(END)]
                with m.If(o.ready):
                    m.d.sync += [state.eq(_Tx.START), crc.eq(CRC_INIT), crc_byte.eq(0)]
            with m.Case(_Tx.ESCAPE):
                m.d.comb += [o.valid.eq(1), o.payload.eq(code)]
                with m.If(o.ready):
                    m.d.sync += state.eq(after)
        return m
