"""TT matrices: construction (TT-SVD, random initialisation), dense view and the batched forward."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod, sqrt
from typing import Literal

import numpy as np

from ttzo.spec.shape import TTShape

from .contract import tt_forward, tt_to_dense

__all__ = ["TTMatrix", "TTSVDResult", "choose_forward_method", "init_std"]

ForwardMethod = Literal["auto", "contract", "dense"]


def init_std(fan_in: int, fan_out: int, scheme: str = "lecun") -> float:
    """Standard deviation of a dense layer's weights under a named initialisation scheme.

    ``lecun``: ``1/sqrt(fan_in)``; ``he``: ``sqrt(2/fan_in)`` (ReLU); ``glorot``:
    ``sqrt(2/(fan_in + fan_out))``.
    """
    schemes = {
        "lecun": 1.0 / sqrt(fan_in),
        "he": sqrt(2.0 / fan_in),
        "glorot": sqrt(2.0 / (fan_in + fan_out)),
    }
    if scheme not in schemes:
        raise ValueError(f"unknown initialisation scheme {scheme!r}; choose from {sorted(schemes)}")
    return schemes[scheme]


def choose_forward_method(shape: TTShape, batch: int) -> Literal["contract", "dense"]:
    """Pick the cheaper forward for a batch: core-by-core contraction or rebuilding ``W``.

    Contraction costs ``batch * contraction_macs``; reconstruction costs the rebuild plus
    ``batch * M * N``. Both counts come from :class:`TTShape`.
    """
    contract = batch * shape.contraction_macs()
    dense = shape.reconstruction_macs() + batch * shape.dense_macs()
    return "contract" if contract <= dense else "dense"


@dataclass(frozen=True)
class TTSVDResult:
    """Outcome of :meth:`TTMatrix.from_dense`.

    Attributes
    ----------
    matrix : TTMatrix
    error_bound : float
        Upper bound on ``||W - to_dense()||_F``: the root sum of squares of the singular values
        discarded at every step (Oseledets 2011, Theorem 2.2).
    """

    matrix: TTMatrix
    error_bound: float


class TTMatrix:
    """A matrix ``W`` of shape ``(M, N)`` in tensor-train format.

    Parameters
    ----------
    cores : sequence of ndarray
        Core ``k`` has shape ``(r_{k-1}, m_k, n_k, r_k)``.

    Raises
    ------
    ValueError
        If a core is not 4-dimensional or adjacent ranks disagree.
    """

    def __init__(self, cores: Sequence[np.ndarray]):
        cores = [np.asarray(c) for c in cores]
        for k, core in enumerate(cores):
            if core.ndim != 4:
                raise ValueError(
                    f"core {k} must have 4 axes (r_prev, m, n, r_next), not shape {core.shape}"
                )
        for k in range(len(cores) - 1):
            if cores[k].shape[3] != cores[k + 1].shape[0]:
                raise ValueError(
                    f"rank mismatch between core {k} (shape {cores[k].shape}) and core {k + 1} "
                    f"(shape {cores[k + 1].shape})"
                )
        if not cores:
            raise ValueError("a TT matrix needs at least one core")
        self.shape_tt = TTShape(
            tuple(c.shape[1] for c in cores),
            tuple(c.shape[2] for c in cores),
            (cores[0].shape[0], *(c.shape[3] for c in cores)),
        )
        self.cores = cores

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def random(
        cls,
        shape: TTShape,
        rng: np.random.Generator,
        std: float | None = None,
        scheme: str = "lecun",
        dtype=np.float64,
    ) -> TTMatrix:
        """Gaussian cores whose product has entries of standard deviation ``std``.

        An entry of ``W`` is a sum of ``prod(r_1 .. r_{d-1})`` products of ``d`` independent core
        entries, so with core-entry variance ``s^2`` its variance is ``s^(2d) prod(r)``. Choosing
        ``s`` from that makes ``W`` look like a dense layer initialised with ``std``
        (default: :func:`init_std` of ``scheme``).
        """
        if std is None:
            std = init_std(shape.cols, shape.rows, scheme)
        paths = prod(shape.ranks[1:-1])
        core_std = (std**2 / paths) ** (1.0 / (2 * shape.d))
        cores = [rng.standard_normal(s).astype(dtype) * core_std for s in shape.core_shapes]
        return cls(cores)

    @classmethod
    def from_dense(
        cls,
        matrix: np.ndarray,
        out_modes: Sequence[int],
        in_modes: Sequence[int],
        max_rank: int | None = None,
        rel_tol: float = 1e-12,
    ) -> TTSVDResult:
        """TT-SVD of a dense matrix.

        Parameters
        ----------
        matrix : ndarray, shape (M, N)
        out_modes, in_modes : sequence of int
            Factorisations of ``M`` and ``N``.
        max_rank : int, optional
            Cap on every TT rank.
        rel_tol : float
            Also drop singular values while the discarded part stays below
            ``rel_tol * ||W||_F / sqrt(d - 1)`` per step, so the total error is at most
            ``rel_tol * ||W||_F`` plus what the rank cap discards.

        Returns
        -------
        TTSVDResult
            The matrix and the bound on the Frobenius error.
        """
        matrix = np.asarray(matrix)
        out_modes = tuple(int(m) for m in out_modes)
        in_modes = tuple(int(n) for n in in_modes)
        d = len(out_modes)
        # Validates the modes (lengths, positivity) before anything is reshaped.
        TTShape(out_modes, in_modes, (1,) * (d + 1))
        if matrix.ndim != 2 or matrix.shape != (prod(out_modes), prod(in_modes)):
            raise ValueError(
                f"matrix of shape {matrix.shape} does not match out_modes {list(out_modes)} "
                f"(product {prod(out_modes)}) x in_modes {list(in_modes)} "
                f"(product {prod(in_modes)})"
            )
        if max_rank is not None and max_rank < 1:
            raise ValueError(f"max_rank must be positive, not {max_rank!r}")
        tensor = matrix.reshape(out_modes + in_modes)
        order = [ax for k in range(d) for ax in (k, d + k)]
        tensor = tensor.transpose(order)  # (m1, n1, m2, n2, ...)
        step_tol = rel_tol * np.linalg.norm(matrix) / sqrt(max(d - 1, 1))
        cores = []
        discarded_sq = 0.0
        rank = 1
        rest = tensor.reshape(1, -1)
        for k in range(d - 1):
            m, n = out_modes[k], in_modes[k]
            rest = rest.reshape(rank * m * n, -1)
            u, s, vt = np.linalg.svd(rest, full_matrices=False)
            keep = len(s)
            if max_rank is not None:
                keep = min(keep, max_rank)
            # Smallest rank whose tail stays inside the tolerance.
            tail = np.sqrt(np.cumsum((s**2)[::-1]))[::-1]  # tail[j] = ||s[j:]||
            while keep > 1 and tail[keep - 1] <= step_tol:
                keep -= 1
            discarded_sq += float(np.sum(s[keep:] ** 2))
            cores.append(u[:, :keep].reshape(rank, m, n, keep))
            rest = s[:keep, None] * vt[:keep]
            rank = keep
        cores.append(rest.reshape(rank, out_modes[-1], in_modes[-1], 1))
        return TTSVDResult(cls(cores), sqrt(discarded_sq))

    # -- views and counts ---------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int]:
        """Dense shape ``(M, N)``."""
        return (self.shape_tt.rows, self.shape_tt.cols)

    def to_dense(self) -> np.ndarray:
        """The dense ``(M, N)`` matrix."""
        return tt_to_dense(self.cores)

    @property
    def params(self) -> int:
        return self.shape_tt.params

    # -- forward ------------------------------------------------------------------------------

    def matvec(self, x: np.ndarray, method: ForwardMethod = "auto") -> np.ndarray:
        """``x @ W.T`` for a batch ``x`` of shape ``(B, N)`` (or one vector of shape ``(N,)``).

        ``method="auto"`` picks contraction or reconstruction by MAC count
        (:func:`choose_forward_method`).
        """
        x = np.asarray(x)
        single = x.ndim == 1
        xb = x[None] if single else x
        if xb.ndim != 2 or xb.shape[1] != self.shape[1]:
            raise ValueError(
                f"input of shape {x.shape} does not fit a TT matrix with {self.shape[1]} columns"
            )
        if method == "auto":
            method = choose_forward_method(self.shape_tt, xb.shape[0])
        if method == "contract":
            y = tt_forward(self.cores, xb)
        elif method == "dense":
            y = xb @ self.to_dense().T
        else:
            raise ValueError(
                f"unknown forward method {method!r}; use 'auto', 'contract' or 'dense'"
            )
        return y[0] if single else y
