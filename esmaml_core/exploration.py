"""Exploration on point tasks: probe paths made afresh, and the numbers that describe them.

- Probes from a saved run's newest checkpoint or a pretrained asset (``probe_policy``).
- ``exploration_metrics``: the numbers that tell parameter-space from action-space
  exploration apart (corners visited, area covered, path length, step sizes, final
  distance), defined in docs/ARCHITECTURE.md, "Exploration metrics".
- The hill climber's best-so-far query, and the paths a view shows after n proposals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from esmaml_core.results import ProbeTrajectories
from esmaml_core.runs import RunStore, load_trainer
from esmaml_core.tasks.point import CORNERS, PointTaskFamily

REWARD_RADIUS = 2.0  # Four Corner pays only where |pos - corner|^2 < 4 (drawn, not counted)
CORNER_VISIT_RADIUS = 0.5  # a corner counts as visited once a path comes this close to the corner point
UNBOUNDED_ARENA_HALF_WIDTH = 1.0  # the grid box of a task without a position clip (navigation_2d)
CELL_WIDTHS = {"four_corner": 0.25}  # area grid; every other point task: DEFAULT_CELL_WIDTH
DEFAULT_CELL_WIDTH = 0.1  # the largest move per axis and step, so a path never jumps over a cell along an axis
STEP_PERCENTILES = (10, 50, 90)


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


def corners_reached(
    paths: np.ndarray, corners: np.ndarray = CORNERS, radius: float = CORNER_VISIT_RADIUS
) -> np.ndarray:
    """Which corners (C,) any of the paths (..., T+1, 2) came within ``radius`` (inclusive) of."""
    points = paths.reshape(-1, paths.shape[-1])
    distances = np.linalg.norm(points[:, None, :] - corners[None, :, :], axis=-1)
    return np.any(distances <= radius, axis=0)


@dataclass(frozen=True)
class AreaGrid:
    """A square grid of ``cells_per_side``² cells of width ``cell_width`` over [-half_width, half_width]²."""

    half_width: float
    cell_width: float

    @property
    def cells_per_side(self) -> int:
        return round(2 * self.half_width / self.cell_width)

    def visited_cells(self, paths: np.ndarray) -> int:
        """How many cells hold at least one position of the paths (..., T+1, 2); positions outside count in none."""
        points = paths.reshape(-1, 2)
        inside = np.all(np.abs(points) <= self.half_width, axis=-1)
        columns = np.floor((points[inside] + self.half_width) / self.cell_width).astype(int)
        columns = np.minimum(columns, self.cells_per_side - 1)  # the far edge belongs to the last cell
        return int(np.unique(columns[:, 0] * self.cells_per_side + columns[:, 1]).size)


def area_grid(family: PointTaskFamily) -> AreaGrid:
    """The fixed grid over a task's arena (its position clip box) that area covered is counted on."""
    clip = family.position_clip
    half_width = float(clip) if np.isfinite(clip) else UNBOUNDED_ARENA_HALF_WIDTH
    return AreaGrid(half_width, CELL_WIDTHS.get(family.name, DEFAULT_CELL_WIDTH))


def step_sizes(paths: np.ndarray) -> np.ndarray:
    """Per-step displacements of the paths (..., T+1, 2): (..., T)."""
    return np.linalg.norm(np.diff(paths, axis=-2), axis=-1)


@dataclass(frozen=True)
class ExplorationMetrics:
    """What n exploration paths of one task covered; NaN where no path (or no moving step) is shown.

    Definitions: docs/ARCHITECTURE.md, "Exploration metrics".
    """

    paths: int
    corners_visited: int | None  # Four Corner only
    cells_visited: int
    cells_total: int
    path_length: float
    step_mean: float
    step_percentiles: tuple[float, ...]  # at STEP_PERCENTILES, of the steps that moved
    final_distance: float  # mean over the paths
    held_final_distance: float  # of the policy adaptation holds (adapted, or best so far)

    @property
    def area_covered(self) -> float:
        return self.cells_visited / self.cells_total


def path_metrics(paths: np.ndarray, goal: np.ndarray, family: PointTaskFamily, held: np.ndarray) -> ExplorationMetrics:
    """``ExplorationMetrics`` of paths (n, T+1, 2) toward ``goal``, ``held`` (T+1, 2) the policy kept."""
    grid = area_grid(family)
    steps = step_sizes(paths)
    moving = steps[steps > 0]
    percentiles = np.percentile(moving, STEP_PERCENTILES) if moving.size else np.full(len(STEP_PERCENTILES), np.nan)
    return ExplorationMetrics(
        paths=len(paths),
        corners_visited=int(np.sum(corners_reached(paths))) if family.name == "four_corner" else None,
        cells_visited=grid.visited_cells(paths),
        cells_total=grid.cells_per_side**2,
        path_length=float(steps.sum(axis=-1).mean()) if len(paths) else np.nan,
        step_mean=float(moving.mean()) if moving.size else np.nan,
        step_percentiles=tuple(float(value) for value in percentiles),
        final_distance=float(final_distances(paths, goal).mean()) if len(paths) else np.nan,
        held_final_distance=float(final_distances(held, goal)),
    )


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


def exploration_metrics(
    probe: ProbeTrajectories, task_index: int, family: PointTaskFamily, proposals: int | None = None
) -> ExplorationMetrics:
    """The metrics of the K exploration paths of one probe task (hill climbing: of the first ``proposals``)."""
    paths, held = explored_paths(probe, task_index, proposals)
    return path_metrics(paths[..., :2], probe.tasks[task_index], family, held[..., :2])
