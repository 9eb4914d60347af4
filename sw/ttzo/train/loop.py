"""The training loop shared by every task and every optimizer phase.

A run is a sequence of :class:`Phase` s (for the hybrid schedule: signRGE coarse training, then
CGE fine-tuning). The loop moves to the next phase when the validation loss has not improved for
``patience`` evaluations or the phase has used its epoch budget. All randomness (batch order,
query seeds, coordinate samples) is derived from ``(seed, epoch)`` and ``(seed, step)``, so a run
resumed from a checkpoint continues bit for bit as if it had never stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ttzo.optim.optimizers import Optimizer
from ttzo.optim.schedules import Schedule
from ttzo.zo.directions import query_seed
from ttzo.zo.estimators import Estimator
from ttzo.zo.objective import Objective, ParallelQueries

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .metrics import MetricsLog

__all__ = ["Phase", "Task", "TrainState", "Trainer"]

# Held-out metrics shown on the progress bar: (record key, label, format).
_PROGRESS_METRICS = (("val_accuracy", "val_acc", "{:.4f}"), ("test_rel_l2", "rel_l2", "{:.3e}"))


class Task(Protocol):
    """What the loop needs from a learning problem."""

    name: str
    dim: int
    n_train: int

    def init_params(self, rng: np.random.Generator) -> np.ndarray: ...

    def objective(self, indices: np.ndarray) -> Objective:
        """The loss on the training samples ``indices``."""

    def evaluate(self, theta: np.ndarray) -> dict[str, float]:
        """Held-out metrics; must include ``val_loss``."""


@dataclass
class Phase:
    """One stage of training: an estimator, an optimizer, a schedule, a batch size.

    Parameters
    ----------
    name : str
    estimator : Estimator
    optimizer : Optimizer
    schedule : Schedule
        Learning rate against epochs since the phase began.
    batch_size : int
    max_epochs : float or None
        Leave the phase after this many epochs (the last phase runs to the end of training).
    patience : int or None
        Leave the phase after this many evaluations without a new best validation loss.
    min_delta : float
        Relative improvement of the validation loss that counts as new best.
    """

    name: str
    estimator: Estimator
    optimizer: Optimizer
    schedule: Schedule
    batch_size: int
    max_epochs: float | None = None
    patience: int | None = None
    min_delta: float = 1e-4

    def __post_init__(self) -> None:
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ValueError(f"phase {self.name!r}: batch_size must be a positive integer, "
                             f"not {self.batch_size!r}")


@dataclass
class TrainState:
    """Everything that changes during a run, besides ``theta`` and optimizer states."""

    phase: int = 0
    epoch: int = 0
    sample: int = 0  # position in this epoch's permutation
    step: int = 0
    queries: int = 0
    phase_start: float = 0.0  # epochs done when the phase began
    best_val: float = float("inf")
    bad_evals: int = 0
    next_eval: float = 0.0  # progress (in epochs) at which to evaluate next
    elapsed_s: float = 0.0
    train_loss_sum: float = 0.0
    train_loss_count: int = 0
    phase_switches: list[dict[str, Any]] = field(default_factory=list)


class Trainer:
    """Runs phases over a task with evaluation, metrics, checkpoints and exact resume.

    Parameters
    ----------
    task : Task
    phases : sequence of Phase
    epochs : float
        Total training length in epochs over ``task.n_train`` samples.
    seed : int
    evals_per_epoch : int
        Validation evaluations (metrics record, plateau check, checkpoint) per epoch.
    run_dir : path-like or None
        Where ``checkpoint.npz`` and ``metrics.jsonl`` go; ``None`` keeps nothing on disk.
    fingerprint : dict
        The run's configuration; a checkpoint made with another one is refused on resume.
    progress : callable or None
        ``progress(samples_done, postfix_dict)`` after each step, for a progress bar.
    workers : int
        Processes that share a step's random-direction queries (:class:`ParallelQueries`);
        the results do not depend on it.
    """

    def __init__(self, task: Task, phases: Sequence[Phase], epochs: float, seed: int = 0,
                 evals_per_epoch: int = 1, run_dir: str | Path | None = None,
                 fingerprint: dict[str, Any] | None = None,
                 progress: Callable[[int, dict[str, Any]], None] | None = None,
                 workers: int = 1):
        if not phases:
            raise ValueError("training needs at least one phase")
        if not epochs > 0:
            raise ValueError(f"epochs must be positive, not {epochs!r}")
        if int(evals_per_epoch) != evals_per_epoch or evals_per_epoch < 1:
            raise ValueError(f"evals_per_epoch must be a positive integer, not {evals_per_epoch!r}")
        for phase in phases:
            if phase.batch_size > task.n_train:
                raise ValueError(f"phase {phase.name!r}: batch_size {phase.batch_size} exceeds "
                                 f"the {task.n_train} training samples")
        self.task = task
        self.phases = list(phases)
        self.epochs = float(epochs)
        self.seed = int(seed)
        self.eval_interval = 1.0 / evals_per_epoch
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.fingerprint = json.loads(json.dumps(fingerprint or {}))
        self.progress = progress
        if int(workers) != workers or workers < 1:
            raise ValueError(f"workers must be a positive integer, not {workers!r}")
        self.workers = int(workers)
        self.theta = task.init_params(np.random.default_rng(query_seed(self.seed, 0x1A17)))
        self.state = TrainState(next_eval=self.eval_interval)
        self.metrics: MetricsLog | None = None
        self.last_eval: dict[str, Any] = {}
        self._order: np.ndarray | None = None
        self._order_epoch = -1

    # -- bookkeeping --------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path | None:
        return self.run_dir / "checkpoint.npz" if self.run_dir else None

    @property
    def metrics_path(self) -> Path | None:
        return self.run_dir / "metrics.jsonl" if self.run_dir else None

    @property
    def forward_only(self) -> bool:
        return all(p.estimator.forward_only for p in self.phases)

    def _fingerprint_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.fingerprint, sort_keys=True).encode()).hexdigest()

    def progress_epochs(self) -> float:
        return self.state.epoch + self.state.sample / self.task.n_train

    def save(self) -> None:
        if self.checkpoint_path is None:
            return
        arrays = {"theta": self.theta}
        for i, phase in enumerate(self.phases):
            for key, value in phase.optimizer.state_dict().items():
                arrays[f"opt{i}.{key}"] = np.asarray(value)
        meta = {"state": asdict(self.state), "fingerprint": self.fingerprint,
                "fingerprint_sha256": self._fingerprint_hash()}
        save_checkpoint(self.checkpoint_path, arrays, meta)

    def _checked_theta(self, arrays: dict[str, np.ndarray], path: Path) -> np.ndarray:
        theta = arrays.get("theta")
        if theta is None or theta.shape != self.theta.shape:
            raise CheckpointError(
                f"checkpoint {path} holds parameters of shape "
                f"{None if theta is None else theta.shape}, expected {self.theta.shape}"
            )
        if theta.dtype != self.theta.dtype:
            raise CheckpointError(f"checkpoint {path} holds parameters of dtype {theta.dtype}, "
                                  f"expected {self.theta.dtype}")
        bad = np.flatnonzero(~np.isfinite(theta))
        if bad.size:
            raise CheckpointError(f"checkpoint {path}: parameter {bad[0]} is {theta[bad[0]]} "
                                  f"({bad.size} not finite)")
        return theta.copy()

    def warm_start(self, path: str | Path) -> dict[str, Any]:
        """Start from the parameters of another run's checkpoint (a fine-tuning run).

        Only the parameters are taken: steps, queries and optimizer state start afresh. The
        source (a hash of its parameters, its steps and queries) joins the fingerprint, so a
        resume needs the same start.

        Returns
        -------
        dict
            ``theta_sha256`` of the parameters taken, and the ``steps``, ``queries`` and
            ``wall_time_s`` that produced them (the source run's, plus those of any run it
            was itself started from).

        Raises
        ------
        CheckpointError
            If the checkpoint is missing, damaged or holds parameters of another shape.
        """
        path = Path(path)
        arrays, meta = load_checkpoint(path)
        self.theta = self._checked_theta(arrays, path)
        # Totals up to the source's checkpoint, including any run it was itself started from.
        state = meta.get("state", {})
        before = meta.get("fingerprint", {}).get("init_from", {})
        source = {"theta_sha256": hashlib.sha256(self.theta.tobytes()).hexdigest(),
                  "steps": int(state.get("step", 0)) + before.get("steps", 0),
                  "queries": int(state.get("queries", 0)) + before.get("queries", 0),
                  "wall_time_s": float(state.get("elapsed_s", 0.0))
                  + before.get("wall_time_s", 0.0)}
        self.fingerprint["init_from"] = source
        return source

    def resume(self) -> None:
        """Load ``run_dir/checkpoint.npz`` and continue from it.

        Raises
        ------
        CheckpointError
            If there is no checkpoint, it is damaged, or it was made with another config.
        """
        if self.checkpoint_path is None:
            raise CheckpointError("cannot resume without a run folder")
        arrays, meta = load_checkpoint(self.checkpoint_path)
        if meta.get("fingerprint_sha256") != self._fingerprint_hash():
            theirs, ours = meta.get("fingerprint", {}), self.fingerprint
            diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
            hint = ("resume a fine-tuning run from the checkpoint it started from (--init-from)"
                    if "init_from" in diff else "start a new run folder instead")
            raise CheckpointError(
                f"checkpoint {self.checkpoint_path} was made with a different configuration "
                f"(differs in: {', '.join(diff) or 'unknown'}); {hint}"
            )
        self.theta = self._checked_theta(arrays, self.checkpoint_path)
        for i, phase in enumerate(self.phases):
            prefix = f"opt{i}."
            phase.optimizer.load_state_dict(
                {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            )
        self.state = TrainState(**meta["state"])

    # -- the loop -----------------------------------------------------------------------------

    def _permutation(self, epoch: int) -> np.ndarray:
        """This epoch's sample order (drawn once per epoch, not once per step)."""
        if self._order_epoch != epoch:
            rng = np.random.default_rng(query_seed(self.seed, 0xE9, epoch))
            self._order = rng.permutation(self.task.n_train)
            self._order_epoch = epoch
        return self._order

    def _evaluate(self) -> dict[str, Any]:
        st = self.state
        metrics = self.task.evaluate(self.theta)
        phase = self.phases[st.phase]
        record = {
            "step": st.step,
            "epoch": round(self.progress_epochs(), 6),
            "phase": phase.name,
            "estimator": phase.estimator.name,
            "queries": st.queries,
            "lr": phase.schedule(self.progress_epochs() - st.phase_start),
            "train_loss": st.train_loss_sum / max(st.train_loss_count, 1),
            "wall_time_s": round(st.elapsed_s, 3),
            **metrics,
        }
        st.train_loss_sum, st.train_loss_count = 0.0, 0
        if self.metrics is not None:
            self.metrics.write(record)
        self.last_eval = record
        return record

    def _maybe_switch(self, val_loss: float) -> None:
        st = self.state
        phase = self.phases[st.phase]
        if val_loss < st.best_val * (1 - phase.min_delta):
            st.best_val, st.bad_evals = val_loss, 0
        else:
            st.bad_evals += 1
        if st.phase + 1 >= len(self.phases):
            return
        done = self.progress_epochs() - st.phase_start
        plateau = phase.patience is not None and st.bad_evals >= phase.patience
        budget = phase.max_epochs is not None and done >= phase.max_epochs - 1e-9
        if plateau or budget:
            st.phase_switches.append({"from": phase.name, "step": st.step,
                                      "epoch": round(self.progress_epochs(), 6),
                                      "reason": "plateau" if plateau else "epoch budget"})
            st.phase += 1
            st.phase_start = self.progress_epochs()
            st.best_val, st.bad_evals = float("inf"), 0

    def run(self, resume: bool = False, stop_after_steps: int | None = None) -> dict[str, Any]:
        """Train to the end (or for ``stop_after_steps`` more steps) and return the last record."""
        if resume:
            self.resume()
        if self.metrics_path is not None:
            self.metrics = MetricsLog(self.metrics_path, self.state.step if resume else None)
        st = self.state
        n = self.task.n_train
        steps_left = stop_after_steps
        started = time.perf_counter()
        base_elapsed = st.elapsed_s
        while self.progress_epochs() < self.epochs - 1e-12 and steps_left != 0:
            phase = self.phases[st.phase]
            batch = phase.batch_size
            if st.sample + batch > n:  # drop the incomplete last batch of the epoch
                st.epoch += 1
                st.sample = 0
                continue
            indices = self._permutation(st.epoch)[st.sample : st.sample + batch]
            objective = self.task.objective(indices)
            if self.workers > 1:
                objective = ParallelQueries(objective, self.workers)
            est = phase.estimator.estimate(objective, self.theta, query_seed(self.seed, st.step))
            lr = phase.schedule(self.progress_epochs() - st.phase_start)
            phase.optimizer.step(self.theta, est.grad, lr)
            st.queries += est.queries
            st.step += 1
            st.sample += batch
            if st.sample + phase.batch_size > n:
                st.epoch += 1
                st.sample = 0
            if np.isfinite(est.loss):
                st.train_loss_sum += est.loss
                st.train_loss_count += 1
            st.elapsed_s = base_elapsed + time.perf_counter() - started
            done = self.progress_epochs()
            final = done >= self.epochs - 1e-12
            if done >= st.next_eval - 1e-12 or final:
                while st.next_eval <= done + 1e-12:
                    st.next_eval += self.eval_interval
                record = self._evaluate()
                self._maybe_switch(record["val_loss"])
                self.save()
            if self.progress is not None:
                self.progress(st.epoch * n + st.sample,
                              {"phase": phase.name, "loss": f"{est.loss:.4g}",
                               **{label: fmt.format(self.last_eval[key])
                                  for key, label, fmt in _PROGRESS_METRICS
                                  if key in self.last_eval}})
            if steps_left is not None:
                steps_left -= 1
        if self.progress_epochs() < self.epochs - 1e-12:
            self.save()  # stopped early on request: keep the state, log nothing extra
        elif not self.last_eval or self.last_eval["step"] != st.step:
            self._evaluate()
            self.save()
        return self.last_eval
