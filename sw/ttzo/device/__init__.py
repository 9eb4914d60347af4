"""Host side of the accelerator: protocol, build configuration, driver, links, emulator."""

from .config import DeviceConfig
from .driver import Device, DeviceError
from .emulator import Emulator, EmulatorLink
from .link import LinkError, SerialLink

__all__ = ["DeviceConfig", "Device", "DeviceError", "Emulator", "EmulatorLink", "LinkError",
           "SerialLink"]
