"""The one model description: layers, modes, ranks, activations.

Every other part of ttzo (float model, trainers, and later the golden model, RTL generator,
estimators and build) reads a :class:`ModelSpec`; none restates its numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from math import prod
from typing import Any

from .activations import get_activation
from .numerics import NumericsSpec
from .shape import TTShape

__all__ = ["LayerSpec", "ModelSpec"]


@dataclass(frozen=True)
class LayerSpec:
    """One layer ``y = act(x @ W.T + b)``.

    Parameters
    ----------
    in_modes, out_modes : tuple of int
        Factorisations of the input and output sizes. A dense layer may use a single mode each.
    rank : int, tuple of int or None
        TT rank: one int for every inner rank (capped where a core cannot use it), the full list
        ``(1, r_1, ..., r_{d-1}, 1)``, or ``None`` for a dense weight matrix.
    activation : str
        ``relu``, ``sine``, ``tanh`` or ``none``.
    bias : bool
    """

    in_modes: tuple[int, ...]
    out_modes: tuple[int, ...]
    rank: int | tuple[int, ...] | None = None
    activation: str = "relu"
    bias: bool = True
    tt: TTShape | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        get_activation(self.activation)
        in_modes = tuple(self.in_modes)
        out_modes = tuple(self.out_modes)
        object.__setattr__(self, "in_modes", in_modes)
        object.__setattr__(self, "out_modes", out_modes)
        if self.rank is None:
            if any(int(v) <= 0 for v in in_modes + out_modes) or not in_modes or not out_modes:
                raise ValueError(
                    f"dense layer sizes must be positive, not in {list(in_modes)} out "
                    f"{list(out_modes)}"
                )
            tt = None
        elif isinstance(self.rank, int):
            tt = TTShape.uniform(out_modes, in_modes, self.rank)
        else:
            rank = tuple(self.rank)
            object.__setattr__(self, "rank", rank)
            tt = TTShape(out_modes, in_modes, rank)
        object.__setattr__(self, "tt", tt)

    @property
    def in_features(self) -> int:
        return prod(self.in_modes)

    @property
    def out_features(self) -> int:
        return prod(self.out_modes)

    @property
    def weight_params(self) -> int:
        return self.tt.params if self.tt is not None else self.in_features * self.out_features

    @property
    def bias_params(self) -> int:
        return self.out_features if self.bias else 0

    @property
    def params(self) -> int:
        return self.weight_params + self.bias_params

    @property
    def dense_params(self) -> int:
        """Parameters of the same layer with a dense weight matrix (bias included)."""
        return self.in_features * self.out_features + self.bias_params

    def macs_per_sample(self) -> int:
        """MACs of the weight product for one input vector, contraction order for TT layers."""
        if self.tt is None:
            return self.in_features * self.out_features
        return self.tt.contraction_macs()


@dataclass(frozen=True)
class ModelSpec:
    """A feed-forward network of TT and dense layers, with its fixed-point formats.

    Raises
    ------
    ValueError
        If there are no layers or a layer's input size differs from the previous output size.
    """

    layers: tuple[LayerSpec, ...]
    init: str = "lecun"
    name: str = "model"
    numerics: NumericsSpec = NumericsSpec()

    def __post_init__(self) -> None:
        layers = tuple(self.layers)
        object.__setattr__(self, "layers", layers)
        if not layers:
            raise ValueError("a model needs at least one layer")
        for i in range(1, len(layers)):
            if layers[i].in_features != layers[i - 1].out_features:
                raise ValueError(
                    f"layer {i} takes {layers[i].in_features} inputs (in_modes "
                    f"{list(layers[i].in_modes)}) but layer {i - 1} gives "
                    f"{layers[i - 1].out_features} outputs (out_modes "
                    f"{list(layers[i - 1].out_modes)})"
                )
        self.numerics.check_model(self)

    @property
    def in_features(self) -> int:
        return self.layers[0].in_features

    @property
    def out_features(self) -> int:
        return self.layers[-1].out_features

    @property
    def params(self) -> int:
        """Trainable parameters, biases included."""
        return sum(layer.params for layer in self.layers)

    @property
    def weight_params(self) -> int:
        return sum(layer.weight_params for layer in self.layers)

    @property
    def dense_params(self) -> int:
        """Parameters of the same network with dense weights, biases included."""
        return sum(layer.dense_params for layer in self.layers)

    @property
    def compression(self) -> float:
        """Dense parameters over trainable parameters, biases counted on both sides."""
        return self.dense_params / self.params

    def macs_per_sample(self) -> int:
        return sum(layer.macs_per_sample() for layer in self.layers)

    # -- (de)serialisation --------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpec:
        """Build from the ``[model]`` table of a TOML config.

        Layers come from ``[[model.layers]]`` entries with ``in_modes``, ``out_modes``, and
        optionally ``rank`` (omitted: dense), ``activation``, ``bias``; a dense layer may give
        ``in_features``/``out_features`` instead of modes.
        """
        known = {"layers", "init", "name", "numerics"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model setting(s) {sorted(unknown)}; known: {sorted(known)}")
        if "layers" not in data:
            raise ValueError("the model description has no 'layers' list")
        layers = [_layer_from_dict(i, entry) for i, entry in enumerate(data["layers"])]
        numerics = NumericsSpec.from_dict(data.get("numerics", {}))
        return cls(tuple(layers), init=data.get("init", "lecun"), name=data.get("name", "model"),
                   numerics=numerics)

    def to_dict(self) -> dict[str, Any]:
        layers = []
        for layer in self.layers:
            entry: dict[str, Any] = {
                "in_modes": list(layer.in_modes),
                "out_modes": list(layer.out_modes),
                "activation": layer.activation,
                "bias": layer.bias,
            }
            if layer.rank is not None:
                entry["rank"] = layer.rank if isinstance(layer.rank, int) else list(layer.rank)
            layers.append(entry)
        return {"name": self.name, "init": self.init, "layers": layers,
                "numerics": self.numerics.to_dict()}


_LAYER_KEYS = {"in_modes", "out_modes", "in_features", "out_features", "rank", "activation", "bias"}


def _layer_from_dict(index: int, entry: Mapping[str, Any]) -> LayerSpec:
    unknown = set(entry) - _LAYER_KEYS
    if unknown:
        raise ValueError(
            f"layer {index}: unknown setting(s) {sorted(unknown)}; known: {sorted(_LAYER_KEYS)}"
        )
    entry = dict(entry)
    for modes, features in (("in_modes", "in_features"), ("out_modes", "out_features")):
        if features in entry:
            if modes in entry:
                raise ValueError(f"layer {index}: give {modes} or {features}, not both")
            entry[modes] = [entry.pop(features)]
        if modes not in entry:
            raise ValueError(f"layer {index}: missing {modes}")
    try:
        return LayerSpec(
            in_modes=tuple(entry["in_modes"]),
            out_modes=tuple(entry["out_modes"]),
            rank=entry.get("rank"),
            activation=entry.get("activation", "relu"),
            bias=bool(entry.get("bias", True)),
        )
    except ValueError as err:
        raise ValueError(f"layer {index}: {err}") from None
