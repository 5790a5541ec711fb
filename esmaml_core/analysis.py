"""Read, summarise and explain runs: the pure functions behind the dashboard's views.

- Probe paths on disk: ``<run>/probes/iter_NNNNNN.npz`` (``allow_pickle=False``, written
  atomically), and probes made afresh from a saved run's newest checkpoint.
- MuJoCo replays: a saved run's meta-policy before and after adapting to one task, as
  MP4 videos and per-step rewards (``esmaml_core.render``).
- Exploration metrics of probe paths: distinct Four Corner corners reached, distance of
  final positions to the goal, the hill climber's best-so-far query.
- Saved runs: listing, metric curves as arrays, grouping by config minus seed, mean and
  spread over seeds, a table of final returns as CSV.
- Teaching toys: Gaussian smoothing of a 1-D non-smooth function and its ES gradient
  estimate; one adaptation by the library's own operators on a 2-D toy objective.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from esmaml_core import assets
from esmaml_core.adaptation import make_operator
from esmaml_core.config import ConfigError, TrainConfig
from esmaml_core.es_maml import ProbeTrajectories
from esmaml_core.evaluation import Evaluation
from esmaml_core.runs import RunStore, RunStoreError, load_arrays, save_arrays
from esmaml_core.tasks.point import CORNERS
from esmaml_core.trainer import Trainer

PROBE_DIR = "probes"
REWARD_RADIUS = 2.0  # Four Corner pays only where |pos - corner|^2 < 4
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
# Config fields that do not make runs different experiments: runs differing only here are seeds of one.
REPLICATE_FIELDS = ("seed", "iterations")


# --- probe paths -------------------------------------------------------------------------------


def probe_path(run_path: str | Path, iteration: int) -> Path:
    return Path(run_path) / PROBE_DIR / f"iter_{iteration:06d}.npz"


def save_probe(run_path: str | Path, iteration: int, probe: ProbeTrajectories) -> Path:
    """Write the probe of ``iteration`` atomically, as plain arrays."""
    path = probe_path(run_path, iteration)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f.name: getattr(probe, f.name) for f in fields(ProbeTrajectories) if getattr(probe, f.name) is not None}
    save_arrays(path, arrays)
    return path


def load_probe(run_path: str | Path, iteration: int) -> ProbeTrajectories:
    """The probe saved for ``iteration``; CheckpointError if the file is unreadable."""
    return ProbeTrajectories(**load_arrays(probe_path(run_path, iteration)))


def probe_iterations(run_path: str | Path) -> list[int]:
    """Iterations with a saved probe, in order."""
    folder = Path(run_path) / PROBE_DIR
    return sorted(int(path.stem.removeprefix("iter_")) for path in folder.glob("iter_*.npz"))


def nearest_iteration(available: list[int], wanted: int) -> int:
    """The latest of ``available`` (sorted, non-empty) at or before ``wanted``, else the first."""
    earlier = [iteration for iteration in available if iteration <= wanted]
    return earlier[-1] if earlier else available[0]


def load_trainer(run_path: str | Path) -> Trainer:
    """A trainer at a saved run's newest good checkpoint, or a pretrained asset's; nothing is written."""
    return assets.load_trainer(run_path)[0]


@dataclass(frozen=True)
class PretrainedPolicy:
    """A shipped meta-policy (``<name>.npz`` + ``<name>.json``); ``path`` is the name without suffix."""

    path: Path
    config: TrainConfig
    iteration: int

    @property
    def name(self) -> str:
        return self.path.name


def list_pretrained(root: str | Path, task: str | None = None) -> list[PretrainedPolicy]:
    """Pretrained assets under ``root``, by name, optionally only one task's."""
    found = []
    for meta_path in sorted(Path(root).glob("*.json")):
        if not assets.is_asset(meta_path):
            continue
        meta = assets.read_asset_meta(meta_path)
        policy = PretrainedPolicy(meta_path.with_suffix(""), TrainConfig.from_dict(meta["config"]), meta["iteration"])
        if task is None or policy.config.task == task:
            found.append(policy)
    return found


def probe_policy(path: str | Path, seed: int = 0, num_tasks: int = 4) -> tuple[int, ProbeTrajectories]:
    """Adapt a saved run's newest meta-policy (or a pretrained asset) once on its probe tasks, paths recorded.

    Returns the policy's iteration and the probe.
    """
    trainer = load_trainer(path)
    try:
        outcome = trainer.evaluate(trainer.config.probe_tasks or num_tasks, seed=seed, record=True)
    finally:
        trainer.close()
    return trainer.state.iteration, outcome.probe


def record_checkpoint_probe(run_path: str | Path, seed: int = 0, num_tasks: int = 4) -> int:
    """``probe_policy`` saved as the probe of the run's newest checkpoint; returns that iteration.

    For runs trained without probes (e.g. by the CLI). Only the new probe file is written.
    """
    iteration, probe = probe_policy(run_path, seed, num_tasks)
    save_probe(run_path, iteration, probe)
    return iteration


# --- MuJoCo replays ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    """A meta-policy and its adapted version on one task: MP4 videos and per-step rewards, same start."""

    before_video: bytes
    after_video: bytes
    before_rewards: np.ndarray
    after_rewards: np.ndarray
    seconds_per_step: float


def replay_adaptation(trainer: Trainer, task: np.ndarray, seed: int) -> Replay:
    """Adapt to ``task`` once, then render the rollouts before and after adaptation from one start state."""
    from esmaml_core.render import family_fps, render_adaptation_video  # only replays need MuJoCo rendering

    replay = trainer.adaptation_replay(task, seed)
    family, horizon = trainer.family, trainer.horizon
    rollouts = trainer.replay_rollouts(replay, record=True)
    with tempfile.TemporaryDirectory() as folder:
        videos = render_adaptation_video(
            family,
            trainer.policy,
            replay.before,
            replay.after,
            replay.task,
            replay.normalizer,
            replay.start_noise,
            folder,
            horizon=horizon,
        )
        before_video, after_video = videos["before"].read_bytes(), videos["after"].read_bytes()
    return Replay(before_video, after_video, rollouts.rewards[0], rollouts.rewards[1], 1.0 / family_fps(family))


# --- exploration metrics -------------------------------------------------------------------------


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


# --- saved runs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    """A saved run: its folder, config and the metrics recorded so far."""

    path: Path
    config: TrainConfig
    metrics: list[dict]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def iterations_done(self) -> int:
        return self.metrics[-1]["iteration"] if self.metrics else 0

    def curves(self) -> dict[str, np.ndarray]:
        return metric_curves(self.metrics)


def list_runs(root: str | Path, method: str | None = None, task: str | None = None) -> list[RunSummary]:
    """Run folders under ``root``, newest first, optionally only one method or task.

    Folders that are not runs or whose config no longer loads are left out.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    summaries = []
    for path in root.iterdir():
        try:
            store = RunStore.open(path)
            summary = RunSummary(path, store.config(), store.read_metrics())
        except (RunStoreError, ConfigError, TypeError):
            continue
        if (method is None or summary.config.method == method) and (task is None or summary.config.task == task):
            summaries.append(summary)
    return sorted(summaries, key=lambda summary: summary.path.stat().st_mtime, reverse=True)


def metric_curves(rows: list[dict]) -> dict[str, np.ndarray]:
    """metrics.jsonl rows as one array per metric."""
    return {name: np.array([row[name] for row in rows], dtype=float) for name in METRIC_NAMES}


def experiment_key(config: TrainConfig) -> str:
    """Runs with equal keys are seeds of one experiment (config minus REPLICATE_FIELDS)."""
    values = {name: value for name, value in config.to_dict().items() if name not in REPLICATE_FIELDS}
    return json.dumps(values, sort_keys=True)


@dataclass(frozen=True)
class RunGroup:
    label: str
    runs: list[RunSummary]


def _base_label(config: dict) -> str:
    parts = [config["task"], config["method"]] + ([] if config["method"] == "pg_maml" else [config["operator"]])
    return " · ".join(parts)


def group_runs(summaries: list[RunSummary]) -> list[RunGroup]:
    """Group runs by experiment, labelled by task, method and operator, plus the fields that tell apart
    experiments sharing those three."""
    groups: dict[str, list[RunSummary]] = {}
    for summary in summaries:
        groups.setdefault(experiment_key(summary.config), []).append(summary)
    configs = [runs[0].config.to_dict() for runs in groups.values()]
    result = []
    for runs, config in zip(groups.values(), configs, strict=True):
        label = _base_label(config)
        namesakes = [other for other in configs if _base_label(other) == label]
        differing = [
            name
            for name in config
            if name not in REPLICATE_FIELDS and len({json.dumps(other[name]) for other in namesakes}) > 1
        ]
        result.append(RunGroup(" · ".join([label, *(f"{name}={config[name]}" for name in differing)]), runs))
    return result


@dataclass(frozen=True)
class CurveBand:
    """Mean and standard deviation over runs of a metric, on the iterations all runs reached."""

    iterations: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    runs: int


def aggregate_curves(runs: list[RunSummary], metric: str) -> CurveBand:
    """Mean and spread of ``metric`` over ``runs``, cut to the shortest run."""
    curves = [run.curves() for run in runs]
    length = min(len(curve["iteration"]) for curve in curves)
    values = np.stack([curve[metric][:length] for curve in curves])
    return CurveBand(curves[0]["iteration"][:length], values.mean(axis=0), values.std(axis=0), len(runs))


def final_returns_rows(groups: list[RunGroup]) -> list[dict]:
    """One row per run: experiment, seed, iterations and the last recorded returns."""
    rows = []
    for group in groups:
        for run in group.runs:
            last = run.metrics[-1] if run.metrics else {}
            rows.append(
                {
                    "run": run.name,
                    "experiment": group.label,
                    "seed": run.config.seed,
                    "iterations": run.iterations_done,
                    "pre_adaptation_return": last.get("pre_adaptation_return", float("nan")),
                    "post_adaptation_return": last.get("post_adaptation_return", float("nan")),
                    "env_steps": last.get("env_steps", 0),
                    "wall_time": last.get("wall_time", 0.0),
                }
            )
    return rows


def rows_to_csv(rows: list[dict]) -> str:
    """CSV text with a header from the first row's keys ('' for no rows)."""
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


# --- teaching toys -------------------------------------------------------------------------------

SMOOTHING_NODES = np.linspace(-6.0, 6.0, 2401)  # quadrature grid for E over u ~ N(0, 1)
SMOOTHING_WEIGHTS = np.exp(-0.5 * SMOOTHING_NODES**2) / np.sum(np.exp(-0.5 * SMOOTHING_NODES**2))


def rugged(x: np.ndarray) -> np.ndarray:
    """A 1-D non-smooth objective: a kinked peak at x = 0.5 plus jumps every pi/4."""
    return -np.abs(x - 0.5) + 0.3 * np.sign(np.sin(4.0 * x))


def gaussian_smoothing(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, sigma: float) -> np.ndarray:
    """f_sigma(x) = E_u[f(x + sigma u)], u ~ N(0, 1), by dense quadrature."""
    return f(np.asarray(x)[..., None] + sigma * SMOOTHING_NODES) @ SMOOTHING_WEIGHTS


def smoothed_gradient(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, sigma: float) -> np.ndarray:
    """d/dx f_sigma(x) = E_u[f(x + sigma u) u] / sigma (exact identity), by the same quadrature."""
    return f(np.asarray(x)[..., None] + sigma * SMOOTHING_NODES) @ (SMOOTHING_WEIGHTS * SMOOTHING_NODES) / sigma


@dataclass(frozen=True)
class GradientEstimate:
    """An antithetic ES estimate of d/dx f_sigma(x) and the points it evaluated."""

    value: float
    points: np.ndarray
    values: np.ndarray


def es_gradient_estimate(
    f: Callable[[np.ndarray], np.ndarray], x: float, sigma: float, pairs: int, rng: np.random.Generator
) -> GradientEstimate:
    """(1 / 2 sigma n) sum_i (f(x + sigma g_i) - f(x - sigma g_i)) g_i with n antithetic pairs."""
    directions = rng.standard_normal(pairs)
    points = np.concatenate([x + sigma * directions, x - sigma * directions])
    values = f(points)
    value = float(np.mean((values[:pairs] - values[pairs:]) * directions) / (2 * sigma))
    return GradientEstimate(value, points, values)


TOY_OPTIMUM = np.array([1.0, 0.6])


def toy_objective(points: np.ndarray) -> np.ndarray:
    """A 2-D cone with its (non-differentiable) peak at TOY_OPTIMUM: -|theta - optimum|."""
    return -np.linalg.norm(points - TOY_OPTIMUM, axis=-1)


@dataclass
class FunctionEvaluator:
    """Stands in for a task: the 'return' of parameters is ``function(params)`` (tasks are ignored)."""

    function: Callable[[np.ndarray], np.ndarray]

    def __call__(self, params: np.ndarray, tasks: np.ndarray, record: bool = False) -> Evaluation:
        return Evaluation(self.function(params))


@dataclass(frozen=True)
class ToyAdaptation:
    """One adaptation U(theta) on the toy objective: the K queries, their values, where it ended."""

    start: np.ndarray
    queries: np.ndarray
    query_values: np.ndarray
    accepted: np.ndarray | None
    adapted: np.ndarray
    start_value: float
    adapted_value: float


def toy_adaptation(
    operator: str, start: np.ndarray, queries: int, sigma: float, step_size: float, seed: int
) -> ToyAdaptation:
    """Run the library's adaptation ``operator`` once on ``toy_objective`` from ``start`` (2,)."""
    adapt = make_operator(operator, queries, sigma, step_size)
    result = adapt.adapt(
        FunctionEvaluator(toy_objective), start[None, :], np.zeros((1, 1)), np.random.default_rng(seed)
    )
    return ToyAdaptation(
        start=start,
        queries=result.query_params[0],
        query_values=result.query_returns[0],
        accepted=None if result.accepted is None else result.accepted[0],
        adapted=result.adapted_params[0],
        start_value=float(toy_objective(start)),
        adapted_value=float(toy_objective(result.adapted_params[0])),
    )
