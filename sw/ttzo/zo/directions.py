"""Random perturbation directions, regenerated from a seed instead of stored.

A direction generator maps ``(seed, dim)`` to a vector ``u``. Estimators keep only the seeds of
their queries and regenerate ``u`` when they need it again (for the update), as the accelerator
does: only seeds and one loss per query need to cross between host and device. Generators are
looked up by name, so a bit-exact twin of a hardware RNG can be plugged in beside the NumPy ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

__all__ = [
    "DirectionGenerator",
    "NumpyDirections",
    "DIRECTIONS",
    "get_directions",
    "register_directions",
    "query_seed",
]


class DirectionGenerator(Protocol):
    """Maps a 32-bit seed to a direction of length ``dim``; the same seed gives the same bits."""

    name: str

    def __call__(self, seed: int, dim: int) -> np.ndarray: ...


def query_seed(*keys: int) -> int:
    """A 32-bit seed for one query, derived from integer keys such as ``(run_seed, step, q)``.

    Uses NumPy's ``SeedSequence`` hashing, so nearby keys give unrelated seeds.
    """
    return int(np.random.SeedSequence([int(k) & 0xFFFFFFFF for k in keys]).generate_state(1)[0])


class NumpyDirections:
    """Directions from NumPy's Philox generator keyed by the seed.

    Parameters
    ----------
    name : str
        ``gaussian`` (``N(0, I)``), ``rademacher`` (``+-1`` with equal probability; the paper's
        "Bernoulli" directions) or ``sphere`` (uniform on the unit sphere, scaled by
        ``sqrt(dim)`` so that ``E[u u^T] = I`` as for the other two).
    """

    _samplers: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
        "gaussian": lambda rng, dim: rng.standard_normal(dim),
        "rademacher": lambda rng, dim: rng.integers(0, 2, dim).astype(np.float64) * 2.0 - 1.0,
        "sphere": lambda rng, dim: _unit(rng.standard_normal(dim)) * np.sqrt(dim),
    }

    def __init__(self, name: str):
        if name not in self._samplers:
            raise ValueError(
                f"unknown direction distribution {name!r}; choose from {sorted(self._samplers)}"
            )
        self.name = name
        self._sample = self._samplers[name]

    def __call__(self, seed: int, dim: int) -> np.ndarray:
        return self._sample(np.random.Generator(np.random.Philox(int(seed))), dim)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _device(kind: str) -> DirectionGenerator:
    from ttzo.spec.rng import DeviceDirections

    return DeviceDirections(kind)


DIRECTIONS: dict[str, Callable[[], DirectionGenerator]] = {
    **{name: (lambda name=name: NumpyDirections(name)) for name in NumpyDirections._samplers},
    "device-rademacher": lambda: _device("rademacher"),
    "device-gauss": lambda: _device("gauss"),
}


def register_directions(name: str, factory: Callable[[], DirectionGenerator]) -> None:
    """Make a direction generator available by name (e.g. a hardware RNG's golden twin)."""
    DIRECTIONS[name] = factory


def get_directions(name: str) -> DirectionGenerator:
    try:
        return DIRECTIONS[name]()
    except KeyError:
        raise ValueError(
            f"unknown direction generator {name!r}; choose from {sorted(DIRECTIONS)}"
        ) from None
