"""Bit-exact emulator of the accelerator: the golden twin of :mod:`ttzo.hw.accelerator`.

It receives the same line bytes, keeps the same state (parameter memory, input memory, update
counter), refuses commands by the same rules (:data:`ttzo.spec.protocol.COMMANDS`) and
answers with the same bytes, computing forward passes with :class:`ttzo.golden.model.GoldenModel`
and updates with :func:`ttzo.golden.perturb.apply_update`. :class:`ttzo.driver.link.EmulatorLink`
puts it behind the host driver's link interface, so training runs "on the accelerator" without
a board.
"""

from __future__ import annotations

import numpy as np

from ttzo.spec.accelerator import DeviceConfig
from ttzo.spec.perturb import MODES, Perturbation
from ttzo.spec.protocol import (
    COEF_BYTES,
    CRC_BYTES,
    CRC_RESIDUE,
    END,
    ESC,
    ESC_END,
    ESC_ESC,
    GAUSS_FLAG,
    HEADER_BYTES,
    HEADER_FIELDS,
    INFO_FIELDS,
    MODE_BITS,
    PARAM_BYTES,
    REPLY_FIELDS,
    SEED_BYTES,
    Opcode,
    Status,
    crc32_register,
    encode_frame,
    from_words,
    max_frame_bytes,
    pack_fields,
    to_words,
    unpack_fields,
    verdict,
    wrap,
)

from .model import GoldenModel
from .perturb import apply_update

__all__ = ["Emulator"]


class Emulator:
    """The accelerator of ``config``, as its frames see it.

    Attributes
    ----------
    theta : ndarray
        Parameter memory.
    inputs : ndarray, shape (input_beats, lanes)
        Input memory.
    updates : int
        UPDATEs applied since power-on (32 bits, wrapping).
    """

    def __init__(self, config: DeviceConfig):
        self.config = config
        self.sizes = config.sizes()
        self.golden = GoldenModel(config.spec)
        self.widths = self.golden.param_widths()
        self.theta = np.zeros(config.spec.params, dtype=np.int64)
        self.inputs = np.zeros((config.input_beats, config.lanes), dtype=np.int64)
        self.updates = 0
        self.max_bytes = max_frame_bytes(config.max_data)
        self._frame = bytearray()
        self._escaped = False
        self._overflow = False

    def state(self) -> tuple:
        """Everything a command can change (for tests that refused frames change nothing)."""
        return self.theta.tobytes(), self.inputs.tobytes(), self.updates

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
        if self._overflow:
            return self._reply(0, 0, Status.TOO_LONG)
        # the gateware runs the register byte by byte; over the whole frame it is the same
        if len(self._frame) <= CRC_BYTES or crc32_register(bytes(self._frame)) != CRC_RESIDUE:
            return self._reply(0, 0, Status.BAD_CRC)
        return self.handle(bytes(self._frame[:-CRC_BYTES]))

    # -- command level ---------------------------------------------------------------------------
    def _reply(self, opcode: int, seq: int, status: Status, data: bytes = b"") -> bytes:
        return pack_fields(REPLY_FIELDS, {"opcode": opcode, "seq": seq, "status": int(status),
                                          "length": len(data), "updates": self.updates}) + data

    def handle(self, body: bytes) -> bytes:
        """Execute one command body (CRC already checked) and return the reply body."""
        if len(body) < HEADER_BYTES:
            return self._reply(0, 0, Status.BAD_LENGTH)
        hdr = unpack_fields(HEADER_FIELDS, body)
        data = body[HEADER_BYTES:]
        opcode, seq = hdr["opcode"], hdr["seq"]
        status = verdict(hdr, len(data), self.sizes, self.updates)
        if status != Status.OK:
            return self._reply(opcode, seq, status)
        reply = getattr(self, f"_do_{Opcode(opcode).name.lower()}")(hdr, data)
        return self._reply(opcode, seq, Status.OK, reply)

    def _do_info(self, hdr, data) -> bytes:
        return pack_fields(INFO_FIELDS, self.config.info())

    def _do_write_params(self, hdr, data) -> bytes:
        values = from_words(data, PARAM_BYTES)
        self.theta[hdr["addr"]:hdr["addr"] + hdr["count"]] = wrap(values, self.config.param_width)
        return b""

    def _do_read_params(self, hdr, data) -> bytes:
        return to_words(self.theta[hdr["addr"]:hdr["addr"] + hdr["count"]], PARAM_BYTES)

    def _do_load_input(self, hdr, data) -> bytes:
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

    def _do_eval(self, hdr, data) -> bytes:
        cfg = self.config
        mode = MODES[hdr["flags"] & ((1 << MODE_BITS) - 1)]
        p = Perturbation() if mode == "none" else Perturbation(
            mode, hdr["mu"], bool(hdr["flags"] >> MODE_BITS & 1), hdr["seed"], hdr["addr"])
        n_in = cfg.spec.in_features
        theta = self.engine_theta()
        beats = []
        for group in range(hdr["count"]):
            x = self.inputs[group * n_in:(group + 1) * n_in].T  # lanes x features
            beats.append(self.golden.forward_perturbed(theta, x, p).T)  # outputs x lanes
        window = np.concatenate(beats)[hdr["first"]:hdr["first"] + hdr["window"]]
        return to_words(window, cfg.output_bytes)  # beat = output i of every lane

    def _do_update(self, hdr, data) -> bytes:
        count = hdr["count"]
        self.updates = (self.updates + 1) & 0xFFFFFFFF
        if count:  # with no directions the update unit passes values through unchanged
            seeds = from_words(data[:SEED_BYTES * count], SEED_BYTES) & 0xFFFFFFFF
            coefs = from_words(data[SEED_BYTES * count:], COEF_BYTES)
            kind = "gauss" if hdr["flags"] >> GAUSS_FLAG & 1 else "rademacher"
            self.theta = apply_update(self.theta, kind, [int(s) for s in seeds],
                                      [int(c) for c in coefs], hdr["shift"], self.widths)
        return b""
