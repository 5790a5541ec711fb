"""The command line as a user runs it: one-line errors with exit 2, train, resume, eval."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from esmaml_core import learners, runs
from esmaml_core.cli import build_parser, given_config_values, main, train_arguments, train_command
from esmaml_core.config import TrainConfig
from esmaml_core.runs import RunStore
from esmaml_core.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--task", "goal_2d", "--perturbations", "6", "--queries", "3", "--eval-tasks", "2"]
NO_PROBES = ["--probe-tasks", "0"]


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "esmaml_core", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )


@pytest.mark.parametrize(
    "args, mentions",
    [
        (["--sigma", "-1"], ["--sigma", "-1.0", "> 0"]),
        (["--sigma", "0"], ["--sigma", "> 0"]),
        (["--alpha", "nan"], ["--alpha", "nan", "finite"]),
        (["--lr", "inf"], ["--lr", "inf", "finite"]),
        (["--queries", "0"], ["--queries", ">= 1"]),
        (["--iterations", "-5"], ["--iterations", "-5", ">= 1"]),
        (["--task", "moon"], ["--task", "moon", "four_corner"]),
        (["--operator", "newton"], ["--operator", "newton", "hill_climb"]),
        (["--policy", "transformer"], ["--policy", "transformer", "linear"]),
        (["--method", "reptile"], ["--method", "reptile", "es_maml"]),
        (["--hidden", "16"], ["--hidden", "policy mlp"]),
        (["--method", "pg_maml", "--sigma", "0.1"], ["--sigma", "only es_maml and es_maml_first_order"]),
        (["--inner-steps", "2"], ["--inner-steps", "only pg_maml"]),
        (["--probe-every", "-1"], ["--probe-every", ">= 0"]),
        (["--method", "pg_maml", "--init-log-std", "-1000"], ["--init-log-std", ">= -10"]),
        (["--task", "fb_swimmer", "--probe-every", "1"], ["--probe-every", "only runs on point tasks"]),
        (["--iterations", "1000", "--probe-every", "9"], ["--probe-every", "at least 10 for 1000 iterations"]),
        (["--perturbations", "100000000"], ["--perturbations", "<= 100000"]),
        (["--perturbations", "99999"], ["--perturbations", "GiB of memory"]),
        (["--sigma", "abc"], ["--sigma", "abc"]),
    ],
)
def test_bad_input_is_one_line_exit_2_without_traceback(tmp_path, args, mentions):
    result = cli("train", *args, "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.stderr
    for word in mentions:
        assert word in lines[0]
    assert not (tmp_path / "run").exists()


def test_train_resume_and_eval(tmp_path):
    run = str(tmp_path / "demo")
    first = cli("train", *FAST, *NO_PROBES, "--iterations", "3", "--seed", "0", "--out", run)
    assert first.returncode == 0, first.stderr
    assert "3/3" in first.stderr and "post" in first.stderr  # the progress line
    assert len(Path(run, "metrics.jsonl").read_text().splitlines()) == 3

    again = cli("train", *FAST, *NO_PROBES, "--iterations", "3", "--out", run)
    assert again.returncode == 2 and "--resume" in again.stderr and "--force" in again.stderr

    mismatch = cli("train", "--out", run, "--resume", "--sigma", "0.3")
    assert mismatch.returncode == 2 and "--sigma" in mismatch.stderr and "0.1" in mismatch.stderr

    resumed = cli("train", "--out", run, "--resume", "--iterations", "5", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert len(Path(run, "metrics.jsonl").read_text().splitlines()) == 5

    evaluated = cli("eval", "--run", run, "--tasks", "4", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    summary = json.loads(evaluated.stdout)
    assert summary["iteration"] == 5 and summary["tasks"] == 4
    text = cli("eval", "--run", run, "--tasks", "4")
    assert "pre-adaptation return" in text.stdout and "post-adaptation return" in text.stdout

    forced = cli("train", *FAST, *NO_PROBES, "--iterations", "1", "--out", run, "--force", "--quiet")
    assert forced.returncode == 0 and len(Path(run, "metrics.jsonl").read_text().splitlines()) == 1


def test_eval_refuses_a_missing_run_and_bad_task_count(tmp_path, capsys):
    missing = cli("eval", "--run", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "neither a run folder nor a pretrained asset" in missing.stderr
    assert "Traceback" not in missing.stderr
    asset = str(ROOT / "assets/pretrained/goal_2d_es_maml_hill_climb_linear")
    for command in (["eval", "--run", asset], ["export", "--run", asset, "--out", str(tmp_path / "copy")]):
        assert main([*command, "--tasks", "0"]) == 2
        assert "--tasks" in capsys.readouterr().err
        assert main([*command, "--tasks", "100000000"]) == 2  # refused before anything is allocated
        assert "--tasks: got 100000000; must be <= 100000" in capsys.readouterr().err
    assert main(["render", "--run", asset, "--task-index", "-1", "--out", str(tmp_path / "v.mp4")]) == 2
    assert "task-index" in capsys.readouterr().err
    for command in (["eval", "--run", asset], ["render", "--run", asset, "--out", str(tmp_path / "v.mp4")]):
        with pytest.raises(SystemExit) as exit_status:
            main([*command, "--seed", "-5"])
        assert exit_status.value.code == 2 and "--seed: must be >= 0" in capsys.readouterr().err


def test_eval_says_when_the_tasks_scored_repeat_the_split(capsys):
    asset = str(ROOT / "assets/pretrained/goal_2d_es_maml_hill_climb_linear")
    assert main(["eval", "--run", asset, "--tasks", "50"]) == 0
    assert "cycle" not in capsys.readouterr().out
    assert main(["eval", "--run", asset, "--tasks", "60", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["distinct_tasks"] == 50
    assert main(["eval", "--run", asset, "--tasks", "60"]) == 0
    assert "(the test split has 50 tasks: the 60 scored cycle through them)" in capsys.readouterr().out


def test_export_writes_where_told_and_replaces_an_asset_only_with_force(tmp_path, capsys):
    run, out = str(tmp_path / "run"), tmp_path / "exports" / "demo"
    assert main(["train", *FAST, "--iterations", "1", "--quiet", "--out", run]) == 0
    assert main(["export", "--run", run, "--out", str(out), "--tasks", "2"]) == 0
    assert sorted(path.name for path in out.parent.iterdir()) == ["demo.json", "demo.npz"]
    written = out.with_suffix(".npz").read_bytes()
    capsys.readouterr()
    assert main(["export", "--run", run, "--out", str(out), "--tasks", "3"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --out: ") and "--force" in error and error.count("\n") == 1
    assert out.with_suffix(".npz").read_bytes() == written and '"tasks": 2' in out.with_suffix(".json").read_text()
    assert main(["export", "--run", run, "--out", str(out), "--tasks", "3", "--force"]) == 0
    assert '"tasks": 3' in out.with_suffix(".json").read_text()


def test_training_that_diverges_exits_1_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(learners, "ascent_step", lambda name, params, *rest: (params * np.nan, rest[1]))
    assert main(["train", *FAST, *NO_PROBES, "--iterations", "2", "--quiet", "--out", str(tmp_path / "run")]) == 1
    error = capsys.readouterr().err
    assert "last good checkpoint" in error and "start a new run with a smaller --lr" in error


def test_probe_every_saves_probe_paths_into_the_run(tmp_path):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                *FAST,
                "--probe-tasks",
                "2",
                "--iterations",
                "4",
                "--probe-every",
                "2",
                "--quiet",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    store = RunStore.open(run)
    assert store.probe_iterations() == [2, 4]
    assert store.load_probe(4).query_paths.shape == (2, 3, 101, 2)  # 2 probe tasks, K = 3, 100 steps


CONFIGS_TO_REBUILD = [
    TrainConfig(),
    TrainConfig.for_method(task="biased_sensor_cartpole", method="pg_maml", iterations=40, first_order=True),
    TrainConfig(task="fb_ant", sigma=0.02, adaptation_sigma=0.005, optimizer="adam", horizon=200, executor="ray"),
    TrainConfig(method="es_maml_first_order", operator="es_grad", policy="mlp", hidden=(16, 8), hessian=True),
    TrainConfig(method="es_maml_first_order", operator="dpp", sigma=0.05),
    TrainConfig(task="goal_2d", sampler="orthogonal", fitness="centered_rank", obs_norm=False, queries=7),
    TrainConfig(method="es_maml_first_order", operator="es_grad", task_batch=3, executor="process", workers=3),
]


@pytest.mark.parametrize("config", CONFIGS_TO_REBUILD)
def test_train_command_rebuilds_the_config(config):
    """export records train_command(config) as how an asset was made: it must make that config again."""
    command = train_command(config, "runs/x")
    args = build_parser().parse_args(command.split()[3:])
    rebuilt = TrainConfig.from_given(given_config_values(args))
    assert args.out == "runs/x"
    assert rebuilt == dataclasses.replace(config, executor="inprocess", workers=2, ray_address=None)
    assert "--executor" not in command and ("--operator" in command) == (config.method != "pg_maml")


@pytest.mark.parametrize("config", CONFIGS_TO_REBUILD)
def test_every_option_spelled_out_rebuilds_the_config_where_rollouts_run_included(config):
    """A dashboard job launches ``train`` with every option: the child must train exactly this config."""
    args = build_parser().parse_args(["train", *train_arguments(config, every_option=True), "--out", "x"])
    assert TrainConfig.from_given(given_config_values(args)) == config


def test_render_writes_a_side_by_side_video_of_a_mujoco_run(tmp_path):
    import imageio.v3 as iio

    run = str(tmp_path / "swimmer")
    tiny = ["--perturbations", "2", "--queries", "2", "--eval-tasks", "1", "--probe-tasks", "0", "--horizon", "30"]
    assert cli("train", "--task", "fb_swimmer", *tiny, "--iterations", "1", "--out", run, "--quiet").returncode == 0
    video = tmp_path / "replay.mp4"
    result = cli("render", "--run", run, "--task-index", "1", "--out", str(video))
    assert result.returncode == 0, result.stderr
    assert "before" in result.stdout and "after" in result.stdout
    frames = iio.imread(video)
    assert frames.shape[0] == 31 and frames.shape[2] > 2 * frames.shape[1]  # two clips side by side
    assert frames.std() > 10, "frames are not blank"
    refused = cli("render", "--run", run, "--task-index", "50", "--out", str(video))
    assert refused.returncode == 2 and "--task-index" in refused.stderr


def test_executor_options_may_change_on_resume(tmp_path):
    run = str(tmp_path / "run")
    assert cli("train", *FAST, *NO_PROBES, "--iterations", "1", "--out", run, "--quiet").returncode == 0
    resumed = cli("train", "--out", run, "--resume", "--iterations", "2", "--executor", "process", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    bad = cli("train", *FAST, *NO_PROBES, "--workers", "0", "--out", str(tmp_path / "other"))
    assert bad.returncode == 2 and "--workers" in bad.stderr
    on_three = cli("train", "--out", run, "--resume", "--iterations", "3", "--workers", "3", "--quiet")
    assert on_three.returncode == 0, on_three.stderr
    back = cli("train", "--out", run, "--resume", "--iterations", "4", "--executor", "inprocess", "--quiet")
    assert back.returncode == 0, back.stderr  # --workers 3 no longer applies: it goes back to its default
    config = RunStore.open(run).config()
    assert (config.executor, config.workers, config.iterations) == ("inprocess", 2, 4)


def test_resuming_with_a_preset_keeps_the_runs_iterations(tmp_path, capsys):
    run = str(tmp_path / "run")
    small = ["--task-batch", "2", "--queries", "2", "--eval-tasks", "2", "--probe-tasks", "0", "--quiet"]
    assert main(["train", "--preset", "pg_maml_goal_2d", "--iterations", "1", *small, "--out", run]) == 0
    assert main(["train", "--preset", "pg_maml_goal_2d", "--resume", "--out", run]) == 0
    assert "already at iteration 1 of 1; nothing to do" in capsys.readouterr().out
    assert main(["train", "--preset", "maml_nav2d", "--resume", "--out", run]) == 2  # another run's preset
    assert "the run was made with" in capsys.readouterr().err


def interrupt_during_iteration(monkeypatch, iteration: int, interrupts: int) -> None:
    """Send this process ``interrupts`` SIGINTs (Ctrl-C) as ``Trainer.step`` starts iteration ``iteration``."""
    step = Trainer.step

    def interrupted_step(trainer, *args, **kwargs):
        if trainer.state.iteration + 1 == iteration:
            for _ in range(interrupts):
                os.kill(os.getpid(), signal.SIGINT)
        return step(trainer, *args, **kwargs)

    monkeypatch.setattr(Trainer, "step", interrupted_step)


@pytest.mark.parametrize("method", ["es_maml", "pg_maml"])
@pytest.mark.parametrize("interrupts", [1, 2])
def test_ctrl_c_ends_training_at_a_saved_iteration_and_resume_goes_on(tmp_path, monkeypatch, capfd, method, interrupts):
    """One Ctrl-C during iteration 4 ends the run once iteration 4 is saved (a deferred request: raised at any
    moment, JAX's callbacks swallowed it); a second ends it at once, at iteration 3. Exit 130, resumable."""
    run, size = tmp_path / "run", ["--task-batch", "2"] if method == "pg_maml" else ["--perturbations", "6"]
    interrupt_during_iteration(monkeypatch, 4, interrupts)
    args = ["train", "--task", "goal_2d", "--method", method, *size, "--queries", "3", "--eval-tasks", "2"]
    assert main([*args, *NO_PROBES, "--iterations", "50", "--quiet", "--out", str(run)]) == 130
    stopped_at = 4 if interrupts == 1 else 3
    error = capfd.readouterr().err
    assert "stopping after this iteration" in error
    assert f"interrupted at iteration {stopped_at}; continue with --resume" in error
    assert len((run / "metrics.jsonl").read_text().splitlines()) == stopped_at
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C is Python's own again
    monkeypatch.undo()
    assert main(["train", "--out", str(run), "--resume", "--iterations", "6", "--quiet"]) == 0
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 6


def test_ctrl_c_during_the_last_iteration_finishes_the_run(tmp_path, monkeypatch, capfd):
    interrupt_during_iteration(monkeypatch, 3, 1)
    assert main(["train", *FAST, *NO_PROBES, "--iterations", "3", "--quiet", "--out", str(tmp_path / "run")]) == 0
    assert "saved" in capfd.readouterr().out and len(RunStore.open(tmp_path / "run").read_metrics()) == 3


def test_ctrl_c_while_a_run_opens_ends_it_before_any_iteration(tmp_path, monkeypatch, capsys):
    opened = runs.RunStore.restore_trainer

    def restore_then_interrupt(store, config=None):
        restored = opened(store, config)
        os.kill(os.getpid(), signal.SIGINT)
        return restored

    monkeypatch.setattr(runs.RunStore, "restore_trainer", restore_then_interrupt)
    assert main(["train", *FAST, *NO_PROBES, "--iterations", "5", "--quiet", "--out", str(tmp_path / "run")]) == 130
    assert "interrupted at iteration 0" in capsys.readouterr().err
    assert RunStore.open(tmp_path / "run").read_metrics() == []


def test_train_refuses_what_would_lose_data(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert main(["train", *FAST, "--out", str(mine), "--force", "--quiet"]) == 2
    assert "not a run folder" in capsys.readouterr().err and (mine / "notes.txt").exists()
    assert main(["train", *FAST, "--out", "", "--quiet"]) == 2
    assert "--out" in capsys.readouterr().err
    run = tmp_path / "run"
    assert main(["train", *FAST, *NO_PROBES, "--iterations", "2", "--out", str(run), "--quiet"]) == 0
    assert main(["train", "--out", str(run), "--resume", "--force"]) == 2
    assert "--force" in capsys.readouterr().err
    config_before = (run / "config.json").read_bytes()
    assert main(["train", "--out", str(run), "--resume", "--iterations", "1"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert (run / "config.json").read_bytes() == config_before  # a resume that trains nothing rewrites nothing
    with RunStore.open(run).writer():  # e.g. the dashboard training it
        assert main(["train", "--out", str(run), "--resume", "--iterations", "3"]) == 2
        assert "being written by another process" in capsys.readouterr().err


def test_os_errors_are_one_line_naming_the_path(tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    asset = str(ROOT / "assets/pretrained/fb_swimmer_es_maml_hill_climb_linear")
    run = tmp_path / "run"
    assert main(["train", *FAST, "--iterations", "1", "--quiet", "--out", str(run)]) == 0
    capsys.readouterr()
    for command, path in (
        (["train", *FAST, "--out", str(a_file)], a_file),
        (["train", *FAST, "--out", str(a_file / "run")], a_file),
        (["export", "--run", str(run), "--out", str(a_file / "asset")], a_file),
        (["render", "--run", asset, "--out", str(tmp_path)], tmp_path),
    ):
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and str(path) in err, err

    def disk_full(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    assert main(["train", *FAST, "--iterations", "1", "--quiet", "--out", str(tmp_path / "full")]) == 2
    assert "No space left on device" in capsys.readouterr().err
