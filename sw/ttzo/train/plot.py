"""Training-curve plots from a metrics log."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plot_training_curve", "plot_solution_slice"]


def plot_training_curve(records: Sequence[dict[str, Any]], path: str | os.PathLike,
                        title: str = "") -> None:
    """Plot loss and accuracy (or a PDE's error) against forward queries, phases marked.

    ``records`` are metrics-log entries with ``queries``, ``train_loss``, ``val_loss`` and
    optionally ``val_accuracy``/``test_accuracy`` or ``test_rel_l2``, and ``phase``.
    """
    if not records:
        raise ValueError("no metrics to plot: the log is empty")
    queries = [r["queries"] for r in records]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot(queries, [r["train_loss"] for r in records], label="train loss")
    ax_loss.plot(queries, [r["val_loss"] for r in records], label="validation loss")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("forward queries")
    ax_loss.set_ylabel("loss")
    if "test_rel_l2" in records[0]:  # a PDE: the error against the exact solution
        ax_acc.plot([r["step"] for r in records], [r["test_rel_l2"] for r in records],
                    label="relative L2 error")
        ax_acc.set_yscale("log")
        ax_acc.set_ylabel("relative L2 error")
        ax_acc.set_xlabel("iteration")
    else:
        for key, label in (("val_accuracy", "validation"), ("test_accuracy", "test")):
            if key in records[0]:
                ax_acc.plot(queries, [100 * r[key] for r in records], label=f"{label} accuracy")
        ax_acc.set_ylabel("accuracy (%)")
        ax_acc.set_xlabel("forward queries")
    for ax in (ax_loss, ax_acc):
        prev = None
        for r in records:
            if prev is not None and r.get("phase") != prev.get("phase"):
                at = prev["step"] if ax is ax_acc and "test_rel_l2" in r else prev["queries"]
                ax.axvline(at, color="grey", linestyle=":", linewidth=1)
            prev = r
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_solution_slice(task, theta, path: str | os.PathLike, points: int = 101) -> None:
    """Network solution, exact solution and error on a plane through the domain's centre.

    The plane spans the first coordinate and the last one (time for time-dependent problems);
    the others sit at the centre of the domain. ``task`` is a
    :class:`~ttzo.tasks.pde.PDETask`.
    """
    import numpy as np

    problem = task.problem
    low, high = np.array(problem.domain.low), np.array(problem.domain.high)
    a, b = 0, problem.dim - 1
    ga, gb = np.meshgrid(np.linspace(low[a], high[a], points), np.linspace(low[b], high[b], points))
    x = np.tile((low + high) / 2, (ga.size, 1))
    x[:, a], x[:, b] = ga.ravel(), gb.ravel()
    panels = [("network u", task.predict(theta, x).reshape(ga.shape))]
    if problem.exact is not None:
        exact = problem.exact(x).reshape(ga.shape)
        panels += [("exact u", exact), ("|error|", np.abs(panels[0][1] - exact))]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4))
    for ax, (title, values) in zip(np.atleast_1d(axes), panels):
        image = ax.pcolormesh(ga, gb, values, shading="auto")
        fig.colorbar(image, ax=ax)
        ax.set_title(title)
        ax.set_xlabel(problem.coordinates[a])
        ax.set_ylabel(problem.coordinates[b])
    fig.suptitle(f"{problem.name}: slice through the centre")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
