"""Interactive training sessions: time-boxed increments, pause/resume/stop, reopening, one writer per run."""

import time
from datetime import UTC, datetime

import numpy as np
import pytest

from esmaml_core.config import TrainConfig
from esmaml_core.runs import RUNS_DIR_ENV, RunStore, run_training, runs_root
from esmaml_core.training_session import Status, TrainingSession, default_probe_every
from tests.fakes import small_config


def train_until_done(session: TrainingSession) -> int:
    ticks = 0
    while session.status is Status.RUNNING:
        session.advance(0.0)
        ticks += 1
    return ticks


def test_runs_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(RUNS_DIR_ENV, str(tmp_path))
    assert runs_root() == tmp_path
    monkeypatch.delenv(RUNS_DIR_ENV)
    assert runs_root().name == "runs"


def test_a_session_trains_in_increments_and_saves_every_iteration(tmp_path):
    session = TrainingSession.start(small_config(), tmp_path)
    assert session.status is Status.RUNNING
    first = session.advance(0.0)  # a zero budget still makes progress: exactly one iteration
    assert [result.iteration for result in first] == [1]
    assert len(session.store.read_metrics()) == 1
    assert train_until_done(session) == 3
    assert session.status is Status.FINISHED and session.progress == 1.0
    assert [row["iteration"] for row in session.store.read_metrics()] == [1, 2, 3, 4]
    assert session.store.probe_iterations() == [1, 2, 3, 4]
    assert session.advance(1.0) == []


def test_a_session_matches_the_cli_loop_bit_for_bit(tmp_path):
    config = small_config()
    session = TrainingSession.start(config, tmp_path / "ui")
    train_until_done(session)
    store = RunStore.create(tmp_path / "cli", config)
    trainer, _ = store.restore_trainer()
    list(run_training(trainer, store, config.iterations))
    np.testing.assert_array_equal(session.trainer.state.params, trainer.state.params)


def test_pause_resume_and_stop(tmp_path):
    session = TrainingSession.start(small_config(), tmp_path)
    session.pause()
    assert session.advance(1.0) == [] and session.iteration == 0
    session.resume()
    assert len(session.advance(0.0)) == 1
    session.stop()
    assert session.status is Status.STOPPED
    session.resume()
    assert session.advance(1.0) == [] and session.iteration == 1


def test_a_run_that_cannot_be_set_up_leaves_no_folder(tmp_path, monkeypatch):
    def out_of_memory(store):
        raise MemoryError("Unable to allocate 74.5 GiB")

    monkeypatch.setattr(RunStore, "restore_trainer", out_of_memory)
    with pytest.raises(MemoryError):
        TrainingSession.start(TrainConfig(iterations=2), tmp_path)
    assert not any(tmp_path.iterdir())


def test_a_stopped_session_reopens_where_it_stopped_and_finishes_like_an_uninterrupted_run(tmp_path):
    config = small_config()
    interrupted = TrainingSession.start(config, tmp_path / "a")
    interrupted.advance(0.0)
    interrupted.advance(0.0)
    interrupted.stop()
    reopened = TrainingSession.reopen(interrupted.store.path)
    assert reopened.status is Status.PAUSED and reopened.iteration == 2
    reopened.resume()
    train_until_done(reopened)
    straight = TrainingSession.start(config, tmp_path / "b")
    train_until_done(straight)
    np.testing.assert_array_equal(reopened.trainer.state.params, straight.trainer.state.params)
    assert TrainingSession.reopen(reopened.store.path).status is Status.FINISHED


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_reopening_a_live_run_returns_its_session_so_a_run_never_has_two_writers(tmp_path):
    live = TrainingSession.start(small_config(), tmp_path)
    live.advance(0.0)
    assert TrainingSession.reopen(live.store.path) is live  # e.g. a refreshed browser tab
    live.pause()
    assert TrainingSession.reopen(live.store.path) is live
    live.stop()
    reopened = TrainingSession.reopen(live.store.path)
    assert reopened is not live and reopened.iteration == 1


def test_only_one_thread_advances_a_session_at_a_time(tmp_path):
    session = TrainingSession.start(small_config(iterations=100), tmp_path)
    with session._stepping:  # another thread is mid-tick
        assert session.advance(1.0) == []
    assert len(session.advance(0.0)) == 1


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_diverging_run_fails_with_a_message(tmp_path):
    session = TrainingSession.start(small_config(lr=1e308, optimizer="sgd"), tmp_path)
    train_until_done(session)
    assert session.status is Status.FAILED
    assert "NaN or inf" in session.error


def test_two_sessions_started_at_the_same_moment_get_their_own_folders(tmp_path):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    first, second = (RunStore.create_named(tmp_path, small_config(), now) for _ in range(2))
    assert first.path != second.path and first.config() == second.config()


def test_probes_are_recorded_at_most_a_hundred_times_and_only_on_point_tasks():
    assert default_probe_every(small_config(iterations=50)) == 1
    assert default_probe_every(small_config(iterations=1000)) == 10
    assert -(-1001 // default_probe_every(small_config(iterations=1001))) <= 100
    assert default_probe_every(small_config(task="fb_swimmer")) == 0


def wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_tick_trains_point_tasks_in_place_and_slow_tasks_on_a_worker(tmp_path):
    point = TrainingSession.start(small_config(), tmp_path / "point")
    point.tick(0.5)
    assert point.iteration >= 1  # done before tick returned
    mujoco = TrainingSession.start(
        small_config(task="fb_swimmer", operator="es_grad", horizon=5, iterations=2), tmp_path / "mujoco"
    )
    mujoco.tick(0.0)  # returns at once; the iteration runs on a worker thread
    assert mujoco._worker is not None
    wait_for(lambda: mujoco.iteration == 1)
    assert mujoco.status is Status.RUNNING
    wait_for(lambda: not mujoco._worker.is_alive())
    mujoco.tick(0.0)
    wait_for(lambda: mujoco.status is Status.FINISHED)
    assert [row["iteration"] for row in mujoco.store.read_metrics()] == [1, 2]
