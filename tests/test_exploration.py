"""Probe paths on disk and made afresh, and the exploration numbers drawn from them."""

import numpy as np
import pytest

from esmaml_core.assets import list_pretrained
from esmaml_core.exploration import (
    AreaGrid,
    area_grid,
    best_so_far,
    corners_reached,
    exploration_metrics,
    explored_paths,
    final_distances,
    nearest_iteration,
    path_metrics,
    probe_policy,
    record_checkpoint_probe,
)
from esmaml_core.results import ProbeTrajectories
from esmaml_core.runs import RunStore, run_training
from esmaml_core.tasks.point import CORNERS, FOUR_CORNER, GOAL_2D, NAVIGATION_2D
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


def toward(end, steps: int = 10) -> np.ndarray:
    """A straight path of ``steps`` equal steps from the start (0, 0) to ``end``."""
    return np.linspace([0.0, 0.0], end, steps + 1)


def test_a_corner_counts_once_a_path_comes_within_half_a_unit_of_it():
    reach = 2.0 - 0.5 / np.sqrt(2) + 1e-9  # ends 0.5 from (2, 2), a hair inside
    stop = 2.0 - 0.6 / np.sqrt(2)  # ends 0.6 from (-2, 2): inside the reward radius, not visited
    paths = np.stack([toward([reach, reach]), toward([-stop, stop])])
    assert corners_reached(paths).tolist() == [True, False, False, False]
    assert path_metrics(paths, CORNERS[0], FOUR_CORNER, paths[0]).corners_visited == 1
    assert path_metrics(CORNERS[:, None, :] * 0.9, CORNERS[0], FOUR_CORNER, paths[0]).corners_visited == 4
    assert path_metrics(paths, np.zeros(2), GOAL_2D, paths[0]).corners_visited is None  # corners: Four Corner only


def test_cells_are_counted_exactly_on_the_arena_grid():
    grid = AreaGrid(half_width=1.0, cell_width=0.5)  # 4 x 4 cells
    one_cell = np.array([[[0.1, 0.1], [0.2, 0.4], [0.49, 0.01]]])
    assert grid.visited_cells(one_cell) == 1
    corners_of_the_box = np.array([[[-1.0, -1.0], [1.0, 1.0], [1.0, -1.0], [-1.0, 1.0]]])  # edges: border cells
    assert grid.visited_cells(corners_of_the_box) == 4
    assert grid.visited_cells(np.array([[[0.0, 0.0], [1.5, 0.0], [0.0, -3.0]]])) == 1  # outside: no cell
    diagonal = toward([1.0, 1.0], steps=20)  # through cells (2, 2) and (3, 3) only
    assert grid.visited_cells(np.stack([diagonal, -diagonal])) == 4
    assert (area_grid(FOUR_CORNER).cells_per_side, area_grid(FOUR_CORNER).cell_width) == (40, 0.25)
    assert (area_grid(GOAL_2D).cells_per_side, area_grid(NAVIGATION_2D).cells_per_side) == (20, 20)


def test_a_square_path_has_known_length_steps_area_and_end():
    corners = np.array([[-0.45, -0.45], [0.45, -0.45], [0.45, 0.45], [-0.45, 0.45], [-0.45, -0.45]])
    sides = [np.linspace(a, b, 10)[:-1] for a, b in zip(corners[:-1], corners[1:], strict=True)]
    square = np.concatenate([*sides, corners[-1:]])
    assert len(square) == 37  # 9 steps of 0.1 per side, every position at the centre of a 0.1 cell
    metrics = path_metrics(square[None], np.array([-0.45, 0.55]), GOAL_2D, square)
    assert metrics.paths == 1
    np.testing.assert_allclose(metrics.path_length, 3.6)
    np.testing.assert_allclose([metrics.step_mean, *metrics.step_percentiles], 0.1)
    np.testing.assert_allclose([metrics.final_distance, metrics.held_final_distance], 1.0)  # back at the start
    assert (metrics.cells_visited, metrics.cells_total) == (10 * 10 - 8 * 8, 400)  # the ring of a 10 x 10 block
    np.testing.assert_allclose(metrics.area_covered, 36 / 400)


def test_straight_lines_average_over_paths_and_leave_out_steps_that_did_not_move():
    short, long = toward([0.3, 0.0], steps=3), toward([0.0, -0.8], steps=4)  # steps of 0.1 and 0.2
    finished = np.concatenate([short, np.repeat(short[-1:], 1, axis=0)])  # an ended episode repeats its end
    paths = np.stack([finished, long])
    metrics = path_metrics(paths, np.array([0.3, 0.0]), GOAL_2D, long)
    np.testing.assert_allclose(metrics.path_length, (0.3 + 0.8) / 2)
    np.testing.assert_allclose(metrics.step_mean, (3 * 0.1 + 4 * 0.2) / 7)
    np.testing.assert_allclose(metrics.step_percentiles, np.percentile([0.1] * 3 + [0.2] * 4, [10, 50, 90]))
    np.testing.assert_allclose(metrics.final_distance, (0.0 + np.hypot(0.3, 0.8)) / 2)
    np.testing.assert_allclose(metrics.held_final_distance, np.hypot(0.3, 0.8))


def test_no_path_shown_gives_no_numbers_but_the_held_policy():
    metrics = path_metrics(np.zeros((0, 5, 2)), np.ones(2), GOAL_2D, np.zeros((5, 2)))
    assert (metrics.paths, metrics.cells_visited, metrics.corners_visited) == (0, 0, None)
    assert np.isnan([metrics.path_length, metrics.step_mean, metrics.final_distance, *metrics.step_percentiles]).all()
    np.testing.assert_allclose(metrics.held_final_distance, np.sqrt(2))


def test_metrics_of_a_probe_follow_the_hill_climbing_proposals_shown():
    queries = np.stack([toward([0.1 * k, 0.0], steps=2) for k in range(1, 4)])[None]  # K = 3 paths, lengths 0.1-0.3
    start, adapted = np.zeros((1, 3, 2)), queries[:, 2]
    accepted = np.array([[True, False, True]])
    probe = ProbeTrajectories(np.zeros((1, 2)), start, queries, adapted, np.zeros((1, 3)), np.zeros(1), accepted)
    everything = exploration_metrics(probe, 0, GOAL_2D)
    first_two = exploration_metrics(probe, 0, GOAL_2D, proposals=2)
    np.testing.assert_allclose([everything.path_length, first_two.path_length], [0.2, 0.15])
    np.testing.assert_allclose([everything.held_final_distance, first_two.held_final_distance], [0.3, 0.1])


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
