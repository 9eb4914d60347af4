"""Contraction kernels for TT matrices.

All kernels take the list of cores ``G_k`` of shape ``(r_{k-1}, m_k, n_k, r_k)`` and follow the
index convention of :class:`ttzo.spec.shape.TTShape`. The forward contracts the input with one core
at a time and never forms the dense matrix; the other kernels expose the partial contractions that
the forward leaves behind, so that the effect of changing one core entry (a coordinate query of a
zeroth-order estimator) or the gradient of a core (the first-order baseline) costs one extra
contraction instead of a new forward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import prod

import numpy as np

__all__ = [
    "tt_forward",
    "tt_forward_split",
    "tt_to_dense",
    "tt_transpose",
    "tt_left_states",
    "tt_right_envs",
    "tt_core_responses",
    "tt_core_grads",
    "tt_dense_grad_to_cores",
]

Cores = Sequence[np.ndarray]


def tt_forward(cores: Cores, x: np.ndarray, keep_states: bool = False,
               between: Callable[[np.ndarray, int], np.ndarray] | None = None):
    """Compute ``x @ W.T`` core by core, without forming ``W``.

    Parameters
    ----------
    cores : sequence of ndarray
        TT cores of ``W`` (shape ``(M, N)``).
    x : ndarray, shape (B, N)
        Batch of input vectors.
    keep_states : bool
        Also return the state before each core (see :func:`tt_left_states`).
    between : callable, optional
        ``between(state, k)`` replaces the state after core ``k`` for every core but the last;
        the fixed-point golden model rounds and saturates there.

    Returns
    -------
    y : ndarray, shape (B, M)
    states : list of ndarray, only if ``keep_states``
        ``states[k]`` has shape ``(B, M_<k, r_{k-1}, n_k, N_>k)``: the input contracted with
        cores ``0 .. k-1``.
    """
    batch = x.shape[0]
    d = len(cores)
    n0 = cores[0].shape[2]
    # State layout (P, i, R): P = batch x out modes done, i = (rank, next in mode),
    # R = in modes left.
    state = x.reshape(batch, n0, -1)
    states = []
    for k, core in enumerate(cores):
        r0, m, n, r1 = core.shape
        if keep_states:
            states.append(state.reshape(batch, -1, r0, n, state.shape[2]))
        mixed = core.transpose(1, 3, 0, 2).reshape(m * r1, r0 * n)
        out = np.matmul(mixed, state)  # (P, m * r1, R)
        if k + 1 < d and between is not None:
            out = between(out, k)
        if k + 1 < d:
            n_next = cores[k + 1].shape[2]
            state = out.reshape(out.shape[0] * m, r1 * n_next, out.shape[2] // n_next)
        else:
            state = out
    y = state.reshape(batch, -1)
    return (y, states) if keep_states else y


def tt_forward_split(cores: Cores, x: np.ndarray, split: int) -> np.ndarray:
    """Compute ``x @ W.T`` with the train cut in two halves, each multiplied out.

    ``W[(p, s), (q, t)] = sum_c L[p, q, c] R[c, s, t]`` with ``L`` the product of cores
    ``0 .. split-1`` and ``R`` that of the rest (``c`` runs over the rank ``r_split``). Two
    large matrix products replace ``d`` small ones (:func:`tt_forward`), and with a low rank
    they need a fraction of the multiply-adds of the dense product (``TTShape.split_macs``).

    Parameters
    ----------
    cores : sequence of ndarray
    x : ndarray, shape (B, N)
    split : int
        Number of cores in the left half, between 1 and ``d - 1``.

    Returns
    -------
    ndarray, shape (B, M)
    """
    if not 1 <= split < len(cores):
        raise ValueError(f"split must lie between 1 and d - 1 = {len(cores) - 1}, not {split!r}")
    left = _multiply_out(cores[:split])  # (M_L, N_L, r)
    right = tt_right_envs(cores[split - 1 :])[0]  # (r, M_R, N_R)
    m_left, n_left, rank = left.shape
    _, m_right, n_right = right.shape
    batch = x.shape[0]
    # R first, for every (sample, left in index): (B N_L, N_R) x (N_R, r M_R)
    t = np.matmul(x.reshape(batch * n_left, n_right), right.reshape(rank * m_right, n_right).T)
    # then L, one (M_L, N_L r) x (N_L r, M_R) product per sample, laid out as W's rows
    y = np.matmul(left.reshape(m_left, n_left * rank), t.reshape(batch, n_left * rank, m_right))
    return y.reshape(batch, m_left * m_right)


def tt_left_states(cores: Cores, x: np.ndarray) -> list[np.ndarray]:
    """States of the forward before each core; see :func:`tt_forward`."""
    return tt_forward(cores, x, keep_states=True)[1]


def tt_right_envs(cores: Cores) -> list[np.ndarray]:
    """Products of the cores right of each core.

    Returns
    -------
    list of ndarray
        ``envs[k]`` has shape ``(r_k, M_>k, N_>k)``: cores ``k+1 .. d-1`` multiplied out, with
        ``envs[d-1]`` the ``(1, 1, 1)`` identity.
    """
    d = len(cores)
    envs = [np.ones((1, 1, 1), dtype=cores[-1].dtype)]
    for k in range(d - 1, 0, -1):
        core = cores[k]
        r0, m, n, _ = core.shape
        env = envs[0]
        nxt = np.tensordot(core, env, axes=([3], [0]))  # (r0, m, n, M>, N>)
        nxt = nxt.transpose(0, 1, 3, 2, 4).reshape(r0, m * env.shape[1], n * env.shape[2])
        envs.insert(0, nxt)
    return envs


def tt_core_responses(states: list[np.ndarray], envs: list[np.ndarray]) -> list[np.ndarray]:
    """Response of the output to each core entry.

    The output ``y = x @ W.T`` is linear in every single core. ``resp[k][b, p, a, j, c, s]`` is
    the change of output ``(p, i, s)`` of sample ``b`` (out index split into ``M_<k``, ``m_k``,
    ``M_>k``) per unit change of core entry ``G_k[a, i, j, c]``; it does not depend on ``i``,
    and outputs with another ``m_k`` index do not change.

    Returns
    -------
    list of ndarray
        ``resp[k]`` of shape ``(B, M_<k, r_{k-1}, n_k, r_k, M_>k)``.
    """
    out = []
    for state, env in zip(states, envs):
        # state (B, P, a, j, N>) . env (c, S, N>) -> (B, P, a, j, c, S)
        out.append(np.tensordot(state, env, axes=([4], [2])))
    return out


def tt_core_grads(responses: list[np.ndarray], out_modes: Sequence[int], grad_y: np.ndarray):
    """Gradient of a scalar with respect to every core, given its gradient ``grad_y`` w.r.t. ``y``.

    Parameters
    ----------
    responses : list of ndarray
        From :func:`tt_core_responses`.
    out_modes : sequence of int
        ``(m_1, ..., m_d)``.
    grad_y : ndarray, shape (B, M)

    Returns
    -------
    list of ndarray
        One array per core, of the core's shape.
    """
    grads = []
    batch = grad_y.shape[0]
    for k, resp in enumerate(responses):
        m = out_modes[k]
        gy = grad_y.reshape(batch, prod(out_modes[:k]), m, prod(out_modes[k + 1 :]))
        # sum over b, P, S of resp[b, P, a, j, c, S] * gy[b, P, i, S] -> (a, i, j, c)
        g = np.einsum("bpajcs,bpis->aijc", resp, gy, optimize=True)
        grads.append(g)
    return grads


def tt_to_dense(cores: Cores, xp=np) -> np.ndarray:
    """Multiply the cores out into the dense ``(M, N)`` matrix.

    ``xp`` is the array module (``autograd.numpy`` to differentiate through the product).
    """
    return _multiply_out(cores, xp)[:, :, 0]


def _multiply_out(cores: Cores, xp=np):
    """The product of a run of cores (the first with ``r_0 = 1``): ``(M, N, r_last)``."""
    acc = cores[0][0]  # (m, n, r)
    for core in cores[1:]:
        acc = _absorb(acc, core, xp)
    return acc


def _absorb(left, core, xp=np):
    """The product ``left`` ``(M, N, r)`` of the cores so far times ``core``: ``(M m, N n, r1)``."""
    _, m, n, r1 = core.shape
    prod_ = xp.tensordot(left, core, axes=([2], [0]))  # (M, N, m, n, r1)
    return xp.reshape(xp.transpose(prod_, (0, 2, 1, 3, 4)),
                      (left.shape[0] * m, left.shape[1] * n, r1))


def tt_dense_grad_to_cores(cores: Cores, grad_w: np.ndarray) -> list[np.ndarray]:
    """Gradients of the cores from the gradient ``grad_w`` ``(M, N)`` of the dense matrix.

    ``dL/dG_k[a, i, j, c] = sum grad_w[(P, i, S), (Q, j, T)] left_k[P, Q, a] right_k[c, S, T]``
    with ``left_k`` the cores before ``k`` multiplied out and ``right_k`` those after it: the
    cheap route when the dense product was used in the forward.
    """
    out_modes = [c.shape[1] for c in cores]
    in_modes = [c.shape[2] for c in cores]
    envs = tt_right_envs(cores)
    left = np.ones((1, 1, 1), dtype=grad_w.dtype)  # (M<k, N<k, r_{k-1})
    grads = []
    for k, core in enumerate(cores):
        g6 = grad_w.reshape(prod(out_modes[:k]), out_modes[k], prod(out_modes[k + 1:]),
                            prod(in_modes[:k]), in_modes[k], prod(in_modes[k + 1:]))
        grads.append(np.einsum("pisqjt,pqa,cst->aijc", g6, left, envs[k], optimize=True))
        left = _absorb(left, core)
    return grads


def tt_transpose(cores: Cores) -> list[np.ndarray]:
    """Cores of ``W.T``: swap the out and in mode of every core."""
    return [core.transpose(0, 2, 1, 3) for core in cores]
