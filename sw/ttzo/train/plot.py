"""Training-curve plots from a metrics log."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plot_training_curve"]


def plot_training_curve(records: Sequence[dict[str, Any]], path: str | os.PathLike,
                        title: str = "") -> None:
    """Plot loss and accuracy against forward queries, one colour band per phase.

    ``records`` are metrics-log entries with ``queries``, ``train_loss``, ``val_loss`` and
    optionally ``val_accuracy``/``test_accuracy`` and ``phase``.
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
    for key, label in (("val_accuracy", "validation"), ("test_accuracy", "test")):
        if key in records[0]:
            ax_acc.plot(queries, [100 * r[key] for r in records], label=f"{label} accuracy")
    ax_acc.set_xlabel("forward queries")
    ax_acc.set_ylabel("accuracy (%)")
    for ax in (ax_loss, ax_acc):
        prev = None
        for r in records:
            if prev is not None and r.get("phase") != prev.get("phase"):
                ax.axvline(prev["queries"], color="grey", linestyle=":", linewidth=1)
            prev = r
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
