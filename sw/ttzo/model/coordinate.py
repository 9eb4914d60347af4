"""Loss of a TT-MLP at many single-coordinate perturbations, reusing the unperturbed forward.

A coordinate query of a zeroth-order estimator asks for ``L(theta + step * e_i)``: the full
network evaluated with one parameter changed. Computing each query from scratch repeats almost
all of the work, so :class:`CoordinateQueries` evaluates the perturbed network exactly but
incrementally:

* The pre-activation ``z`` of a layer is linear in each single core entry (and in each weight and
  bias entry), so the perturbed ``z`` is ``z + step * response``, where the response comes from the
  partial contractions the forward already made (:func:`ttzo.tt.contract.tt_core_responses`).
* A TT core entry ``G_k[a, i, j, c]`` only reaches the outputs whose ``k``-th out index is ``i``,
  a ``1/m_k`` share of them; a bias or dense weight entry reaches one output. Only those outputs
  pass through the activation again.
* The next layer is affine in its input, so its pre-activation changes by the changed activations
  times the matching columns of its weight; later layers (if any) run in full, batched over the
  queries.

Nonlinearities and the loss are always evaluated at the perturbed point: nothing is linearised,
and the result equals a from-scratch forward up to floating-point rounding (tested).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ttzo.tt.contract import tt_core_responses, tt_right_envs

from .mlp import TTMLP

__all__ = ["CoordinateQueries"]

LossFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class CoordinateQueries:
    """Losses of ``model`` at ``theta + step * e_i`` on one batch, for any set of ``i``.

    Parameters
    ----------
    model : TTMLP
    theta : ndarray, shape (dim,)
    x : ndarray, shape (B, in_features)
    targets : ndarray
        Passed to ``loss_fn`` unchanged.
    loss_fn : callable
        ``loss_fn(outputs[q, B, out], targets) -> losses[q]``.
    max_elements : int
        Bound on the size of the temporary arrays, in elements.

    Notes
    -----
    The unperturbed forward and the per-layer responses are computed once and reused by every
    call, so the ``+step`` and ``-step`` halves of a central difference share them.
    """

    def __init__(
        self,
        model: TTMLP,
        theta: np.ndarray,
        x: np.ndarray,
        targets: np.ndarray,
        loss_fn: LossFn,
        max_elements: int = 1 << 21,
    ):
        self.model = model
        self.theta = theta
        self.params = model.unpack(theta)
        self.targets = targets
        self.loss_fn = loss_fn
        self.traces = model.trace(theta, x)
        self.batch = self.traces[0].inputs.shape[0]
        self.max_elements = max_elements
        self._weight_t: dict[int, np.ndarray] = {}
        self._responses: dict[int, list[np.ndarray]] = {}

    # -- public -------------------------------------------------------------------------------

    def base_loss(self) -> float:
        """Loss at ``theta`` itself."""
        return float(self.loss_fn(self.traces[-1].post, self.targets))

    def losses(self, indices: np.ndarray, step: float) -> np.ndarray:
        """``L(theta + step * e_i)`` for every ``i`` in ``indices`` (any order, repeats allowed)."""
        model = self.model
        indices = np.asarray(indices, dtype=np.int64).ravel()
        if indices.size and (indices.min() < 0 or indices.max() >= model.dim):
            bad = indices[(indices < 0) | (indices >= model.dim)][0]
            raise IndexError(f"coordinate {bad} is outside 0..{model.dim - 1}")
        out = np.empty(indices.size, dtype=np.float64)
        block_of = np.searchsorted(model._block_starts, indices, side="right") - 1
        for bi in np.unique(block_of):
            where = np.nonzero(block_of == bi)[0]
            self._block_losses(model.blocks[bi], indices[where], step, out, where)
        return out

    # -- per block ----------------------------------------------------------------------------

    def _block_losses(self, block, indices, step, out, where) -> None:
        local = np.unravel_index(indices - block.offset, block.shape)
        trace = self.traces[block.layer]
        if block.kind == "bias":
            sel = local[0][:, None]
            delta = np.full((indices.size, self.batch, 1), step, dtype=trace.pre.dtype)
            out[where] = self._propagate(block.layer, sel, delta, 1.0)
        elif block.kind == "weight":
            sel = local[0][:, None]
            delta = trace.inputs.T[local[1]][:, :, None]
            out[where] = self._propagate(block.layer, sel, delta, step)
        else:
            resp = self._core_responses(block.layer)[block.index]  # (a*j*c, B, P, S)
            _, m, n, r1 = block.shape
            n_left, n_right = resp.shape[2], resp.shape[3]
            a, i, j, c = local
            rows = (a * n + j) * r1 + c
            base = (np.arange(n_left)[:, None] * (m * n_right) + np.arange(n_right)).reshape(1, -1)
            flat = resp.reshape(resp.shape[0], self.batch, n_left * n_right)
            for mode in np.unique(i):
                pick = np.nonzero(i == mode)[0]
                picked_rows = rows[pick]
                if np.array_equal(picked_rows, np.arange(flat.shape[0])):
                    delta = flat  # every coordinate of this mode: no gather needed
                else:
                    delta = flat[picked_rows]
                out[where[pick]] = self._propagate(block.layer, base + mode * n_right, delta, step)

    def _core_responses(self, layer: int) -> list[np.ndarray]:
        """Responses of ``layer`` in query-major layout ``(a*j*c, B, P, S)``, built once."""
        if layer not in self._responses:
            cores = self.params[layer].cores
            resp = tt_core_responses(self.traces[layer].states, tt_right_envs(cores))
            self._responses[layer] = [
                np.ascontiguousarray(r.transpose(2, 3, 4, 0, 1, 5)).reshape(
                    -1, r.shape[0], r.shape[1], r.shape[5]
                )
                for r in resp
            ]
        return self._responses[layer]

    def _next_weight_t(self, layer: int) -> np.ndarray:
        """``W.T`` of ``layer``, shape ``(N, M)``, rebuilt once."""
        if layer not in self._weight_t:
            self._weight_t[layer] = np.ascontiguousarray(self.params[layer].dense_weight().T)
        return self._weight_t[layer]

    # -- propagation to the loss --------------------------------------------------------------

    def _propagate(self, layer: int, sel: np.ndarray, delta: np.ndarray, step: float) -> np.ndarray:
        """Losses after adding ``step * delta[q, B, s]`` to the pre-activations ``sel[q|1, s]``."""
        queries = delta.shape[0]
        chunk = max(1, self.max_elements // (self.batch * max(sel.shape[1], 16)))
        losses = np.empty(queries, dtype=np.float64)
        for lo in range(0, queries, chunk):
            hi = min(lo + chunk, queries)
            part_sel = sel if sel.shape[0] == 1 else sel[lo:hi]
            losses[lo:hi] = self._propagate_chunk(layer, part_sel, delta[lo:hi], step)
        return losses

    def _propagate_chunk(self, layer, sel, delta, step) -> np.ndarray:
        trace = self.traces[layer]
        act = self.model.activations[layer]
        shared = sel.shape[0] == 1
        pre = trace.pre[:, sel[0]] if shared else trace.pre.T[sel].transpose(0, 2, 1)
        new = np.multiply(delta, step)  # (q, B, s), a fresh buffer
        new += pre
        act.fn(new, out=new)
        last = len(self.params) - 1
        if layer == last:
            outputs = np.repeat(trace.post[None], new.shape[0], axis=0)
            index = np.broadcast_to(sel[:, None, :], new.shape)
            np.put_along_axis(outputs, index, new, axis=2)
            return self.loss_fn(outputs, self.targets)
        post = trace.post[:, sel[0]] if shared else trace.post.T[sel].transpose(0, 2, 1)
        new -= post
        weight_t = self._next_weight_t(layer + 1)
        queries, batch, width = new.shape
        if shared:
            change = (new.reshape(queries * batch, width) @ weight_t[sel[0]]).reshape(
                queries, batch, -1
            )
        else:
            change = np.matmul(new, weight_t[sel])
        change += self.traces[layer + 1].pre
        h = self.model.activations[layer + 1].fn(change, out=change)
        if layer + 1 < last:
            h = self.model.forward(self.theta, h.reshape(queries * batch, -1), start=layer + 2)
            h = h.reshape(queries, batch, -1)
        return self.loss_fn(h, self.targets)
