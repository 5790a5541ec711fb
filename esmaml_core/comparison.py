"""Saved runs side by side: listing, metric curves, grouping seeds of one experiment, bands and tables."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from esmaml_core.config import EXECUTION_FIELDS, TrainConfig
from esmaml_core.errors import RunStoreError
from esmaml_core.results import METRIC_NAMES
from esmaml_core.runs import CONFIG_FILE, RunStore

# Config fields that do not make runs different experiments: runs differing only here are seeds of one.
IGNORED_FIELDS = ("seed", "iterations", *EXECUTION_FIELDS)


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

    def held_out_return(self, iteration: int) -> tuple[float, int] | None:
        """(Mean post-adaptation return, held-out tasks) at ``iteration``, if it was recorded: by this
        summary, or, for a run still training, since (its metrics are read again; None if it is gone)."""
        rows = self.metrics
        if iteration > self.iterations_done:
            try:
                rows = RunStore.open(self.path).read_metrics()
            except (RunStoreError, OSError):
                return None
        row = next((row for row in rows if row["iteration"] == iteration), None)
        return None if row is None else (row["post_adaptation_return"], self.config.eval_tasks)


def scan_runs(root: str | Path) -> tuple[list[RunSummary], list[str]]:
    """Run folders under ``root``, newest first, and one message per damaged run left out.

    A folder without config.json is not a run and is passed over in silence; one whose
    config or metrics cannot be read is a damaged run, named in the messages.
    """
    root = Path(root)
    if not root.is_dir():
        return [], []
    summaries, problems = [], []
    for path in sorted(root.iterdir()):
        if not (path / CONFIG_FILE).is_file():
            continue
        try:
            store = RunStore.open(path)
            summaries.append(RunSummary(path, store.config(), store.read_metrics()))
        except (RunStoreError, OSError) as error:
            problems.append(f"run {path.name} is left out: {error}")
    return sorted(summaries, key=lambda summary: summary.path.stat().st_mtime, reverse=True), problems


def select_runs(runs: list[RunSummary], method: str | None = None, task: str | None = None) -> list[RunSummary]:
    """The runs of one method and/or one task."""
    return [run for run in runs if method in (None, run.config.method) and task in (None, run.config.task)]


def filter_runs(runs: list[RunSummary], tasks: list[str], methods: list[str]) -> list[RunSummary]:
    """The runs of any of ``tasks`` and any of ``methods`` (an empty list keeps every one)."""
    return [
        run
        for run in runs
        if run.config.task in (tasks or [run.config.task]) and run.config.method in (methods or [run.config.method])
    ]


def list_runs(root: str | Path, method: str | None = None, task: str | None = None) -> list[RunSummary]:
    """Readable run folders under ``root``, newest first, optionally only one method or task."""
    return select_runs(scan_runs(root)[0], method, task)


def metric_curves(rows: list[dict]) -> dict[str, np.ndarray]:
    """metrics.jsonl rows as one array per metric."""
    return {name: np.array([row[name] for row in rows], dtype=float) for name in METRIC_NAMES}


def experiment_key(config: TrainConfig) -> str:
    """Runs with equal keys are seeds of one experiment (config minus IGNORED_FIELDS)."""
    values = {name: value for name, value in config.to_dict().items() if name not in IGNORED_FIELDS}
    return json.dumps(values, sort_keys=True)


@dataclass(frozen=True)
class RunGroup:
    label: str
    runs: list[RunSummary]


def group_runs(summaries: list[RunSummary]) -> list[RunGroup]:
    """Group runs by experiment, labelled by task, method and operator, plus the fields that tell apart
    experiments sharing those three."""
    groups: dict[str, list[RunSummary]] = {}
    for summary in summaries:
        groups.setdefault(experiment_key(summary.config), []).append(summary)
    firsts = [runs[0].config for runs in groups.values()]
    result = []
    for runs, first in zip(groups.values(), firsts, strict=True):
        label, config = first.label(), first.to_dict()
        namesakes = [other.to_dict() for other in firsts if other.label() == label]
        differing = [
            name
            for name in config
            if name not in IGNORED_FIELDS and len({json.dumps(other[name]) for other in namesakes}) > 1
        ]
        result.append(RunGroup(" · ".join([label, *(f"{name}={shown(config[name])}" for name in differing)]), runs))
    return result


@dataclass(frozen=True)
class CurveBand:
    """Mean and standard deviation of a metric over runs against ``x``; ``count`` runs reach each point."""

    x: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    count: np.ndarray

    @property
    def runs(self) -> int:
        return int(self.count.max()) if len(self.count) else 0


def one_run_per_seed(runs: list[RunSummary]) -> tuple[list[RunSummary], list[RunSummary]]:
    """The runs to average as independent seeds (for each seed, the one trained furthest), and the
    runs left out because they repeat a seed already kept (a repeat is not an independent sample)."""
    by_seed: dict[int, RunSummary] = {}
    for run in sorted(runs, key=lambda run: run.iterations_done, reverse=True):
        by_seed.setdefault(run.config.seed, run)
    kept = list(by_seed.values())
    return kept, [run for run in runs if run not in kept]


def smoothed(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over ``window`` points (the first points average what exists)."""
    if window <= 1 or len(values) == 0:
        return values
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (sums[1:] - sums[np.maximum(np.arange(1, len(values) + 1) - window, 0)]) / counts


GRID_POINTS = 200  # env steps and wall time differ by run: curves are compared on this many common points


def aggregate_curves(runs: list[RunSummary], metric: str, x_key: str = "iteration", window: int = 1) -> CurveBand:
    """Mean and spread of ``metric`` (smoothed over ``window`` points) over ``runs`` against ``x_key``.

    Every run counts up to its own end: past the shortest run the band is over the runs
    still going (``count``). Against env steps or wall time, each run is interpolated
    onto a common grid of ``GRID_POINTS`` points.
    """
    curves = [run.curves() for run in runs]
    ends = [curve[x_key][-1] for curve in curves]
    if x_key == "iteration":
        x = np.arange(1, int(max(ends)) + 1, dtype=float)
    else:
        x = np.linspace(min(curve[x_key][0] for curve in curves), max(ends), GRID_POINTS)
    values = np.stack(
        [
            np.where(x <= end, np.interp(x, curve[x_key], smoothed(curve[metric], window)), np.nan)
            for curve, end in zip(curves, ends, strict=True)
        ]
    )
    count = np.sum(~np.isnan(values), axis=0)
    with np.errstate(invalid="ignore"):
        return CurveBand(x, np.nanmean(values, axis=0), np.nanstd(values, axis=0), count)


def robust_range(bands: list[CurveBand], margin: float = 0.08) -> tuple[float, float]:
    """A y range that one outlier cannot flatten: the 1st to 99th percentile of every band's mean ± std,
    widened to take in where each curve ends (the median of its last 10 points)."""
    values = np.concatenate([np.concatenate([band.mean - band.std, band.mean + band.std]) for band in bands])
    ends = [np.nanmedian(band.mean[-10:]) for band in bands]
    low, high = np.nanpercentile(values, [1, 99])
    low, high = min(low, *ends), max(high, *ends)
    pad = max(high - low, 1e-9) * margin
    return float(low - pad), float(high + pad)


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


def shown(value: object) -> str:
    """A config value as a label shows it: ``None`` as the task's own, floats as short as they are exact."""
    if value is None:
        return "task's own"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "×".join(map(str, value))
    return str(value)


def rows_to_csv(rows: list[dict]) -> str:
    """CSV text with a header from the first row's keys ('' for no rows)."""
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
