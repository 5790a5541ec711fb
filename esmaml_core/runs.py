"""The run store: a run is a folder that survives crashes and can be resumed bit for bit.

``RunStore`` owns everything inside ``<run>/``; nothing else writes there:

- ``config.json``: the TrainConfig.
- ``metrics.jsonl``: one JSON object per iteration (``IterationResult.metrics()``).
- ``checkpoints/iter_NNNNNN.npz``: the full trainer state; the newest
  ``KEEP_CHECKPOINTS`` are kept.
- ``probes/iter_NNNNNN.npz``: the probe paths recorded at that iteration (point tasks).

Run folders made for the dashboard are named by ``RunStore.create_named`` after time,
task, method and seed. A run is exported as a pretrained asset with
``RunStore.export``, and ``load_trainer`` loads a run folder or an asset alike.

Every file is written atomically (``esmaml_core.files``). A checkpoint that does not
load is refused with ``CheckpointError``; resuming then falls back to the newest one
that does, and drops metrics lines past it, so the resumed run continues exactly as the
uninterrupted one would have.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from esmaml_core import assets
from esmaml_core.config import TrainConfig
from esmaml_core.errors import CheckpointError, ConfigError, RunExistsError, RunStoreError
from esmaml_core.files import atomic_write, load_arrays, load_checkpoint, save_arrays
from esmaml_core.results import IterationResult, ProbeTrajectories
from esmaml_core.trainer import Trainer, TrainerState, make_trainer

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_DIR = "checkpoints"
PROBE_DIR = "probes"
KEEP_CHECKPOINTS = 3
MAX_NAME_SUFFIX = 1000
RUNS_DIR_ENV = "ESMAML_RUNS_DIR"


def iteration_file(folder: Path, iteration: int) -> Path:
    return folder / f"iter_{iteration:06d}.npz"


def iteration_of(path: Path) -> int:
    """The iteration a checkpoint or probe file is named after (-1 if the name is not one of theirs)."""
    digits = path.stem.removeprefix("iter_")
    return int(digits) if path.stem.startswith("iter_") and digits.isdigit() else -1


def iteration_files(folder: Path) -> list[Path]:
    """The ``iter_N.npz`` files of ``folder`` in order of N (as numbers, not text)."""
    found = [path for path in folder.glob("iter_*.npz") if iteration_of(path) >= 0]
    return sorted(found, key=iteration_of)


@dataclass(frozen=True)
class RunStore:
    path: Path

    @staticmethod
    def create(path: str | Path, config: TrainConfig, force: bool = False) -> RunStore:
        """A new run folder for ``config``; an existing non-empty folder needs ``force``."""
        path = Path(path)
        if path.exists() and any(path.iterdir()):
            if not force:
                raise RunExistsError(path)
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        store = RunStore(path)
        store.write_config(config)
        return store

    @staticmethod
    def create_named(root: str | Path, config: TrainConfig, now: datetime | None = None) -> RunStore:
        """A new run folder under ``root`` named after time and config; never reuses an existing name."""
        root = Path(root)
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{config.task}-{config.method}-s{config.seed}"
        root.mkdir(parents=True, exist_ok=True)
        for suffix in range(MAX_NAME_SUFFIX):
            path = root / (base if suffix == 0 else f"{base}-{suffix}")
            try:
                path.mkdir()  # atomic: two sessions starting at once get different folders
            except FileExistsError:
                continue
            return RunStore.create(path, config)
        raise RunStoreError(f"no free run folder name for {base} under {root}")

    @staticmethod
    def open(path: str | Path) -> RunStore:
        path = Path(path)
        if not (path / CONFIG_FILE).is_file():
            raise RunStoreError(f"{path} is not a run folder (no {CONFIG_FILE})")
        return RunStore(path)

    @property
    def name(self) -> str:
        return self.path.name

    def delete(self) -> None:
        """Remove the run folder, e.g. after a run that could not even start."""
        shutil.rmtree(self.path, ignore_errors=True)

    # --- config and metrics --------------------------------------------------------------------

    def write_config(self, config: TrainConfig) -> None:
        atomic_write(self.path / CONFIG_FILE, json.dumps(config.to_dict(), indent=2).encode())

    def config(self) -> TrainConfig:
        """The run's validated config; RunStoreError naming the file if it is unreadable or not allowed."""
        path = self.path / CONFIG_FILE
        try:
            return TrainConfig.from_dict(json.loads(path.read_text())).validate()
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ConfigError, TypeError) as error:
            raise RunStoreError(f"{path} is not a usable run config: {error}") from error

    def append_metrics(self, result: IterationResult) -> None:
        with open(self.path / METRICS_FILE, "a") as handle:
            handle.write(json.dumps(result.metrics()) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def read_metrics(self) -> list[dict]:
        """Every complete metrics line, in order (a torn last line from a crash is ignored)."""
        path = self.path / METRICS_FILE
        if not path.exists():
            return []
        rows = []
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break
        return rows

    # --- checkpoints ---------------------------------------------------------------------------

    def checkpoints(self) -> list[Path]:
        """Checkpoint files, oldest first."""
        return iteration_files(self.path / CHECKPOINT_DIR)

    def save_checkpoint(self, state: TrainerState) -> Path:
        path = iteration_file(self.path / CHECKPOINT_DIR, state.iteration)
        save_arrays(path, state.to_arrays())
        for old in self.checkpoints()[:-KEEP_CHECKPOINTS]:
            old.unlink(missing_ok=True)
        return path

    def latest_state(self) -> tuple[TrainerState | None, list[str]]:
        """The newest checkpoint that loads, and a warning for each newer one that did not."""
        warnings = []
        for path in reversed(self.checkpoints()):
            try:
                return load_checkpoint(path), warnings
            except CheckpointError as error:
                warnings.append(f"skipping {error}")
        return None, warnings

    def load_trainer(self) -> tuple[Trainer, list[str]]:
        """A trainer at the newest good checkpoint (iteration 0 if none), without touching the folder."""
        trainer = make_trainer(self.config())
        state, warnings = self.latest_state()
        if state is not None:
            trainer.state = state
        return trainer, warnings

    def restore_trainer(self) -> tuple[Trainer, list[str]]:
        """``load_trainer`` to continue training: metrics lines past the checkpoint are dropped."""
        trainer, warnings = self.load_trainer()
        kept = [row for row in self.read_metrics() if row["iteration"] <= trainer.state.iteration]
        atomic_write(self.path / METRICS_FILE, "".join(json.dumps(row) + "\n" for row in kept).encode())
        return trainer, warnings

    # --- probes --------------------------------------------------------------------------------

    def save_probe(self, iteration: int, probe: ProbeTrajectories) -> Path:
        """Write the probe paths of ``iteration`` as plain arrays."""
        path = iteration_file(self.path / PROBE_DIR, iteration)
        arrays = {f.name: getattr(probe, f.name) for f in fields(ProbeTrajectories)}
        save_arrays(path, {name: value for name, value in arrays.items() if value is not None})
        return path

    def load_probe(self, iteration: int) -> ProbeTrajectories:
        """The probe saved for ``iteration``; CheckpointError if the file is unreadable."""
        path = iteration_file(self.path / PROBE_DIR, iteration)
        try:
            return ProbeTrajectories(**load_arrays(path))
        except TypeError as error:
            raise CheckpointError(f"probe file {path} does not hold probe paths ({error})") from error

    def probe_iterations(self) -> list[int]:
        """Iterations with a saved probe, in order."""
        return [iteration_of(path) for path in iteration_files(self.path / PROBE_DIR)]

    # --- export --------------------------------------------------------------------------------

    def export(self, out: str | Path, tasks: int, made_by: str) -> dict:
        """Write the run's newest good state as a pretrained asset, with a held-out evaluation of it."""
        trainer, _ = self.load_trainer()
        with trainer:
            outcome = trainer.evaluate(tasks, split="test", seed=assets.EVALUATION_SEED)
        metrics = self.read_metrics()
        meta = {
            "config": trainer.config.to_dict(),
            "iteration": trainer.state.iteration,
            "final_metrics": metrics[-1] if metrics else None,
            "evaluation": {
                "tasks": tasks,
                "split": "test",
                "seed": assets.EVALUATION_SEED,
                "pre_adaptation_return": float(outcome.pre_adaptation_returns.mean()),
                "post_adaptation_return": float(outcome.post_adaptation_returns.mean()),
            },
            "made_by": made_by,
        }
        assets.write_asset(out, trainer.state, meta)
        return meta


def load_trainer(path: str | Path) -> tuple[Trainer, list[str]]:
    """A trainer restored from a run folder or a pretrained asset, and any warnings; nothing is written."""
    if assets.is_asset(path):
        return assets.asset_trainer(path), []
    if Path(path).is_dir():
        return RunStore.open(path).load_trainer()
    raise RunStoreError(f"{path} is neither a run folder nor a pretrained asset (<name>.npz + <name>.json)")


def run_training(trainer: Trainer, store: RunStore, iterations: int, probe_every: int = 0) -> Iterator[IterationResult]:
    """Step ``trainer`` up to ``iterations`` in total, saving metrics, a checkpoint and probes as it goes.

    With ``probe_every = p > 0`` every p-th iteration records probe paths into the run.
    A ``DivergenceError`` propagates with the last good checkpoint on disk.
    """
    if trainer.state.iteration == 0 and not store.checkpoints():
        store.save_checkpoint(trainer.state)
    while trainer.state.iteration < iterations:
        probe = probe_every > 0 and (trainer.state.iteration + 1) % probe_every == 0
        result = trainer.step(probe=probe)
        store.append_metrics(result)
        if result.probe is not None:
            store.save_probe(result.iteration, result.probe)
        store.save_checkpoint(trainer.state)
        yield result


def runs_root() -> Path:
    """Where the dashboard keeps runs: ``$ESMAML_RUNS_DIR`` or ``<project>/runs``."""
    return Path(os.environ.get(RUNS_DIR_ENV) or assets.PROJECT_ROOT / "runs")
