"""The numeric formats of a network on the accelerator (part of the one model description).

See docs/numerics.md for the order of operations these formats apply to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .fixed import FixedFormat

if TYPE_CHECKING:  # only for type hints: the model package imports this module
    from .model import LayerSpec, ModelSpec

__all__ = ["NumericsSpec", "activation_table"]

_FORMAT_KEYS = ("input", "weight", "state", "bias", "activation")
_KEYS = set(_FORMAT_KEYS) | {"accumulator_width", "lut_bits"}

#: Exact float64 arithmetic holds integers below 2**53; the golden model contracts in float64.
_EXACT_BITS = 53


@dataclass(frozen=True)
class NumericsSpec:
    """Fixed-point formats of the accelerator's datapath.

    Parameters
    ----------
    input : FixedFormat
        Network inputs.
    weight : FixedFormat
        TT core entries and dense weights.
    state : FixedFormat
        The partial contraction between two cores of a TT layer.
    bias : FixedFormat
    activation : FixedFormat
        Every layer's output (after the activation function).
    accumulator_width : int
        Width of the MAC accumulators; checked against the worst case of every contraction.
    lut_bits : int
        Index bits of the lookup tables for ``sine`` and ``tanh``.
    """

    input: FixedFormat = FixedFormat(8, 5)
    weight: FixedFormat = FixedFormat(8, 7)
    state: FixedFormat = FixedFormat(12, 7)
    bias: FixedFormat = FixedFormat(16, 10)
    activation: FixedFormat = FixedFormat(12, 6)
    accumulator_width: int = 32
    lut_bits: int = 10

    def __post_init__(self) -> None:
        if not 8 <= self.accumulator_width <= _EXACT_BITS:
            raise ValueError(
                f"accumulator_width must be from 8 to {_EXACT_BITS}, not {self.accumulator_width!r}"
            )
        if not 2 <= self.lut_bits <= 16:
            raise ValueError(f"lut_bits must be from 2 to 16, not {self.lut_bits!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericsSpec:
        unknown = set(data) - _KEYS
        if unknown:
            raise ValueError(
                f"unknown numerics setting(s) {sorted(unknown)}; known: {sorted(_KEYS)}"
            )
        kwargs: dict[str, Any] = {}
        for key in _FORMAT_KEYS:
            if key in data:
                kwargs[key] = FixedFormat.from_dict(f"numerics.{key}", data[key])
        for key in ("accumulator_width", "lut_bits"):
            if key in data:
                kwargs[key] = int(data[key])
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k).to_dict() for k in _FORMAT_KEYS}
        out["accumulator_width"] = self.accumulator_width
        out["lut_bits"] = self.lut_bits
        return out

    # -- per-layer facts ------------------------------------------------------------------------

    def layer_input(self, index: int) -> FixedFormat:
        """Format of layer ``index``'s input."""
        return self.input if index == 0 else self.activation

    def core_input_frac(self, index: int, core: int) -> int:
        return self.layer_input(index).frac if core == 0 else self.state.frac

    def accumulator_frac(self, index: int, layer: LayerSpec) -> int:
        """Fraction bits of the last core's accumulator, where the bias is added."""
        last = 0 if layer.tt is None else layer.tt.d - 1
        return self.weight.frac + self.core_input_frac(index, last)

    def check_model(self, spec: ModelSpec) -> None:
        """Raise ``ValueError`` if an accumulator could overflow or the bias cannot align."""
        for li, layer in enumerate(spec.layers):
            shapes = [(1, layer.out_features, layer.in_features, 1)] if layer.tt is None \
                else layer.tt.core_shapes
            for k, (r0, _, n, _) in enumerate(shapes):
                width_in = self.layer_input(li).width if k == 0 else self.state.width
                terms = r0 * n
                bound = terms * (1 << (self.weight.width - 1)) * (1 << (width_in - 1))
                if k == len(shapes) - 1 and layer.bias:
                    shift = self.accumulator_frac(li, layer) - self.bias.frac
                    bound += (1 << (self.bias.width - 1)) << max(shift, 0)
                need = bound.bit_length() + 1
                if need > self.accumulator_width:
                    raise ValueError(
                        f"layer {li} core {k}: a sum of {terms} products of {self.weight} weights "
                        f"and {width_in}-bit inputs needs a {need}-bit accumulator, but "
                        f"accumulator_width is {self.accumulator_width}"
                    )
            if layer.bias:
                shift = self.accumulator_frac(li, layer) - self.bias.frac
                if shift < 0:
                    raise ValueError(
                        f"layer {li}: bias format {self.bias} has more fraction bits than the "
                        f"accumulator ({self.accumulator_frac(li, layer)}); "
                        "lower numerics.bias.frac"
                    )


def activation_table(name: str, fmt: FixedFormat, lut_bits: int) -> np.ndarray:
    """Lookup table of ``sine`` or ``tanh`` over ``fmt``, indexed by the top ``lut_bits`` bits.

    Entry ``i`` covers the inputs whose top bits (two's complement, offset by
    ``2**(lut_bits-1)``) equal ``i``; it holds the function at the centre of that bin,
    quantized to ``fmt``.
    """
    funcs = {"sine": np.sin, "tanh": np.tanh}
    if name not in funcs:
        raise ValueError(f"no lookup table for activation {name!r}")
    bits = min(lut_bits, fmt.width)
    shift = fmt.width - bits
    idx = np.arange(1 << bits) - (1 << (bits - 1))
    centre = (idx.astype(np.float64) * 2.0**shift + (2.0 ** (shift - 1) if shift else 0.0))
    return fmt.quantize(funcs[name](centre * fmt.lsb))
