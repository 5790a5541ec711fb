"""Exploration on point tasks: probe paths made afresh, and the numbers that describe them.

- Probes from a saved run's newest checkpoint or a pretrained asset (``probe_policy``).
- Distinct Four Corner corners reached, distance of final positions to the goal, the
  hill climber's best-so-far query, and the paths a view shows after n proposals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from esmaml_core.results import ProbeTrajectories
from esmaml_core.runs import RunStore, load_trainer
from esmaml_core.tasks.point import CORNERS

REWARD_RADIUS = 2.0  # Four Corner pays only where |pos - corner|^2 < 4


def nearest_iteration(available: list[int], wanted: int) -> int:
    """The latest of ``available`` (sorted, non-empty) at or before ``wanted``, else the first."""
    earlier = [iteration for iteration in available if iteration <= wanted]
    return earlier[-1] if earlier else available[0]


def probe_policy(path: str | Path, seed: int = 0, num_tasks: int = 4) -> tuple[int, ProbeTrajectories]:
    """Adapt a saved run's newest meta-policy (or a pretrained asset) once on its probe tasks, paths recorded.

    Returns the policy's iteration and the probe.
    """
    trainer, _ = load_trainer(path)
    with trainer:
        outcome = trainer.evaluate(trainer.config.probe_tasks or num_tasks, seed=seed, record=True)
    return trainer.state.iteration, outcome.probe


def record_checkpoint_probe(run_path: str | Path, seed: int = 0, num_tasks: int = 4) -> int:
    """``probe_policy`` saved as the probe of the run's newest checkpoint; returns that iteration.

    For runs trained without probes (e.g. by the CLI). Only the new probe file is written, as
    the run's writer: RunLockedError while another process trains the run.
    """
    iteration, probe = probe_policy(run_path, seed, num_tasks)
    with RunStore.open(run_path).writer() as store:
        store.save_probe(iteration, probe)
    return iteration


def corners_reached(paths: np.ndarray, corners: np.ndarray = CORNERS, radius: float = REWARD_RADIUS) -> np.ndarray:
    """Which corners (C,) any of the paths (..., T+1, 2) came strictly within ``radius`` of."""
    points = paths.reshape(-1, paths.shape[-1])
    distances = np.linalg.norm(points[:, None, :] - corners[None, :, :], axis=-1)
    return np.any(distances < radius, axis=0)


def distinct_corners_reached(paths: np.ndarray) -> int:
    """How many Four Corner corners the paths (..., T+1, 2) explored between them."""
    return int(np.sum(corners_reached(paths)))


def final_distances(paths: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Distance from each path's final position to ``goal``: (..., T+1, 2) -> (...)."""
    return np.linalg.norm(paths[..., -1, :] - goal, axis=-1)


def best_so_far(accepted: np.ndarray) -> np.ndarray:
    """For hill climbing: after proposal k, the index of the kept query (-1: the start), (..., K) -> (..., K)."""
    steps = np.arange(accepted.shape[-1])
    return np.maximum.accumulate(np.where(accepted, steps, -1), axis=-1)


def explored_paths(
    probe: ProbeTrajectories, task_index: int, proposals: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The query paths (n, T+1, 2) tried on one probe task, and the path of the policy adaptation holds then.

    For hill climbing, ``proposals`` stops after the first n proposals: the held policy is the
    best kept so far (the meta-policy if none). Otherwise all K paths and the adapted policy.
    """
    queries = probe.query_paths[task_index]
    if probe.accepted is None or proposals is None or proposals == len(queries):
        return queries, probe.adapted_paths[task_index]
    best = best_so_far(probe.accepted[task_index])[proposals - 1] if proposals else -1
    return queries[:proposals], probe.start_paths[task_index] if best < 0 else queries[best]
