"""The host-device protocol: frames, commands, replies. Single source for gateware and host.

Framing (both directions): SLIP byte stuffing (``END`` 0xC0 ends a frame, ``ESC`` 0xDB escapes
0xC0/0xDB as 0xDB 0xDC / 0xDB 0xDD) around ``body + CRC``, the CRC being CRC-16/CCITT-FALSE
(polynomial 0x1021, initial value 0xFFFF) of the body, sent high byte first, so that the CRC of
``body + CRC`` is zero. Senders also start every frame with ``END`` to flush line noise.

A command body is a 16-byte header (:data:`HEADER_FIELDS`, packed little-endian, first field in
the lowest bits, as an Amaranth ``StructLayout`` lays it out) followed by data. A reply body is
``opcode, seq, status, 0`` followed by data. The link is stop-and-wait: the host sends one
command and waits for its reply; a repeated ``seq`` tells the device the previous reply was lost,
and the device does not apply a repeated ``UPDATE`` twice.

Commands (``count``/``addr`` meanings; wire values are little-endian two's complement):

``INFO``          -> :data:`INFO_FIELDS`
``WRITE_PARAMS``  addr = first parameter, count; data = count x int16 -> (no data)
``READ_PARAMS``   addr = first parameter, count -> count x int16
``LOAD_INPUT``    addr = first input beat, count = beats; data = count x beat -> (no data)
``EVAL``          flags = mode | negate << 2, mu, seed, addr = coordinate, count = groups
                  -> count x out_features x beat of outputs
``UPDATE``        flags = gauss << 3, shift, count = directions; data = seeds (uint32) then
                  coefficients (int16) -> (no data)

An input beat is element ``n`` of every lane's sample (``lanes`` x ``input_bytes``); an output
beat likewise (``lanes`` x ``output_bytes``). Group ``g``'s beats are at ``g * in_features``.
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Iterable, Mapping

import numpy as np

__all__ = [
    "END", "ESC", "ESC_END", "ESC_ESC", "HEADER_FIELDS", "HEADER_BYTES", "INFO_FIELDS",
    "REPLY_HEADER_BYTES", "Opcode", "Status", "crc16", "slip_encode", "SlipDecoder", "pack_fields",
    "unpack_fields", "fields_bytes", "MAGIC", "VERSION", "PARAM_BYTES", "model_hash",
    "encode_frame", "ProtocolError", "COEF_BITS", "to_words", "from_words", "wrap",
    "MODE_BITS",
]

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
MAGIC = 0x4F5A5454  # "TTZO" little-endian
VERSION = 1
PARAM_BYTES = 2
#: The header's flags byte: perturbation mode in the low MODE_BITS bits, then negate, then gauss.
MODE_BITS = 2
#: update coefficients are int16 on the wire and in the update unit
COEF_BITS = 16

#: Command header: (field, bits), packed from the least significant bit.
HEADER_FIELDS: tuple[tuple[str, int], ...] = (
    ("opcode", 8), ("seq", 8), ("flags", 8), ("mu", 8), ("shift", 8), ("count", 16),
    ("addr", 32), ("seed", 32), ("reserved", 8),
)
HEADER_BYTES = 16
REPLY_HEADER_BYTES = 4

#: INFO reply data: what the bitstream was built for, so the host can refuse a mismatch.
INFO_FIELDS: tuple[tuple[str, int], ...] = (
    ("magic", 32), ("version", 8), ("lanes", 8), ("input_bytes", 8), ("output_bytes", 8),
    ("params", 32), ("model_hash", 32), ("clock_hz", 32), ("input_groups", 16),
    ("in_features", 16), ("out_features", 16), ("max_directions", 8), ("coef_bits", 8),
    ("max_data", 16), ("reserved", 16),
)


class Opcode(enum.IntEnum):
    INFO = 1
    WRITE_PARAMS = 2
    READ_PARAMS = 3
    LOAD_INPUT = 4
    EVAL = 5
    UPDATE = 6


class Status(enum.IntEnum):
    OK = 0
    BAD_OPCODE = 1
    BAD_ARGUMENT = 2
    BAD_CRC = 3
    TOO_LONG = 4
    BAD_LENGTH = 5


class ProtocolError(RuntimeError):
    """A malformed, corrupted or refused frame."""


def fields_bytes(fields: Iterable[tuple[str, int]]) -> int:
    bits = sum(width for _, width in fields)
    if bits % 8:
        raise ValueError(f"fields total {bits} bits, not whole bytes")
    return bits // 8


def pack_fields(fields: tuple[tuple[str, int], ...], values: Mapping[str, int]) -> bytes:
    """Pack ``values`` (missing fields are 0) LSB-first; refuses values that do not fit."""
    unknown = set(values) - {name for name, _ in fields}
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    word, offset = 0, 0
    for name, width in fields:
        value = int(values.get(name, 0))
        if not 0 <= value < (1 << width):
            raise ValueError(f"{name} = {value} does not fit in {width} unsigned bits")
        word |= value << offset
        offset += width
    return word.to_bytes(offset // 8, "little")


def unpack_fields(fields: tuple[tuple[str, int], ...], data: bytes) -> dict[str, int]:
    size = fields_bytes(fields)
    if len(data) < size:
        raise ProtocolError(f"expected at least {size} bytes, got {len(data)}")
    word = int.from_bytes(data[:size], "little")
    out, offset = {}, 0
    for name, width in fields:
        out[name] = (word >> offset) & ((1 << width) - 1)
        offset += width
    return out


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE, bit by bit (the gateware computes the same eight steps per byte)."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def slip_encode(body: bytes) -> bytes:
    out = bytearray([END])
    for byte in body:
        if byte == END:
            out += bytes([ESC, ESC_END])
        elif byte == ESC:
            out += bytes([ESC, ESC_ESC])
        else:
            out.append(byte)
    out.append(END)
    return bytes(out)


def encode_frame(body: bytes) -> bytes:
    """``body`` with its CRC, SLIP-encoded."""
    return slip_encode(body + crc16(body).to_bytes(2, "big"))


class SlipDecoder:
    """Incremental decoder: feed bytes, get the bodies of complete frames whose CRC holds.

    Frames with a bad CRC, a dangling escape or fewer than three bytes raise
    :class:`ProtocolError` from :meth:`feed` after the good frames before them were returned
    through ``frames``.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._esc = False
        self.frames: list[bytes] = []
        self.errors: list[str] = []

    def feed(self, data: bytes) -> None:
        for byte in data:
            if byte == END:
                if self._buf:
                    self._finish()
                self._esc = False
            elif self._esc:
                self._esc = False
                if byte == ESC_END:
                    self._buf.append(END)
                elif byte == ESC_ESC:
                    self._buf.append(ESC)
                else:
                    self.errors.append(f"invalid escape 0xdb 0x{byte:02x}")
                    self._buf.append(byte)
            elif byte == ESC:
                self._esc = True
            else:
                self._buf.append(byte)

    def _finish(self) -> None:
        frame, self._buf = bytes(self._buf), bytearray()
        if len(frame) < 3:
            self.errors.append(f"frame of {len(frame)} bytes is too short")
        elif crc16(frame) != 0:
            self.errors.append(f"frame of {len(frame)} bytes failed its CRC")
        else:
            self.frames.append(frame[:-2])


def model_hash(spec_dict: Mapping) -> int:
    """32-bit fingerprint of a model description (CRC-32 of its canonical text)."""
    import json

    text = json.dumps(spec_dict, sort_keys=True, separators=(",", ":"))
    return zlib.crc32(text.encode())


def wrap(values, width: int) -> np.ndarray:
    """Two's complement wrap to ``width`` bits (what a register that narrow keeps)."""
    values = np.asarray(values, dtype=np.int64) & ((1 << width) - 1)
    return np.where(values >= 1 << (width - 1), values - (1 << width), values)


def to_words(values, nbytes: int) -> bytes:
    """Integers as little-endian two's complement words of ``nbytes`` bytes."""
    values = np.asarray(values, dtype=np.int64).ravel() & ((1 << (8 * nbytes)) - 1)
    out = np.zeros((values.size, nbytes), dtype=np.uint8)
    for i in range(nbytes):
        out[:, i] = (values >> (8 * i)) & 0xFF
    return out.tobytes()


def from_words(data: bytes, nbytes: int) -> np.ndarray:
    """Little-endian two's complement words of ``nbytes`` bytes as signed integers."""
    raw = np.frombuffer(data, dtype=np.uint8).astype(np.int64).reshape(-1, nbytes)
    word = sum(raw[:, i] << (8 * i) for i in range(nbytes))
    return wrap(word, 8 * nbytes)
