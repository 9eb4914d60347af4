"""The result of a training run: one typed record that ``ttzo train`` writes (``result.json``,
``--result-json``) and the benchmarks and ``docs/results.md`` read."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ttzo.records import record_from_dict, write_text_atomic

__all__ = ["TrainingResult"]


@dataclass
class TrainingResult:
    """A run: what was trained, to what quality, at what cost in forward queries and time.

    MNIST runs fill ``test_accuracy`` and ``val_accuracy``, PDE runs ``test_rel_l2``,
    ``val_loss`` and ``derivatives``; a run warm-started from a checkpoint has ``init_from``
    and the ``total_*`` fields (its whole history); a run on a device has the ``device*``
    fields (where it ran, memory writes, what the link cost). Absent fields are ``None`` and
    are left out of the JSON.
    """

    task: str
    config: str
    params_tt: int
    params_dense: int
    compression: float
    forward_queries: int
    steps: int
    epochs: float
    wall_time_s: float
    seed: int
    command: str
    #: forward evaluations only: no back-propagated gradient, and (PINNs) Stein derivatives
    forward_only: bool
    finished: bool
    test_accuracy: float | None = None
    val_accuracy: float | None = None
    test_rel_l2: float | None = None
    val_loss: float | None = None
    derivatives: str | None = None
    init_from: dict[str, Any] | None = None
    total_forward_queries: int | None = None
    total_steps: int | None = None
    total_wall_time_s: float | None = None
    session_time_s: float | None = None
    phase_switches: list[dict[str, Any]] | None = None
    device: str | None = None
    device_param_writes: int | None = None
    device_input_loads: int | None = None
    device_retransmissions: int | None = None
    device_link: dict[str, Any] | None = None
    date: str | None = None
    machine: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingResult:
        """The result in ``data`` (a ``result.json``, or a benchmark record holding one and
        more); a missing required field raises a ``ValueError`` naming it."""
        return record_from_dict(cls, data, "training result")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data, without the fields this run does not have."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def write(self, path: Path) -> None:
        """Write the result as JSON through a temporary file (never left half-written)."""
        write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    def metric_text(self) -> str:
        """The run's quality in words: test accuracy (MNIST) or relative L2 error (PDEs)."""
        if self.task == "mnist":
            acc = self.test_accuracy
            return "test accuracy " + ("not evaluated yet" if acc is None else f"{100 * acc:.2f} %")
        err = self.test_rel_l2
        return "relative L2 error " + ("not evaluated yet" if err is None else f"{err:.3e}")
