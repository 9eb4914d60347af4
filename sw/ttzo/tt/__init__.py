"""Twins (math): tensor-train (TT) contraction kernels and TT matrices of a
:class:`ttzo.spec.shape.TTShape`."""

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

__all__ = [
    "TTMatrix",
    "TTSVDResult",
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
