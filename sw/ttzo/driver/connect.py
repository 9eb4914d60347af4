"""Opening the accelerator a run talks to: a board on its serial port, the bit-exact emulator, or
the gateware itself in the Amaranth simulator."""

from __future__ import annotations

from collections.abc import Sequence

from ttzo.golden.emulator import Emulator
from ttzo.spec.accelerator import DeviceConfig

from .device import Device
from .link import EmulatorLink, SerialLink

#: Simulated clock of ``sim`` when the configuration names none (the driver's timeouts count
#: in its time).
SIM_CLOCK_HZ = 100e6

__all__ = ["find_board_port", "open_device"]


def find_board_port(usb_ids: Sequence[str]) -> str | None:
    """The first serial port whose USB ``vendor:product`` (hex, e.g. ``0403:6015``) is one of
    ``usb_ids``, or ``None``."""
    from serial.tools import list_ports

    wanted = {i.lower() for i in usb_ids}
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        if port.vid is not None and f"{port.vid:04x}:{port.pid:04x}" in wanted:
            return port.device
    return None


def open_device(target: str, config: DeviceConfig, baud: int,
                usb_ids: Sequence[str] = ()) -> tuple[Device, str]:
    """Open ``target`` and check it runs ``config``.

    Parameters
    ----------
    target : str
        ``emulator``; ``sim`` (the gateware, :class:`ttzo.hw.accelerator.Accelerator`, in the
        Amaranth simulator: bit for bit the board's answers, thousands of cycles per second, so
        for small models and checks); ``auto`` (the board's serial port if a board with one of
        ``usb_ids`` is attached, the emulator otherwise); or a serial port path such as
        ``/dev/ttyUSB0``.
    config : DeviceConfig
        The accelerator the host expects (a board must have been built for it).
    baud : int
        UART rate of the bitstream (serial ports only).
    usb_ids : sequence of str
        USB ``vendor:product`` ids of the board's serial bridge (for ``auto``).

    Returns
    -------
    (Device, str)
        The device and what it is: ``emulator``, ``sim`` or the port.

    Raises
    ------
    ttzo.driver.LinkError
        The port cannot be opened or does not answer.
    ttzo.driver.DeviceError
        The device is not a ttzo accelerator built for ``config``.
    """
    if target == "auto":
        target = find_board_port(usb_ids) or "emulator"
    if target == "emulator":
        return Device(EmulatorLink(Emulator(config)), config), "emulator"
    if target == "sim":
        from ttzo.hw.accelerator import Accelerator  # the gateware: only this target needs it

        from .simlink import SimulationLink

        clock_hz = config.clock_hz or SIM_CLOCK_HZ
        return Device(SimulationLink(Accelerator(config), clock_hz=clock_hz), config), "sim"
    return Device(SerialLink(target, baud), config), target
