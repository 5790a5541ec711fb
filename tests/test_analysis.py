"""The dashboard's library side: training sessions, probe files, exploration metrics, run grouping, toys."""

import json
import time
from datetime import UTC, datetime

import numpy as np
import pytest

from esmaml_core.analysis import (
    aggregate_curves,
    best_so_far,
    corners_reached,
    distinct_corners_reached,
    es_gradient_estimate,
    experiment_key,
    explored_paths,
    final_distances,
    final_returns_rows,
    gaussian_smoothing,
    group_runs,
    list_pretrained,
    list_runs,
    load_probe,
    nearest_iteration,
    probe_iterations,
    probe_policy,
    record_checkpoint_probe,
    replay_adaptation,
    rows_to_csv,
    rugged,
    save_probe,
    smoothed_gradient,
    toy_adaptation,
    toy_objective,
)
from esmaml_core.config import ConfigError, TrainConfig
from esmaml_core.es_maml import ProbeTrajectories
from esmaml_core.runs import RunStore, run_training
from esmaml_core.session import (
    PRETRAINED_DIR,
    RUNS_DIR_ENV,
    Status,
    TrainingSession,
    applicable_operators,
    build_config,
    create_run,
    default_probe_every,
    method_fields,
    parse_hidden_sizes,
    runs_root,
)
from esmaml_core.tasks.point import CORNERS
from esmaml_core.trainer import make_trainer

SMALL = dict(task="four_corner", perturbations=6, queries=4, eval_tasks=4, probe_tasks=2)


def small_config(**overrides) -> TrainConfig:
    return TrainConfig(**{**SMALL, "iterations": 4, **overrides}).validate()


def train_until_done(session: TrainingSession) -> int:
    ticks = 0
    while session.status is Status.RUNNING:
        session.advance(0.0)
        ticks += 1
    return ticks


# --- sessions ----------------------------------------------------------------------------------------


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
    assert probe_iterations(session.store.path) == [1, 2, 3, 4]
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
    first, second = create_run(tmp_path, small_config(), now), create_run(tmp_path, small_config(), now)
    assert first.path != second.path and first.config() == second.config()


def test_probes_are_recorded_at_most_a_hundred_times_and_only_on_point_tasks():
    assert default_probe_every(small_config(iterations=50)) == 1
    assert default_probe_every(small_config(iterations=1000)) == 10
    assert -(-1001 // default_probe_every(small_config(iterations=1001))) <= 100
    assert default_probe_every(small_config(task="fb_swimmer")) == 0


# --- the form ---------------------------------------------------------------------------------------


def test_hidden_sizes_parse_or_name_the_field():
    assert parse_hidden_sizes(" 64, 32 ") == (64, 32)
    for text in ("", "64,", "a, 3", "-4", "3.5"):
        with pytest.raises(ConfigError) as error:
            parse_hidden_sizes(text)
        assert error.value.field == "hidden"


def test_form_fields_follow_the_method():
    assert "hessian" not in method_fields("es_maml")
    assert "hessian" in method_fields("es_maml_first_order")
    assert "alpha" in method_fields("es_maml", "es_grad")
    assert "alpha" not in method_fields("es_maml", "hill_climb")
    assert "hessian" not in method_fields("es_maml_first_order", "dpp")
    config = build_config({"method": "es_maml_first_order", "operator": "dpp", "hessian": True})
    assert config.operator == "dpp" and not config.hessian  # a box left ticked does not fail the form
    assert applicable_operators("es_maml") == ("es_grad", "hill_climb", "dpp")
    assert "hill_climb" not in applicable_operators("es_maml_first_order")


def test_build_config_drops_what_the_method_ignores_and_validates():
    config = build_config(dict(method="es_maml", operator="hill_climb", hessian=True, alpha=0.5, hidden=(8,)))
    assert not config.hessian and config.alpha == TrainConfig.alpha and config.hidden == TrainConfig.hidden
    assert build_config(dict(method="es_maml", policy="mlp", hidden=(8,))).hidden == (8,)
    with pytest.raises(ConfigError) as error:
        build_config(dict(method="es_maml", sigma=0.0))
    assert error.value.field == "sigma"


# --- probes and exploration metrics -------------------------------------------------------------------


def make_probe(accepted=None) -> ProbeTrajectories:
    rng = np.random.default_rng(0)
    return ProbeTrajectories(
        tasks=CORNERS[:2],
        start_paths=rng.normal(size=(2, 6, 2)),
        query_paths=rng.normal(size=(2, 3, 6, 2)),
        adapted_paths=rng.normal(size=(2, 6, 2)),
        query_returns=rng.normal(size=(2, 3)),
        adapted_returns=rng.normal(size=2),
        accepted=accepted,
    )


@pytest.mark.parametrize("accepted", [None, np.array([[True, False, True], [False, False, False]])])
def test_probes_round_trip_through_files(tmp_path, accepted):
    probe = make_probe(accepted)
    save_probe(tmp_path, 12, probe)
    save_probe(tmp_path, 3, probe)
    assert probe_iterations(tmp_path) == [3, 12]
    loaded = load_probe(tmp_path, 12)
    for name in ("tasks", "start_paths", "query_paths", "adapted_paths", "query_returns", "adapted_returns"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(probe, name))
    assert (loaded.accepted is None) == (accepted is None)
    assert not list(tmp_path.glob("probes/.*"))  # no temporary files left behind


def test_nearest_iteration_prefers_the_latest_before():
    assert nearest_iteration([2, 4, 8], 5) == 4
    assert nearest_iteration([2, 4, 8], 8) == 8
    assert nearest_iteration([2, 4, 8], 1) == 2


def test_a_cli_run_gets_a_probe_from_its_latest_checkpoint(tmp_path):
    store = RunStore.create(tmp_path / "run", small_config(probe_tasks=0))
    trainer, _ = store.restore_trainer()
    list(run_training(trainer, store, 3))
    metrics_before = (store.path / "metrics.jsonl").read_text()
    assert record_checkpoint_probe(store.path) == 3
    probe = load_probe(store.path, 3)
    assert probe.query_paths.shape == (4, 4, 101, 2)  # 4 probe tasks by default, K = 4 queries, 100 steps
    assert (store.path / "metrics.jsonl").read_text() == metrics_before


def test_corners_count_only_within_the_reward_radius():
    toward_first = np.linspace([0.0, 0.0], [0.59, 0.59], 5)  # ends at distance 1.99 from (2, 2)
    short = np.linspace([0.0, 0.0], [-0.5, 0.5], 5)  # ends at distance 2.12 from (-2, 2)
    paths = np.stack([toward_first, short])
    assert corners_reached(paths).tolist() == [True, False, False, False]
    assert distinct_corners_reached(paths) == 1
    assert distinct_corners_reached(CORNERS[:, None, :] * 0.5) == 4


def test_final_distance_uses_the_last_position():
    paths = np.array([[[0.0, 0.0], [3.0, 4.0]], [[9.0, 9.0], [0.0, 0.0]]])
    np.testing.assert_allclose(final_distances(paths, np.zeros(2)), [5.0, 0.0])


def test_best_so_far_tracks_the_last_accepted_proposal():
    accepted = np.array([[False, True, False, True, False], [False] * 5])
    assert best_so_far(accepted).tolist() == [[-1, 1, 1, 3, 3], [-1] * 5]


def test_explored_paths_stop_after_the_proposals_shown():
    queries = np.arange(5 * 2 * 2, dtype=float).reshape(1, 5, 2, 2)  # 1 task, K = 5 paths of 2 points
    start, adapted = np.full((1, 2, 2), -1.0), queries[:, 3]
    accepted = np.array([[False, True, False, True, False]])
    probe = ProbeTrajectories(np.zeros((1, 2)), start, queries, adapted, np.zeros((1, 5)), np.zeros(1), accepted)
    for proposals, shown, held in ((0, 0, start[0]), (1, 1, start[0]), (3, 3, queries[0, 1]), (5, 5, adapted[0])):
        paths, held_path = explored_paths(probe, 0, proposals)
        assert len(paths) == shown
        np.testing.assert_array_equal(held_path, held)


# --- saved runs ---------------------------------------------------------------------------------------


def write_run(root, name, metrics, **overrides):
    store = RunStore.create(root / name, small_config(**overrides))
    with open(store.path / "metrics.jsonl", "w") as handle:
        for iteration, post in enumerate(metrics, start=1):
            row = {key: 0.0 for key in ("pre_adaptation_std", "post_adaptation_std", "wall_time")}
            row.update(iteration=iteration, pre_adaptation_return=-400.0, post_adaptation_return=post)
            row.update(env_steps=100 * iteration, iteration_seconds=0.1)
            handle.write(json.dumps(row) + "\n")
    return store


def test_runs_are_listed_grouped_by_config_minus_seed_and_aggregated(tmp_path):
    write_run(tmp_path, "a", [-300.0, -200.0, -100.0], seed=0)
    write_run(tmp_path, "b", [-300.0, -100.0], seed=1)
    write_run(tmp_path, "c", [-350.0], sigma=0.05)
    (tmp_path / "not-a-run").mkdir()
    runs = list_runs(tmp_path)
    assert sorted(run.name for run in runs) == ["a", "b", "c"]
    assert [run.name for run in list_runs(tmp_path, method="pg_maml")] == []
    groups = {group.label: group for group in group_runs(runs)}
    assert set(groups) == {
        "four_corner · es_maml · hill_climb · sigma=0.1",
        "four_corner · es_maml · hill_climb · sigma=0.05",
    }
    seeds = groups["four_corner · es_maml · hill_climb · sigma=0.1"]
    assert sorted(run.name for run in seeds.runs) == ["a", "b"]
    band = aggregate_curves(seeds.runs, "post_adaptation_return")
    assert band.iterations.tolist() == [1, 2] and band.runs == 2
    np.testing.assert_allclose(band.mean, [-300.0, -150.0])
    np.testing.assert_allclose(band.std, [0.0, 50.0])


def test_seeds_share_an_experiment_key_other_fields_do_not():
    assert experiment_key(small_config(seed=1, iterations=9)) == experiment_key(small_config(seed=2))
    assert experiment_key(small_config(sigma=0.2)) != experiment_key(small_config())


def test_final_returns_table_as_csv(tmp_path):
    write_run(tmp_path, "a", [-300.0, -120.5])
    rows = final_returns_rows(group_runs(list_runs(tmp_path)))
    assert rows[0]["post_adaptation_return"] == -120.5 and rows[0]["iterations"] == 2
    lines = rows_to_csv(rows).splitlines()
    assert lines[0].split(",")[:3] == ["run", "experiment", "seed"]
    assert lines[1].startswith("a,four_corner · es_maml · hill_climb,0,2,-400.0,-120.5")
    assert rows_to_csv([]) == ""


# --- teaching toys ------------------------------------------------------------------------------------


def test_smoothed_gradient_is_the_derivative_of_the_smoothed_function():
    x, step = np.linspace(-2.0, 2.0, 9), 1e-2
    numeric = (gaussian_smoothing(rugged, x + step, 0.4) - gaussian_smoothing(rugged, x - step, 0.4)) / (2 * step)
    np.testing.assert_allclose(smoothed_gradient(rugged, x, 0.4), numeric, atol=0.02)


def test_smoothing_a_line_changes_nothing():
    x = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(gaussian_smoothing(lambda z: 3 * z + 1, x, 0.7), 3 * x + 1, atol=1e-9)
    np.testing.assert_allclose(smoothed_gradient(lambda z: 3 * z + 1, x, 0.7), 3.0, atol=1e-6)


def test_es_estimate_is_unbiased_for_the_smoothed_gradient(rng):
    truth = float(smoothed_gradient(rugged, np.array(0.2), 0.5))
    estimates = [es_gradient_estimate(rugged, 0.2, 0.5, 50, rng).value for _ in range(400)]
    assert abs(np.mean(estimates) - truth) < 4 * np.std(estimates) / np.sqrt(len(estimates))
    single = es_gradient_estimate(rugged, 0.2, 0.5, 50, rng)
    assert single.points.shape == single.values.shape == (100,)


def test_hill_climbing_on_the_toy_never_gets_worse_and_the_es_step_moves_uphill():
    start = np.array([-0.5, -0.5])
    climb = toy_adaptation("hill_climb", start, queries=20, sigma=0.2, step_size=0.1, seed=0)
    assert climb.adapted_value >= climb.start_value
    assert climb.accepted.shape == (20,) and climb.accepted.any()
    kept_values = toy_objective(climb.queries[climb.accepted])
    assert np.all(np.diff(kept_values) > 0)
    es = toy_adaptation("es_grad", start, queries=50, sigma=0.2, step_size=0.3, seed=0)
    assert es.accepted is None and es.queries.shape == (50, 2)
    assert es.adapted_value > es.start_value


def test_group_labels_only_name_fields_that_separate_otherwise_identical_experiments(tmp_path):
    write_run(tmp_path, "es", [-300.0], operator="es_grad", alpha=0.5)
    write_run(tmp_path, "pg", [-300.0], **{**TrainConfig.for_method(method="pg_maml").to_dict(), **SMALL})
    labels = sorted(group.label for group in group_runs(list_runs(tmp_path)))
    assert labels == ["four_corner · es_maml · es_grad", "four_corner · pg_maml"]


def test_a_replay_renders_both_policies_from_one_start_and_scores_them():
    trainer = make_trainer(TrainConfig(task="fb_swimmer", operator="es_grad", queries=4, horizon=20, eval_tasks=4))
    replay = replay_adaptation(trainer, np.array([1.0]), seed=3)
    assert replay.before_video[4:8] == b"ftyp" and replay.after_video[4:8] == b"ftyp"  # MP4 files
    assert replay.before_rewards.shape == replay.after_rewards.shape == (20,)
    assert not np.array_equal(replay.before_rewards, replay.after_rewards)
    assert replay.seconds_per_step == pytest.approx(0.04)
    again = replay_adaptation(trainer, np.array([1.0]), seed=3)
    np.testing.assert_array_equal(again.after_rewards, replay.after_rewards)


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


def test_pretrained_assets_are_listed_and_probed_like_runs():
    goal, goal_pg = list_pretrained(PRETRAINED_DIR, task="goal_2d")  # by name
    assert (goal.name, goal_pg.name) == ("goal_2d_es_maml_hill_climb_linear", "goal_2d_pg_maml_linear")
    assert (goal.config.method, goal.config.operator, goal_pg.config.method) == ("es_maml", "hill_climb", "pg_maml")
    iteration, probe = probe_policy(goal.path)
    assert iteration == goal.iteration == 100
    assert probe.query_paths.shape == (4, 20, 101, 2) and probe.accepted.shape == (4, 20)
    adapted = final_distances(probe.adapted_paths, probe.tasks).mean()
    assert adapted < final_distances(probe.start_paths, probe.tasks).mean()  # adaptation moves toward the goal
