"""Bit-exact emulator of the accelerator: the golden twin of :mod:`ttzo.hw.accelerator`.

It receives the same line bytes, keeps the same state (parameter memory, input memory, last
sequence number), validates commands by the same rules and answers with the same bytes, computing
forward passes with :class:`ttzo.golden.model.GoldenModel` and updates with
:func:`ttzo.golden.perturb.apply_update`. :class:`EmulatorLink` puts it behind the host driver's
link interface, so training runs "on the accelerator" without a board.
"""

from __future__ import annotations

import numpy as np

from ..golden.model import GoldenModel
from ..golden.perturb import MODES, Perturbation, apply_update
from .config import DeviceConfig
from .protocol import (
    END,
    ESC,
    ESC_END,
    ESC_ESC,
    HEADER_BYTES,
    HEADER_FIELDS,
    INFO_FIELDS,
    MODE_BITS,
    PARAM_BYTES,
    Opcode,
    Status,
    crc16,
    encode_frame,
    from_words,
    pack_fields,
    to_words,
    unpack_fields,
    wrap,
)

__all__ = ["Emulator", "EmulatorLink"]


class Emulator:
    """The accelerator of ``config``, as its frames see it."""

    def __init__(self, config: DeviceConfig):
        self.config = config
        self.golden = GoldenModel(config.spec)
        self.widths = self.golden.param_widths()
        n = config.spec.params
        self.theta = np.zeros(n, dtype=np.int64)  # parameter memory (param_width bits)
        self.inputs = np.zeros((config.input_beats, config.lanes), dtype=np.int64)
        self.last_seq: int | None = None
        self.max_bytes = HEADER_BYTES + config.max_data + 2
        self._frame = bytearray()
        self._escaped = False
        self._overflow = False

    # -- line level: the twin of hw/link.py FrameReceiver -----------------------------------------
    def feed(self, line: bytes) -> bytes:
        """Take line bytes; return the line bytes of every reply they complete."""
        out = bytearray()
        for byte in line:
            if byte == END:
                if self._frame or self._overflow:
                    out += encode_frame(self._receive())
                self._frame, self._escaped, self._overflow = bytearray(), False, False
            elif byte == ESC and not self._escaped:
                self._escaped = True
            else:
                if self._escaped:
                    byte = {ESC_END: END, ESC_ESC: ESC}.get(byte, byte)
                self._escaped = False
                if len(self._frame) == self.max_bytes:
                    self._overflow = True
                else:
                    self._frame.append(byte)
        return bytes(out)

    def _receive(self) -> bytes:
        frame = bytes(self._frame)
        if self._overflow:
            return self._reply(0, 0, Status.TOO_LONG)
        if len(frame) < 3 or crc16(frame) != 0:
            return self._reply(0, 0, Status.BAD_CRC)
        return self.handle(frame[:-2])

    # -- command level ---------------------------------------------------------------------------
    @staticmethod
    def _reply(opcode: int, seq: int, status: Status, data: bytes = b"") -> bytes:
        return bytes([opcode, seq, int(status), 0]) + data

    def handle(self, body: bytes) -> bytes:
        """Execute one command body (CRC already checked) and return the reply body."""
        if len(body) < HEADER_BYTES:
            return self._reply(0, 0, Status.BAD_LENGTH)
        hdr = unpack_fields(HEADER_FIELDS, body)
        data = body[HEADER_BYTES:]
        opcode, seq = hdr["opcode"], hdr["seq"]
        retry = self.last_seq == seq
        if opcode != 0:  # the gateware marks parsed commands by a non-zero opcode
            self.last_seq = seq
        try:
            op = Opcode(opcode)
        except ValueError:
            return self._reply(opcode, seq, Status.BAD_OPCODE)
        if op == Opcode.UPDATE and self.config.max_directions == 0:  # built without the unit
            return self._reply(opcode, seq, Status.BAD_OPCODE)
        if not self._valid(op, hdr, len(data)):
            return self._reply(opcode, seq, Status.BAD_ARGUMENT)
        reply = getattr(self, f"_do_{op.name.lower()}")(hdr, data, retry)
        return self._reply(opcode, seq, Status.OK, reply)

    def _valid(self, op: Opcode, hdr: dict, n_data: int) -> bool:
        cfg = self.config
        addr, count = hdr["addr"], hdr["count"]
        mode = hdr["flags"] & ((1 << MODE_BITS) - 1)
        return {
            Opcode.INFO: n_data == 0,
            Opcode.WRITE_PARAMS: addr + count <= cfg.spec.params and n_data == PARAM_BYTES * count,
            Opcode.READ_PARAMS: addr + count <= cfg.spec.params and n_data == 0,
            Opcode.LOAD_INPUT: (addr + count <= cfg.input_beats
                                and n_data == cfg.lanes * cfg.input_bytes * count),
            Opcode.EVAL: (n_data == 0 and 1 <= count <= cfg.input_groups
                          and (hdr["mu"] != 0 or mode == 0)),
            Opcode.UPDATE: (count <= cfg.max_directions and hdr["shift"] < 62
                            and n_data == 6 * count),
        }[op]

    def _do_info(self, hdr, data, retry) -> bytes:
        return pack_fields(INFO_FIELDS, self.config.info())

    def _do_write_params(self, hdr, data, retry) -> bytes:
        values = from_words(data, PARAM_BYTES)
        self.theta[hdr["addr"]:hdr["addr"] + hdr["count"]] = wrap(values, self.config.param_width)
        return b""

    def _do_read_params(self, hdr, data, retry) -> bytes:
        return to_words(self.theta[hdr["addr"]:hdr["addr"] + hdr["count"]], PARAM_BYTES)

    def _do_load_input(self, hdr, data, retry) -> bytes:
        cfg = self.config
        words = from_words(data, cfg.input_bytes).reshape(hdr["count"], cfg.lanes)
        self.inputs[hdr["addr"]:hdr["addr"] + hdr["count"]] = wrap(
            words, cfg.spec.numerics.input.width)
        return b""

    def engine_theta(self) -> np.ndarray:
        """The parameters as the engine's memories hold them (each in its format's width)."""
        out = self.theta.copy()
        for width in np.unique(self.widths):
            sel = self.widths == width
            out[sel] = wrap(out[sel], int(width))
        return out

    def _do_eval(self, hdr, data, retry) -> bytes:
        cfg = self.config
        mode = MODES[hdr["flags"] & ((1 << MODE_BITS) - 1)]
        p = Perturbation() if mode == "none" else Perturbation(
            mode, hdr["mu"], bool(hdr["flags"] >> MODE_BITS & 1), hdr["seed"], hdr["addr"])
        n_in = cfg.spec.in_features
        theta = self.engine_theta()
        out = bytearray()
        for group in range(hdr["count"]):
            x = self.inputs[group * n_in:(group + 1) * n_in].T  # lanes x features
            y = self.golden.forward_perturbed(theta, x, p)  # lanes x outputs
            out += to_words(y.T, cfg.output_bytes)  # beat = output i of every lane
        return bytes(out)

    def _do_update(self, hdr, data, retry) -> bytes:
        if retry:
            return b""  # the reply was lost; the update was applied already
        count = hdr["count"]
        seeds = from_words(data[:4 * count], 4) & 0xFFFFFFFF if count else []
        coefs = from_words(data[4 * count:], 2) if count else []
        kind = "gauss" if hdr["flags"] >> (MODE_BITS + 1) & 1 else "rademacher"
        if count:  # with no directions the update unit passes values through unchanged
            self.theta = apply_update(self.theta, kind, [int(s) for s in seeds],
                                      [int(c) for c in coefs], hdr["shift"], self.widths)
        return b""


class EmulatorLink:
    """A :class:`ttzo.device.link.Link` to an :class:`Emulator` (replies appear at once)."""

    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self._rx = bytearray()

    def write(self, data: bytes) -> None:
        self._rx += self.emulator.feed(data)

    def read(self, timeout: float) -> bytes:
        data, self._rx = bytes(self._rx), bytearray()
        return data

    def close(self) -> None:
        pass
