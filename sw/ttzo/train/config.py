"""Training configurations: TOML files turned into a model, phases and loop settings.

A config has a top-level ``seed``, a model, a ``[train]`` table and one ``[[phases]]`` entry
per optimizer phase. The model is either a ``[model]`` table (see
:meth:`ttzo.model.spec.ModelSpec.from_dict`) or a string naming a model file: a shipped one
(``model = "mnist-paper"`` reads ``ttzo/configs/models/mnist-paper.toml``) or a path relative to
the config file. Sharing model files keeps one description per network::

    [train]
    epochs = 12            # total, over all phases
    evals_per_epoch = 2
    val_size = 5000
    incremental = true     # fast coordinate queries

    [[phases]]
    name = "coarse"
    batch_size = 64
    lr = 0.005
    max_epochs = 1         # and/or patience = 3 (evaluations without a better val loss)
    estimator = { kind = "signrge", mu = 0.1, n_directions = 10, scheme = "forward" }
    optimizer = { kind = "adam" }
    schedule = { kind = "constant" }

An estimator of kind ``backprop`` gives the first-order baseline.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..model.spec import ModelSpec
from ..optim.optimizers import make_optimizer
from ..optim.schedules import make_schedule
from ..zo.estimators import make_estimator
from .firstorder import Backprop
from .loop import Phase

__all__ = ["RunConfig", "load_config", "builtin_config"]

_TOP_KEYS = {"seed", "model", "train", "phases", "pinn"}
_TRAIN_KEYS = {"epochs", "evals_per_epoch", "val_size", "incremental"}
_PHASE_KEYS = {"name", "batch_size", "lr", "max_epochs", "patience", "min_delta", "estimator",
               "optimizer", "schedule"}


def _reject_unknown(where: str, table: Mapping[str, Any], known: set[str]) -> None:
    unknown = set(table) - known
    if unknown:
        raise ValueError(f"{where}: unknown setting(s) {sorted(unknown)}; known: {sorted(known)}")


@dataclass
class RunConfig:
    """A validated configuration; ``raw`` is the parsed TOML (with overrides applied)."""

    raw: dict[str, Any]
    model: ModelSpec
    seed: int
    epochs: float
    evals_per_epoch: int
    val_size: int
    incremental: bool
    pinn: Any = None  # PinnSettings of a PDE config, None otherwise

    def build_phases(self, dim: int) -> list[Phase]:
        """Fresh phase objects (estimator, optimizer state, schedule) for a model of ``dim``."""
        phases = []
        for i, entry in enumerate(self.raw["phases"]):
            where = f"phases[{i}]"
            est = dict(entry.get("estimator", {}))
            kind = est.pop("kind", None)
            if kind is None:
                raise ValueError(f"{where}.estimator needs a kind (signrge, rge, cge, backprop)")
            estimator = Backprop() if kind == "backprop" else make_estimator(kind, **est)
            opt = dict(entry.get("optimizer", {"kind": "adam"}))
            optimizer = make_optimizer(opt.pop("kind", "adam"), dim, **opt)
            if "lr" not in entry:
                raise ValueError(f"{where} needs a learning rate 'lr'")
            schedule = make_schedule(entry["lr"], **entry.get("schedule", {}))
            phases.append(Phase(
                name=entry.get("name", f"phase{i}"), estimator=estimator, optimizer=optimizer,
                schedule=schedule, batch_size=entry.get("batch_size", 64),
                max_epochs=entry.get("max_epochs"), patience=entry.get("patience"),
                min_delta=entry.get("min_delta", 1e-4),
            ))
        return phases

    @property
    def forward_only(self) -> bool:
        return all(p.get("estimator", {}).get("kind") != "backprop" for p in self.raw["phases"])


def load_model_file(name: str, base: Path | None = None) -> dict[str, Any]:
    """The model table in a model file: a shipped name or a path (relative to ``base``)."""
    candidates = []
    if base is not None:
        candidates.append(base / name)
    candidates.append(Path(name))
    candidates.append(Path(str(resources.files("ttzo") / "configs" / "models" / f"{name}.toml")))
    for path in candidates:
        if path.is_file():
            try:
                return tomllib.loads(path.read_text())
            except tomllib.TOMLDecodeError as err:
                raise ValueError(f"model file {path} is not valid TOML: {err}") from None
    shipped = sorted(p.stem for p in candidates[-1].parent.glob("*.toml"))
    raise ValueError(f"model {name!r} is neither a file nor a shipped model ({shipped})")


def parse_config(raw: Mapping[str, Any], base: Path | None = None) -> RunConfig:
    """Validate a parsed config; errors name the bad setting.

    A string ``model`` is replaced by the table of the model file it names, so the stored
    config (and a checkpoint's fingerprint) holds the full description.
    """
    raw = copy.deepcopy(dict(raw))
    _reject_unknown("config", raw, _TOP_KEYS)
    if "model" not in raw:
        raise ValueError("config has no model (a [model] table or model = \"<file>\")")
    if isinstance(raw["model"], str):
        raw["model"] = load_model_file(raw["model"], base)
    model = ModelSpec.from_dict(raw["model"])
    train = raw.setdefault("train", {})
    _reject_unknown("[train]", train, _TRAIN_KEYS)
    phases = raw.get("phases")
    if not phases:
        raise ValueError("config has no [[phases]]")
    for i, entry in enumerate(phases):
        _reject_unknown(f"phases[{i}]", entry, _PHASE_KEYS)
        for key in ("estimator", "optimizer", "schedule"):
            if not isinstance(entry.get(key, {}), Mapping):
                raise ValueError(f"phases[{i}].{key} must be a table (with --set, JSON such as "
                                 f"{{\"kind\": \"cosine\"}}, or set its keys one by one), not "
                                 f"{entry[key]!r}")
    cfg = RunConfig(
        raw=raw, model=model, seed=int(raw.get("seed", 0)),
        epochs=float(train.get("epochs", 1)), evals_per_epoch=int(train.get("evals_per_epoch", 1)),
        val_size=int(train.get("val_size", 5000)), incremental=bool(train.get("incremental", True)),
    )
    if not cfg.epochs > 0:
        raise ValueError(f"[train] epochs must be positive, not {cfg.epochs!r}")
    if cfg.evals_per_epoch < 1:
        raise ValueError(f"[train] evals_per_epoch must be at least 1, not {cfg.evals_per_epoch!r}")
    if cfg.val_size < 1:
        raise ValueError(f"[train] val_size must be positive, not {cfg.val_size!r}")
    if "pinn" in raw:
        from ..tasks.pde import PinnSettings

        cfg.pinn = PinnSettings.from_dict(raw["pinn"])
    cfg.build_phases(model.params)  # fail now, not after the data has loaded
    return cfg


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """Read a TOML config file and apply ``overrides`` (dotted keys, e.g. ``train.epochs``)."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"config file {path} is not valid TOML: {err}") from None
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, value)
    try:
        return parse_config(raw, base=path.parent)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.0.c``-style paths; numbers index into arrays such as ``phases``."""
    node: Any = raw
    *parents, leaf = dotted.split(".")
    try:
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        if isinstance(node, list):
            node[int(leaf)] = value
        else:
            node[leaf] = value
    except (ValueError, IndexError, AttributeError, TypeError):
        raise ValueError(f"cannot set {dotted!r}: no such place in the config") from None


def builtin_config(name: str) -> Path:
    """Path of a config shipped with ttzo (``ttzo/configs/<name>.toml``)."""
    path = Path(str(resources.files("ttzo") / "configs" / f"{name}.toml"))
    if not path.is_file():
        shipped = sorted(p.stem for p in path.parent.glob("*.toml"))
        raise ValueError(f"no built-in config {name!r}; shipped: {shipped}")
    return path
