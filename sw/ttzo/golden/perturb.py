"""Golden twins of the engine's perturbation stage and of the update unit, on integer parameters.

They apply the rules of :mod:`ttzo.spec.perturb` to a whole parameter vector;
``tests/test_hw_update.py`` and the engine's testbenches compare the gateware with them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ttzo.spec.fixed import round_shift, saturate
from ttzo.spec.perturb import Perturbation, perturbation_delta
from ttzo.spec.rng import GAUSS_FRAC, direction_int

__all__ = ["apply_perturbation", "apply_update"]


def apply_perturbation(theta_int: np.ndarray, p: Perturbation, widths: np.ndarray) -> np.ndarray:
    """``sat(theta + delta)`` per entry; ``widths`` gives each entry's format width."""
    delta = perturbation_delta(p, np.arange(theta_int.size))
    out = theta_int + delta
    for width in np.unique(widths):
        sel = widths == width
        out[sel] = saturate(out[sel], int(width))
    return out


def apply_update(theta_int: np.ndarray, kind: str, seeds: Sequence[int], coefs: Sequence[int],
                 frac: int, widths: np.ndarray) -> np.ndarray:
    """The device's update pass: ``theta - sum_q c_q u_q(seed_q)``, rounded once, saturated."""
    if kind not in ("rademacher", "gauss"):
        raise ValueError(f"update directions must be 'rademacher' or 'gauss', not {kind!r}")
    if len(seeds) != len(coefs):
        raise ValueError(f"{len(seeds)} seeds but {len(coefs)} coefficients")
    index = np.arange(theta_int.size)
    acc = np.zeros(theta_int.size, dtype=np.int64)
    for seed, coef in zip(seeds, coefs):
        values, _ = direction_int(kind, seed, index)
        acc += int(coef) * values
    shift = frac + (GAUSS_FRAC if kind == "gauss" else 0)
    out = theta_int - round_shift(acc, shift)
    for width in np.unique(widths):
        sel = widths == width
        out[sel] = saturate(out[sel], int(width))
    return out
