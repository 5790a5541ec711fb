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
    values shape to zeros): on sparse rewards many returns tie exactly. NaN ranks as -inf,
    lowest. One sort per row, so n values take O(n log n) time and O(n) memory.
    """
    values = np.asarray(values)
    values = np.where(np.isnan(values), -np.inf, values) if values.dtype.kind == "f" else values
    size = values.shape[-1]
    if size == 1:
        return np.zeros_like(values, dtype=float)
    order = np.argsort(values, axis=-1, kind="stable")
    ordered = np.take_along_axis(values, order, axis=-1)
    changes = ordered[..., 1:] != ordered[..., :-1]
    edge = np.ones((*values.shape[:-1], 1), dtype=bool)
    positions = np.arange(size)
    tie_first = np.maximum.accumulate(np.where(np.concatenate([edge, changes], axis=-1), positions, 0), axis=-1)
    tie_last = np.where(np.concatenate([changes, edge], axis=-1), positions, size - 1)
    tie_last = np.flip(np.minimum.accumulate(np.flip(tie_last, axis=-1), axis=-1), axis=-1)
    ranks = np.empty(values.shape)
    np.put_along_axis(ranks, order, (tie_first + tie_last) / 2, axis=-1)
    return ranks / (size - 1) - 0.5


FITNESS_SHAPINGS = Registry(
    "fitness shaping", {"zscore": Entry(zscore, "z-score"), "centered_rank": Entry(centered_rank, "centred ranks")}
)


def shape_fitness(values: np.ndarray, method: str) -> np.ndarray:
    """``values`` shaped by the fitness shaping called ``method``."""
    return FITNESS_SHAPINGS[method](values)
