"""Twins (math): zeroth-order estimation: direction generators, the objective interface the
optimizer sees (losses at perturbations and coordinates), estimators."""

from .directions import (
    DIRECTIONS,
    DirectionGenerator,
    NumpyDirections,
    get_directions,
    query_seed,
    register_directions,
)
from .estimators import CGE, RGE, Estimate, Estimator, make_estimator
from .objective import FunctionObjective, ModelObjective, Objective, ParallelQueries

__all__ = [
    "CGE",
    "DIRECTIONS",
    "DirectionGenerator",
    "Estimate",
    "Estimator",
    "FunctionObjective",
    "ModelObjective",
    "ParallelQueries",
    "NumpyDirections",
    "Objective",
    "RGE",
    "get_directions",
    "make_estimator",
    "query_seed",
    "register_directions",
]
