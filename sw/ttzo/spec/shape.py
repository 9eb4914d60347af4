"""Shape of a tensor-train (TT) matrix: modes, ranks, and the counts that follow from them.

A TT matrix ``W`` of shape ``(M, N)`` with ``M = m_1 ... m_d`` and ``N = n_1 ... n_d`` is stored
as ``d`` cores ``G_k`` of shape ``(r_{k-1}, m_k, n_k, r_k)`` with ``r_0 = r_d = 1``. Rows of ``W``
are indexed by the out modes ``(m_1, ..., m_d)`` and columns by the in modes ``(n_1, ..., n_d)``,
both row-major.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod

__all__ = ["TTShape"]


def _as_positive_ints(name: str, values: Sequence[int]) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in values)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of integers, not {values!r}") from None
    if any(int(v) != v for v in values):
        raise ValueError(f"{name} must hold integers, not {list(values)!r}")
    bad = [v for v in out if v <= 0]
    if bad:
        raise ValueError(f"{name} must be positive, but {list(out)!r} holds {bad[0]!r}")
    return out


@dataclass(frozen=True)
class TTShape:
    """Modes and ranks of a TT matrix.

    Parameters
    ----------
    out_modes : sequence of int
        ``(m_1, ..., m_d)``; their product is the number of rows ``M``.
    in_modes : sequence of int
        ``(n_1, ..., n_d)``; their product is the number of columns ``N``.
    ranks : sequence of int
        ``(r_0, ..., r_d)`` with ``r_0 = r_d = 1``.

    Raises
    ------
    ValueError
        If the mode lists differ in length, a mode or rank is not positive, the rank list does
        not have ``d + 1`` entries, or a boundary rank is not 1.
    """

    out_modes: tuple[int, ...]
    in_modes: tuple[int, ...]
    ranks: tuple[int, ...]

    def __post_init__(self) -> None:
        out_modes = _as_positive_ints("out_modes", self.out_modes)
        in_modes = _as_positive_ints("in_modes", self.in_modes)
        ranks = _as_positive_ints("ranks", self.ranks)
        if len(out_modes) == 0:
            raise ValueError("a TT matrix needs at least one core, but out_modes is empty")
        if len(out_modes) != len(in_modes):
            raise ValueError(
                f"out_modes {list(out_modes)} and in_modes {list(in_modes)} must have the same "
                f"length (one pair per core), but have {len(out_modes)} and {len(in_modes)}"
            )
        d = len(out_modes)
        if len(ranks) != d + 1:
            raise ValueError(
                f"ranks {list(ranks)} must have d + 1 = {d + 1} entries for {d} cores, "
                f"not {len(ranks)}"
            )
        if ranks[0] != 1 or ranks[-1] != 1:
            raise ValueError(f"boundary ranks must be 1, but ranks is {list(ranks)}")
        object.__setattr__(self, "out_modes", out_modes)
        object.__setattr__(self, "in_modes", in_modes)
        object.__setattr__(self, "ranks", ranks)

    @classmethod
    def uniform(
        cls, out_modes: Sequence[int], in_modes: Sequence[int], rank: int
    ) -> TTShape:
        """Shape with every inner rank equal to ``rank``, capped where the cores cannot use it.

        The cap is the exact TT rank bound ``min(prod_{j<=k} m_j n_j, prod_{j>k} m_j n_j)``: a
        larger rank only adds parameters that a TT-SVD would discard.
        """
        (rank,) = _as_positive_ints("rank", [rank])
        d = len(out_modes)
        sizes = [int(m) * int(n) for m, n in zip(out_modes, in_modes)]
        inner = [min(rank, prod(sizes[: k + 1]), prod(sizes[k + 1 :])) for k in range(d - 1)]
        return cls(tuple(out_modes), tuple(in_modes), (1, *inner, 1))

    @property
    def d(self) -> int:
        """Number of cores."""
        return len(self.out_modes)

    @property
    def rows(self) -> int:
        """``M``, the number of rows (outputs) of the dense matrix."""
        return prod(self.out_modes)

    @property
    def cols(self) -> int:
        """``N``, the number of columns (inputs) of the dense matrix."""
        return prod(self.in_modes)

    def core_shape(self, k: int) -> tuple[int, int, int, int]:
        """Shape ``(r_{k-1}, m_k, n_k, r_k)`` of core ``k`` (0-based)."""
        return (self.ranks[k], self.out_modes[k], self.in_modes[k], self.ranks[k + 1])

    @property
    def core_shapes(self) -> list[tuple[int, int, int, int]]:
        return [self.core_shape(k) for k in range(self.d)]

    @property
    def params(self) -> int:
        """Number of TT parameters, ``sum_k r_{k-1} m_k n_k r_k``."""
        return sum(prod(s) for s in self.core_shapes)

    @property
    def dense_params(self) -> int:
        """Number of entries of the dense matrix, ``M N``."""
        return self.rows * self.cols

    @property
    def compression(self) -> float:
        """Dense parameters divided by TT parameters."""
        return self.dense_params / self.params

    def contraction_macs(self) -> int:
        """Multiply-accumulates of one matrix-vector product by core-by-core contraction.

        ``sum_k r_{k-1} r_k m_k n_k (prod_{j<k} m_j) (prod_{j>k} n_j)``, which is what
        :func:`ttzo.tt.contract.tt_forward` performs per input vector.
        """
        total = 0
        for k in range(self.d):
            r0, m, n, r1 = self.core_shape(k)
            total += r0 * r1 * m * n * prod(self.out_modes[:k]) * prod(self.in_modes[k + 1 :])
        return total

    def reconstruction_macs(self) -> int:
        """Multiply-accumulates to rebuild the dense matrix from the cores, left to right."""
        total = 0
        rows, cols = self.out_modes[0], self.in_modes[0]
        for k in range(1, self.d):
            r0, m, n, r1 = self.core_shape(k)
            total += rows * cols * r0 * m * n * r1
            rows, cols = rows * m, cols * n
        return total

    def dense_macs(self) -> int:
        """Multiply-accumulates of one matrix-vector product with the dense matrix."""
        return self.rows * self.cols

    def split_macs(self, split: int) -> int:
        """Multiply-accumulates of one matrix-vector product by the two halves of the train.

        Cores ``0 .. split-1`` multiplied out give ``L`` ``(M_L, N_L, r)`` and the rest give
        ``R`` ``(r, M_R, N_R)``, with ``r = r_split``; the product applies ``R`` (``N_L r M_R
        N_R``) and then ``L`` (``M_L N_L r M_R``), as :func:`ttzo.tt.contract.tt_forward_split`
        does. The cost of multiplying the halves out (once per weight) is not included.

        Raises
        ------
        ValueError
            If ``split`` is not between 1 and ``d - 1``.
        """
        if not 1 <= split < self.d:
            raise ValueError(f"split must lie between 1 and d - 1 = {self.d - 1}, not {split!r}")
        n_left, n_right = prod(self.in_modes[:split]), prod(self.in_modes[split:])
        m_left, m_right = prod(self.out_modes[:split]), prod(self.out_modes[split:])
        return self.ranks[split] * n_left * m_right * (n_right + m_left)

    def best_split(self) -> int | None:
        """The split with the fewest :meth:`split_macs`, or None when no split beats the dense
        product (or the train has a single core)."""
        costs = {k: self.split_macs(k) for k in range(1, self.d)}
        best = min(costs, key=costs.get, default=None)
        return best if best is not None and costs[best] < self.dense_macs() else None
