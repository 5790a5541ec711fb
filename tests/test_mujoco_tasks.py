"""ForwardBackward MuJoCo tasks: batched engine == gymnasium env == gymnasium v5 physics; directions; splits."""

from __future__ import annotations

import dataclasses
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from esmaml_core.envs import FORWARD_BACKWARD_ENVS
from esmaml_core.policies import make_policy
from esmaml_core.tasks import ObsNormalizer, get_task_family
from esmaml_core.tasks.mujoco import MUJOCO_FAMILIES, _ant_healthy, compile_spec, gymnasium_asset

FAMILY_ENV_IDS = {family: env_id for env_id, family in FORWARD_BACKWARD_ENVS.items()}
# gymnasium's own env and the keyword arguments that give it our constants (d = +1)
GYMNASIUM_V5 = {
    "fb_swimmer": ("Swimmer-v5", {}),
    "fb_walker": ("Walker2d-v5", {}),
    "fb_ant": ("Ant-v5", {}),
    "fb_halfcheetah": ("HalfCheetah-v5", {"ctrl_cost_weight": 0.05}),
}
# Ant's contact cost is 5e-4 * sum of 78 squared entries clipped to [-1, 1]: at most 0.039 per step
ANT_CONTACT_COST_BOUND = 5e-4 * 78


def model_arrays(model) -> dict[str, np.ndarray]:
    """Every array of a compiled MuJoCo model, and its statistics."""
    arrays = {name: getattr(model, name) for name in dir(model) if not name.startswith("_")}
    arrays |= {f"stat.{name}": getattr(model.stat, name) for name in dir(model.stat) if not name.startswith("_")}
    return {name: np.asarray(value) for name, value in arrays.items() if isinstance(value, np.ndarray | float)}


def test_total_mass_is_set_without_the_deprecated_attribute_and_the_model_is_the_compilers():
    import mujoco

    path = str(gymnasium_asset("half_cheetah.xml"))  # <compiler settotalmass="14">
    with pytest.warns(UserWarning, match="settotalmass"):
        compiled = mujoco.MjSpec.from_file(path).compile()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = compile_spec(mujoco.MjSpec.from_file(path))
    assert ours.body_mass.sum() == pytest.approx(14.0)
    expected, got = model_arrays(compiled), model_arrays(ours)
    assert "stat.meaninertia" in expected and "body_inertia" in expected
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value, err_msg=name)


def linear_rollout_inputs(name: str, batch: int, scale: float, seed: int = 0):
    """A family, its linear policy, random parameters, alternating directions and start noise."""
    family = get_task_family(name)
    policy = make_policy(family.obs_dim, family.act_dim)
    rng = np.random.default_rng(seed)
    params = rng.normal(0.0, scale, (batch, policy.num_params))
    tasks = np.where(np.arange(batch) % 2 == 0, 1.0, -1.0)[:, None]
    return family, policy, params, tasks, family.initial_noise(rng, batch)


def env_episode(env, policy, params, task, noise, horizon):
    """Return, length and rewards of one gymnasium-loop episode."""
    observation, _ = env.reset(options={"task": task, "noise": noise})
    rewards = []
    for _ in range(horizon):
        action = policy.act(params[None], observation[None])[0]
        observation, reward, terminated, _, _ = env.step(action)
        rewards.append(reward)
        if terminated:
            break
    return sum(rewards), len(rewards), np.array(rewards)


@pytest.mark.parametrize("env_id", list(FORWARD_BACKWARD_ENVS))
def test_envs_pass_the_gymnasium_checker_and_render(env_id):
    env = gym.make(env_id, render_mode="rgb_array").unwrapped
    check_env(env)
    observation, _ = env.reset(seed=1, options={"task_id": 50})
    assert env.observation_space.contains(observation)
    frame = env.render()
    env.close()
    assert frame.shape == (360, 480, 3) and frame.dtype == np.uint8
    assert frame.std() > 10  # a picture, not a blank buffer


@pytest.mark.parametrize(
    ("name", "scale", "must_terminate"),
    [("fb_swimmer", 0.5, False), ("fb_ant", 0.3, True), ("fb_walker", 0.3, True)],
)
def test_batched_rollout_equals_gymnasium_env_exactly(name, scale, must_terminate):
    """Same parameters, directions and start noise: identical rewards step by step (warm start carried)."""
    horizon, batch = 100, 6
    family, policy, params, tasks, noise = linear_rollout_inputs(name, batch, scale)
    params *= np.linspace(0.0, 1.0, batch)[:, None]  # from the zero policy (Ant and Walker stand) to falling ones
    rollouts = family.rollout(
        policy, params, tasks, ObsNormalizer.identity(family.obs_dim), noise=noise, horizon=horizon, record=True
    )
    env = gym.make(FAMILY_ENV_IDS[name]).unwrapped
    for row in range(batch):
        total, length, rewards = env_episode(env, policy, params[row], tasks[row], noise[row], horizon)
        assert length == rollouts.lengths[row]
        np.testing.assert_array_equal(rewards, rollouts.rewards[row, :length])
        assert total == pytest.approx(rollouts.returns[row], rel=1e-12, abs=1e-12)
    terminated = rollouts.lengths < horizon
    assert terminated.any() == must_terminate
    if must_terminate:
        assert not terminated.all()  # early ends and full episodes in one batch


@pytest.mark.parametrize("name", list(GYMNASIUM_V5))
def test_forward_task_is_gymnasium_v5(name):
    """Direction +1 from the same seed and actions: gymnasium v5's start, physics, observations and rewards.

    Only Ant's contact terms may differ (module docstring): cfrc_ext is taken at the last
    substep's sensor stage instead of after the step, within the contact-cost bound.
    """
    gym_id, kwargs = GYMNASIUM_V5[name]
    reference = gym.make(gym_id, **kwargs).unwrapped
    ours = gym.make(FAMILY_ENV_IDS[name]).unwrapped
    expected, _ = reference.reset(seed=7)
    observation, _ = ours.reset(seed=7, options={"task": [1.0]})
    np.testing.assert_array_equal(observation, expected)
    physics_dims = reference.observation_structure["qpos"] + reference.observation_structure["qvel"]
    actions = np.random.default_rng(3).uniform(-1, 1, (60, ours.family.act_dim))
    for action in actions:
        expected, expected_reward, expected_end, _, _ = reference.step(action)
        observation, reward, end, _, _ = ours.step(action)
        np.testing.assert_array_equal(observation[:physics_dims], expected[:physics_dims])
        assert end == expected_end
        if name == "fb_ant":
            assert abs(reward - expected_reward) <= ANT_CONTACT_COST_BOUND
        else:
            np.testing.assert_array_equal(observation, expected)
            assert reward == expected_reward
        if end:
            break


def test_ant_return_differs_from_gymnasium_by_a_small_part_of_its_contact_cost():
    """Over an episode the contact-term difference is far below the contact cost itself (0.011 vs 0.29)."""
    reference = gym.make("Ant-v5").unwrapped
    ours = gym.make(FAMILY_ENV_IDS["fb_ant"]).unwrapped
    reference.reset(seed=7)
    ours.reset(seed=7, options={"task": [1.0]})
    ours_total = reference_total = contact_reward = 0.0
    for action in np.random.default_rng(3).uniform(-1, 1, (200, 8)):
        _, expected_reward, end, _, info = reference.step(action)
        _, reward, _, _, _ = ours.step(action)
        ours_total, reference_total = ours_total + reward, reference_total + expected_reward
        contact_reward += info["reward_contact"]
        if end:
            break
    assert abs(contact_reward) > 0.1
    assert abs(ours_total - reference_total) < 0.1 * abs(contact_reward)


def test_ant_is_healthy_with_its_torso_between_0_2_and_1():
    qpos = np.zeros((4, 15))
    qpos[:, 2] = [0.19, 0.2, 1.0, 1.01]
    np.testing.assert_array_equal(_ant_healthy(qpos, np.zeros((4, 14))), [False, True, True, False])


def test_ant_contact_forces_are_computed():
    family, policy, params, tasks, noise = linear_rollout_inputs("fb_ant", 4, 0.0)
    rollouts = family.rollout(policy, params, tasks, ObsNormalizer.identity(family.obs_dim), noise=noise, record=True)
    contact_part = rollouts.observations[:, 1:, 27:]
    assert np.abs(contact_part).max() == 1.0  # standing on the floor: clipped contact forces in the observation


@pytest.mark.parametrize("name", ["fb_swimmer", "fb_halfcheetah"])
def test_direction_flips_the_velocity_reward(name):
    """Same policy and start in both directions: identical motion, so R(+1) + R(-1) = -2 x control cost."""
    family, policy, params, _, noise = linear_rollout_inputs(name, 1, 0.5)
    normalizer = ObsNormalizer.identity(family.obs_dim)
    runs = {
        direction: family.rollout(
            policy, params, np.array([[direction]]), normalizer, noise=noise, horizon=100, record=True
        )
        for direction in (1.0, -1.0)
    }
    np.testing.assert_array_equal(runs[1.0].actions, runs[-1.0].actions)
    control_cost = family.ctrl_cost_weight * np.sum(runs[1.0].actions ** 2)
    assert runs[1.0].returns[0] + runs[-1.0].returns[0] == pytest.approx(-2 * control_cost, abs=1e-9)
    forward_return = runs[1.0].returns[0] + control_cost
    assert abs(forward_return) > 1.0  # the policy does move
    assert np.sign(runs[-1.0].returns[0] + control_cost) == -np.sign(forward_return)


def test_batch_equals_single_rollouts_on_any_thread_count():
    family, policy, params, tasks, noise = linear_rollout_inputs("fb_ant", 5, 0.2, seed=4)
    normalizer = ObsNormalizer(np.full(family.obs_dim, 0.1), np.full(family.obs_dim, 2.0))
    batched = family.rollout(policy, params, tasks, normalizer, noise=noise, horizon=80)
    single_thread = dataclasses.replace(family, nthread=1)
    for row in range(len(params)):
        alone = single_thread.rollout(
            policy, params[row : row + 1], tasks[row : row + 1], normalizer, noise=noise[row : row + 1], horizon=80
        )
        assert alone.returns[0] == batched.returns[row]
        assert alone.lengths[0] == batched.lengths[row]


def test_recorded_rollout_shapes_and_state_sums():
    family, policy, params, tasks, noise = linear_rollout_inputs("fb_walker", 4, 0.3)
    rollouts = family.rollout(
        policy, params, tasks, ObsNormalizer.identity(family.obs_dim), noise=noise, horizon=50, record=True
    )
    assert rollouts.observations.shape == (4, 51, 17)
    assert rollouts.actions.shape == (4, 50, 6) and rollouts.rewards.shape == (4, 50)
    for row in range(4):
        seen = rollouts.observations[row, : rollouts.lengths[row]]
        np.testing.assert_allclose(rollouts.state_sum[row], seen.sum(axis=0))
        np.testing.assert_allclose(rollouts.state_sq_sum[row], (seen**2).sum(axis=0))
    for row in range(4):
        assert not rollouts.actions[row, rollouts.lengths[row] :].any()
        assert not rollouts.rewards[row, rollouts.lengths[row] :].any()
    np.testing.assert_allclose(rollouts.returns, rollouts.rewards.sum(axis=1))


@pytest.mark.parametrize("family", MUJOCO_FAMILIES, ids=lambda family: family.name)
def test_task_splits_and_dimensions(family):
    train, test = family.split_ids("train"), family.split_ids("test")
    assert not set(train) & set(test)
    for ids in (train, test):
        directions = family.task_params(ids)
        assert directions.shape == (len(ids), 1)
        assert set(np.unique(directions)) == {-1.0, 1.0}
    assert set(family.task_params(test[:2])[:, 0]) == {-1.0, 1.0}
    with pytest.raises(ValueError, match="task ids"):
        family.task_params(np.array([100]))
    gym_id, kwargs = GYMNASIUM_V5[family.name]
    reference = gym.make(gym_id, **kwargs).unwrapped
    assert family.obs_dim == reference.observation_space.shape[0]
    assert family.act_dim == reference.action_space.shape[0]
    assert family.dt == reference.dt
    np.testing.assert_array_equal(family.model.actuator_ctrlrange, np.tile([-1.0, 1.0], (family.act_dim, 1)))
