"""Fitness shaping: turn raw returns into the weights of an ES gradient estimate.

Both functions shape along the last axis, so a (tasks, queries) array is shaped per task.
"""

from __future__ import annotations

import numpy as np

from esmaml_core.registry import Entry, Registry


def zscore(values: np.ndarray) -> np.ndarray:
    """(v - mean) / std along the last axis; all-equal values shape to zeros."""
    centred = values - values.mean(axis=-1, keepdims=True)
    std = values.std(axis=-1, keepdims=True)
    return np.divide(centred, std, out=np.zeros_like(centred), where=std > 0)


def centered_rank(values: np.ndarray) -> np.ndarray:
    """Ranks mapped linearly onto [-0.5, 0.5] along the last axis (Salimans et al. 2017).

    Tied values share their average rank, so equal returns get equal weights (all-equal
    values shape to zeros): on sparse rewards many returns tie exactly.
    """
    size = values.shape[-1]
    if size == 1:
        return np.zeros_like(values, dtype=float)
    column, row = values[..., None, :], values[..., :, None]
    ranks = np.sum(column < row, axis=-1) + (np.sum(column == row, axis=-1) - 1) / 2
    return ranks / (size - 1) - 0.5


FITNESS_SHAPINGS = Registry(
    "fitness shaping", {"zscore": Entry(zscore, "z-score"), "centered_rank": Entry(centered_rank, "centred ranks")}
)


def shape_fitness(values: np.ndarray, method: str) -> np.ndarray:
    """``values`` shaped by the fitness shaping called ``method``."""
    return FITNESS_SHAPINGS[method](values)
