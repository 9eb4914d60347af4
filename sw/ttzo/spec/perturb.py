"""Perturbation and update rules on integer parameters (golden twins: :mod:`ttzo.golden.perturb`).

A forward query runs with ``theta' = theta + delta``, formed entry by entry as the engine reads
parameters (docs/numerics.md, "Perturbations"):

* ``none``: ``delta = 0``.
* ``coordinate``: ``delta_i = s * mu`` for ``i = index``, 0 elsewhere.
* ``rademacher``: ``delta_i = s * mu * u_i`` with ``u_i = +-1`` from the RNG.
* ``gauss``: ``delta_i = round_half_up(s * mu * g_i / 4)`` with ``g_i`` from the RNG.

``mu`` is a positive integer number of LSBs of the parameter's own format (weights and biases),
``s = -1`` when the query is negated, and ``theta'`` saturates to that format.

The update pass applies ``theta <- sat(theta - round_half_up(sum_q c_q * u_q / 2**frac))`` with
``c_q`` integers carrying ``frac`` fraction bits (of a weight LSB) and ``u_q`` integer directions
(``gauss``: ``g``, with two more fraction bits), so that only seeds and scalars cross the link.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fixed import round_shift
from .rng import direction_int

__all__ = ["Perturbation", "MODES", "perturbation_delta"]

MODES = ("none", "coordinate", "rademacher", "gauss")


@dataclass(frozen=True)
class Perturbation:
    """One query's perturbation, as the host sends it to the device.

    Parameters
    ----------
    mode : str
        One of :data:`MODES`.
    mu : int
        Step in parameter LSBs, 1 to 255.
    negate : bool
        Perturb by ``-mu`` instead of ``+mu``.
    seed : int
        32-bit RNG seed (``rademacher`` and ``gauss``).
    index : int
        Perturbed parameter (``coordinate``).
    """

    mode: str = "none"
    mu: int = 1
    negate: bool = False
    seed: int = 0
    index: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown perturbation mode {self.mode!r}; choose from {MODES}")
        if not isinstance(self.mu, int) or not 1 <= self.mu <= 255:
            raise ValueError(f"mu must be an integer number of LSBs from 1 to 255, not {self.mu!r}")
        if not 0 <= int(self.seed) < 2**32:
            raise ValueError(f"seed must fit in 32 bits, not {self.seed!r}")
        if int(self.index) < 0:
            raise ValueError(f"coordinate index must be non-negative, not {self.index!r}")


def perturbation_delta(p: Perturbation, indices: np.ndarray) -> np.ndarray:
    """``delta`` for the parameters at global ``indices`` (``int64``)."""
    indices = np.asarray(indices, dtype=np.int64)
    sign = -1 if p.negate else 1
    if p.mode == "none":
        return np.zeros(indices.shape, dtype=np.int64)
    if p.mode == "coordinate":
        return np.where(indices == p.index, sign * p.mu, 0).astype(np.int64)
    values, frac = direction_int(p.mode, p.seed, indices)
    return round_shift(sign * p.mu * values, frac)
