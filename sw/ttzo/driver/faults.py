"""A faulty line between host and device, for tests and the fault campaign.

:class:`FaultyLink` wraps any :class:`~ttzo.driver.link.Link` and damages what crosses it, in
both directions, as a noisy serial line does: bytes corrupted (one bit flipped), dropped or
duplicated, and whole frames lost or repeated. It counts what it did, and it checks every
damaged frame against the frame check (the CRC): a damaged frame that still decodes as an intact
frame with a different body is an *undetected corruption*, the one fault the protocol cannot
recover from.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

from ttzo.spec.protocol import END, SlipDecoder

__all__ = ["FaultRates", "FaultCounts", "FaultyLink"]


@dataclass(frozen=True)
class FaultRates:
    """Probabilities of faults.

    Parameters
    ----------
    byte : float
        Per byte: a fault, one of bit flip, drop or duplication with equal chance.
    frame_loss, frame_duplication : float
        Per frame: lost whole, or delivered twice.
    """

    byte: float = 0.0
    frame_loss: float = 0.0
    frame_duplication: float = 0.0

    def __post_init__(self) -> None:
        for name in ("byte", "frame_loss", "frame_duplication"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"fault rate {name} must be a probability in [0, 1], "
                                 f"not {value!r}")


@dataclass
class FaultCounts:
    """What a :class:`FaultyLink` did, in one direction."""

    frames: int = 0
    bytes: int = 0  # delivered, faults included
    corrupted_bytes: int = 0
    dropped_bytes: int = 0
    duplicated_bytes: int = 0
    lost_frames: int = 0
    duplicated_frames: int = 0
    damaged_frames: int = 0
    undetected_corruptions: int = 0

    @property
    def faults(self) -> int:
        return (self.corrupted_bytes + self.dropped_bytes + self.duplicated_bytes
                + self.lost_frames + self.duplicated_frames)

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "faults": self.faults}


@dataclass
class _Direction:
    rates: FaultRates
    rng: random.Random
    counts: FaultCounts = field(default_factory=FaultCounts)
    carry: bytearray = field(default_factory=bytearray)

    def frames(self, data: bytes) -> list[bytes]:
        """Whole frames in ``data`` (``END``-delimited), holding back an unfinished one."""
        self.carry += data
        out = []
        while True:
            start = next((i for i, b in enumerate(self.carry) if b != END), None)
            if start is None:
                self.carry.clear()
                return out
            end = self.carry.find(END, start)
            if end < 0:
                return out
            out.append(bytes([END]) + bytes(self.carry[start:end + 1]))
            del self.carry[:end + 1]

    def damage(self, data: bytes) -> bytes:
        """``data``'s frames after the line's faults."""
        out = bytearray()
        for frame in self.frames(data):
            self.counts.frames += 1
            if self.rng.random() < self.rates.frame_loss:
                self.counts.lost_frames += 1
                continue
            copies = 1
            if self.rng.random() < self.rates.frame_duplication:
                self.counts.duplicated_frames += 1
                copies = 2
            for _ in range(copies):
                out += self._damage_bytes(frame)
        self.counts.bytes += len(out)
        return bytes(out)

    def _damage_bytes(self, frame: bytes) -> bytes:
        if not self.rates.byte:
            return frame
        out = bytearray()
        c = self.counts
        for byte in frame:
            if self.rng.random() >= self.rates.byte:
                out.append(byte)
                continue
            kind = self.rng.randrange(3)
            if kind == 0:
                out.append(byte ^ (1 << self.rng.randrange(8)))
                c.corrupted_bytes += 1
            elif kind == 1:
                c.dropped_bytes += 1
            else:
                out += bytes([byte, byte])
                c.duplicated_bytes += 1
        if out != frame:
            c.damaged_frames += 1
            c.undetected_corruptions += _passes_as_another(frame, bytes(out))
        return bytes(out)


def _passes_as_another(original: bytes, damaged: bytes) -> int:
    """Frames in ``damaged`` that pass the frame check with a body ``original`` does not have."""
    want, got = SlipDecoder(), SlipDecoder()
    want.feed(original)
    got.feed(damaged)
    return sum(body not in want.frames for body in got.frames)


class FaultyLink:
    """A :class:`~ttzo.driver.link.Link` that damages traffic both ways.

    Parameters
    ----------
    inner : Link
        The link to the device.
    to_device, to_host : FaultRates
        Faults on the way to the device and back.
    seed : int
        Seeds the faults (a run is repeatable).
    """

    def __init__(self, inner, to_device: FaultRates, to_host: FaultRates | None = None,
                 seed: int = 0):
        self.inner = inner
        rng = random.Random(seed)
        self.sent = _Direction(to_device, random.Random(rng.getrandbits(64)))
        self.received = _Direction(to_host if to_host is not None else to_device,
                                   random.Random(rng.getrandbits(64)))

    def write(self, data: bytes) -> None:
        damaged = self.sent.damage(data)
        if damaged:
            self.inner.write(damaged)

    def read(self, timeout: float) -> bytes:
        return self.received.damage(self.inner.read(timeout))

    def now(self) -> float:
        return self.inner.now()

    def close(self) -> None:
        self.inner.close()

    def counts(self) -> dict[str, dict[str, int]]:
        """Faults done on the way to the device and to the host."""
        return {"to_device": self.sent.counts.as_dict(),
                "to_host": self.received.counts.as_dict()}
