"""The host-device protocol: frames, commands, replies. Single source for gateware and host.

Framing (both directions): SLIP byte stuffing (``END`` 0xC0 ends a frame, ``ESC`` 0xDB escapes
0xC0/0xDB as 0xDB 0xDC / 0xDB 0xDD) around ``body + CRC``, the CRC being CRC-32/ISO-HDLC
(:func:`crc32`: reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF, the
CRC of zlib and Ethernet) of the body, sent low byte first. Its final XOR makes a frame with
bytes appended after its CRC fail the check, and a receiver that runs the CRC register over
``body + CRC`` ends at the constant :data:`CRC_RESIDUE` exactly when the frame is intact. Senders
also start every frame with ``END`` to flush line noise.

A command body is a header (:data:`HEADER_FIELDS`, packed little-endian, first field in the
lowest bits, as an Amaranth ``StructLayout`` lays it out) followed by ``length`` data bytes. A
reply body is a reply header (:data:`REPLY_FIELDS`: opcode, seq, status, ``length`` and the
device's update counter) followed by ``length`` data bytes. Both lengths are in the header and
so under the CRC, and both ends check them against :data:`COMMANDS`, the one table of what each
opcode takes and answers.

The link is stop-and-wait: the host sends one command and waits for its reply (matched by
``seq``), and sends the same frame again when the reply is damaged or lost. Every command but
``UPDATE`` can be executed twice without harm; an ``UPDATE`` names the update counter it
expects the device to hold (``updates``) and is refused as ``STALE_UPDATE`` otherwise, so it is
applied exactly once, and every reply reports the counter, so a host that lost a reply (or the
link) can tell whether its update was applied.

Commands (:data:`COMMANDS`; wire values are little-endian two's complement):

``INFO``          -> :data:`INFO_FIELDS`
``WRITE_PARAMS``  addr = first parameter, count; data = count x int16 -> (no data)
``READ_PARAMS``   addr = first parameter, count -> count x int16
``LOAD_INPUT``    addr = first input beat, count = beats; data = count x beat -> (no data)
``EVAL``          flags = mode | negate << 2, mu, seed, addr = coordinate, count = groups,
                  first/window = the output beats to send -> window x output beat
``UPDATE``        flags = gauss << 3, shift, count = directions, updates = expected counter;
                  data = seeds (uint32) then coefficients (int16) -> (no data)

An input beat is element ``n`` of every lane's sample (``lanes`` x ``input_bytes``); an output
beat likewise (``lanes`` x ``output_bytes``). Group ``g``'s input beats are at ``g * in_features``,
its output beats at ``g * out_features``; an EVAL computes all ``count`` groups and sends output
beats ``first`` to ``first + window - 1``, so a host on a noisy line can fetch them in short
replies.
"""

from __future__ import annotations

import enum
import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = [
    "END", "ESC", "ESC_END", "ESC_ESC", "HEADER_FIELDS", "HEADER_BYTES", "INFO_FIELDS",
    "INFO_BYTES", "REPLY_FIELDS", "REPLY_HEADER_BYTES", "CRC_BYTES", "CRC_RESIDUE", "Opcode",
    "Status", "DAMAGE", "Command", "COMMANDS", "device_sizes", "verdict", "crc32",
    "crc32_register",
    "slip_encode", "SlipDecoder", "pack_fields", "unpack_fields", "fields_bytes", "MAGIC",
    "VERSION", "PARAM_BYTES", "SEED_BYTES", "COEF_BYTES", "model_hash", "encode_frame",
    "max_frame_bytes", "rx_fifo_depth", "ProtocolError", "COEF_BITS", "to_words", "from_words",
    "wrap",
    "MODE_BITS", "MODE_COORDINATE", "MAX_SHIFT", "GAUSS_FLAG",
]

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
MAGIC = 0x4F5A5454  # "TTZO" little-endian
VERSION = 2
PARAM_BYTES = 2
SEED_BYTES = 4
COEF_BYTES = 2
#: update coefficients are int16 on the wire and in the update unit
COEF_BITS = 8 * COEF_BYTES
#: The header's flags byte: perturbation mode in the low MODE_BITS bits, then negate, then gauss.
MODE_BITS = 2
#: the mode value of a coordinate query (index into ``ttzo.spec.perturb.MODES``)
MODE_COORDINATE = 1
#: UPDATE's flag bit for Gaussian directions
GAUSS_FLAG = MODE_BITS + 1
#: UPDATE's shift must be below this (the update unit's rounding keeps 64-bit sums)
MAX_SHIFT = 62
CRC_BYTES = 4

#: Command header: (field, bits), packed from the least significant bit.
HEADER_FIELDS: tuple[tuple[str, int], ...] = (
    ("opcode", 8), ("seq", 8), ("flags", 8), ("mu", 8), ("shift", 8), ("reserved", 8),
    ("count", 16), ("length", 16), ("first", 16), ("window", 16), ("addr", 32), ("seed", 32),
    ("updates", 32),
)
#: Reply header: opcode and seq of the command (0 when the frame could not be read), the
#: verdict, the data length that follows and the device's update counter after the command.
REPLY_FIELDS: tuple[tuple[str, int], ...] = (
    ("opcode", 8), ("seq", 8), ("status", 8), ("reserved", 8), ("length", 16),
    ("updates", 32),
)

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
    STALE_UPDATE = 6


#: Verdicts that mean "the frame was damaged on the line": the host sends it again.
DAMAGE = frozenset({Status.BAD_CRC, Status.TOO_LONG, Status.BAD_LENGTH})


class ProtocolError(RuntimeError):
    """A malformed, corrupted or refused frame."""


def fields_bytes(fields: Iterable[tuple[str, int]]) -> int:
    """Bytes that ``fields`` (name, bits) pack into; refuses a total that is not whole bytes."""
    bits = sum(width for _, width in fields)
    if bits % 8:
        raise ValueError(f"fields total {bits} bits, not whole bytes")
    return bits // 8


HEADER_BYTES = fields_bytes(HEADER_FIELDS)
REPLY_HEADER_BYTES = fields_bytes(REPLY_FIELDS)
INFO_BYTES = fields_bytes(INFO_FIELDS)

def device_sizes(info: Mapping[str, int]) -> dict[str, int]:
    """The sizes the command table is written in, from a device's INFO fields."""
    return {"params": info["params"], "input_beats": info["input_groups"] * info["in_features"],
            "input_groups": info["input_groups"], "out_features": info["out_features"],
            "max_directions": info["max_directions"],
            "input_beat_bytes": info["lanes"] * info["input_bytes"],
            "output_beat_bytes": info["lanes"] * info["output_bytes"]}


@dataclass(frozen=True)
class Command:
    """What one opcode takes and answers, in the device's sizes (:func:`device_sizes`).

    A size is an ``int`` or the name of a size. The emulator and the gateware refuse a command
    by the same rules, in this order: ``BAD_OPCODE`` (unknown, or ``requires`` is 0 on this
    device), ``BAD_LENGTH`` (the data is not ``header.length`` bytes, or not what ``count`` items
    take), ``BAD_ARGUMENT`` (a field out of range), then for UPDATE ``STALE_UPDATE``.

    Parameters
    ----------
    data_item : int or str
        Command data bytes per counted item.
    reply_item : int or str
        Reply data bytes per item (per ``count`` item, or per ``window`` item if ``windowed``).
    reply_fixed : int
        Reply data bytes besides the items.
    count_min, count_max : int or str
        Range of ``count``.
    span : str, optional
        ``addr + count`` must not exceed this size.
    coordinate : bool
        A coordinate query (mode :data:`MODE_COORDINATE`) needs ``addr < params``, and a
        perturbed query (mode not 0) a non-zero ``mu``.
    windowed : bool
        The reply is output beats ``first .. first + window - 1`` of ``count`` groups:
        ``window >= 1`` and ``first + window <= count * out_features``.
    max_shift : int, optional
        ``shift`` must be below this.
    requires : str, optional
        The opcode exists only on devices where this size is not 0.
    """

    data_item: int | str = 0
    reply_item: int | str = 0
    reply_fixed: int = 0
    count_min: int = 0
    count_max: int | str = 0xFFFF
    span: str | None = None
    coordinate: bool = False
    windowed: bool = False
    max_shift: int | None = None
    requires: str | None = None

    @staticmethod
    def size(value: int | str, sizes: Mapping[str, int]) -> int:
        return value if isinstance(value, int) else int(sizes[value])

    def supported(self, sizes: Mapping[str, int]) -> bool:
        return self.requires is None or self.size(self.requires, sizes) > 0

    def data_bytes(self, header: Mapping[str, int], sizes: Mapping[str, int]) -> int:
        """The exact data length of a command with this ``header``."""
        return header["count"] * self.size(self.data_item, sizes)

    def reply_bytes(self, header: Mapping[str, int], sizes: Mapping[str, int]) -> int:
        """The exact data length of the reply to an accepted command."""
        items = header["window"] if self.windowed else header["count"]
        return self.reply_fixed + items * self.size(self.reply_item, sizes)

    def arguments_ok(self, header: Mapping[str, int], sizes: Mapping[str, int]) -> bool:
        """Whether every field is in range (the rules of ``BAD_ARGUMENT``)."""
        count = header["count"]
        ok = self.count_min <= count <= self.size(self.count_max, sizes)
        if self.span is not None:
            ok &= header["addr"] + count <= self.size(self.span, sizes)
        if self.coordinate:
            mode = header["flags"] & ((1 << MODE_BITS) - 1)
            ok &= mode != MODE_COORDINATE or header["addr"] < sizes["params"]
            ok &= mode == 0 or header["mu"] != 0
        if self.windowed:
            ok &= (header["window"] >= 1
                   and header["first"] + header["window"] <= count * sizes["out_features"])
        if self.max_shift is not None:
            ok &= header["shift"] < self.max_shift
        return bool(ok)

    def verdict(self, header: Mapping[str, int], n_data: int,
                sizes: Mapping[str, int]) -> Status:
        """``OK`` or the status refusing a command with this ``header`` and ``n_data`` bytes
        (all but ``STALE_UPDATE``, which needs the device's counter)."""
        if not self.supported(sizes):
            return Status.BAD_OPCODE
        if n_data != header["length"] or n_data != self.data_bytes(header, sizes):
            return Status.BAD_LENGTH
        if not self.arguments_ok(header, sizes):
            return Status.BAD_ARGUMENT
        return Status.OK


#: The one command table: the emulator, the gateware and the driver all read it.
COMMANDS: dict[Opcode, Command] = {
    Opcode.INFO: Command(reply_fixed=INFO_BYTES, count_max=0),
    Opcode.WRITE_PARAMS: Command(data_item=PARAM_BYTES, span="params"),
    Opcode.READ_PARAMS: Command(reply_item=PARAM_BYTES, span="params"),
    Opcode.LOAD_INPUT: Command(data_item="input_beat_bytes", span="input_beats"),
    Opcode.EVAL: Command(reply_item="output_beat_bytes", count_min=1, count_max="input_groups",
                         coordinate=True, windowed=True),
    Opcode.UPDATE: Command(data_item=SEED_BYTES + COEF_BYTES, count_max="max_directions",
                           max_shift=MAX_SHIFT, requires="max_directions"),
}


def verdict(header: Mapping[str, int], n_data: int, sizes: Mapping[str, int],
            updates: int) -> Status:
    """The device's verdict on a command (:class:`Command` rules, ``BAD_OPCODE`` for an unknown
    opcode, ``STALE_UPDATE`` for an UPDATE that names another update counter than ``updates``)."""
    try:
        op = Opcode(header["opcode"])
    except ValueError:
        return Status.BAD_OPCODE
    status = COMMANDS[op].verdict(header, n_data, sizes)
    if status == Status.OK and op == Opcode.UPDATE and header["updates"] != updates:
        return Status.STALE_UPDATE
    return status


def max_frame_bytes(max_data: int) -> int:
    """Longest command body plus CRC a device with ``max_data`` data bytes accepts."""
    return HEADER_BYTES + max_data + CRC_BYTES


def rx_fifo_depth(max_data: int) -> int:
    """Line bytes a device buffers ahead of its frame receiver: a longest frame with every byte
    escaped, and its two ENDs."""
    return 2 * max_frame_bytes(max_data) + 2


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
    """The fields at the start of ``data``; refuses data shorter than the fields."""
    size = fields_bytes(fields)
    if len(data) < size:
        raise ProtocolError(f"expected at least {size} bytes, got {len(data)}")
    word = int.from_bytes(data[:size], "little")
    out, offset = {}, 0
    for name, width in fields:
        out[name] = (word >> offset) & ((1 << width) - 1)
        offset += width
    return out


_CRC_XOR = 0xFFFFFFFF


def crc32(data: bytes) -> int:
    """CRC-32/ISO-HDLC of ``data`` (``zlib.crc32``; check value 0xCBF43926 for b"123456789")."""
    return zlib.crc32(data)


def crc32_register(data: bytes, register: int = _CRC_XOR) -> int:
    """The CRC-32 shift register (before the final XOR) after ``data``, starting at
    ``register``: what a receiver keeps byte by byte. Its step is linear over GF(2) in
    (register, byte), which the gateware uses."""
    return zlib.crc32(data, register ^ _CRC_XOR) ^ _CRC_XOR


#: The register after any intact ``body + CRC``: the receiver's check.
CRC_RESIDUE = crc32_register(b"\x00" + crc32(b"\x00").to_bytes(CRC_BYTES, "little"))


def slip_encode(body: bytes) -> bytes:
    """``END``, ``body`` with END and ESC escaped, ``END``."""
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
    return slip_encode(body + crc32(body).to_bytes(CRC_BYTES, "little"))


class SlipDecoder:
    """Incremental decoder: feed bytes, get the bodies of complete frames whose CRC holds.

    Bodies of intact frames collect in ``frames``; a frame with a bad CRC, a dangling or
    invalid escape, fewer than ``CRC_BYTES + 1`` bytes or more than ``max_bytes`` adds a line
    to ``errors`` instead (an over-long frame is not buffered beyond ``max_bytes``).
    """

    def __init__(self, max_bytes: int = 1 << 20) -> None:
        self.max_bytes = max_bytes
        self._buf = bytearray()
        self._esc = False
        self._bad_escape = False
        self._overflow = False
        self.frames: list[bytes] = []
        self.errors: list[str] = []

    def feed(self, data: bytes) -> None:
        for byte in data:
            if byte == END:
                if self._buf or self._overflow or self._esc:
                    self._finish()
                self._buf, self._esc, self._bad_escape, self._overflow = (
                    bytearray(), False, False, False)
                continue
            if self._esc:
                self._esc = False
                if byte not in (ESC_END, ESC_ESC):
                    self._bad_escape = True
                byte = END if byte == ESC_END else ESC if byte == ESC_ESC else byte
            elif byte == ESC:
                self._esc = True
                continue
            if len(self._buf) >= self.max_bytes:
                self._overflow = True
            else:
                self._buf.append(byte)

    def _finish(self) -> None:
        frame = bytes(self._buf)
        if self._overflow:
            self.errors.append(f"frame longer than {self.max_bytes} bytes")
        elif self._bad_escape or self._esc:
            self.errors.append(f"frame of {len(frame)} bytes with an invalid escape")
        elif len(frame) <= CRC_BYTES:
            self.errors.append(f"frame of {len(frame)} bytes is too short")
        elif crc32(frame[:-CRC_BYTES]) != int.from_bytes(frame[-CRC_BYTES:], "little"):
            self.errors.append(f"frame of {len(frame)} bytes failed its CRC")
        else:
            self.frames.append(frame[:-CRC_BYTES])


def model_hash(spec_dict: Mapping) -> int:
    """32-bit fingerprint of a model description (CRC-32 of its canonical text)."""
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
    """Little-endian two's complement words of ``nbytes`` bytes as signed integers; refuses data
    that is not whole words."""
    if len(data) % nbytes:
        raise ProtocolError(f"{len(data)} bytes are not whole {nbytes}-byte words")
    raw = np.frombuffer(data, dtype=np.uint8).astype(np.int64).reshape(-1, nbytes)
    word = sum(raw[:, i] << (8 * i) for i in range(nbytes))
    return wrap(word, 8 * nbytes)
