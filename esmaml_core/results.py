"""Result types shared by every method, the trainer, the run store and the dashboard.

They live here, apart from any one method, so PG-MAML, ES-MAML and the views import
the same types without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ProbeTrajectories:
    """Observation paths (x, y on point tasks) of adaptation on a few fixed probe tasks.

    ``start_paths`` (P, T+1, obs) is the meta-policy itself, ``query_paths``
    (P, K, T+1, obs) the K exploration rollouts, ``adapted_paths`` (P, T+1, obs) the
    adapted policy. ``accepted`` (P, K) marks kept hill-climbing proposals, if any.
    """

    tasks: np.ndarray
    start_paths: np.ndarray
    query_paths: np.ndarray
    adapted_paths: np.ndarray
    query_returns: np.ndarray
    adapted_returns: np.ndarray
    accepted: np.ndarray | None = None


@dataclass(frozen=True)
class MetaGradient:
    """An ascent direction for theta and what theta scored on the evaluation tasks."""

    gradient: np.ndarray
    pre_adaptation_returns: np.ndarray
    post_adaptation_returns: np.ndarray
    probe: ProbeTrajectories | None = None


@dataclass(frozen=True)
class MetaUpdate:
    """One meta-iteration's outer update: new theta and optimizer state, and what the old theta
    scored on the evaluation tasks. Methods whose outer step is not a gradient ascent (TRPO,
    ProMP) return it; gradient methods get it from ``GradientAscent``."""

    params: np.ndarray
    optimizer_state: dict[str, np.ndarray]
    pre_adaptation_returns: np.ndarray
    post_adaptation_returns: np.ndarray
    probe: ProbeTrajectories | None = None


@dataclass(frozen=True)
class Adaptation:
    """Meta-parameters adapted to each of N tasks: ``adapted_params`` (N, P), and the returns
    (N,) of the meta-parameters themselves on those tasks, seen while adapting."""

    adapted_params: np.ndarray
    pre_adaptation_returns: np.ndarray


@dataclass(frozen=True)
class AdaptationOutcome:
    """Returns of a meta-policy on some tasks before and after adaptation (and paths if recorded)."""

    pre_adaptation_returns: np.ndarray
    post_adaptation_returns: np.ndarray
    probe: ProbeTrajectories | None = None


@dataclass(frozen=True)
class IterationResult:
    """What one meta-iteration did. ``env_steps`` and ``wall_time`` are run totals."""

    iteration: int
    pre_adaptation_return: float
    pre_adaptation_std: float
    post_adaptation_return: float
    post_adaptation_std: float
    env_steps: int
    wall_time: float
    iteration_seconds: float
    probe: ProbeTrajectories | None = None

    def metrics(self) -> dict:
        """The JSON line of metrics.jsonl."""
        return {name: getattr(self, name) for name in METRIC_NAMES}


METRIC_NAMES = (
    "iteration",
    "pre_adaptation_return",
    "pre_adaptation_std",
    "post_adaptation_return",
    "post_adaptation_std",
    "env_steps",
    "wall_time",
    "iteration_seconds",
)
