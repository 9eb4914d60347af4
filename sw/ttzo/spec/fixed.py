"""Two's-complement fixed-point formats and the two operations the hardware performs on them.

A value ``v`` in format ``Q(width, frac)`` is the integer ``round(v * 2**frac)`` held in ``width``
bits. Every rounding in ttzo is *round half up* (add half an LSB, then floor, i.e. an arithmetic
right shift), and every narrowing *saturates* to the format's range. Both are one adder and a
comparator in hardware and are defined here once for the whole golden model (docs/numerics.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FixedFormat", "round_shift", "saturate"]


def saturate(values: np.ndarray, width: int) -> np.ndarray:
    """Clamp integers to the signed ``width``-bit range ``[-2**(width-1), 2**(width-1) - 1]``."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    return np.clip(values, lo, hi)


def round_shift(values: np.ndarray, shift: int) -> np.ndarray:
    """Divide integers by ``2**shift`` rounding half up (``shift <= 0`` multiplies exactly).

    ``(v + 2**(shift-1)) >> shift`` with an arithmetic (flooring) shift, as the hardware does.
    """
    values = np.asarray(values, dtype=np.int64)
    if shift <= 0:
        return values << (-shift)
    return (values + (1 << (shift - 1))) >> shift


@dataclass(frozen=True)
class FixedFormat:
    """Signed fixed-point format ``Q(width, frac)``.

    Parameters
    ----------
    width : int
        Total bits including the sign, 2 to 48.
    frac : int
        Fraction bits (may be negative or exceed ``width``).
    """

    width: int
    frac: int

    def __post_init__(self) -> None:
        if int(self.width) != self.width or not 2 <= self.width <= 48:
            raise ValueError(
                f"fixed-point width must be an integer from 2 to 48, not {self.width!r}"
            )
        if int(self.frac) != self.frac:
            raise ValueError(f"fixed-point frac must be an integer, not {self.frac!r}")

    @classmethod
    def from_dict(cls, where: str, data: Mapping[str, Any]) -> FixedFormat:
        unknown = set(data) - {"width", "frac"}
        if unknown or "width" not in data or "frac" not in data:
            raise ValueError(f"{where} must be {{ width = W, frac = F }}, not {dict(data)!r}")
        width, frac = data["width"], data["frac"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (width, frac)):
            raise ValueError(f"{where}: width and frac must be integers, not {dict(data)!r}")
        try:
            return cls(width, frac)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None

    def to_dict(self) -> dict[str, int]:
        return {"width": self.width, "frac": self.frac}

    @property
    def min_int(self) -> int:
        return -(1 << (self.width - 1))

    @property
    def max_int(self) -> int:
        return (1 << (self.width - 1)) - 1

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac

    @property
    def max_value(self) -> float:
        return self.max_int * self.lsb

    def quantize(self, values: np.ndarray) -> np.ndarray:
        """Nearest representable integers (ties up), saturated; returns ``int64``."""
        scaled = np.floor(np.asarray(values, dtype=np.float64) * 2.0**self.frac + 0.5)
        return saturate(np.clip(scaled, -(2.0**62), 2.0**62).astype(np.int64), self.width)

    def dequantize(self, ints: np.ndarray) -> np.ndarray:
        return np.asarray(ints, dtype=np.float64) * self.lsb

    def requantize(self, ints: np.ndarray, from_frac: int) -> np.ndarray:
        """Integers with ``from_frac`` fraction bits into this format: round half up, saturate."""
        return saturate(round_shift(ints, from_frac - self.frac), self.width)

    def __str__(self) -> str:
        return f"Q{self.width}.{self.frac}"
