"""Accelerator description shared by the gateware, its emulation and the cycle model."""

from .schedule import CoreSchedule, LayerSchedule, emulate_layer, layer_schedule

__all__ = ["CoreSchedule", "LayerSchedule", "emulate_layer", "layer_schedule"]
