"""Flows: the host driver of the accelerator (:class:`Device`), its links (a board's serial
port, the emulator, the gateware in simulation), fault injection and device-backed objectives.

The same driver runs against every link; the frames it speaks are :mod:`ttzo.spec.protocol`.
"""

from .device import Device, DeviceError
from .link import EmulatorLink, LinkError, SerialLink

__all__ = ["Device", "DeviceError", "EmulatorLink", "LinkError", "SerialLink"]
