"""The run store: a run is a folder that survives crashes and can be resumed bit for bit.

``RunStore`` owns everything inside ``<run>/``; nothing else writes there:

- ``config.json``: the TrainConfig.
- ``metrics.jsonl``: one JSON object per iteration (``IterationResult.metrics()``).
- ``checkpoints/iter_NNNNNN.npz``: the full trainer state; the newest
  ``KEEP_CHECKPOINTS`` are kept.
- ``probes/iter_NNNNNN.npz``: the probe paths recorded at that iteration (point tasks).

Run folders made for the dashboard are named by ``new_run_folder`` after time, task,
method and seed. A run is exported as a pretrained asset with
``RunStore.export``, and ``load_trainer`` loads a run folder or an asset alike.

One writer at a time: a store that writes holds an exclusive OS lock on ``<run>/.lock``
(``RunStore.create`` and ``RunStore.writer()``); a second writer, in this process or
another, is refused at once with ``RunLockedError``. A store from ``RunStore.open`` only
reads, and its write methods refuse. The lock goes with the process, so a killed
writer never leaves a run locked.

Every file is written atomically (``esmaml_core.files``); temporary files a killed write
left behind are removed when a writer opens the run. A checkpoint that does not load is
refused with ``CheckpointError``; resuming then falls back to the newest one that does
and drops the metrics rows past it, so the resumed run continues exactly as the
uninterrupted one would have. A damaged metrics line is reported (file and line number)
and left out of the curves; it never cuts the rows after it. If no checkpoint of a run
loads, the run is refused rather than restarted from zero over its history.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

from esmaml_core import assets
from esmaml_core.config import TrainConfig
from esmaml_core.errors import CheckpointError, ConfigError, RunExistsError, RunLockedError, RunStoreError
from esmaml_core.files import TEMP_SUFFIX, atomic_write, load_arrays, load_checkpoint, save_arrays
from esmaml_core.results import METRIC_NAMES, IterationResult, ProbeTrajectories
from esmaml_core.tasks import TASK_FAMILIES
from esmaml_core.tasks.point import PointTaskFamily
from esmaml_core.trainer import Trainer, TrainerState, make_trainer

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_DIR = "checkpoints"
PROBE_DIR = "probes"
LOCK_FILE = ".lock"
KEEP_CHECKPOINTS = 3
MAX_NAME_SUFFIX = 1000
RUNS_DIR_ENV = "ESMAML_RUNS_DIR"
MAX_PROBES_PER_RUN = 100


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


def is_run_folder(path: Path) -> bool:
    """Whether ``path`` holds a run of this project (a config.json naming a task and a method)."""
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(config, dict) and {"task", "method"} <= config.keys()


class WriterLock:
    """An exclusive ``flock`` on a run's lock file, held until ``release`` or the process ends."""

    def __init__(self, run_path: Path):
        self.descriptor = os.open(run_path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(self.descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.descriptor)
            raise RunLockedError(run_path) from None

    def release(self) -> None:
        if self.descriptor >= 0:
            os.close(self.descriptor)  # closing the descriptor releases the lock
            self.descriptor = -1


@dataclass(frozen=True)
class RunStore:
    """A run folder; ``lock`` is set on the one store that may write it."""

    path: Path
    lock: WriterLock | None = field(default=None, compare=False, repr=False)

    @staticmethod
    def create(path: str | Path, config: TrainConfig, force: bool = False) -> RunStore:
        """A new run folder for ``config``, locked for writing.

        An existing non-empty folder is refused (``RunExistsError``) unless ``force`` is set
        and it is a run folder that no other writer holds: then its contents are replaced.
        Any other folder is never deleted.
        """
        path = Path(path)
        if path.is_dir() and any(entry.name != LOCK_FILE for entry in path.iterdir()):
            if not force:
                raise RunExistsError(path)
            if not is_run_folder(path):
                raise RunStoreError(f"{path} is not a run folder; only a run folder can be replaced")
            old = RunStore(path).writer()
            for entry in path.iterdir():
                if entry.name != LOCK_FILE:
                    shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            store = old
        else:
            try:
                path.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError) as error:
                raise RunStoreError(f"{path} cannot be a run folder: {error.strerror}") from error
            store = RunStore(path).writer()
        store.write_config(config)
        return store

    @staticmethod
    def open(path: str | Path) -> RunStore:
        path = Path(path)
        if not (path / CONFIG_FILE).is_file():
            raise RunStoreError(f"{path} is not a run folder (no {CONFIG_FILE})")
        return RunStore(path)

    def writer(self) -> RunStore:
        """This run, locked for writing; RunLockedError if another writer holds it.

        Temporary files that a killed write left behind are removed.
        """
        store = RunStore(self.path, WriterLock(self.path))
        for folder in (self.path, self.path / CHECKPOINT_DIR, self.path / PROBE_DIR):
            for orphan in folder.glob(f".*{TEMP_SUFFIX}"):
                orphan.unlink(missing_ok=True)
        return store

    def close(self) -> None:
        """Give up writing (release the lock); a reader's close does nothing."""
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def name(self) -> str:
        return self.path.name

    def _writable(self) -> Path:
        if self.lock is None or self.lock.descriptor < 0:
            raise RunStoreError(f"{self.path} is open for reading only")
        return self.path

    def delete(self) -> None:
        """Remove the run folder, e.g. after a run that could not even start."""
        shutil.rmtree(self._writable(), ignore_errors=True)
        self.close()

    # --- config and metrics --------------------------------------------------------------------

    def write_config(self, config: TrainConfig) -> None:
        atomic_write(self._writable() / CONFIG_FILE, json.dumps(config.to_dict(), indent=2).encode())

    def config(self) -> TrainConfig:
        """The run's validated config; RunStoreError naming the file if it is unreadable or not allowed."""
        path = self.path / CONFIG_FILE
        try:
            return TrainConfig.from_dict(json.loads(path.read_text())).validate()
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ConfigError, TypeError) as error:
            raise RunStoreError(f"{path} is not a usable run config: {error}") from error

    def append_metrics(self, result: IterationResult) -> None:
        with open(self._writable() / METRICS_FILE, "a") as handle:
            handle.write(json.dumps(result.metrics()) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def read_metrics(self) -> list[dict]:
        """The metrics rows in order; damaged lines are left out (``metrics_problems`` names them)."""
        return [row for row, _ in self._metrics_lines() if row is not None]

    def metrics_problems(self, lines: list[tuple[dict | None, bytes]] | None = None) -> list[str]:
        """One message per damaged metrics line (of ``lines`` if given, read from the file if not),
        naming the file and the line number."""
        path = self.path / METRICS_FILE
        return [
            f"{path} line {number}: not a metrics row, left out"
            for number, (row, _) in enumerate(self._metrics_lines() if lines is None else lines, start=1)
            if row is None
        ]

    def _metrics_lines(self) -> list[tuple[dict | None, bytes]]:
        """(row or None if damaged, raw line) for each line of metrics.jsonl, newline kept."""
        try:
            data = (self.path / METRICS_FILE).read_bytes()
        except FileNotFoundError:
            return []
        return [(metrics_row(line), line) for line in data.splitlines(keepends=True)]

    # --- checkpoints ---------------------------------------------------------------------------

    def checkpoints(self) -> list[Path]:
        """Checkpoint files, oldest first."""
        return iteration_files(self.path / CHECKPOINT_DIR)

    def save_checkpoint(self, state: TrainerState) -> Path:
        path = iteration_file(self._writable() / CHECKPOINT_DIR, state.iteration)
        save_arrays(path, state.to_arrays())
        for old in self.checkpoints()[:-KEEP_CHECKPOINTS]:
            old.unlink(missing_ok=True)
        return path

    def load_trainer(self, config: TrainConfig | None = None) -> tuple[Trainer, list[str]]:
        """A trainer at the newest checkpoint that loads and fits the config, without touching the folder.

        ``config`` replaces the stored one, e.g. a resume's new total or executor. Each newer
        checkpoint that does not load or fit is skipped with a warning. A run with no
        checkpoint and no metrics starts at iteration 0; a run with history but no usable
        checkpoint raises CheckpointError: it is never silently restarted from zero.
        """
        trainer = make_trainer(config or self.config())
        warnings = []
        checkpoints = self.checkpoints()
        for path in reversed(checkpoints):
            try:
                trainer.restore(load_checkpoint(path), path)
                return trainer, warnings
            except CheckpointError as error:
                warnings.append(f"skipping {error}")
        if checkpoints or self.read_metrics():
            trainer.close()
            raise CheckpointError(
                f"no checkpoint of {self.path} loads ({'; '.join(warnings) or 'none left'}); "
                "the run cannot continue without losing its history"
            )
        return trainer, warnings

    def restore_trainer(self, config: TrainConfig | None = None) -> tuple[Trainer, list[str]]:
        """``load_trainer`` to continue training (writers only): metrics rows past the checkpoint are dropped.

        Damaged lines are kept as they are (and reported in the warnings); only a last line
        cut short by a crash, which has no newline, goes.
        """
        self._writable()
        trainer, warnings = self.load_trainer(config)
        lines = self._metrics_lines()  # read once: the problems, the rows kept and the rewrite all come from it
        warnings += self.metrics_problems(lines)
        complete = lines[:-1] if lines and not lines[-1][1].endswith(b"\n") else lines
        kept = [raw for row, raw in complete if row is None or row["iteration"] <= trainer.state.iteration]
        if len(kept) != len(lines):
            atomic_write(self.path / METRICS_FILE, b"".join(kept))
        return trainer, warnings

    # --- probes --------------------------------------------------------------------------------

    def save_probe(self, iteration: int, probe: ProbeTrajectories) -> Path:
        """Write the probe paths of ``iteration`` as plain arrays."""
        path = iteration_file(self._writable() / PROBE_DIR, iteration)
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


def metrics_row(line: bytes) -> dict | None:
    """A metrics.jsonl line as a row, or None if it is not one (bad UTF-8 or JSON, missing or non-numeric fields)."""
    try:
        row = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(row, dict) or not all(_is_number(row.get(name)) for name in METRIC_NAMES):
        return None
    iteration = row["iteration"]
    return row if isinstance(iteration, int) and iteration >= 1 else None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def load_trainer(path: str | Path) -> tuple[Trainer, list[str]]:
    """A trainer restored from a run folder or a pretrained asset, and any warnings; nothing is written."""
    if assets.is_asset(path):
        return assets.asset_trainer(path), []
    if Path(path).is_dir():
        return RunStore.open(path).load_trainer()
    raise RunStoreError(f"{path} is neither a run folder nor a pretrained asset (<name>.npz + <name>.json)")


def probes_recorded(config: TrainConfig) -> bool:
    """Whether a run can record probe paths: point tasks only (2-D positions, which Explore draws;
    a MuJoCo run's observation paths would be megabytes an iteration)."""
    return isinstance(TASK_FAMILIES[config.task], PointTaskFamily)


def default_probe_every(config: TrainConfig) -> int:
    """Record probe paths often enough for a smooth slider, at most ``MAX_PROBES_PER_RUN`` times; 0 (never)
    where ``probes_recorded`` says no."""
    if not probes_recorded(config):
        return 0
    return max(1, -(-config.iterations // MAX_PROBES_PER_RUN))


def check_probe_every(config: TrainConfig, probe_every: int) -> None:
    """Refuse (ConfigError) probing a run that cannot record probes, or more than ``MAX_PROBES_PER_RUN`` times."""
    if probe_every == 0:
        return
    if not probes_recorded(config):
        raise ConfigError("probe_every", probe_every, "only runs on point tasks record probe paths; leave it at 0")
    if config.iterations // probe_every > MAX_PROBES_PER_RUN:
        fewest = default_probe_every(config)
        raise ConfigError(
            "probe_every",
            probe_every,
            f"at most {MAX_PROBES_PER_RUN} probes a run: at least {fewest} for {config.iterations} iterations",
        )


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


def new_run_folder(root: str | Path, config: TrainConfig, now: datetime | None = None) -> Path:
    """A new, empty folder under ``root`` named after time and config, for a writer to create a run in.

    Never reuses an existing name: the folder is made here (atomically), so two runs started
    in the same second get different folders. Nothing is written into it.
    """
    root = Path(root)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{config.task}-{config.method}-s{config.seed}"
    root.mkdir(parents=True, exist_ok=True)
    for suffix in range(MAX_NAME_SUFFIX):
        path = root / (base if suffix == 0 else f"{base}-{suffix}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RunStoreError(f"no free run folder name for {base} under {root}")


def run_in(root: str | Path, name: str) -> Path:
    """The folder of run ``name`` under ``root``; RunStoreError for a name that would lead elsewhere
    (a path, ``..``, ``.``, empty, or a link out of ``root``)."""
    root = Path(root)
    if not name or name in (".", "..") or Path(name).name != name or "\x00" in name:
        raise RunStoreError(f"{name!r} is not a run name")
    path = root / name
    if not path.resolve().is_relative_to(root.resolve()):
        raise RunStoreError(f"{name!r} leads outside the runs folder {root}")
    return path


def runs_root() -> Path:
    """Where the dashboard keeps runs: ``$ESMAML_RUNS_DIR`` or ``<project>/runs``."""
    return Path(os.environ.get(RUNS_DIR_ENV) or assets.PROJECT_ROOT / "runs")
