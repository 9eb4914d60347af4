"""A multilayer perceptron of TT and dense layers over one flat parameter vector.

The float twin of :class:`ttzo.spec.model.ModelSpec`.

The network holds no parameters: every call takes the flat vector ``theta``, so optimizers and
zeroth-order estimators see a single vector and can evaluate the network at perturbed copies.
The layout of ``theta`` is, layer by layer: the weight (TT cores in order, or the dense ``(M, N)``
matrix, each row-major), then the bias.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ttzo.spec.activations import get_activation
from ttzo.spec.model import LayerSpec, ModelSpec
from ttzo.tt.contract import (
    tt_core_grads,
    tt_core_responses,
    tt_dense_grad_to_cores,
    tt_forward,
    tt_forward_split,
    tt_right_envs,
    tt_to_dense,
    tt_transpose,
)
from ttzo.tt.matrix import TTMatrix, choose_forward_method, init_std

__all__ = ["Block", "LayerParams", "LayerTrace", "TTMLP"]


@dataclass(frozen=True)
class Block:
    """A contiguous slice of ``theta``: one TT core, a dense weight or a bias."""

    layer: int
    kind: str  # "core", "weight" or "bias"
    index: int  # core number for "core", 0 otherwise
    offset: int
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class LayerParams:
    """Views into ``theta`` for one layer."""

    spec: LayerSpec
    cores: list[np.ndarray] | None  # TT layers
    weight: np.ndarray | None  # dense layers, shape (M, N)
    bias: np.ndarray | None
    dense_products: bool = False

    def dense_weight(self) -> np.ndarray:
        return self.weight if self.cores is None else tt_to_dense(self.cores)

    def matvec(self, x: np.ndarray) -> np.ndarray:
        """``x @ W.T``: with ``dense_products``, by whole-matrix products (the train's two
        halves when that beats the dense product); otherwise by the cheaper of core-by-core
        contraction and reconstruction."""
        if self.cores is not None:
            if self.dense_products:
                split = self.spec.tt.best_split()
                if split is not None:
                    return tt_forward_split(self.cores, x, split)
            elif choose_forward_method(self.spec.tt, x.shape[0]) == "contract":
                return tt_forward(self.cores, x)
        return x @ self.dense_weight().T

    def affine(self, x: np.ndarray) -> np.ndarray:
        z = self.matvec(x)  # a new array: the bias goes in place (no second large temporary)
        if self.bias is not None:
            z += self.bias
        return z


@dataclass
class LayerTrace:
    """What one layer saw and produced in a forward pass."""

    inputs: np.ndarray  # (B, N)
    pre: np.ndarray  # (B, M), before the activation
    post: np.ndarray  # (B, M), after it
    states: list[np.ndarray] | None  # TT left states (see tt_forward), TT layers only


class TTMLP:
    """Feed-forward network described by a :class:`ModelSpec`.

    Parameters
    ----------
    spec : ModelSpec
    dtype : numpy dtype
        Floating-point type of parameters and activations.
    dense_products : bool
        Use whole-matrix products whatever the batch: in the forward, the train's two halves
        multiplied out (:func:`~ttzo.tt.contract.tt_forward_split`) or, where that saves
        nothing, the dense weight; in the backward, the dense weight. Contraction core by core
        needs fewer multiply-adds, but for low ranks its small matrix products run far below
        the speed of large ones: with rank 2 and batches of thousands of points the split
        forward is about 3 times faster than the dense product and 6 times faster than the
        contraction (``benchmarks/forward_kernels.py``).
    """

    def __init__(self, spec: ModelSpec, dtype=np.float64, dense_products: bool = False):
        self.spec = spec
        self.dtype = np.dtype(dtype)
        self.dense_products = bool(dense_products)
        self.activations = [get_activation(layer.activation) for layer in spec.layers]
        blocks: list[Block] = []
        offset = 0
        for li, layer in enumerate(spec.layers):
            if layer.tt is not None:
                for k, shape in enumerate(layer.tt.core_shapes):
                    blocks.append(Block(li, "core", k, offset, shape))
                    offset += blocks[-1].size
            else:
                shape = (layer.out_features, layer.in_features)
                blocks.append(Block(li, "weight", 0, offset, shape))
                offset += blocks[-1].size
            if layer.bias:
                blocks.append(Block(li, "bias", 0, offset, (layer.out_features,)))
                offset += blocks[-1].size
        self.blocks = blocks
        self.dim = offset
        self._block_starts = np.array([b.offset for b in blocks])

    # -- parameters ---------------------------------------------------------------------------

    def init_params(self, rng: np.random.Generator) -> np.ndarray:
        """Random parameters: weights scaled like a dense layer (``spec.init``), zero biases."""
        theta = np.zeros(self.dim, dtype=self.dtype)
        for params in self.unpack(theta):
            layer = params.spec
            if params.cores is not None:
                tt = TTMatrix.random(layer.tt, rng, scheme=self.spec.init, dtype=self.dtype)
                for view, core in zip(params.cores, tt.cores):
                    view[...] = core
            else:
                std = init_std(layer.in_features, layer.out_features, self.spec.init)
                params.weight[...] = rng.standard_normal(params.weight.shape) * std
        return theta

    def check_params(self, theta: np.ndarray) -> None:
        if theta.shape != (self.dim,):
            raise ValueError(
                f"parameter vector of shape {theta.shape} does not fit model {self.spec.name!r} "
                f"with {self.dim} parameters"
            )

    def unpack(self, theta: np.ndarray) -> list[LayerParams]:
        """Per-layer views of ``theta`` (writes through)."""
        self.check_params(theta)
        out = [LayerParams(layer, [] if layer.tt is not None else None, None, None,
                           self.dense_products)
               for layer in self.spec.layers]
        for b in self.blocks:
            view = theta[b.offset : b.offset + b.size].reshape(b.shape)
            target = out[b.layer]
            if b.kind == "core":
                target.cores.append(view)
            elif b.kind == "weight":
                target.weight = view
            else:
                target.bias = view
        return out

    def locate(self, index: int) -> tuple[Block, tuple[int, ...]]:
        """Block holding ``theta[index]`` and the position inside that block."""
        if not 0 <= index < self.dim:
            raise IndexError(f"parameter index {index} is outside 0..{self.dim - 1}")
        block = self.blocks[int(np.searchsorted(self._block_starts, index, side="right")) - 1]
        return block, tuple(int(i) for i in np.unravel_index(index - block.offset, block.shape))

    # -- forward and backward -----------------------------------------------------------------

    def _check_inputs(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != self.spec.in_features:
            raise ValueError(
                f"input of shape {x.shape} does not fit model {self.spec.name!r}, which takes "
                f"(batch, {self.spec.in_features})"
            )
        return x

    def forward(self, theta: np.ndarray, x: np.ndarray, start: int = 0) -> np.ndarray:
        """Outputs of the network for a batch ``x`` of shape ``(B, in_features)``.

        With ``start > 0``, ``x`` is the input of layer ``start`` and only the layers from there
        on run.
        """
        params = self.unpack(theta)
        h = self._check_inputs(x) if start == 0 else x
        for li in range(start, len(params)):
            z = params[li].affine(h)
            h = self.activations[li].fn(z, out=z)
        return h

    def trace(self, theta: np.ndarray, x: np.ndarray) -> list[LayerTrace]:
        """Forward pass that keeps every layer's input, pre-activation and TT states."""
        params = self.unpack(theta)
        h = self._check_inputs(x)
        traces = []
        for li, p in enumerate(params):
            states = None
            if p.cores is not None and not self.dense_products:
                z, states = tt_forward(p.cores, h, keep_states=True)
            else:
                z = h @ p.dense_weight().T
            if p.bias is not None:
                z = z + p.bias
            post = self.activations[li].fn(z)
            traces.append(LayerTrace(h, z, post, states))
            h = post
        return traces

    def gradient(
        self, theta: np.ndarray, x: np.ndarray, grad_out_fn
    ) -> tuple[np.ndarray, np.ndarray]:
        """Back-propagated gradient (first-order baseline).

        Parameters
        ----------
        grad_out_fn : callable
            Maps the outputs ``(B, out)`` to the gradient of the loss with respect to them.

        Returns
        -------
        grad : ndarray, shape (dim,)
        outputs : ndarray, shape (B, out)
        """
        params = self.unpack(theta)
        traces = self.trace(theta, x)
        grad = np.zeros_like(theta)
        views = self.unpack(grad)
        g_post = grad_out_fn(traces[-1].post)
        for li in range(len(params) - 1, -1, -1):
            p, t, gv = params[li], traces[li], views[li]
            g_pre = g_post * self.activations[li].grad(t.pre)
            if gv.bias is not None:
                gv.bias[...] = g_pre.sum(axis=0)
            if p.cores is not None and self.dense_products:
                weight = p.dense_weight()
                for view, g in zip(gv.cores, tt_dense_grad_to_cores(p.cores, g_pre.T @ t.inputs)):
                    view[...] = g
                if li > 0:
                    g_post = g_pre @ weight
            elif p.cores is not None:
                responses = tt_core_responses(t.states, tt_right_envs(p.cores))
                for view, g in zip(gv.cores, tt_core_grads(responses, p.spec.out_modes, g_pre)):
                    view[...] = g
                if li > 0:
                    g_post = tt_forward(tt_transpose(p.cores), g_pre)
            else:
                gv.weight[...] = g_pre.T @ t.inputs
                if li > 0:
                    g_post = g_pre @ p.weight
        return grad, traces[-1].post

    # -- counts -------------------------------------------------------------------------------

    def block_sizes(self) -> Sequence[int]:
        return [b.size for b in self.blocks]
