"""Training jobs: real ``train`` children on a tiny Four Corner run, paused, continued, stopped, killed, resumed."""

import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from esmaml_core import jobs
from esmaml_core.errors import RunLockedError, RunStoreError
from esmaml_core.jobs import JobState
from esmaml_core.runs import RUNS_DIR_ENV, RunStore, new_run_folder, runs_root
from tests.fakes import small_config
from tests.job_helpers import kill_jobs, wait_for

LONG = 100_000  # iterations no test waits for


@pytest.fixture
def root(tmp_path):
    yield tmp_path
    kill_jobs(tmp_path)


def iteration_after(root, name, seconds: float) -> int:
    time.sleep(seconds)
    return jobs.job(root, name).iteration


def test_runs_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(RUNS_DIR_ENV, str(tmp_path))
    assert runs_root() == tmp_path
    monkeypatch.delenv(RUNS_DIR_ENV)
    assert runs_root().name == "runs"


def test_two_runs_started_at_the_same_moment_get_their_own_empty_folders(tmp_path):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    first, second = (new_run_folder(tmp_path, small_config(), now) for _ in range(2))
    assert first != second and not any(first.iterdir()) and not any(second.iterdir())


def test_a_job_trains_the_run_to_its_end_as_the_cli_would(root):
    job = jobs.start(root, small_config(iterations=6))
    assert job.state is JobState.RUNNING
    wait_for(lambda: jobs.job(root, job.name).state is JobState.FINISHED)
    store = RunStore.open(job.path)
    assert [row["iteration"] for row in store.read_metrics()] == [1, 2, 3, 4, 5, 6]
    assert store.probe_iterations() == [1, 2, 3, 4, 5, 6] and store.config() == small_config(iterations=6)
    assert [found.name for found in jobs.list_jobs(root)] == [job.name]


def test_children_run_numpys_blas_on_one_thread_unless_the_user_chose(root, monkeypatch):
    monkeypatch.delenv(jobs.BLAS_THREADS_ENV, raising=False)
    job = jobs.start(root, small_config(iterations=LONG))
    environ = Path(f"/proc/{jobs.read_record(root, job.name).pid}/environ").read_bytes().split(b"\0")
    assert f"{jobs.BLAS_THREADS_ENV}=1".encode() in environ
    monkeypatch.setenv(jobs.BLAS_THREADS_ENV, "2")
    assert jobs.child_environment()[jobs.BLAS_THREADS_ENV] == "2"


def test_pause_holds_the_run_still_and_unpause_continues_it(root):
    job = jobs.start(root, small_config(iterations=LONG))
    wait_for(lambda: jobs.job(root, job.name).iteration >= 2)
    assert jobs.pause(root, job.name)
    wait_for(lambda: jobs.job(root, job.name).state is JobState.PAUSED)
    paused_at = iteration_after(root, job.name, 0.3)  # an iteration under way when paused may still land
    assert iteration_after(root, job.name, 1.0) == paused_at
    assert jobs.unpause(root, job.name)
    wait_for(lambda: jobs.job(root, job.name).iteration > paused_at + 2)
    assert jobs.job(root, job.name).state is JobState.RUNNING


def test_stop_ends_the_job_resumably_and_resume_continues_from_its_checkpoint(root):
    job = jobs.start(root, small_config(iterations=LONG))
    wait_for(lambda: jobs.job(root, job.name).iteration >= 2)
    assert jobs.stop(root, job.name)
    wait_for(lambda: jobs.job(root, job.name).state is JobState.STOPPED)
    stopped_at = jobs.job(root, job.name).iteration
    assert "interrupted at iteration" in jobs.log_path(root, job.name).read_text()
    jobs.resume(root, job.name)
    wait_for(lambda: jobs.job(root, job.name).iteration > stopped_at + 2)
    rows = RunStore.open(job.path).read_metrics()
    assert [row["iteration"] for row in rows] == list(range(1, len(rows) + 1))  # no gap, no repeat


def test_a_killed_job_is_interrupted_and_resumable_and_a_running_one_refuses_a_second_writer(root):
    job = jobs.start(root, small_config(iterations=LONG))
    wait_for(lambda: jobs.job(root, job.name).iteration >= 1)
    with pytest.raises(RunLockedError):
        RunStore.open(job.path).writer()  # the child holds the run
    with pytest.raises(RunStoreError, match="already being trained"):
        jobs.resume(root, job.name)
    os.killpg(jobs.read_record(root, job.name).pid, signal.SIGKILL)
    wait_for(lambda: jobs.job(root, job.name).state is JobState.INTERRUPTED)
    killed_at = jobs.job(root, job.name).iteration
    jobs.resume(root, job.name)
    wait_for(lambda: jobs.job(root, job.name).iteration > killed_at)


def test_train_more_extends_a_finished_run(root):
    job = jobs.start(root, small_config(iterations=3))
    wait_for(lambda: jobs.job(root, job.name).state is JobState.FINISHED)
    jobs.train_more(root, job.name, 4)
    wait_for(lambda: jobs.job(root, job.name).state is JobState.FINISHED and jobs.job(root, job.name).iteration == 7)
    assert RunStore.open(job.path).config().iterations == 7


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_diverging_job_fails_with_the_cli_message(root):
    job = jobs.start(root, small_config(lr=1e308, optimizer="sgd"))
    wait_for(lambda: jobs.job(root, job.name).state is JobState.FAILED)
    assert "NaN or inf" in jobs.job(root, job.name).error


def test_a_run_trained_by_someone_else_shows_as_running_by_its_lock(root):
    store = RunStore.create(root / "terminal-run", small_config())  # a writer in this process, e.g. a terminal
    try:
        assert jobs.lock_holder(store.path) == os.getpid()
        assert jobs.job(root, "terminal-run").state is JobState.RUNNING
    finally:
        store.close()
    assert jobs.lock_holder(store.path) is None
    assert jobs.job(root, "terminal-run").state is JobState.INTERRUPTED


def test_a_reused_process_id_is_not_taken_for_the_job(root):
    config = small_config()
    path = new_run_folder(root, config)
    RunStore.create(path, config).close()
    jobs.write_record(root, jobs.JobRecord(path.name, os.getpid(), time.time()))  # this process trains nothing
    assert jobs.job(root, path.name).state is JobState.INTERRUPTED


def test_a_dashboard_ending_interrupts_its_jobs_resumably(root):
    """What the exit hook does: every job this process started gets Ctrl-C, even a paused one."""
    running, paused = (jobs.start(root, small_config(iterations=LONG, seed=seed)) for seed in (0, 1))
    wait_for(lambda: min(jobs.job(root, job.name).iteration for job in (running, paused)) >= 1)
    jobs.pause(root, paused.name)
    jobs.interrupt_own_jobs()
    for job in (running, paused):
        wait_for(lambda job=job: jobs.job(root, job.name).state is JobState.INTERRUPTED)
        assert "interrupted at iteration" in jobs.log_path(root, job.name).read_text()
