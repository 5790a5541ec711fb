"""Four Corner, 2D Goal and 2D Navigation: definitions, batching, and agreement with the gymnasium envs."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import esmaml_core.envs  # noqa: F401  (registers the env ids)
from esmaml_core.policies import make_policy
from esmaml_core.tasks import ObsNormalizer, get_task_family
from esmaml_core.tasks.point import CORNERS, FOUR_CORNER, GOAL_2D, NAVIGATION_2D

ENV_IDS = {
    "four_corner": "esmaml/FourCorner-v0",
    "goal_2d": "esmaml/Goal2D-v0",
    "navigation_2d": "esmaml/Navigation2D-v0",
}


def random_params(policy, rng, batch, scale=1.0):
    return rng.normal(0.0, scale, (batch, policy.num_params))


def test_four_corner_reward_is_sparse_within_distance_two():
    corner = CORNERS[:1]
    _, on_goal, _ = FOUR_CORNER.step(np.array([[1.9, 2.0]]), np.array([[0.1, 0.0]]), corner)
    assert on_goal[0] == pytest.approx(0.0)
    _, far, _ = FOUR_CORNER.step(np.array([[0.0, 0.0]]), np.array([[0.0, 0.0]]), corner)
    assert far[0] == pytest.approx(-4.0)
    _, halfway, _ = FOUR_CORNER.step(np.array([[1.0, 2.0]]), np.zeros((1, 2)), corner)
    assert halfway[0] == pytest.approx(-4.0 + (4.0 - 1.0))


def test_actions_and_positions_are_clipped():
    positions, _, _ = FOUR_CORNER.step(np.array([[4.95, 0.0]]), np.array([[1.0, -1.0]]), CORNERS[:1])
    np.testing.assert_allclose(positions, [[5.0, -0.1]])
    positions, rewards, _ = GOAL_2D.step(np.array([[0.95, 0.0]]), np.array([[1.0, 0.05]]), np.zeros((1, 2)))
    np.testing.assert_allclose(positions, [[1.0, 0.05]])
    np.testing.assert_allclose(rewards, [-(1.0**2 + 0.05**2)])  # scored at the clipped position, not at 1.05


def test_goal_2d_terminates_at_the_goal_and_stops_counting(rng):
    policy = make_policy(2, 2)
    params = np.zeros((2, policy.num_params))
    params[:, -2:] = [[5.0, 5.0], [-5.0, -5.0]]  # bias only: walk diagonally at full speed
    goals = np.array([[0.3, 0.3], [0.3, 0.3]])
    rollouts = GOAL_2D.rollout(policy, params, goals, ObsNormalizer.identity(2), record=True)
    assert rollouts.lengths[0] == 3 and rollouts.lengths[1] == 100
    np.testing.assert_allclose(rollouts.observations[0, -1], [0.3, 0.3])
    assert np.all(rollouts.rewards[0, 3:] == 0.0)
    np.testing.assert_allclose(rollouts.returns, rollouts.rewards.sum(axis=1))


def test_navigation_2d_episode_ends_in_the_goal_box_in_both_engines():
    policy = make_policy(2, 2)
    params = np.zeros((2, policy.num_params))
    params[:, -2:] = [[5.0, 5.0], [-5.0, -5.0]]  # bias only: walk diagonally at full speed
    goals = np.array([[0.3, 0.3], [0.3, 0.3]])
    rollouts = NAVIGATION_2D.rollout(policy, params, goals, ObsNormalizer.identity(2))
    assert rollouts.lengths.tolist() == [3, 100]
    env = gym.make(ENV_IDS["navigation_2d"])
    env.reset(options={"task": goals[0]})
    total, done, steps = 0.0, False, 0
    while not done:
        _, reward, done, _, _ = env.step(policy.act(params[:1], np.zeros((1, 2)))[0])
        total, steps = total + reward, steps + 1
    assert steps == 3 and total == pytest.approx(rollouts.returns[0], rel=1e-12)
    assert rollouts.returns[1] < -100 * np.sqrt(2 * 0.3**2)  # walks away: distance grows every step


def test_straight_walk_matches_reference_levels():
    """TASKS.md: walking straight to the goal and staying scores about -40.3 (Four Corner), -1.3 (2D Goal)."""
    for family, goals, reference in (
        (FOUR_CORNER, CORNERS, -40.3),
        (GOAL_2D, GOAL_2D.task_params(np.arange(100)), -1.3),
    ):
        positions, returns, active = np.zeros((len(goals), 2)), np.zeros(len(goals)), np.ones(len(goals), bool)
        for _ in range(family.horizon):
            positions, rewards, done = family.step(positions, goals - positions, goals)  # clipped to 0.1
            returns += np.where(active, rewards, 0.0)
            active &= ~done
        assert np.mean(returns) == pytest.approx(reference, abs=0.1)


def test_navigation_2d_is_the_maml_benchmark():
    """-Euclidean distance, no position clip, ends once both coordinates are within 0.01."""
    goal = np.array([[0.3, -0.2]])
    _, reward, done = NAVIGATION_2D.step(np.zeros((1, 2)), np.array([[0.03, 0.04]]), np.zeros((1, 2)))
    assert reward[0] == pytest.approx(-0.05) and not done[0]
    positions, _, _ = NAVIGATION_2D.step(np.array([[4.0, -7.0]]), np.array([[1.0, -1.0]]), goal)
    np.testing.assert_allclose(positions, [[4.1, -7.1]])
    _, _, done = NAVIGATION_2D.step(np.array([[0.3, -0.2]]), np.array([[0.0099, -0.0099]]), goal)
    assert done[0]  # inside the 0.01 box (distance 0.014 > 0.01: a radius rule would not end it)
    _, _, done = NAVIGATION_2D.step(np.array([[0.3, -0.2]]), np.array([[0.0, 0.0101]]), goal)
    assert not done[0]
    goals = NAVIGATION_2D.task_params(np.arange(100))
    assert np.all(np.abs(goals) <= 0.5) and np.abs(goals).max() > 0.45 and len(np.unique(goals, axis=0)) == 100


def test_splits_are_disjoint_and_cover_every_corner():
    for family in (FOUR_CORNER, GOAL_2D, NAVIGATION_2D):
        assert not set(family.split_ids("train")) & set(family.split_ids("test"))
    test_corners = FOUR_CORNER.task_params(FOUR_CORNER.split_ids("test")[:4])
    assert {tuple(c) for c in test_corners} == {tuple(c) for c in CORNERS}
    goals = GOAL_2D.task_params(np.arange(100))
    assert np.all(np.abs(goals) <= 1.0) and len(np.unique(goals, axis=0)) == 100
    with pytest.raises(ValueError):
        FOUR_CORNER.task_params(np.array([100]))


@pytest.mark.parametrize("task", list(ENV_IDS))
def test_batch_equals_single_rollouts(task, rng):
    family = get_task_family(task)
    policy = make_policy(2, 2, (8,))
    params = random_params(policy, rng, 16)
    tasks = family.task_params(rng.integers(0, 100, 16))
    normalizer = ObsNormalizer(np.array([0.1, -0.2]), np.array([0.5, 2.0]))
    batch = family.rollout(policy, params, tasks, normalizer)
    singles = [family.rollout(policy, params[i : i + 1], tasks[i : i + 1], normalizer) for i in range(16)]
    np.testing.assert_allclose(batch.returns, [s.returns[0] for s in singles], rtol=1e-12)
    np.testing.assert_array_equal(batch.lengths, [s.lengths[0] for s in singles])
    np.testing.assert_array_equal(batch.state_sum, np.concatenate([s.state_sum for s in singles]))


@pytest.mark.parametrize("task", list(ENV_IDS))
def test_gymnasium_env_passes_check_env(task):
    check_env(gym.make(ENV_IDS[task]).unwrapped, skip_render_check=False)


@pytest.mark.parametrize("task", list(ENV_IDS))
def test_batched_rollout_equals_gymnasium_env(task, rng):
    """The same policy on the same task gives the same return in both engines."""
    family = get_task_family(task)
    policy = make_policy(2, 2)
    params = random_params(policy, rng, 12, scale=2.0)
    task_ids = rng.integers(0, 100, 12)
    tasks = family.task_params(task_ids)
    normalizer = ObsNormalizer(np.array([0.2, 0.1]), np.array([1.5, 0.7]))
    batched = family.rollout(policy, params, tasks, normalizer)
    env = gym.make(ENV_IDS[task])
    for row, task_id in enumerate(task_ids):
        observation, _ = env.reset(options={"task_id": int(task_id)})
        total, steps, done = 0.0, 0, False
        while not done:
            action = policy.act(params[row : row + 1], normalizer(observation[None]))[0]
            observation, reward, terminated, truncated, _ = env.step(action)
            total, steps, done = total + reward, steps + 1, terminated or truncated
        assert total == pytest.approx(batched.returns[row], rel=1e-12, abs=1e-12)
        assert steps == batched.lengths[row]


def test_env_task_can_be_set_by_array_and_is_drawn_otherwise():
    env = gym.make("esmaml/Goal2D-v0")
    _, info = env.reset(seed=3, options={"task": [0.5, -0.5]})
    np.testing.assert_allclose(info["task"], [0.5, -0.5])
    env.unwrapped.set_task([0.1, 0.2])
    _, info = env.reset()
    np.testing.assert_allclose(info["task"], [0.1, 0.2])
    fresh = gym.make("esmaml/Goal2D-v0")
    _, info = fresh.reset(seed=0)
    assert any(np.allclose(info["task"], goal) for goal in GOAL_2D.task_params(GOAL_2D.split_ids("train")))


def test_env_renders_goal_and_agent():
    env = gym.make("esmaml/FourCorner-v0", render_mode="rgb_array")
    env.reset(options={"task_id": 0})
    image = env.render()
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8
    colours = {tuple(pixel) for pixel in image.reshape(-1, 3)}
    assert (40, 160, 60) in colours and (210, 40, 40) in colours
