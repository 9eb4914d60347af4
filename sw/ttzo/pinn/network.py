"""The solution candidate ``u(theta, x)``: a TT-MLP with one output behind a problem's ansatz."""

from __future__ import annotations

import warnings

import autograd.numpy as anp
import numpy as np
from autograd import elementwise_grad

from ttzo.model.mlp import TTMLP
from ttzo.tt.contract import tt_to_dense

from .problem import PDEProblem

__all__ = ["PinnNetwork"]

# The activations in autograd.numpy, for the autodiff baseline's traced forward.
_TRACED_ACTIVATIONS = {  # f, f', f''
    "sine": (anp.sin, anp.cos, lambda z: -anp.sin(z)),
    "tanh": (anp.tanh, lambda z: 1.0 - anp.tanh(z) ** 2,
             lambda z: -2.0 * anp.tanh(z) * (1.0 - anp.tanh(z) ** 2)),
    "relu": (lambda z: anp.maximum(z, 0.0), lambda z: 1.0 * (z > 0), lambda z: 0.0 * z),
    "none": (lambda z: z, lambda z: 1.0 + 0.0 * z, lambda z: 0.0 * z),
}


class PinnNetwork:
    """``u(theta, x) = problem.ansatz(x, NN(theta, x))``.

    Parameters
    ----------
    problem : PDEProblem
    model : TTMLP
        Takes ``problem.dim`` inputs and gives one output.
    chunk : int
        Points per forward pass. Bounds the memory of large stencil batches, and small enough
        blocks (a few thousand rows of a 512-wide layer) stay in cache between the matrix
        product, the bias and the activation: 4,096 runs a 100-point HJB query about 2 times
        faster than 32,768.

    Raises
    ------
    ValueError
        If the model's input or output size does not fit the problem.
    """

    def __init__(self, problem: PDEProblem, model: TTMLP, chunk: int = 4096):
        spec = model.spec
        if spec.in_features != problem.dim or spec.out_features != 1:
            raise ValueError(
                f"problem {problem.name!r} needs a network with {problem.dim} inputs and 1 "
                f"output, not {spec.in_features} inputs and {spec.out_features} outputs"
            )
        if int(chunk) != chunk or chunk < 1:
            raise ValueError(f"chunk must be a positive integer, not {chunk!r}")
        self.problem = problem
        self.model = model
        self.dim = model.dim
        self.chunk = int(chunk)

    def u(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        """``u`` at the points ``x`` ``(n, D)``, shape ``(n,)``."""
        x = np.asarray(x, dtype=self.model.dtype)
        out = np.empty(x.shape[0], dtype=self.model.dtype)
        for lo in range(0, x.shape[0], self.chunk):
            xs = x[lo : lo + self.chunk]
            out[lo : lo + self.chunk] = self.problem.solution(
                xs, self.model.forward(theta, xs)[:, 0])
        return out

    def u_stencil(self, theta: np.ndarray, x: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """``u`` at every ``x_p + offsets_j``, shape ``(P, J)``: a Stein stencil around points.

        The first layer's pre-activation is affine in the point, ``W (x_p + d_j) + b =
        (W x_p + b) + W d_j``, so it costs ``P + J`` products instead of ``P J``; after a sine
        first layer, ``sin(a + c) = sin a cos c + cos a sin c`` needs only ``P + J`` sines.
        The same values as :meth:`u` on the expanded points, up to rounding.
        """
        x = np.asarray(x, dtype=self.model.dtype)
        offsets = np.asarray(offsets, dtype=self.model.dtype)
        first = self.model.unpack(theta)[0]
        a_x, a_d = first.affine(x), first.matvec(offsets)
        sine = first.spec.activation == "sine"
        if sine:
            sin_x, cos_x, sin_d, cos_d = np.sin(a_x), np.cos(a_x), np.sin(a_d), np.cos(a_d)
        activation = self.model.activations[0].fn
        n_points, n_offsets = x.shape[0], offsets.shape[0]
        out = np.empty((n_points, n_offsets), dtype=self.model.dtype)
        step = max(1, self.chunk // n_offsets)
        for lo in range(0, n_points, step):
            hi = min(lo + step, n_points)
            if sine:
                h = sin_x[lo:hi, None] * cos_d + cos_x[lo:hi, None] * sin_d
            else:
                h = activation(a_x[lo:hi, None] + a_d)
            nn = self.model.forward(theta, h.reshape(-1, a_x.shape[1]), start=1)[:, 0]
            points = (x[lo:hi, None] + offsets).reshape(-1, x.shape[1])
            out[lo:hi] = self.problem.solution(points, nn).reshape(hi - lo, n_offsets)
        return out

    def vjp(self, theta: np.ndarray, x: np.ndarray, grad_u: np.ndarray) -> np.ndarray:
        """``sum_n grad_u[n] * d u(theta, x_n) / d theta`` by back-propagation (first order)."""
        x = np.asarray(x, dtype=self.model.dtype)
        total = np.zeros_like(theta)
        ansatz_slope = elementwise_grad(self.problem.solution, 1)
        for lo in range(0, x.shape[0], self.chunk):
            xs, gs = x[lo : lo + self.chunk], grad_u[lo : lo + self.chunk]

            def grad_out(out, xs=xs, gs=gs):
                return (gs * ansatz_slope(xs, out[:, 0]))[:, None]

            g, _ = self.model.gradient(theta, xs, grad_out)
            total += g
        return total

    def traced_u(self, theta, x):
        """``u`` written in :mod:`autograd.numpy` (dense weights rebuilt from the TT cores), so
        that autograd can differentiate it in ``x`` and ``theta``; small batches only."""
        h = x
        for params in self.model.unpack(theta):  # views of theta, traced like any slice
            weight = _traced_weight(params)
            h = _TRACED_ACTIVATIONS[params.spec.activation][0](_traced_affine(params, weight, h))
        return self.problem.solution(x, h[:, 0])

    def traced_jet(self, theta, x, space):
        """``NN``'s value ``(P,)``, gradient in ``x`` ``(P, D)`` and Laplacian over the
        coordinates ``space`` ``(P,)`` by forward-mode propagation, in :mod:`autograd.numpy`.

        Every layer carries its activations ``h``, their Jacobian ``J = dh/dx`` and their
        Laplacian ``L``: for ``a = W h + b``, ``J_a = W J`` and ``L_a = W L``; after ``f``,
        ``J = f'(a) J_a`` and ``L = f''(a) |J_a[space]|^2 + f'(a) L_a``. One pass with ``D + 2``
        channels instead of nested reverse passes per coordinate.
        """
        n_points, dim = x.shape
        space = list(space)
        h = x
        jac = anp.broadcast_to(anp.eye(dim), (n_points, dim, dim))  # (P, features, D)
        lap = anp.zeros((n_points, dim))
        for params in self.model.unpack(theta):
            weight = _traced_weight(params)
            a = _traced_affine(params, weight, h)
            jac_a = anp.matmul(weight, jac)
            lap_a = lap @ weight.T
            f, df, d2f = _TRACED_ACTIVATIONS[params.spec.activation]
            slope = df(a)
            h = f(a)
            lap = d2f(a) * anp.sum(jac_a[:, :, space] ** 2, axis=2) + slope * lap_a
            jac = slope[:, :, None] * jac_a
        return h[:, 0], jac[:, 0, :], lap[:, 0]

    def traced_fields(self, theta, x, space):
        """``u``, its gradient and its Laplacian over ``space`` at ``x``, exactly: the network's
        jet (:meth:`traced_jet`) through the ansatz ``u = A(x, NN)`` by the chain rule."""
        nn, jac, lap = self.traced_jet(theta, x, space)
        if self.problem.ansatz is None:
            return nn, jac, lap
        ansatz = self.problem.ansatz
        space = list(space)
        # partial derivatives of A(x, n); the ansatz is cheap and acts row by row (autograd
        # warns when one of them is identically zero, as for an ansatz linear in x or n)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Output seems independent of input")
            a_n, a_x = elementwise_grad(ansatz, 1), elementwise_grad(ansatz, 0)
            d_x = a_x(x, nn)
            d_n = a_n(x, nn)
            d_nn = elementwise_grad(a_n, 1)(x, nn)
            d_xn = elementwise_grad(a_n, 0)(x, nn)
            d_xx = 0.0
            for i in space:
                d_xx = d_xx + elementwise_grad(
                    lambda xx, i=i: a_x(xx, nn)[:, i])(x)[:, i]
        grad = d_x + d_n[:, None] * jac
        jac_s = jac[:, space]
        lap_u = (d_xx + 2.0 * anp.sum(d_xn[:, space] * jac_s, axis=1)
                 + d_nn * anp.sum(jac_s * jac_s, axis=1) + d_n * lap)
        return ansatz(x, nn), grad, lap_u


def _traced_weight(params):
    """A layer's dense weight in :mod:`autograd.numpy` (rebuilt from the TT cores)."""
    return params.weight if params.cores is None else tt_to_dense(params.cores, xp=anp)


def _traced_affine(params, weight, h):
    """``h @ W.T + b`` for one layer, traceable by autograd."""
    a = h @ weight.T
    return a + params.bias if params.bias is not None else a
