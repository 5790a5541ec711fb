"""Saved runs side by side: listing, grouping seeds of one experiment, bands and tables."""

import json

import numpy as np

from esmaml_core.comparison import (
    aggregate_curves,
    experiment_key,
    final_returns_rows,
    group_runs,
    list_runs,
    rows_to_csv,
    scan_runs,
)
from esmaml_core.config import TrainConfig
from esmaml_core.runs import RunStore
from tests.fakes import small_config

ES_HILL_CLIMB = "four_corner · ES-MAML (zero-order) · hill climbing"


def write_run(root, name, metrics, config=None, **overrides):
    store = RunStore.create(root / name, config or small_config(**overrides))
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
        f"{ES_HILL_CLIMB} · sigma=0.1",
        f"{ES_HILL_CLIMB} · sigma=0.05",
    }
    seeds = groups[f"{ES_HILL_CLIMB} · sigma=0.1"]
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
    assert lines[1].startswith(f"a,{ES_HILL_CLIMB},0,2,-400.0,-120.5")
    assert rows_to_csv([]) == ""


def test_group_labels_only_name_fields_that_separate_otherwise_identical_experiments(tmp_path):
    write_run(tmp_path, "es", [-300.0], operator="es_grad", alpha=0.5)
    pg = TrainConfig.for_method(method="pg_maml", queries=4, eval_tasks=4, probe_tasks=2).validate()
    write_run(tmp_path, "pg", [-300.0], config=pg)
    labels = sorted(group.label for group in group_runs(list_runs(tmp_path)))
    assert labels == ["four_corner · ES-MAML (zero-order) · ES gradient", "four_corner · PG-MAML (policy gradient)"]


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
