"""Flows: training: the loop over phases, configs, checkpoints, metrics, plots, and the
first-order baseline."""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import RunConfig, builtin_config, load_config
from .firstorder import Backprop
from .loop import Phase, Task, Trainer, TrainState

__all__ = [
    "Backprop",
    "CheckpointError",
    "Phase",
    "RunConfig",
    "Task",
    "TrainState",
    "Trainer",
    "builtin_config",
    "load_checkpoint",
    "load_config",
    "save_checkpoint",
]
