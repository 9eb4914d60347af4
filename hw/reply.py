"""The accelerator's reply path: the reply header, and EVAL's window of engine outputs as bytes.

Golden twin: :class:`ttzo.golden.emulator.Emulator` (its reply header, packed by
:func:`ttzo.spec.protocol.pack_fields` from :data:`~ttzo.spec.protocol.REPLY_FIELDS`, and
``_do_eval``'s window of output beats as :func:`~ttzo.spec.protocol.to_words`);
``tests/test_hw_reply.py`` compares them under idles and back-pressure.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ttzo.hw.link import tx_byte_layout
from ttzo.spec.protocol import REPLY_FIELDS, REPLY_HEADER_BYTES

__all__ = ["ReplyHeader", "ResultWindow", "reply_layout"]

#: The reply header's fields, in wire order (:data:`ttzo.spec.protocol.REPLY_FIELDS`).
reply_layout = data.StructLayout(dict(REPLY_FIELDS))


class ReplyHeader(wiring.Component):
    """The reply header, byte by byte (fields little-endian, in :data:`REPLY_FIELDS` order).

    Attributes
    ----------
    fields : In(reply_layout)
        The header's fields, stable while it is sent.
    has_payload : In(1)
        Data follow the header (otherwise its last byte ends the reply body).
    restart : In(1)
        The next byte offered is the header's first again.
    o_stream : Out(stream.Signature(tx_byte_layout))
        The header's bytes, always valid: the executor forwards them when it sends a reply.
    ends : Out(1)
        The byte offered is the header's last.
    """

    def __init__(self):
        super().__init__({
            "fields": In(reply_layout), "has_payload": In(1), "restart": In(1),
            "o_stream": Out(stream.Signature(tx_byte_layout)), "ends": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        position = Signal(range(REPLY_HEADER_BYTES))
        o = self.o_stream
        m.d.comb += [
            self.ends.eq(position == REPLY_HEADER_BYTES - 1),
            o.valid.eq(1),
            o.payload.data.eq(self.fields.as_value().word_select(position, 8)),
            o.payload.last.eq(self.ends & ~self.has_payload),
        ]
        with m.If(o.valid & o.ready):
            m.d.sync += position.eq(position + 1)
        with m.If(self.restart):
            m.d.sync += position.eq(0)
        return m


class ResultWindow(wiring.Component):
    """EVAL's reply data: every output beat of the engine is taken, the beats of a window leave
    as bytes (lane by lane, each lane's output little-endian in ``out_bytes`` bytes).

    The window's last byte waits until every beat has been taken, so the reply never ends (and
    the host never sends its next command) while the engine is still busy. The output beat
    register loads when a window beat is taken and shifts down a byte as each leaves (a byte
    select would be a wide multiplexer on the reply path); its enables and the engine
    stream's ready are functions of flip-flops only.

    Parameters
    ----------
    lanes : int
        Lanes per beat.
    out_width : int
        Width of an output (signed).
    out_bytes : int
        Bytes per output on the wire (sign-extended).
    max_beats : int
        The most beats one EVAL produces.

    Attributes
    ----------
    start : In(1)
        Start an EVAL with ``first``, ``window`` and ``last_beat``.
    first, window : In(16)
        The window: beats to skip, then beats to send.
    last_beat : In(range(max_beats + 1))
        Index of the EVAL's last beat (beats minus one).
    i_stream : In(stream.Signature(data.ArrayLayout(signed(out_width), lanes)))
        The engine's output beats.
    o_stream : Out(stream.Signature(tx_byte_layout))
        The window's bytes; ``last`` on the final one. Valid only between ``start`` and
        ``done``, so its ready may be the reply buffer's own, with no decode of the executor's
        state in the output register's enables.
    done : Out(1)
        Every beat has been taken and every window byte sent.
    """

    def __init__(self, lanes: int, out_width: int, out_bytes: int, max_beats: int):
        if not isinstance(out_bytes, int) or 8 * out_bytes < out_width:
            raise ValueError(f"out_bytes {out_bytes!r} cannot hold a {out_width}-bit output")
        self.lanes = lanes
        self.out_bytes = out_bytes
        self.max_beats = max_beats
        super().__init__({
            "start": In(1), "first": In(16), "window": In(16),
            "last_beat": In(range(max_beats + 1)),
            "i_stream": In(stream.Signature(data.ArrayLayout(signed(out_width), lanes))),
            "o_stream": Out(stream.Signature(tx_byte_layout)),
            "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        beat_bytes = self.lanes * self.out_bytes
        results, o = self.i_stream, self.o_stream
        last_beat = Signal.like(self.last_beat)
        taken = Signal.like(self.last_beat)  # beats taken from the engine
        taken_all = Signal()  # every beat of the EVAL has been taken
        skip_left = Signal(16)  # beats before the window not yet taken
        win_left = Signal(16)  # window beats not yet taken
        send_left = Signal(16)  # window beats not yet sent
        keep = Signal()  # the next beat taken is the window's: load it into out_reg
        final = Signal()  # out_reg's low byte is the reply's last
        out_reg = Signal(8 * beat_bytes)
        out_pos = Signal(range(beat_bytes + 1))
        out_full = Signal()
        # "out_reg empty", kept as a flip-flop: the ready of the engine's output buffer, whose
        # payload register (all lanes) it enables
        take = Signal()
        m.d.comb += results.ready.eq(take)
        words = []  # each lane's output, sign-extended to whole bytes
        for lane in range(self.lanes):
            word = Signal(signed(8 * self.out_bytes), name=f"out_word{lane}")
            m.d.comb += word.eq(results.payload[lane])
            words.append(word)
        m.d.comb += [o.valid.eq(out_full & ~(final & ~taken_all)), o.payload.data.eq(out_reg[:8]),
                     o.payload.last.eq(final), self.done.eq(taken_all & ~out_full)]
        with m.If(results.valid & take & keep):
            m.d.sync += out_reg.eq(Cat(*words))
        with m.Elif(o.valid & o.ready):
            m.d.sync += out_reg.eq(out_reg >> 8)

        with m.If(results.valid & take):
            m.d.sync += [taken.eq(taken + 1), taken_all.eq(taken == last_beat)]
            with m.If(skip_left != 0):
                m.d.sync += [skip_left.eq(skip_left - 1), keep.eq(skip_left == 1)]
            with m.Elif(keep):
                # the window's last beat: keep taking (and dropping) the rest meanwhile
                m.d.sync += [win_left.eq(win_left - 1), out_full.eq(1), out_pos.eq(0),
                             keep.eq(0), take.eq(win_left == 1),
                             final.eq((win_left == 1) if beat_bytes == 1 else 0)]
        with m.If(o.valid & o.ready):
            m.d.sync += [out_pos.eq(out_pos + 1),
                         final.eq((out_pos == beat_bytes - 2) & (send_left == 1))]
            with m.If(out_pos == beat_bytes - 1):
                m.d.sync += [out_full.eq(0), send_left.eq(send_left - 1), take.eq(1),
                             keep.eq(win_left != 0)]
        with m.If(self.start):
            m.d.sync += [last_beat.eq(self.last_beat), taken.eq(0), out_full.eq(0), take.eq(1),
                         out_pos.eq(0), taken_all.eq(0), skip_left.eq(self.first),
                         win_left.eq(self.window), send_left.eq(self.window),
                         keep.eq(self.first == 0), final.eq(0)]
        return m
