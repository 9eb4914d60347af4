"""What an accelerator bitstream is built for: the model and the build parameters.

One :class:`DeviceConfig` feeds the gateware (:class:`ttzo.hw.accelerator.Accelerator`), its
golden twin (:class:`ttzo.golden.emulator.Emulator`), the INFO reply the host checks, and the
resource estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import ModelSpec
from .protocol import (
    COEF_BITS,
    COEF_BYTES,
    MAGIC,
    PARAM_BYTES,
    SEED_BYTES,
    VERSION,
    device_sizes,
    model_hash,
)

__all__ = ["DeviceConfig"]


def _bytes_for(width: int) -> int:
    return (width + 7) // 8


@dataclass(frozen=True)
class DeviceConfig:
    """Build parameters of an accelerator.

    Parameters
    ----------
    spec : ModelSpec
        The one model description (network and numerics).
    lanes : int
        MAC lanes per layer = samples per group.
    input_groups : int
        Groups of ``lanes`` samples the input memory holds (the on-chip batch).
    max_directions : int
        Directions one UPDATE command can combine; 0 builds no update unit (small FPGAs), and
        the driver then updates on the host (read, the same update rule, write).
    max_data : int
        Largest data section of a command frame, in bytes.
    clock_hz : int
        Clock frequency, reported by INFO (0 when unknown, e.g. in simulation).
    rng_stage_ops : int
        Threefry operations per RNG pipeline stage: 1 at 100 MHz on ECP5; more on slow devices,
        where fewer pipeline registers are what makes the design fit.
    lean : bool
        For slow devices where cells, not routes, are scarce (the iCE40): memory banks as deep
        as the block shapes allow (on equally cheap shapes the deepest, so fewer banks and
        bank registers) and the executor's streams connected without skid buffers. The same
        answers, cycle for cycle the same protocol, fewer cells.
    """

    spec: ModelSpec
    lanes: int = 4
    input_groups: int = 4
    max_directions: int = 16
    max_data: int = 1024
    clock_hz: int = 0
    rng_stage_ops: int = 1
    lean: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.lean, bool):
            raise ValueError(f"lean must be true or false, not {self.lean!r}")
        for name, low in (("lanes", 1), ("input_groups", 1), ("max_directions", 0),
                          ("max_data", 64), ("rng_stage_ops", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer of at least {low}, not {value!r}")
        if self.max_directions > 255:
            raise ValueError(f"max_directions must be at most 255, not {self.max_directions}")
        if self.max_data >= 1 << 16:
            raise ValueError(f"max_data must be below 65536 (a 16-bit length), not "
                             f"{self.max_data}")
        update_bytes = (SEED_BYTES + COEF_BYTES) * self.max_directions
        if update_bytes > self.max_data:
            raise ValueError(f"an UPDATE of max_directions = {self.max_directions} directions "
                             f"takes {update_bytes} data bytes, more than max_data = "
                             f"{self.max_data}")
        eval_bytes = self.input_groups * self.spec.out_features * self.lanes * self.output_bytes
        if eval_bytes >= 1 << 16:
            raise ValueError(f"an EVAL of all {self.input_groups} input groups answers "
                             f"{eval_bytes} bytes, more than a reply's 16-bit length")
        if self.lanes * self.input_bytes > self.max_data:
            raise ValueError(f"one input beat ({self.lanes} lanes x {self.input_bytes} bytes) "
                             f"does not fit max_data = {self.max_data}")
        nm = self.spec.numerics
        if self.param_width > 8 * PARAM_BYTES:
            raise ValueError(f"parameters of {self.param_width} bits do not fit the link's "
                             f"{8 * PARAM_BYTES}-byte words")
        if nm.input.width > 16 or nm.activation.width > 16:
            raise ValueError("inputs and activations wider than 16 bits are not supported")

    @property
    def param_width(self) -> int:
        nm = self.spec.numerics
        return max(nm.weight.width, nm.bias.width)

    @property
    def input_bytes(self) -> int:
        return _bytes_for(self.spec.numerics.input.width)

    @property
    def output_bytes(self) -> int:
        return _bytes_for(self.spec.numerics.activation.width)

    @property
    def input_beats(self) -> int:
        """Rows of the input memory."""
        return self.input_groups * self.spec.in_features

    @property
    def index_width(self) -> int:
        return max(1, (self.spec.params - 1).bit_length())

    def sizes(self) -> dict[str, int]:
        """The sizes :data:`ttzo.spec.protocol.COMMANDS` is written in."""
        return device_sizes(self.info())

    def bias_ranges(self) -> list[tuple[int, int]]:
        """``[start, stop)`` of every layer's biases in ``theta``."""
        out, offset = [], 0
        for layer in self.spec.layers:
            if layer.bias:
                out.append((offset + layer.weight_params, offset + layer.params))
            offset += layer.params
        return out

    def info(self) -> dict[str, int]:
        """The INFO reply of this build."""
        return {
            "magic": MAGIC, "version": VERSION, "lanes": self.lanes,
            "input_bytes": self.input_bytes, "output_bytes": self.output_bytes,
            "params": self.spec.params, "model_hash": model_hash(self.spec.to_dict()),
            "clock_hz": int(self.clock_hz), "input_groups": self.input_groups,
            "in_features": self.spec.in_features, "out_features": self.spec.out_features,
            "max_directions": self.max_directions, "coef_bits": COEF_BITS,
            "max_data": self.max_data,
        }
