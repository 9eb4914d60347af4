"""Tensor-train (TT) matrices: shapes and counts, contraction kernels, construction."""

from .contract import (
    tt_core_grads,
    tt_core_responses,
    tt_forward,
    tt_forward_split,
    tt_left_states,
    tt_right_envs,
    tt_to_dense,
    tt_transpose,
)
from .matrix import TTMatrix, TTSVDResult, choose_forward_method, init_std
from .shape import TTShape

__all__ = [
    "TTMatrix",
    "TTSVDResult",
    "TTShape",
    "choose_forward_method",
    "init_std",
    "tt_core_grads",
    "tt_core_responses",
    "tt_forward",
    "tt_forward_split",
    "tt_left_states",
    "tt_right_envs",
    "tt_to_dense",
    "tt_transpose",
]
