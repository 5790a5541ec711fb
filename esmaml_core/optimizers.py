"""First-order ascent steps over flat parameter vectors: plain SGD and Adam.

An optimizer state is a dict of arrays (saved as-is in checkpoints); ``ascent_step``
returns the new parameters and the new state and never mutates its inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from esmaml_core.registry import Entry, Registry

ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-8
OptimizerState = dict[str, np.ndarray]


@dataclass(frozen=True)
class Optimizer:
    """``init(num_params)`` -> state; ``step(params, gradient, state, learning_rate)`` -> (params, state)."""

    init: Callable[[int], OptimizerState]
    step: Callable[[np.ndarray, np.ndarray, OptimizerState, float], tuple[np.ndarray, OptimizerState]]


def _sgd_step(params, gradient, state, learning_rate):
    return params + learning_rate * gradient, state


def _adam_init(num_params: int) -> OptimizerState:
    return {"m": np.zeros(num_params), "v": np.zeros(num_params), "t": np.zeros(())}


def _adam_step(params, gradient, state, learning_rate):
    t = state["t"] + 1
    m = ADAM_BETA1 * state["m"] + (1 - ADAM_BETA1) * gradient
    v = ADAM_BETA2 * state["v"] + (1 - ADAM_BETA2) * gradient**2
    m_hat = m / (1 - ADAM_BETA1**t)
    v_hat = v / (1 - ADAM_BETA2**t)
    return params + learning_rate * m_hat / (np.sqrt(v_hat) + ADAM_EPS), {"m": m, "v": v, "t": t}


OPTIMIZERS = Registry(
    "optimizer",
    {
        "sgd": Entry(Optimizer(lambda num_params: {}, _sgd_step), "SGD"),
        "adam": Entry(Optimizer(_adam_init, _adam_step), "Adam"),
    },
)


def init_optimizer_state(name: str, num_params: int) -> OptimizerState:
    return OPTIMIZERS[name].init(num_params)


def ascent_step(
    name: str, params: np.ndarray, gradient: np.ndarray, state: OptimizerState, learning_rate: float
) -> tuple[np.ndarray, OptimizerState]:
    """One step uphill along ``gradient``: (new params, new optimizer state)."""
    return OPTIMIZERS[name].step(params, gradient, state, learning_rate)
