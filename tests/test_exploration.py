"""Probe paths on disk and made afresh, and the exploration numbers drawn from them."""

import numpy as np
import pytest

from esmaml_core.assets import list_pretrained
from esmaml_core.exploration import (
    best_so_far,
    corners_reached,
    distinct_corners_reached,
    explored_paths,
    final_distances,
    nearest_iteration,
    probe_policy,
    record_checkpoint_probe,
)
from esmaml_core.results import ProbeTrajectories
from esmaml_core.runs import RunStore, run_training
from esmaml_core.tasks.point import CORNERS
from tests.fakes import small_config


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
    store = RunStore.create(tmp_path, small_config())
    store.save_probe(12, probe)
    store.save_probe(3, probe)
    assert store.probe_iterations() == [3, 12]
    loaded = store.load_probe(12)
    for name in ("tasks", "start_paths", "query_paths", "adapted_paths", "query_returns", "adapted_returns"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(probe, name))
    assert (loaded.accepted is None) == (accepted is None)
    assert not list(tmp_path.glob("probes/.*"))  # no temporary files left behind


def test_nearest_iteration_prefers_the_latest_before():
    assert nearest_iteration([2, 4, 8], 5) == 4
    assert nearest_iteration([2, 4, 8], 8) == 8
    assert nearest_iteration([2, 4, 8], 1) == 2


def test_a_cli_run_gets_a_probe_from_its_latest_checkpoint(tmp_path):
    with RunStore.create(tmp_path / "run", small_config(probe_tasks=0)) as store:
        trainer, _ = store.restore_trainer()
        list(run_training(trainer, store, 3))
    metrics_before = (store.path / "metrics.jsonl").read_text()
    assert record_checkpoint_probe(store.path) == 3
    probe = store.load_probe(3)
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


def test_pretrained_assets_are_listed_and_probed_like_runs():
    goal, goal_pg = list_pretrained(task="goal_2d")  # by name
    assert (goal.name, goal_pg.name) == ("goal_2d_es_maml_hill_climb_linear", "goal_2d_pg_maml_linear")
    assert (goal.config.method, goal.config.operator, goal_pg.config.method) == ("es_maml", "hill_climb", "pg_maml")
    iteration, probe = probe_policy(goal.path)
    assert iteration == goal.iteration == 100
    assert probe.query_paths.shape == (4, 20, 101, 2) and probe.accepted.shape == (4, 20)
    adapted = final_distances(probe.adapted_paths, probe.tasks).mean()
    assert adapted < final_distances(probe.start_paths, probe.tasks).mean()  # adaptation moves toward the goal
