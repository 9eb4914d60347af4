"""Fixed-point rounding and saturation in gateware.

Golden twin: :func:`ttzo.spec.fixed.round_shift` and :func:`ttzo.spec.fixed.saturate`
(``tests/test_hw_fixed.py`` compares them on every small value).
"""

from __future__ import annotations

from amaranth.hdl import Const, Mux, Value

__all__ = ["round_shift", "saturate", "all_of"]


def round_shift(value, shift: int):
    """Round half up and shift right (``shift <= 0`` shifts left), as in the golden model."""
    if shift <= 0:
        return value << -shift
    return (value + (1 << (shift - 1))) >> shift


def saturate(value, width: int):
    """Clamp a signed value to ``signed(width)``. A value fits when its bits from ``width - 1``
    up are all equal: two reduction trees instead of two wide comparisons (carry chains)."""
    value = Value.cast(value)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    if not value.shape().signed:
        return Mux(value > hi, hi, value)
    if value.shape().width <= width:
        return value
    top = value[width - 1:]
    fits = top.all() | ~top.any()
    return Mux(fits, value[:width].as_signed(), Mux(value[-1], lo, hi))


def all_of(values):
    """AND of a list of 1-bit values (1 for an empty list)."""
    result = Const(1, 1)
    for v in values:
        result = result & v
    return result
