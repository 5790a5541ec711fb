"""The run store: a run is a folder that survives crashes and can be resumed bit for bit.

Layout of ``<run>/``:

- ``config.json``: the TrainConfig (written once, atomically).
- ``metrics.jsonl``: one JSON object per iteration (``IterationResult.metrics()``).
- ``checkpoints/iter_NNNNNN.npz``: the full trainer state, ``allow_pickle=False``; the
  newest ``KEEP_CHECKPOINTS`` are kept.

Every file is written to a temporary name and moved into place with ``os.replace``. A
checkpoint that does not load is refused with ``CheckpointError``; resuming then falls
back to the newest one that does, and drops metrics lines past it, so the resumed run
continues exactly as the uninterrupted one would have.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from esmaml_core.config import TrainConfig
from esmaml_core.trainer import IterationResult, Trainer, TrainerState, make_trainer

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_DIR = "checkpoints"
KEEP_CHECKPOINTS = 3
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK  # what open() would give; mkstemp alone gives 0600


class RunStoreError(RuntimeError):
    """A run folder that cannot be created, opened or resumed as asked."""


class CheckpointError(RunStoreError):
    """A checkpoint file that is truncated, corrupted or not a checkpoint."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz of plain arrays, written atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(path, buffer.getvalue())


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz (no pickles); CheckpointError if it does not read back whole."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise CheckpointError(f"checkpoint {path} is unreadable ({error}); it may be truncated or corrupted") from error


def load_checkpoint(path: Path) -> TrainerState:
    arrays = load_arrays(path)
    try:
        return TrainerState.from_arrays(arrays)
    except (KeyError, ValueError, TypeError) as error:
        raise CheckpointError(f"checkpoint {path} is missing or has malformed fields ({error})") from error


@dataclass(frozen=True)
class RunStore:
    path: Path

    @staticmethod
    def create(path: str | Path, config: TrainConfig, force: bool = False) -> RunStore:
        """A new run folder for ``config``; an existing non-empty folder needs ``force``."""
        path = Path(path)
        if path.exists() and any(path.iterdir()):
            if not force:
                raise RunStoreError(
                    f"--out {path} already exists; pass --resume to continue it or --force to replace it"
                )
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        store = RunStore(path)
        store.write_config(config)
        return store

    @staticmethod
    def open(path: str | Path) -> RunStore:
        path = Path(path)
        if not (path / CONFIG_FILE).is_file():
            raise RunStoreError(f"{path} is not a run folder (no {CONFIG_FILE})")
        return RunStore(path)

    @property
    def name(self) -> str:
        return self.path.name

    def write_config(self, config: TrainConfig) -> None:
        atomic_write(self.path / CONFIG_FILE, json.dumps(config.to_dict(), indent=2).encode())

    def config(self) -> TrainConfig:
        try:
            values = json.loads((self.path / CONFIG_FILE).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise RunStoreError(f"{self.path / CONFIG_FILE} is unreadable: {error}") from error
        return TrainConfig.from_dict(values)

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

    def checkpoints(self) -> list[Path]:
        """Checkpoint files, oldest first."""
        return sorted((self.path / CHECKPOINT_DIR).glob("iter_*.npz"))

    def save_checkpoint(self, state: TrainerState) -> Path:
        folder = self.path / CHECKPOINT_DIR
        folder.mkdir(exist_ok=True)
        path = folder / f"iter_{state.iteration:06d}.npz"
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


def run_training(trainer: Trainer, store: RunStore, iterations: int, probe_every: int = 0) -> Iterator[IterationResult]:
    """Step ``trainer`` up to ``iterations`` in total, saving metrics and a checkpoint each step.

    A ``DivergenceError`` propagates with the last good checkpoint on disk. With
    ``probe_every = p > 0`` every p-th iteration records probe trajectories.
    """
    if trainer.state.iteration == 0 and not store.checkpoints():
        store.save_checkpoint(trainer.state)
    while trainer.state.iteration < iterations:
        probe = probe_every > 0 and (trainer.state.iteration + 1) % probe_every == 0
        result = trainer.step(probe=probe)
        store.append_metrics(result)
        store.save_checkpoint(trainer.state)
        yield result
