"""Byte links to an accelerator: a board's serial port, or anything with the same two methods.

The driver (:mod:`ttzo.driver.device`) only writes bytes, reads what has arrived and asks the
link's clock, so the same code runs against the bit-exact emulator
(:class:`ttzo.driver.link.EmulatorLink`, virtual time), the gateware in simulation
(``tests/test_hw_accelerator.py``, simulated time) and a board (:class:`SerialLink`, wall time).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ttzo.golden.emulator import Emulator

__all__ = ["EmulatorLink", "Link", "LinkError", "SerialLink"]


class LinkError(RuntimeError):
    """The link failed (port missing, unplugged, or no reply in time)."""


class Link(Protocol):
    def write(self, data: bytes) -> None:
        """Send ``data``."""

    def read(self, timeout: float) -> bytes:
        """Bytes that arrived, waiting up to ``timeout`` seconds for the first one."""

    def now(self) -> float:
        """Seconds on the link's clock (the driver's timeouts and patience are measured on it)."""

    def close(self) -> None:
        """Release the link."""


class SerialLink:
    """A UART link through pyserial (the ULX3S FTDI port, an iCEBreaker's FT2232H channel B).

    Parameters
    ----------
    port : str
        Device path, e.g. ``/dev/ttyUSB0``.
    baud : int
        Must equal the baud rate the bitstream was built for.
    """

    def __init__(self, port: str, baud: int):
        import serial  # imported here: only board runs need pyserial at import time

        try:
            self._port = serial.Serial(port, baud, timeout=0)
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"cannot open serial port {port!r}: {exc}") from exc
        self._serial = serial

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        except self._serial.SerialException as exc:
            raise LinkError(f"writing to {self._port.port!r} failed: {exc}") from exc

    def read(self, timeout: float) -> bytes:
        try:
            self._port.timeout = timeout
            first = self._port.read(1)
            if not first:
                return b""
            self._port.timeout = 0
            return first + self._port.read(self._port.in_waiting or 0)
        except self._serial.SerialException as exc:
            raise LinkError(f"reading from {self._port.port!r} failed: {exc}") from exc

    def now(self) -> float:
        return time.monotonic()

    def close(self) -> None:
        self._port.close()


class EmulatorLink:
    """A :class:`Link` to an :class:`~ttzo.golden.emulator.Emulator`. Time is virtual: a read that
    finds nothing advances :meth:`now` by its timeout, so a lost frame costs no real waiting,
    and with ``baud`` given, every byte on the line advances it by its UART time (10 bits), so
    :meth:`now` is what the exchange would take on a board's serial line (device compute not
    counted)."""

    def __init__(self, emulator: Emulator, baud: float | None = None):
        if baud is not None and not baud > 0:
            raise ValueError(f"baud must be positive, not {baud!r}")
        self.emulator = emulator
        self._byte_time = 10 / baud if baud else 0.0
        self._rx = bytearray()
        self._now = 0.0

    def write(self, data: bytes) -> None:
        self._now += len(data) * self._byte_time
        self._rx += self.emulator.feed(data)

    def read(self, timeout: float) -> bytes:
        if not self._rx:
            self._now += max(timeout, 0.0)
            return b""
        data, self._rx = bytes(self._rx), bytearray()
        self._now += len(data) * self._byte_time
        return data

    def now(self) -> float:
        return self._now

    def close(self) -> None:
        pass
