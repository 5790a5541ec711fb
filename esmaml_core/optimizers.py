"""First-order ascent steps over flat parameter vectors: plain SGD and Adam.

An optimizer state is a dict of arrays (saved as-is in checkpoints); ``ascent_step``
returns the new parameters and the new state and never mutates its inputs.
"""

from __future__ import annotations

import numpy as np

OPTIMIZERS = ("sgd", "adam")
ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-8


def init_optimizer_state(name: str, num_params: int) -> dict[str, np.ndarray]:
    if name == "sgd":
        return {}
    if name == "adam":
        return {"m": np.zeros(num_params), "v": np.zeros(num_params), "t": np.zeros(())}
    raise KeyError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")


def ascent_step(
    name: str,
    params: np.ndarray,
    gradient: np.ndarray,
    state: dict[str, np.ndarray],
    learning_rate: float,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One step uphill along ``gradient``: (new params, new optimizer state)."""
    if name == "sgd":
        return params + learning_rate * gradient, state
    if name == "adam":
        t = state["t"] + 1
        m = ADAM_BETA1 * state["m"] + (1 - ADAM_BETA1) * gradient
        v = ADAM_BETA2 * state["v"] + (1 - ADAM_BETA2) * gradient**2
        m_hat = m / (1 - ADAM_BETA1**t)
        v_hat = v / (1 - ADAM_BETA2**t)
        return params + learning_rate * m_hat / (np.sqrt(v_hat) + ADAM_EPS), {"m": m, "v": v, "t": t}
    raise KeyError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")
