"""Twins: the float TT-MLP of a :class:`ttzo.spec.model.ModelSpec` (flat parameters), its losses
and fast coordinate queries."""

from .coordinate import CoordinateQueries
from .losses import LOSSES, Loss, get_loss
from .mlp import TTMLP, Block, LayerParams, LayerTrace

__all__ = [
    "Block",
    "LOSSES",
    "LayerParams",
    "LayerTrace",
    "Loss",
    "TTMLP",
    "CoordinateQueries",
    "get_loss",
]
