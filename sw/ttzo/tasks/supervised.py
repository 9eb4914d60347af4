"""Supervised learning on arrays held in memory: the task the training loop runs."""

from __future__ import annotations

import numpy as np

from ttzo.model.losses import get_loss
from ttzo.model.mlp import TTMLP
from ttzo.zo.objective import ModelObjective

__all__ = ["SupervisedTask"]


class SupervisedTask:
    """Minimise a loss of ``model`` over ``(x_train, y_train)``; report held-out metrics.

    Parameters
    ----------
    model : TTMLP
    train, val : tuple of ndarray
        ``(inputs, targets)``; the validation loss drives the hybrid schedule's plateau test.
    test : tuple of ndarray, optional
        Reported alongside, never used for decisions.
    loss : str
        ``cross_entropy`` (targets are class indices; accuracy is reported too) or ``mse``.
    incremental : bool
        Serve coordinate queries incrementally
        (see :class:`~ttzo.model.coordinate.CoordinateQueries`).
    eval_batch : int
        Samples per forward pass during evaluation.
    """

    name = "supervised"

    def __init__(self, model: TTMLP, train, val, test=None, loss: str = "cross_entropy",
                 incremental: bool = True, eval_batch: int = 5000):
        self.model = model
        self.dim = model.dim
        self.loss = get_loss(loss)
        self.splits = {"train": train, "val": val}
        if test is not None:
            self.splits["test"] = test
        for split, (x, y) in self.splits.items():
            if x.ndim != 2 or x.shape[1] != model.spec.in_features or len(y) != len(x):
                raise ValueError(
                    f"{split} split: inputs of shape {x.shape} with {len(y)} targets do not fit "
                    f"a model with {model.spec.in_features} inputs"
                )
        self.x_train, self.y_train = train
        self.n_train = self.x_train.shape[0]
        self.incremental = incremental
        self.eval_batch = eval_batch

    def init_params(self, rng: np.random.Generator) -> np.ndarray:
        return self.model.init_params(rng)

    def objective(self, indices: np.ndarray) -> ModelObjective:
        return ModelObjective(self.model, self.x_train[indices], self.y_train[indices], self.loss,
                              incremental=self.incremental)

    def predict(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Model outputs used for evaluation (the float model here)."""
        return self.model.forward(theta, x)

    def _split_metrics(self, theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
        loss_sum, correct = 0.0, 0
        for lo in range(0, x.shape[0], self.eval_batch):
            out = self.predict(theta, x[lo : lo + self.eval_batch])
            yb = y[lo : lo + self.eval_batch]
            loss_sum += float(self.loss.fn(out, yb)) * len(yb)
            if self.loss.name == "cross_entropy":
                correct += int((out.argmax(axis=1) == yb).sum())
        metrics = {"loss": loss_sum / len(y)}
        if self.loss.name == "cross_entropy":
            metrics["accuracy"] = correct / len(y)
        return metrics

    def evaluate(self, theta: np.ndarray) -> dict[str, float]:
        """``val_loss`` (and ``val_accuracy``, ``test_*``) at ``theta``."""
        out = {}
        for split in ("val", "test"):
            if split in self.splits:
                for key, value in self._split_metrics(theta, *self.splits[split]).items():
                    out[f"{split}_{key}"] = value
        return out
