"""Saved runs side by side: listing, grouping seeds of one experiment, bands and tables."""

import json
import shutil
from pathlib import Path

import numpy as np

from esmaml_core.comparison import (
    GRID_POINTS,
    CurveBand,
    RunSummary,
    aggregate_curves,
    experiment_key,
    final_returns_rows,
    group_runs,
    list_runs,
    one_run_per_seed,
    robust_range,
    rows_to_csv,
    scan_runs,
    shown,
    smoothed,
)
from esmaml_core.config import TrainConfig
from esmaml_core.runs import RunStore
from tests.fakes import small_config

ES_HILL_CLIMB = "Four Corner · ES-MAML (zero-order) · hill climbing"


def rows(posts, steps_per_iteration=100):
    """metrics rows with these post-adaptation returns, ``steps_per_iteration`` env steps each."""
    return [
        {
            **{key: 0.0 for key in ("pre_adaptation_std", "post_adaptation_std", "wall_time", "iteration_seconds")},
            "iteration": iteration,
            "pre_adaptation_return": -400.0,
            "post_adaptation_return": post,
            "env_steps": steps_per_iteration * iteration,
        }
        for iteration, post in enumerate(posts, start=1)
    ]


def write_run(root, name, metrics, config=None, **overrides):
    with RunStore.create(root / name, config or small_config(**overrides)) as store:
        (store.path / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows(metrics)))
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
        f"{ES_HILL_CLIMB} · sigma=0.1",
        f"{ES_HILL_CLIMB} · sigma=0.05",
    }
    seeds = groups[f"{ES_HILL_CLIMB} · sigma=0.1"]
    assert sorted(run.name for run in seeds.runs) == ["a", "b"]
    band = aggregate_curves(seeds.runs, "post_adaptation_return")
    assert band.x.tolist() == [1, 2, 3] and band.count.tolist() == [2, 2, 1]  # each run to its own end
    np.testing.assert_allclose(band.mean, [-300.0, -150.0, -100.0])
    np.testing.assert_allclose(band.std, [0.0, 50.0, 0.0])


def test_bands_against_env_steps_and_smoothed():
    runs = [
        RunSummary(Path(name), small_config(seed=seed), rows(posts, steps_per_iteration))
        for name, seed, posts, steps_per_iteration in (("a", 0, [0.0, 10.0, 20.0], 100), ("b", 1, [0.0, 40.0], 200))
    ]
    band = aggregate_curves(runs, "post_adaptation_return", "env_steps")
    assert band.x[0] == 100 and band.x[-1] == 400 and len(band.x) == GRID_POINTS
    at_300 = np.argmin(np.abs(band.x - 300))
    # run a reaches 20 at 300 steps; run b interpolates 0 -> 40 between 200 and 400 steps: 20
    np.testing.assert_allclose(band.mean[at_300], 20.0, atol=0.5)
    assert band.count[-1] == 1  # only b reaches 400 steps
    np.testing.assert_allclose(smoothed(np.array([0.0, 10.0, 20.0, 30.0]), 2), [0.0, 5.0, 15.0, 25.0])


def test_a_repeated_seed_is_not_an_independent_sample():
    runs = [
        RunSummary(Path(name), small_config(seed=seed), rows([0.0] * length))
        for name, seed, length in (("first", 0, 3), ("again", 0, 5), ("other", 1, 2))
    ]
    kept, repeats = one_run_per_seed(runs)
    assert sorted(run.name for run in kept) == ["again", "other"] and [run.name for run in repeats] == ["first"]


def test_one_outlier_cannot_flatten_the_y_range():
    steady = CurveBand(np.arange(100.0), np.linspace(-300, -100, 100), np.zeros(100), np.ones(100))
    spike = CurveBand(np.arange(100.0), np.r_[np.full(99, -200.0), -1e6], np.zeros(100), np.ones(100))
    low, high = robust_range([steady, spike])
    assert -330 < low < -290 and -110 < high < -60


def test_labels_show_no_none_and_no_raw_floats():
    assert (shown(None), shown(0.1 + 0.2), shown((64, 64)), shown("es_grad")) == (
        "task's own",
        "0.3",
        "64×64",
        "es_grad",
    )


def test_seeds_share_an_experiment_key_other_fields_do_not():
    assert experiment_key(small_config(seed=1, iterations=9)) == experiment_key(small_config(seed=2))
    assert experiment_key(small_config(sigma=0.2)) != experiment_key(small_config())


def test_final_returns_table_as_csv(tmp_path):
    write_run(tmp_path, "a", [-300.0, -120.5])
    rows = final_returns_rows(group_runs(list_runs(tmp_path)))
    assert rows[0]["post_adaptation_return"] == -120.5 and rows[0]["iterations"] == 2
    lines = rows_to_csv(rows).splitlines()
    assert lines[0].split(",")[:3] == ["run", "experiment", "seed"]
    assert lines[1].startswith(f"a,{ES_HILL_CLIMB},0,2,-400.0,-120.5")
    assert rows_to_csv([]) == ""


def test_group_labels_only_name_fields_that_separate_otherwise_identical_experiments(tmp_path):
    write_run(tmp_path, "es", [-300.0], operator="es_grad", alpha=0.5)
    pg = TrainConfig.for_method(method="pg_maml", queries=4, eval_tasks=4, probe_tasks=2).validate()
    write_run(tmp_path, "pg", [-300.0], config=pg)
    labels = sorted(group.label for group in group_runs(list_runs(tmp_path)))
    assert labels == ["Four Corner · ES-MAML (zero-order) · ES gradient", "Four Corner · PG-MAML (policy gradient)"]


def test_a_damaged_run_is_left_out_with_a_message_naming_it(tmp_path):
    write_run(tmp_path, "good", [-300.0])
    for name, config_bytes in (
        ("list", b"[]"),
        ("bad-utf8", b"\xff\xfe"),
        ("wrong-type", b'{"task": 3, "method": "es_maml"}'),
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_bytes(config_bytes)
    (tmp_path / "not-a-run").mkdir()
    runs, problems = scan_runs(tmp_path)
    assert [run.name for run in runs] == ["good"]
    assert sorted(problem.split()[1] for problem in problems) == ["bad-utf8", "list", "wrong-type"]
    assert all("config.json" in problem for problem in problems)


def test_a_runs_held_out_return_at_an_iteration_also_one_recorded_after_it_was_read(tmp_path):
    store = write_run(tmp_path, "a", [-300.0, -200.0], eval_tasks=7)
    (summary,) = list_runs(tmp_path)
    assert summary.held_out_return(2) == (-200.0, 7) and summary.held_out_return(3) is None
    (store.path / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows([-300.0, -200.0, -90.0])))
    assert summary.held_out_return(3) == (-90.0, 7)  # a live run: read again
    shutil.rmtree(store.path)  # the run is gone while it is shown
    assert summary.held_out_return(4) is None and summary.held_out_return(2) == (-200.0, 7)
