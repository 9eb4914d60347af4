"""Quantized forward of a TT-MLP, bit for bit as the accelerator computes it.

Twin of :mod:`ttzo.spec.model` and :mod:`ttzo.spec.numerics`, and golden twin of
:mod:`ttzo.hw.engine`.

Order of operations per layer (docs/numerics.md):

1. The layer input is an integer in ``numerics.input`` (layer 0) or ``numerics.activation``.
2. Core by core, ``acc = sum_j w[i, j] * s[j]`` exactly (no intermediate rounding inside a sum).
   After every core but the last, ``acc`` is rounded half up and saturated to ``numerics.state``.
3. After the last core the bias, shifted left to the accumulator's fraction bits, is added.
4. The sum is rounded half up and saturated to ``numerics.activation``.
5. The activation is applied in that format: ReLU as ``max(0, v)``, ``none`` as is, ``sine`` and
   ``tanh`` through :func:`~ttzo.spec.numerics.activation_table`.

The sums are computed in float64 on integer values, exact because
:meth:`NumericsSpec.check_model` bounds every accumulator below 2**53.
"""

from __future__ import annotations

import numpy as np

from ttzo.model.mlp import TTMLP
from ttzo.spec.model import ModelSpec
from ttzo.spec.numerics import NumericsSpec, activation_table
from ttzo.spec.perturb import Perturbation
from ttzo.tt.contract import tt_forward

from .perturb import apply_perturbation

__all__ = ["GoldenModel"]


class GoldenModel:
    """The fixed-point twin of :class:`~ttzo.model.mlp.TTMLP` (same spec, same ``theta`` layout).

    Parameters
    ----------
    spec : ModelSpec
        Network and numeric formats.
    """

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.numerics: NumericsSpec = spec.numerics
        self.float_model = TTMLP(spec)
        self.dim = self.float_model.dim
        self._tables = {
            name: activation_table(name, self.numerics.activation, self.numerics.lut_bits)
            for name in {layer.activation for layer in spec.layers} & {"sine", "tanh"}
        }

    # -- parameters and inputs ------------------------------------------------------------------

    def _block_formats(self):
        """``(slice of theta, format)`` for every parameter block: biases in ``bias``, the rest
        in ``weight``."""
        for block in self.float_model.blocks:
            fmt = self.numerics.bias if block.kind == "bias" else self.numerics.weight
            yield slice(block.offset, block.offset + block.size), fmt

    def quantize_params(self, theta: np.ndarray) -> np.ndarray:
        """Float parameters to integers: weights in ``numerics.weight``, biases in ``bias``."""
        self.float_model.check_params(theta)
        out = np.empty(theta.shape, dtype=np.int64)
        for sl, fmt in self._block_formats():
            out[sl] = fmt.quantize(theta[sl])
        return out

    def dequantize_params(self, theta_int: np.ndarray) -> np.ndarray:
        out = np.empty(theta_int.shape, dtype=np.float64)
        for sl, fmt in self._block_formats():
            out[sl] = fmt.dequantize(theta_int[sl])
        return out

    def param_widths(self) -> np.ndarray:
        """Format width of every parameter (weight or bias), in ``theta`` order."""
        widths = np.empty(self.dim, dtype=np.int64)
        for sl, fmt in self._block_formats():
            widths[sl] = fmt.width
        return widths

    def quantize_inputs(self, x: np.ndarray) -> np.ndarray:
        return self.numerics.input.quantize(x)

    # -- forward --------------------------------------------------------------------------------

    def activate(self, name: str, values: np.ndarray) -> np.ndarray:
        """Activation on integers in ``numerics.activation``."""
        if name == "relu":
            return np.maximum(values, 0)
        if name == "none":
            return values
        fmt, table = self.numerics.activation, self._tables[name]
        bits = min(self.numerics.lut_bits, fmt.width)
        index = (values >> (fmt.width - bits)) + (1 << (bits - 1))
        return table[index]

    def layer_accumulator(self, index: int, theta_int: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Accumulator of layer ``index`` (before bias) for integer inputs ``h``."""
        nm = self.numerics
        params = self.float_model.unpack(theta_int.astype(np.float64))[index]
        hf = h.astype(np.float64)
        if params.cores is None:
            return np.rint(hf @ params.weight.T).astype(np.int64)

        def to_state(acc: np.ndarray, core: int) -> np.ndarray:
            # step 2: round half up and saturate to the state format, on exact integers
            acc_frac = nm.weight.frac + nm.core_input_frac(index, core)
            return nm.state.requantize(np.rint(acc).astype(np.int64), acc_frac).astype(np.float64)

        return np.rint(tt_forward(params.cores, hf, between=to_state)).astype(np.int64)

    def layer_int(self, index: int, theta_int: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Integer output of layer ``index`` (steps 2-5) for integer inputs ``h``."""
        nm = self.numerics
        layer = self.spec.layers[index]
        acc = self.layer_accumulator(index, theta_int, h)
        acc_frac = nm.accumulator_frac(index, layer)
        if layer.bias:
            bias = self.float_model.unpack(theta_int)[index].bias.astype(np.int64)
            acc = acc + (bias << (acc_frac - nm.bias.frac))
        out = nm.activation.requantize(acc, acc_frac)
        return self.activate(layer.activation, out)

    def forward_int(self, theta_int: np.ndarray, x_int: np.ndarray) -> np.ndarray:
        """Integer outputs (``numerics.activation``) for integer inputs (``numerics.input``)."""
        self.float_model.check_params(theta_int)
        if x_int.ndim != 2 or x_int.shape[1] != self.spec.in_features:
            raise ValueError(f"input of shape {x_int.shape} does not fit model {self.spec.name!r}, "
                             f"which takes (batch, {self.spec.in_features})")
        h = np.asarray(x_int, dtype=np.int64)
        for index in range(len(self.spec.layers)):
            h = self.layer_int(index, theta_int, h)
        return h

    def forward_perturbed(self, theta_int: np.ndarray, x_int: np.ndarray,
                          perturbation: Perturbation) -> np.ndarray:
        """:meth:`forward_int` at ``theta`` perturbed as the device does it."""
        theta_p = apply_perturbation(theta_int, perturbation, self.param_widths())
        return self.forward_int(theta_p, x_int)

    def forward(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Float view: quantize ``theta`` and ``x``, run :meth:`forward_int`, dequantize."""
        out = self.forward_int(self.quantize_params(theta), self.quantize_inputs(x))
        return self.numerics.activation.dequantize(out)
