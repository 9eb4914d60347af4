"""Twins (math): update rules and learning-rate schedules."""

from .optimizers import SGD, Adam, AdamW, Optimizer, make_optimizer
from .schedules import Schedule, make_schedule

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "Schedule", "make_optimizer", "make_schedule"]
