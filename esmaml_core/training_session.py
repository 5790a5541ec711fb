"""Interactive training sessions: a run trained in small time-boxed increments, saved as it goes.

A front end (the dashboard) cannot block while a run trains, so ``TrainingSession``
drives the library's one training loop (``runs.run_training``) a few iterations at a
time: ``advance(budget)`` trains for about ``budget`` seconds (at least one iteration)
and returns; ``tick(budget)`` does the same but moves slow iterations (MuJoCo) to a
worker thread so the caller never waits for them. Every iteration is on disk as soon as
it is done (metrics, checkpoint and, every ``probe_every`` iterations, the probe paths),
so a closed browser tab loses nothing and ``TrainingSession.reopen`` continues the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from esmaml_core.config import TrainConfig
from esmaml_core.errors import DivergenceError
from esmaml_core.results import IterationResult
from esmaml_core.runs import RunStore, run_training, runs_root
from esmaml_core.tasks import TASK_FAMILIES
from esmaml_core.tasks.point import PointTaskFamily
from esmaml_core.trainer import Trainer

MAX_PROBES_PER_RUN = 100


def default_probe_every(config: TrainConfig) -> int:
    """Record probe paths often enough for a smooth slider, at most ``MAX_PROBES_PER_RUN`` times.

    Only point tasks (2-D positions, drawn by the dashboard) are probed: 0 means never.
    """
    if not isinstance(TASK_FAMILIES[config.task], PointTaskFamily):
        return 0
    return max(1, -(-config.iterations // MAX_PROBES_PER_RUN))


class Status(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"


# Sessions still running or paused in this process, by run folder: a run never gets two writers.
_LIVE_SESSIONS: dict[Path, TrainingSession] = {}
_LIVE_SESSIONS_LOCK = threading.Lock()


@dataclass
class TrainingSession:
    """One run being trained interactively, e.g. by one browser tab.

    A process holds at most one live (running or paused) session per run folder: reopening a
    run that is still live, e.g. after a browser refresh, returns that session instead of a
    second writer. ``advance`` is safe to call from several threads; one of them trains.
    """

    trainer: Trainer
    store: RunStore
    probe_every: int
    status: Status = Status.PAUSED
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    _steps: Iterator[IterationResult] | None = field(default=None, repr=False)
    _stepping: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _worker: threading.Thread | None = field(default=None, repr=False)
    opened_at: float = field(default_factory=time.monotonic, repr=False)

    @staticmethod
    def start(config: TrainConfig, root: Path | None = None) -> TrainingSession:
        """Create a run folder for a validated ``config`` and a running session on it."""
        store = RunStore.create_named(runs_root() if root is None else root, config)
        try:
            trainer, _ = store.restore_trainer()
        except BaseException:  # e.g. MemoryError for a huge network: leave no empty run behind
            store.delete()
            raise
        return TrainingSession(trainer, store, default_probe_every(config), Status.RUNNING)._register()

    @staticmethod
    def reopen(path: str | Path) -> TrainingSession:
        """The run's live session if it has one, else a paused one at its newest good checkpoint."""
        with _LIVE_SESSIONS_LOCK:
            live = _LIVE_SESSIONS.get(Path(path).resolve())
        if live is not None:
            return live
        store = RunStore.open(path).writer()
        try:
            trainer, warnings = store.restore_trainer()
        except BaseException:
            store.close()
            raise
        return TrainingSession(trainer, store, default_probe_every(trainer.config), warnings=warnings)._register()

    def _register(self) -> TrainingSession:
        with _LIVE_SESSIONS_LOCK:
            _LIVE_SESSIONS[self.store.path.resolve()] = self
        self._finish_if_done()
        return self

    @property
    def config(self) -> TrainConfig:
        return self.trainer.config

    @property
    def iteration(self) -> int:
        return self.trainer.state.iteration

    @property
    def progress(self) -> float:
        """Fraction of the configured iterations done, in [0, 1]."""
        return min(1.0, self.iteration / self.config.iterations) if self.config.iterations else 1.0

    def advance(self, budget_seconds: float) -> list[IterationResult]:
        """Train while running, until ``budget_seconds`` have passed (at least one iteration).

        Returns at once, with nothing, if another thread is already advancing this session.
        """
        if not self._stepping.acquire(blocking=False):
            return []
        try:
            return self._advance(budget_seconds)
        finally:
            self._stepping.release()

    def tick(self, budget_seconds: float) -> None:
        """Train for about ``budget_seconds`` without keeping a front end waiting much longer.

        Point-task iterations take a fraction of a second: they run right here, so the caller
        sees them at once. Other tasks' iterations (MuJoCo: seconds) run on a worker thread,
        one tick's worth at a time, while the caller goes on drawing what is on disk.
        """
        if isinstance(self.trainer.family, PointTaskFamily):
            self.advance(budget_seconds)
        elif self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._advance_then_release, args=(budget_seconds,), daemon=True)
            self._worker.start()

    def _advance_then_release(self, budget_seconds: float) -> None:
        self.advance(budget_seconds)
        if self.status not in (Status.RUNNING, Status.PAUSED):
            self._release()  # deferred by _end while this thread was training

    def _advance(self, budget_seconds: float) -> list[IterationResult]:
        results: list[IterationResult] = []
        started = time.perf_counter()
        while self.status is Status.RUNNING and (not results or time.perf_counter() - started < budget_seconds):
            if self._steps is None:
                self._steps = run_training(self.trainer, self.store, self.config.iterations, self.probe_every)
            try:
                result = next(self._steps)
            except StopIteration:
                self._finish_if_done()
                break
            except DivergenceError as error:
                self._fail(str(error))
                break
            results.append(result)
            self._finish_if_done()
        return results

    def pause(self) -> None:
        if self.status is Status.RUNNING:
            self.status = Status.PAUSED

    def resume(self) -> None:
        if self.status is Status.PAUSED:
            self.status = Status.RUNNING

    def stop(self) -> None:
        """End the session; the run stays on disk and can be reopened."""
        if self.status in (Status.RUNNING, Status.PAUSED):
            self._end(Status.STOPPED)

    def _finish_if_done(self) -> None:
        if self.iteration >= self.config.iterations:
            self._end(Status.FINISHED)

    def _fail(self, message: str) -> None:
        self.error = message
        self._end(Status.FAILED)

    def _end(self, status: Status) -> None:
        """No more training in this session: release the trainer's workers, if any, and the run."""
        self.status, self._steps = status, None
        if self._worker is None or self._worker is threading.current_thread() or not self._worker.is_alive():
            self._release()
        with _LIVE_SESSIONS_LOCK:
            if _LIVE_SESSIONS.get(self.store.path.resolve()) is self:
                del _LIVE_SESSIONS[self.store.path.resolve()]

    def _release(self) -> None:
        """Shut the trainer's workers down and give up writing the run (another writer may take it)."""
        self.trainer.close()
        self.store.close()
