"""The command table in gateware: the verdict on a received command header, and its reply length.

Golden twin: :meth:`ttzo.spec.protocol.Command.verdict` over
:data:`ttzo.spec.protocol.COMMANDS` (and ``STALE_UPDATE`` when an UPDATE names another update
counter), the same rules the emulator applies; ``tests/test_hw_commands.py`` compares the two on
random and corner headers.
"""

from __future__ import annotations

from collections.abc import Mapping

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ttzo.spec.protocol import (
    COMMANDS,
    HEADER_FIELDS,
    MODE_BITS,
    MODE_COORDINATE,
    Command,
    Opcode,
    Status,
)

__all__ = ["CommandValidator", "header_layout", "times"]


def header_layout() -> data.StructLayout:
    """The command header of :data:`ttzo.spec.protocol.HEADER_FIELDS` as a layout."""
    return data.StructLayout({name: unsigned(width) for name, width in HEADER_FIELDS})


def times(value: Value, factor: int) -> Value:
    """``value * factor`` for a constant ``factor`` as a sum of shifted copies of ``value`` (one
    per set bit), so that synthesis builds adders instead of taking a multiplier block."""
    if factor < 0:
        raise ValueError(f"factor must not be negative, not {factor!r}")
    return sum((value << bit for bit in range(factor.bit_length()) if factor >> bit & 1),
               Const(0))


class CommandValidator(wiring.Component):
    """Judges a command header by :data:`ttzo.spec.protocol.COMMANDS`, three register stages
    deep (products, comparisons, verdict), so none of it shares a cycle with the executor.

    Parameters
    ----------
    sizes : mapping of str to int
        The device's sizes (``DeviceConfig.sizes()``); opcodes whose ``requires`` is 0 are
        refused as ``BAD_OPCODE``.

    Attributes
    ----------
    header : In(header_layout())
    data_len : In(16)
        Data bytes received after the header.
    updates : In(32)
        The device's update counter.
    status : Out(3)
        The verdict (:class:`~ttzo.spec.protocol.Status`), :data:`LATENCY` cycles after the
        inputs settle (they must hold that long).
    reply_length : Out(16)
        Data bytes of the reply when the verdict is ``OK`` (0 otherwise).
    """

    LATENCY = 3

    def __init__(self, sizes: Mapping[str, int]):
        self.sizes = dict(sizes)
        self.commands = {op: cmd for op, cmd in COMMANDS.items() if cmd.supported(self.sizes)}
        super().__init__({
            "header": In(header_layout()), "data_len": In(16), "updates": In(32),
            "status": Out(3), "reply_length": Out(16),
        })

    def _size(self, value: int | str) -> int:
        return Command.size(value, self.sizes)

    def _arguments_ok(self, cmd: Command, hdr, end_addr, out_beats, window_end) -> Value:
        """The BAD_ARGUMENT rules of ``cmd`` on registered sums and products."""
        count = hdr.count
        ok = (count >= cmd.count_min) & (count <= self._size(cmd.count_max))
        if cmd.span is not None:
            ok &= end_addr <= self._size(cmd.span)
        if cmd.coordinate:
            mode = hdr.flags[:MODE_BITS]
            ok &= (mode != MODE_COORDINATE) | (hdr.addr < self.sizes["params"])
            ok &= (mode == 0) | (hdr.mu != 0)
        if cmd.windowed:
            ok &= (hdr.window >= 1) & (window_end <= out_beats)
        if cmd.max_shift is not None:
            ok &= hdr.shift < cmd.max_shift
        return ok

    def elaborate(self, platform):
        m = Module()
        hdr = self.header
        ops = list(self.commands)
        # stage 1: sums and constant products of header fields
        end_addr = Signal(34)
        window_end = Signal(17)
        out_beats = Signal(16 + self.sizes["out_features"].bit_length())
        data_bytes = [Signal(32, name=f"data_bytes_{op.name.lower()}") for op in ops]
        reply_bytes = [Signal(32, name=f"reply_bytes_{op.name.lower()}") for op in ops]
        m.d.sync += [end_addr.eq(hdr.addr + hdr.count), window_end.eq(hdr.first + hdr.window),
                     out_beats.eq(times(hdr.count, self.sizes["out_features"]))]
        for op, want, answer in zip(ops, data_bytes, reply_bytes):
            cmd = self.commands[op]
            items = hdr.window if cmd.windowed else hdr.count
            m.d.sync += [want.eq(times(hdr.count, self._size(cmd.data_item))),
                         answer.eq(cmd.reply_fixed + times(items, self._size(cmd.reply_item)))]
        # stage 2: comparisons, one pair of flags per opcode
        length_ok = Signal(len(ops))
        args_ok = Signal(len(ops))
        fresh = Signal()
        m.d.sync += [
            length_ok.eq(Cat(*[(self.data_len == hdr.length) & (self.data_len == want)
                               for want in data_bytes])),
            args_ok.eq(Cat(*[self._arguments_ok(self.commands[op], hdr, end_addr, out_beats,
                                                window_end) for op in ops])),
            fresh.eq(hdr.updates == self.updates),
        ]
        # stage 3: the verdict in the table's order, and the reply length
        status = Const(Status.BAD_OPCODE, 3)
        length = Const(0, 16)
        for position, op in enumerate(ops):
            verdict = Mux(~length_ok[position], Status.BAD_LENGTH,
                          Mux(~args_ok[position], Status.BAD_ARGUMENT,
                              Mux(~fresh if op == Opcode.UPDATE else 0,
                                  Status.STALE_UPDATE, Status.OK)))
            selected = hdr.opcode == op
            status = Mux(selected, verdict, status)
            length = Mux(selected, reply_bytes[position], length)
        m.d.sync += [self.status.eq(status),
                     self.reply_length.eq(Mux(status == Status.OK, length, 0))]
        return m
