"""Golden twin of the perturbation RNG: Threefry-2x32 and the directions derived from it.

The accelerator regenerates a perturbation direction entry by entry from ``(seed, parameter
index)`` instead of storing it. A counter-based generator fits: the output for an index does not
depend on which indices came before, so any read order gives the same bits. Threefry-2x32
(Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011) needs only 32-bit adds,
rotations and XORs, which pipeline well on an FPGA; 13 rounds is the smallest count its authors
found to pass BigCrush. The gateware in ``hw/rng.py`` computes exactly these functions.

Directions (``u`` for parameter ``index`` under seed ``seed``), with ``(x0, x1) =
threefry2x32((index, 0), (seed, 0))``:

* ``rademacher``: ``+1`` if bit 0 of ``x0`` is 0, else ``-1``.
* ``gauss``: ``(popcount(x0) + popcount(x1) - 32) / 4``, a centred binomial on 64 fair bits:
  mean 0, variance exactly 1, kurtosis 2.97 (a Gaussian has 3), support ``[-8, 8]`` in steps
  of 1/4. Represented exactly as the integer ``g = popcount - 32`` with two fraction bits.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ROTATIONS",
    "ROUNDS",
    "threefry2x32",
    "rademacher_int",
    "gauss_int",
    "direction_int",
    "DeviceDirections",
    "GAUSS_FRAC",
]

ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)
PARITY = 0x1BD11BDA
ROUNDS = 13
#: Fraction bits of the integer ``gauss`` direction values.
GAUSS_FRAC = 2
_M32 = np.uint64(0xFFFFFFFF)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & _M32


def threefry2x32(counter: tuple, key: tuple, rounds: int = ROUNDS) -> tuple[np.ndarray, np.ndarray]:
    """Threefry-2x32 of ``counter = (c0, c1)`` under ``key = (k0, k1)``; arrays broadcast.

    Returns two ``uint64`` arrays holding 32-bit words.
    """
    c0, c1 = (np.asarray(c, dtype=np.uint64) & _M32 for c in counter)
    k0, k1 = (np.asarray(k, dtype=np.uint64) & _M32 for k in key)
    ks = (k0, k1, (np.uint64(PARITY) ^ k0 ^ k1) & _M32)
    x0 = (c0 + ks[0]) & _M32
    x1 = (c1 + ks[1]) & _M32
    for r in range(rounds):
        x0 = (x0 + x1) & _M32
        x1 = _rotl(x1, ROTATIONS[r % 8]) ^ x0
        if r % 4 == 3:
            s = (r + 1) // 4
            x0 = (x0 + ks[s % 3]) & _M32
            x1 = (x1 + ks[(s + 1) % 3] + np.uint64(s)) & _M32
    return x0, x1


def _words(seed: int, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return threefry2x32((np.asarray(index, dtype=np.uint64), 0), (int(seed) & 0xFFFFFFFF, 0))


def _popcount32(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64)
    count = np.zeros(x.shape, dtype=np.int64)
    for _ in range(32):
        count += (x & np.uint64(1)).astype(np.int64)
        x = x >> np.uint64(1)
    return count


def rademacher_int(seed: int, index: np.ndarray) -> np.ndarray:
    """``+1``/``-1`` per index (``int64``)."""
    x0, _ = _words(seed, index)
    return 1 - 2 * (x0 & np.uint64(1)).astype(np.int64)


def gauss_int(seed: int, index: np.ndarray) -> np.ndarray:
    """``g = popcount(x0) + popcount(x1) - 32`` per index; the direction value is ``g / 4``."""
    x0, x1 = _words(seed, index)
    return _popcount32(x0) + _popcount32(x1) - 32


def direction_int(kind: str, seed: int, index: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer direction values and their fraction bits for ``kind`` in {rademacher, gauss}."""
    if kind == "rademacher":
        return rademacher_int(seed, index), 0
    if kind == "gauss":
        return gauss_int(seed, index), GAUSS_FRAC
    raise ValueError(f"unknown device direction kind {kind!r}; use 'rademacher' or 'gauss'")


class DeviceDirections:
    """The device's directions as a :class:`~ttzo.zo.directions.DirectionGenerator`.

    Registered as ``device-rademacher`` and ``device-gauss``, so the float trainer can use the
    very bits the accelerator will regenerate.
    """

    def __init__(self, kind: str):
        direction_int(kind, 0, np.zeros(1))  # validates kind
        self.kind = kind
        self.name = f"device-{kind}"

    def __call__(self, seed: int, dim: int) -> np.ndarray:
        values, frac = direction_int(self.kind, seed, np.arange(dim))
        return values.astype(np.float64) / (1 << frac)
