"""Network description, the flat-parameter TT-MLP, losses and fast coordinate queries."""

from .activations import ACTIVATIONS, Activation, get_activation
from .coordinate import CoordinateQueries
from .losses import LOSSES, Loss, get_loss
from .mlp import TTMLP, Block, LayerParams, LayerTrace
from .spec import LayerSpec, ModelSpec

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "Block",
    "LOSSES",
    "LayerParams",
    "LayerSpec",
    "LayerTrace",
    "Loss",
    "ModelSpec",
    "TTMLP",
    "CoordinateQueries",
    "get_activation",
    "get_loss",
]
