"""The run store: bit-for-bit resume, refused corrupt checkpoints, divergence keeps the last good state."""

import contextlib
import dataclasses
import io
import json
import os
import stat
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from esmaml_core.config import TrainConfig
from esmaml_core.errors import (
    CheckpointError,
    ConfigError,
    DivergenceError,
    RunExistsError,
    RunLockedError,
    RunStoreError,
)
from esmaml_core.files import atomic_write, load_checkpoint
from esmaml_core.runs import KEEP_CHECKPOINTS, RunStore, check_probe_every, default_probe_every, run_in, run_training
from esmaml_core.trainer import make_trainer
from tests.fakes import small_config

TIMES = {"wall_time": 0.0, "iteration_seconds": 0.0}

SMALL = dict(task="goal_2d", operator="hill_climb", perturbations=8, queries=4, eval_tasks=3, probe_tasks=0)


def train(path, iterations, resume=False, **overrides):
    config = TrainConfig(iterations=iterations, **{**SMALL, **overrides})
    with RunStore.open(path).writer() if resume else RunStore.create(path, config) as store:
        if resume:
            store.write_config(config)
        trainer, warnings = store.restore_trainer()
        results = list(run_training(trainer, store, iterations))
    return store, trainer, results, warnings


def without_wall_time(rows):
    return [{k: v for k, v in row.items() if k not in ("wall_time", "iteration_seconds")} for row in rows]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_train_20_equals_train_10_then_resume_10(tmp_path, optimizer):
    straight, straight_trainer, _, _ = train(tmp_path / "straight", 20, optimizer=optimizer)
    train(tmp_path / "split", 10, optimizer=optimizer)
    split, split_trainer, _, _ = train(tmp_path / "split", 20, resume=True, optimizer=optimizer)
    np.testing.assert_array_equal(straight_trainer.state.params, split_trainer.state.params)
    assert without_wall_time(straight.read_metrics()) == without_wall_time(split.read_metrics())
    assert [row["iteration"] for row in split.read_metrics()] == list(range(1, 21))


def test_metrics_lines_have_the_documented_keys(tmp_path):
    store, _, results, _ = train(tmp_path / "run", 3)
    rows = store.read_metrics()
    assert len(rows) == 3
    for row, result in zip(rows, results, strict=True):
        assert {"iteration", "pre_adaptation_return", "post_adaptation_return", "env_steps", "wall_time"} <= set(row)
        assert row["post_adaptation_return"] == result.post_adaptation_return
    assert json.loads((tmp_path / "run" / "config.json").read_text())["task"] == "goal_2d"
    assert not list((tmp_path / "run").rglob("*.tmp")), "no temporary files are left behind"


def test_corrupted_checkpoint_is_refused_and_the_previous_one_is_used(tmp_path):
    store, _, _, _ = train(tmp_path / "run", 4)
    newest = store.checkpoints()[-1]
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])  # truncated, as by a crash mid-copy
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        load_checkpoint(newest)
    with store.writer() as writer:
        trainer, warnings = writer.restore_trainer()
    assert trainer.state.iteration == 3
    assert len(warnings) == 1 and newest.name in warnings[0]
    assert [row["iteration"] for row in store.read_metrics()] == [1, 2, 3]


def test_flipped_bytes_are_detected(tmp_path):
    store, _, _, _ = train(tmp_path / "run", 2)
    newest = store.checkpoints()[-1]
    data = bytearray(newest.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 16] = bytes(16)
    newest.write_bytes(bytes(data))
    with pytest.raises(CheckpointError):
        load_checkpoint(newest)


def test_resumed_run_continues_after_a_crash_left_a_torn_metrics_line(tmp_path):
    store, _, _, _ = train(tmp_path / "run", 3)
    with open(store.path / "metrics.jsonl", "a") as handle:
        handle.write('{"iteration": 4, "pre_adapt')
    assert len(store.read_metrics()) == 3
    store, trainer, _, _ = train(tmp_path / "run", 5, resume=True)
    assert [row["iteration"] for row in store.read_metrics()] == [1, 2, 3, 4, 5]


def test_existing_folder_needs_force(tmp_path):
    train(tmp_path / "run", 1)
    with pytest.raises(RunExistsError, match="already exists"):
        RunStore.create(tmp_path / "run", TrainConfig())
    RunStore.create(tmp_path / "run", TrainConfig(), force=True)
    assert RunStore.open(tmp_path / "run").read_metrics() == []
    with pytest.raises(RunStoreError, match="not a run folder"):
        RunStore.open(tmp_path / "nowhere")


@contextlib.contextmanager
def poisoned_gradient(trainer, value: float):
    """While inside, the trainer's meta-gradient has ``value`` (NaN or inf) in its first entry."""
    original = trainer.learner.meta_gradient

    def poisoned(*args, **kwargs):
        result = original(*args, **kwargs)
        result.gradient[0] = value
        return result

    trainer.learner.meta_gradient = poisoned
    try:
        yield
    finally:
        trainer.learner.meta_gradient = original


def test_divergence_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    config = TrainConfig(iterations=5, **SMALL)
    store = RunStore.create(tmp_path / "run", config)
    trainer, _ = store.restore_trainer()
    training = run_training(trainer, store, 5)
    next(training), next(training)
    good_params = trainer.state.params.copy()
    good_rng = trainer.state.rng.bit_generator.state
    with poisoned_gradient(trainer, np.nan), pytest.raises(DivergenceError, match="NaN or inf") as error:
        next(training)
    assert error.value.iteration == 3 and "--" not in str(error.value)  # the library names no CLI flag
    np.testing.assert_array_equal(trainer.state.params, good_params)
    assert trainer.state.rng.bit_generator.state == good_rng  # the whole state, RNG included, is as it was
    restored, _ = store.restore_trainer()
    assert restored.state.iteration == 2
    np.testing.assert_array_equal(restored.state.params, good_params)


def test_a_step_after_a_divergence_continues_exactly_as_if_it_had_not_been_tried():
    config = TrainConfig(iterations=5, **SMALL)
    tried, straight = make_trainer(config), make_trainer(config)
    tried.step(), straight.step()
    with poisoned_gradient(tried, np.inf), pytest.raises(DivergenceError):
        tried.step()
    assert tried.step().metrics() | TIMES == straight.step().metrics() | TIMES
    np.testing.assert_array_equal(tried.state.params, straight.state.params)


def test_run_files_get_the_permissions_open_would_give(tmp_path):
    """Atomic writes create their temporary file as open() does, so the process's umask applies."""
    previous = os.umask(0o027)
    try:
        store, _, _, _ = train(tmp_path / "run", 1)
    finally:
        os.umask(previous)
    for path in [store.path / "config.json", *store.checkpoints()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path.name


def test_checkpoints_are_ordered_by_iteration_number_not_by_name(tmp_path):
    store, trainer, _, _ = train(tmp_path / "run", 1)
    with store.writer() as writer:
        for iteration in (999_999, 1_000_000, 1_000_001):
            writer.save_checkpoint(dataclasses.replace(trainer.state, iteration=iteration))
    assert [path.name for path in store.checkpoints()] == [
        "iter_999999.npz",
        "iter_1000000.npz",
        "iter_1000001.npz",
    ]
    assert store.load_trainer()[0].state.iteration == 1_000_001


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint"
    atomic_write(path, b"old")

    def disk_full(descriptor):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        atomic_write(path, b"new")
    assert path.read_bytes() == b"old" and list(tmp_path.iterdir()) == [path]


def test_only_the_newest_checkpoints_are_kept(tmp_path):
    config = TrainConfig(task="goal_2d", perturbations=4, queries=2, eval_tasks=2, probe_tasks=0, iterations=5)
    store = RunStore.create(tmp_path / "run", config)
    trainer, _ = store.restore_trainer()
    list(run_training(trainer, store, 5))
    assert [path.name for path in store.checkpoints()] == [f"iter_{i:06d}.npz" for i in range(3, 6)]
    assert KEEP_CHECKPOINTS == 3


# --- one writer, nothing lost -------------------------------------------------------------------


HOLD_LOCK = """
import sys, time
from esmaml_core.runs import RunStore
store = RunStore.open(sys.argv[1]).writer()
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_writer_is_refused_in_this_process_and_from_another(tmp_path):
    store, _, _, _ = train(tmp_path / "run", 1)
    with store.writer():
        with pytest.raises(RunLockedError, match="being written by another process"):
            store.writer()
        with pytest.raises(RunLockedError):
            RunStore.create(tmp_path / "run", TrainConfig(**SMALL), force=True)  # --force waits for no one
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(store.path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError):
            store.writer()
    finally:
        holder.kill()
        holder.wait()
    store.writer().close()  # a killed writer leaves no lock behind


def test_readers_never_write(tmp_path):
    store, _, _, _ = train(tmp_path / "run", 2)
    reader = RunStore.open(store.path)
    for write in (
        lambda: reader.write_config(TrainConfig()),
        lambda: reader.restore_trainer(),
        lambda: reader.delete(),
    ):
        with pytest.raises(RunStoreError, match="reading only"):
            write()
    assert len(reader.read_metrics()) == 2 and reader.load_trainer()[0].state.iteration == 2


def test_force_replaces_only_a_run_folder(tmp_path):
    mine = tmp_path / "my-files"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with pytest.raises(RunStoreError, match="not a run folder"):
        RunStore.create(mine, TrainConfig(), force=True)
    assert (mine / "thesis.tex").read_text() == "years of work"
    store, _, _, _ = train(tmp_path / "run", 2)
    RunStore.create(store.path, TrainConfig(**SMALL, iterations=1), force=True).close()
    assert RunStore.open(store.path).read_metrics() == [] and not RunStore.open(store.path).checkpoints()


DAMAGED_LINES = [b"garbage\n", b"\n", b"\xff\xfe not utf-8\n", b"42\n", b'{"iteration": "3"}\n', b"[1, 2]\n"]


@pytest.mark.parametrize("damage", DAMAGED_LINES)
def test_a_damaged_metrics_line_is_reported_and_cuts_nothing(tmp_path, damage):
    store, _, _, _ = train(tmp_path / "run", 4)
    path = store.path / "metrics.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines[:2], damage, *lines[2:]]))
    assert [row["iteration"] for row in store.read_metrics()] == [1, 2, 3, 4]
    assert store.metrics_problems() == [f"{path} line 3: not a metrics row, left out"]
    resumed, _, _, warnings = train(tmp_path / "run", 6, resume=True)
    assert [row["iteration"] for row in resumed.read_metrics()] == [1, 2, 3, 4, 5, 6]
    assert any("line 3" in warning for warning in warnings)
    assert damage in path.read_bytes()  # the damaged line is kept, not thrown away


def test_a_run_whose_checkpoints_all_fail_is_refused_not_restarted_from_zero(tmp_path):
    store, _, _, _ = train(tmp_path / "run", 3)
    for checkpoint in store.checkpoints():
        checkpoint.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="cannot continue without losing its history"):
        train(tmp_path / "run", 5, resume=True)
    assert len(store.read_metrics()) == 3


def test_a_writer_cleans_temporary_files_a_killed_write_left(tmp_path):
    store, _, _, _ = train(tmp_path / "run", 1)
    orphans = [store.path / ".config.json.dead.tmp", store.path / "checkpoints" / ".iter_000002.npz.dead.tmp"]
    for orphan in orphans:
        orphan.write_bytes(b"half")
    RunStore.open(store.path).read_metrics()  # reading leaves them
    assert all(orphan.exists() for orphan in orphans)
    store.writer().close()
    assert not any(orphan.exists() for orphan in orphans)


@pytest.mark.parametrize("name", ["..", ".", "", "../elsewhere", "a/b", "/etc"])
def test_a_run_name_never_leads_outside_the_runs_folder(tmp_path, name):
    with pytest.raises(RunStoreError):
        run_in(tmp_path / "runs", name)


def test_a_link_out_of_the_runs_folder_is_refused(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "sneaky").symlink_to(tmp_path)
    with pytest.raises(RunStoreError, match="outside"):
        run_in(tmp_path / "runs", "sneaky")
    assert run_in(tmp_path / "runs", "fine") == tmp_path / "runs" / "fine"


def test_a_checkpoint_that_does_not_fit_the_config_is_skipped(tmp_path):
    store, trainer, _, _ = train(tmp_path / "run", 2)
    newest = store.checkpoints()[-1]
    arrays = dict(np.load(newest))
    arrays["params"] = np.zeros(len(arrays["params"]) + 3)  # e.g. a checkpoint of another policy size
    np.savez(newest, **arrays)
    restored, warnings = store.load_trainer()
    assert restored.state.iteration == 1 and "does not fit" in warnings[0]


def test_a_crafted_header_declaring_a_huge_array_is_refused_before_allocating(tmp_path):
    store, _, _, _ = train(tmp_path / "run", 1)
    newest = store.checkpoints()[-1]
    with zipfile.ZipFile(newest) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = np.lib.format.header_data_from_array_1_0(np.zeros(3))
    header["shape"] = (10**6, 10**6)  # 8 TB declared, 24 bytes stored
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    members["params.npy"] = buffer.getvalue() + np.zeros(3).tobytes()
    with zipfile.ZipFile(newest, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(CheckpointError, match="declares"):
        load_checkpoint(newest)


@pytest.mark.slow
def test_killed_at_random_moments_a_run_resumes_to_the_same_bits(tmp_path):
    """kill -9 the training process at random points, resume each time: the run ends exactly as one
    trained without interruption, metrics and parameters, and no row is lost or repeated."""
    options = ["--task", "goal_2d", "--perturbations", "30", "--queries", "5", "--eval-tasks", "3"]
    options += ["--iterations", "40", "--probe-every", "3", "--quiet"]
    straight = tmp_path / "straight"
    subprocess.run([sys.executable, "-m", "esmaml_core", "train", *options, "--out", str(straight)], check=True)
    run, rng = tmp_path / "killed", np.random.default_rng(0)
    command = [sys.executable, "-m", "esmaml_core", "train", *options, "--out", str(run)]
    for _ in range(8):
        resume = ["--resume"] if (run / "config.json").exists() else ["--force"]  # killed before it began: anew
        process = subprocess.Popen(command + resume, stderr=subprocess.DEVNULL)
        try:
            process.wait(timeout=float(rng.uniform(0.8, 2.5)))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    subprocess.run(command + ["--resume"], check=True, stdout=subprocess.DEVNULL)
    finished, reference = RunStore.open(run), RunStore.open(straight)
    assert without_wall_time(finished.read_metrics()) == without_wall_time(reference.read_metrics())
    np.testing.assert_array_equal(finished.load_trainer()[0].state.params, reference.load_trainer()[0].state.params)
    assert finished.probe_iterations() == reference.probe_iterations()
    assert not list(run.rglob("*.tmp"))


def test_probes_are_recorded_at_most_a_hundred_times_and_only_on_point_tasks():
    assert default_probe_every(small_config(iterations=50)) == 1
    assert default_probe_every(small_config(iterations=1000)) == 10
    assert -(-1001 // default_probe_every(small_config(iterations=1001))) <= 100
    assert default_probe_every(small_config(task="fb_swimmer")) == 0
    check_probe_every(small_config(iterations=1000), 10)
    with pytest.raises(ConfigError, match="at least 10 for 1000 iterations"):
        check_probe_every(small_config(iterations=1000), 9)
    with pytest.raises(ConfigError, match="only runs on point tasks"):
        check_probe_every(small_config(task="fb_swimmer"), 5)
