"""Training jobs: ``train`` child processes that go on while nobody watches, and their state read back.

The dashboard trains exactly as the command line does: a job is ``python -m esmaml_core
train ... --out RUN`` (``--resume`` to continue), started as a child process in its own
session, so a closed browser tab or a rerun of the page never reaches it, and signalled as
a process group (the process executor's workers are in it):

- pause: SIGSTOP to the group; continue: SIGCONT;
- stop: SIGINT to the child, as Ctrl-C in a terminal: it saves the iteration under way
  (checkpoints are atomic), prints "interrupted ... continue with --resume" and exits.

The child is the run folder's only writer (it holds the run's lock). The dashboard never
writes into a run folder: what it keeps about a job lives beside the runs, in
``<runs>/.jobs/``: ``<run>.json`` (the child's process id, when it started, whether the
user stopped it) and ``<run>.log`` (the child's output, one header line per launch, so
the reason a job failed, e.g. a DivergenceError's message, can be shown).

A job's state is derived, never stored: its process alive (``/proc``; state ``T`` =
paused) or the run's lock held by some process means running or paused; else the run at
its configured iterations is finished; else stopped (the user said so), failed (the last
launch's output has an error) or interrupted (it died or its dashboard ended: resumable).
The dashboard's own jobs get SIGINT when its process exits normally, so a restarted
dashboard shows them interrupted, with a way to resume them.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path

from esmaml_core.cli import train_arguments
from esmaml_core.config import TrainConfig
from esmaml_core.errors import RunStoreError
from esmaml_core.files import atomic_write
from esmaml_core.runs import CONFIG_FILE, LOCK_FILE, RunStore, default_probe_every, new_run_folder, run_in

JOBS_DIR = ".jobs"
LAUNCH_HEADER = "--- launched "
ERROR_MARKS = ("error:", "Traceback (most recent call last):")
PAUSED_PROCESS_STATES = ("T", "t")
GONE_PROCESS_STATES = ("Z", "X")

# The train children this process started, by process id: polled to reap them, interrupted at exit.
_CHILDREN: dict[int, subprocess.Popen] = {}


class JobState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


ALIVE_STATES = (JobState.RUNNING, JobState.PAUSED)
RESUMABLE_STATES = (JobState.STOPPED, JobState.INTERRUPTED)


@dataclass(frozen=True)
class JobRecord:
    """What the dashboard keeps about a job: the child's process id, when it started, whether the user stopped it."""

    run: str
    pid: int
    started: float
    stopped: bool = False


@dataclass(frozen=True)
class Job:
    """A run as a job: its folder, config (None while the child has not written it yet), state and progress."""

    path: Path
    config: TrainConfig | None
    state: JobState
    iteration: int
    error: str | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def iterations(self) -> int:
        return self.config.iterations if self.config is not None else 0

    @property
    def progress(self) -> float:
        """Fraction of the configured iterations done, in [0, 1]."""
        return min(1.0, self.iteration / self.iterations) if self.iterations else 0.0


# --- where a job's record and log live ---------------------------------------------------------------


def jobs_folder(root: Path) -> Path:
    return Path(root) / JOBS_DIR


def record_path(root: Path, name: str) -> Path:
    return jobs_folder(root) / f"{name}.json"


def log_path(root: Path, name: str) -> Path:
    return jobs_folder(root) / f"{name}.log"


def read_record(root: Path, name: str) -> JobRecord | None:
    try:
        return JobRecord(**json.loads(record_path(root, name).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def started_at(root: Path, name: str) -> float:
    """When the job's last launch started (``time.time()``), now if it has no record."""
    record = read_record(root, name)
    return record.started if record is not None else time.time()


def write_record(root: Path, record: JobRecord) -> None:
    atomic_write(record_path(root, record.run), json.dumps(asdict(record)).encode())


# --- starting, signalling --------------------------------------------------------------------------


BLAS_THREADS_ENV = "OPENBLAS_NUM_THREADS"


def child_environment() -> dict[str, str]:
    """This process's environment for a ``train`` child, NumPy's BLAS on one thread unless the user chose.

    Children train side by side (dashboard jobs; ``experiments/run.py``, two at a time), and
    OpenBLAS threads spin while they wait for work: two children with two BLAS threads each
    on the 2 cores ran DPP adaptation at 3.5 s an iteration, against 0.28 s each with one
    thread; a child alone is no faster with two (TRPO-MAML, hill climbing, DPP measured).
    """
    return {BLAS_THREADS_ENV: "1", **os.environ}


def train_child_command(run_path: Path, options: list[str], probe_every: int) -> list[str]:
    """The ``train`` command of a job: this Python, this library, no progress bar."""
    out = ["--out", str(run_path), "--probe-every", str(probe_every), "--quiet"]
    return [sys.executable, "-m", "esmaml_core", "train", *options, *out]


def spawn(root: Path, run_path: Path, options: list[str], probe_every: int) -> Job:
    """Start a ``train`` child on ``run_path`` in its own session, its output appended to the job's log."""
    root, name = Path(root), run_path.name
    command = train_child_command(run_path, options, probe_every)
    jobs_folder(root).mkdir(parents=True, exist_ok=True)
    with open(log_path(root, name), "ab") as log:
        log.write(f"{LAUNCH_HEADER}{time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(command)}\n".encode())
        log.flush()
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, env=child_environment()
        )
    if not _CHILDREN:
        atexit.register(interrupt_own_jobs)
    _CHILDREN[child.pid] = child
    write_record(root, JobRecord(name, child.pid, time.time()))
    return job(root, name)


def start(root: Path, config: TrainConfig) -> Job:
    """A new run of the validated ``config`` under ``root``, trained by a child process."""
    run_path = new_run_folder(Path(root).resolve(), config)
    return spawn(root, run_path, train_arguments(config, every_option=True), default_probe_every(config))


def resume(root: Path, name: str, iterations: int | None = None) -> Job:
    """Continue a stopped, interrupted or finished run from its last good checkpoint, up to ``iterations``
    in total if given (``train --resume --iterations``). Refused while the run is being trained."""
    current = job(root, name)
    if current.state in ALIVE_STATES:
        raise RunStoreError(f"{name} is already being trained")
    if current.config is None:
        raise RunStoreError(f"{name} has no config to resume from")
    total = current.config.iterations if iterations is None else iterations
    options = ["--resume", "--iterations", str(total)]
    return spawn(root, current.path, options, default_probe_every(replace(current.config, iterations=total)))


def train_more(root: Path, name: str, extra: int) -> Job:
    """Train a run ``extra`` iterations past where it is."""
    return resume(root, name, job(root, name).iteration + extra)


def signal_group(root: Path, name: str, signal_number: int) -> bool:
    """Send ``signal_number`` to the job's process group; False if it is not running."""
    pid = live_pid(root, name)
    if pid is None:
        return False
    try:
        os.killpg(os.getpgid(pid), signal_number)  # a job's group is its own; a terminal's train, its shell job's
    except ProcessLookupError:
        return False
    return True


def pause(root: Path, name: str) -> bool:
    return signal_group(root, name, signal.SIGSTOP)


def unpause(root: Path, name: str) -> bool:
    return signal_group(root, name, signal.SIGCONT)


def stop(root: Path, name: str) -> bool:
    """Stop the job as Ctrl-C would (the run stays resumable); False if it was not running."""
    record = read_record(root, name)
    pid = live_pid(root, name)
    if pid is None:
        return False
    if record is not None and record.pid == pid:
        write_record(root, replace(record, stopped=True))
    interrupt(pid)
    return True


def interrupt(pid: int) -> None:
    """SIGINT to the child (it ends the run once the iteration under way is saved), and SIGCONT in case it
    is paused."""
    try:
        os.kill(pid, signal.SIGINT)
        os.killpg(os.getpgid(pid), signal.SIGCONT)
    except ProcessLookupError:
        pass


def interrupt_own_jobs() -> None:
    """At exit: interrupt every job this process started that still runs (they become resumable)."""
    for pid, child in list(_CHILDREN.items()):
        if child.poll() is None:
            interrupt(pid)


# --- state, derived --------------------------------------------------------------------------------


def process_state(pid: int) -> str | None:
    """The ``/proc`` state letter of a live process (``T``: stopped, i.e. paused), None if it is gone."""
    if pid in _CHILDREN:
        _CHILDREN[pid].poll()  # reap our own exited child
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    return None if state in GONE_PROCESS_STATES else state


def trains(pid: int, run_path: Path) -> bool:
    """Whether ``pid`` is alive and a ``train`` of ``run_path`` (not an unrelated process that reused the id)."""
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return process_state(pid) is not None and os.fsencode(str(run_path)) in command_line.split(b"\0")


def lock_holder(run_path: Path) -> int | None:
    """The process holding the run's writer lock (``/proc/locks``), e.g. a ``train`` started in a terminal."""
    try:
        lock = os.stat(run_path / LOCK_FILE)
        table = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    wanted = f"{os.major(lock.st_dev):02x}:{os.minor(lock.st_dev):02x}:{lock.st_ino}"
    for line in table:
        words = line.split()
        if len(words) > 5 and words[1] == "FLOCK" and words[5] == wanted:
            return int(words[4])
    return None


def live_pid(root: Path, name: str) -> int | None:
    """The process training run ``name``: the job's child, else whoever holds the run's lock."""
    run_path = run_in(Path(root).resolve(), name)
    record = read_record(root, name)
    if record is not None and trains(record.pid, run_path):
        return record.pid
    return lock_holder(run_path)


def last_launch_error(root: Path, name: str) -> str | None:
    """The error the job's last launch printed, if any (its output from the first error line on)."""
    try:
        text = log_path(root, name).read_text(errors="replace")
    except OSError:
        return None
    output = text.rsplit(LAUNCH_HEADER, 1)[-1].splitlines()[1:]
    for index, line in enumerate(output):
        if line.startswith(ERROR_MARKS):
            return "\n".join(output[index:]).strip()
    return None


def run_progress(run_path: Path) -> tuple[TrainConfig | None, int]:
    """The run's config (None if not readable yet) and the last iteration in its metrics."""
    if not (run_path / CONFIG_FILE).is_file():
        return None, 0
    store = RunStore.open(run_path)
    try:
        config = store.config()
    except RunStoreError:
        config = None
    rows = store.read_metrics()
    return config, rows[-1]["iteration"] if rows else 0


def job(root: Path, name: str) -> Job:
    """Run ``name`` under ``root`` as a job, its state derived from its process, its folder and its log."""
    run_path = run_in(Path(root).resolve(), name)
    config, iteration = run_progress(run_path)
    pid = live_pid(root, name)
    if pid is not None:
        paused = process_state(pid) in PAUSED_PROCESS_STATES
        return Job(run_path, config, JobState.PAUSED if paused else JobState.RUNNING, iteration)
    if config is not None and iteration >= config.iterations:
        return Job(run_path, config, JobState.FINISHED, iteration)
    record = read_record(root, name)
    if record is not None and record.stopped:
        return Job(run_path, config, JobState.STOPPED, iteration)
    error = last_launch_error(root, name)
    return Job(run_path, config, JobState.FAILED if error else JobState.INTERRUPTED, iteration, error)


def list_jobs(root: Path) -> list[Job]:
    """Every run the dashboard has started under ``root``, newest first."""
    records = [record for path in jobs_folder(root).glob("*.json") if (record := read_record(root, path.stem))]
    newest_first = sorted(records, key=lambda record: record.started, reverse=True)
    return [job(root, record.run) for record in newest_first if (Path(root) / record.run).is_dir()]
