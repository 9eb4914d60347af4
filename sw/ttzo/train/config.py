"""Training configurations: TOML files turned into a model, phases and loop settings.

A config has a top-level ``seed``, a model, a ``[train]`` table and one ``[[phases]]`` entry
per optimizer phase. The model is either a ``[model]`` table (see
:meth:`ttzo.spec.model.ModelSpec.from_dict`) or a string naming a model file: a shipped one
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
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ttzo.optim.optimizers import make_optimizer
from ttzo.optim.schedules import make_schedule
from ttzo.spec.model import ModelSpec
from ttzo.zo.estimators import make_estimator

from .firstorder import Backprop
from .loop import Phase

__all__ = ["RunConfig", "load_config", "builtin_config"]

_TOP_KEYS = {"seed", "model", "train", "phases", "pinn"}
_TRAIN_KEYS = {"epochs", "evals_per_epoch", "val_size", "incremental"}
_PHASE_KEYS = {"name", "batch_size", "lr", "max_epochs", "patience", "min_delta", "estimator",
               "optimizer", "schedule"}


def integer(key: str, value: Any, low: int | None = None) -> int:
    """``value`` as an int (an integral number, not a bool); one error naming ``key``."""
    ok = (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer())
    if not ok or (low is not None and value < low):
        need = "an integer" if low is None else f"an integer of at least {low}"
        raise ValueError(f"{key} must be {need}, not {value!r}")
    return int(value)


def number(key: str, value: Any, low: float = -math.inf, strict: bool = False) -> float:
    """``value`` as a finite float above ``low`` (or at least ``low``); one error naming ``key``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or (strict and value == low):
        bound = "" if low == -math.inf else f" {'above' if strict else 'of at least'} {low:g}"
        raise ValueError(f"{key} must be a finite number{bound}, not {value!r}")
    return float(value)


def boolean(key: str, value: Any) -> bool:
    """``value`` if it is ``true`` or ``false``; one error naming ``key``."""
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, not {value!r}")
    return value


def _check_phase(where: str, entry: Mapping[str, Any]) -> None:
    """Types and ranges of a phase's own settings (its estimator, optimizer and schedule are
    checked by their makers)."""
    if not isinstance(entry.get("name", ""), str):
        raise ValueError(f"{where}.name must be a string, not {entry['name']!r}")
    if "lr" not in entry:
        raise ValueError(f"{where} needs a learning rate 'lr'")
    number(f"{where}.lr", entry["lr"], 0.0, strict=True)
    integer(f"{where}.batch_size", entry.get("batch_size", 64), 1)
    if entry.get("max_epochs") is not None:
        number(f"{where}.max_epochs", entry["max_epochs"], 0.0, strict=True)
    if entry.get("patience") is not None:
        integer(f"{where}.patience", entry["patience"], 1)
    number(f"{where}.min_delta", entry.get("min_delta", 1e-4), 0.0)


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
            _check_phase(where, entry)
            try:
                estimator = Backprop() if kind == "backprop" else make_estimator(kind, **est)
                opt = dict(entry.get("optimizer", {"kind": "adam"}))
                optimizer = make_optimizer(opt.pop("kind", "adam"), dim, **opt)
                schedule = make_schedule(float(entry["lr"]), **entry.get("schedule", {}))
            except (TypeError, ValueError) as err:
                raise ValueError(f"{where}: {err}") from None
            phases.append(Phase(
                name=entry.get("name", f"phase{i}"), estimator=estimator, optimizer=optimizer,
                schedule=schedule, batch_size=int(entry.get("batch_size", 64)),
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
        raw=raw, model=model, seed=integer("seed", raw.get("seed", 0), 0),
        epochs=number("train.epochs", train.get("epochs", 1), 0.0, strict=True),
        evals_per_epoch=integer("train.evals_per_epoch", train.get("evals_per_epoch", 1), 1),
        val_size=integer("train.val_size", train.get("val_size", 5000), 1),
        incremental=boolean("train.incremental", train.get("incremental", True)),
    )
    if "pinn" in raw:
        from ttzo.tasks.pde import PinnSettings

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
