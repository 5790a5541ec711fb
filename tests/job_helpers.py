"""Helpers for tests that start training jobs: wait for a condition, leave no child process behind,
and train a run in this process (for pages that need saved runs)."""

import os
import signal
import time
from pathlib import Path

from esmaml_core import jobs
from esmaml_core.config import TrainConfig
from esmaml_core.runs import RunStore, default_probe_every, new_run_folder, run_training


def wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def kill_jobs(root: Path) -> None:
    """Kill the process group of every job under ``root`` that is still alive (teardown)."""
    for path in jobs.jobs_folder(root).glob("*.json"):
        record = jobs.read_record(root, path.stem)
        if record is not None and jobs.trains(record.pid, (Path(root).resolve() / record.run)):
            os.killpg(record.pid, signal.SIGKILL)
            wait_for(lambda pid=record.pid: jobs.process_state(pid) is None, 10.0)


def train_saved_run(root: Path, config: TrainConfig) -> RunStore:
    """A finished run of ``config`` under ``root``, trained here as ``train`` would, probes included."""
    with RunStore.create(new_run_folder(root, config), config) as store:
        trainer, _ = store.restore_trainer()
        with trainer:
            for _ in run_training(trainer, store, config.iterations, default_probe_every(config)):
                pass
    return RunStore.open(store.path)
