"""BiasedSensorCartPole: gymnasium physics, the lying sensor, the gymnasium env, and learning."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.classic_control import CartPoleEnv
from gymnasium.utils.env_checker import check_env

import esmaml_core.envs  # noqa: F401  (registers the env ids)
from esmaml_core.config import TrainConfig
from esmaml_core.policies import make_policy
from esmaml_core.tasks import ObsNormalizer
from esmaml_core.tasks.cartpole import BIAS_RANGE, BIASED_SENSOR_CARTPOLE, fallen, physics_step
from esmaml_core.trainer import make_trainer

ENV_ID = "esmaml/BiasedSensorCartPole-v0"
FAMILY = BIASED_SENSOR_CARTPOLE


# A linear controller (weights on x, x_dot, theta, theta_dot; output bias) that balances
# the pole when the sensor tells the truth: it pushes towards the side the pole falls to.
BALANCING = np.array([0.5, 1.0, 10.0, 2.0, 0.0])


def random_params(rng, batch, scale=1.0):
    return rng.normal(0.0, scale, (batch, make_policy(4, 1).num_params))


def test_physics_match_gymnasium_cartpole_at_full_force(rng):
    """A force of +-1 (x 10 N) is gymnasium's discrete push right/left."""
    reference = CartPoleEnv()
    reference.reset(seed=0)
    for _ in range(20):
        state = rng.uniform(-0.2, 0.2, 4)
        for action, push in ((1.0, 1), (-1.0, 0)):
            reference.state = state.copy()
            expected, _, _, _, _ = reference.step(push)
            np.testing.assert_allclose(physics_step(state[None], np.array([[action]]))[0], expected, rtol=1e-6)


def test_task_biases_cover_the_documented_range_and_splits_are_disjoint():
    biases = FAMILY.task_params(np.arange(100))
    assert biases.shape == (100, 1)
    assert np.all(np.abs(biases) <= BIAS_RANGE) and len(np.unique(biases)) == 100
    assert biases.min() < -0.15 and biases.max() > 0.15
    assert not set(FAMILY.split_ids("train")) & set(FAMILY.split_ids("test"))
    with pytest.raises(ValueError):
        FAMILY.task_params(np.array([100]))


def test_start_noise_is_gymnasiums_uniform_005(rng):
    noise = FAMILY.initial_noise(rng, 1000)
    assert noise.shape == (1000, 4)
    assert np.all(np.abs(noise) <= 0.05) and np.abs(noise).max() > 0.049


def test_bias_changes_what_the_policy_sees_but_not_the_physics(rng):
    policy = make_policy(4, 1)
    params = np.zeros((2, policy.num_params))  # zero force: the pole falls on its own
    noise = np.repeat(FAMILY.initial_noise(rng, 1), 2, axis=0)
    tasks = np.array([[0.0], [0.15]])
    rollouts = FAMILY.rollout(policy, params, tasks, ObsNormalizer.identity(4), noise=noise, record=True)
    assert rollouts.lengths[0] == rollouts.lengths[1] < FAMILY.horizon
    seen = rollouts.observations
    np.testing.assert_allclose(seen[1, :, 2] - seen[0, :, 2], 0.15)
    np.testing.assert_array_equal(seen[1, :, [0, 1, 3]], seen[0, :, [0, 1, 3]])
    # A policy that reads the angle acts differently under the bias, so the paths differ.
    params[:, 2] = 5.0
    reacting = FAMILY.rollout(policy, params, tasks, ObsNormalizer.identity(4), noise=noise, record=True)
    assert not np.allclose(reacting.actions[0], reacting.actions[1])


def test_trusting_the_sensor_fails_and_the_output_bias_can_compensate(rng):
    """The adaptation problem: a controller balances only after shifting its output by gain x bias."""
    policy = make_policy(4, 1)
    tasks = np.array([[0.0], [0.18], [-0.18]])
    noise = FAMILY.initial_noise(rng, 3)
    trusting = FAMILY.rollout(policy, np.tile(BALANCING, (3, 1)), tasks, ObsNormalizer.identity(4), noise=noise)
    np.testing.assert_array_equal(trusting.returns < FAMILY.horizon, [False, True, True])  # runs off the track
    compensating = np.tile(BALANCING, (3, 1))
    compensating[:, 4] = -BALANCING[2] * tasks[:, 0]
    adapted = FAMILY.rollout(policy, compensating, tasks, ObsNormalizer.identity(4), noise=noise)
    np.testing.assert_array_equal(adapted.returns, FAMILY.horizon)


def test_rollout_records_what_the_policy_saw(rng):
    policy = make_policy(4, 1)
    params = random_params(rng, 8)
    tasks = FAMILY.task_params(rng.integers(0, 100, 8))
    noise = FAMILY.initial_noise(rng, 8)
    normalizer = ObsNormalizer(np.array([0.0, 0.1, 0.0, -0.1]), np.array([1.0, 2.0, 0.5, 3.0]))
    rollouts = FAMILY.rollout(policy, params, tasks, normalizer, noise=noise, horizon=50, record=True)
    assert rollouts.observations.shape == (8, 51, 4)
    assert rollouts.actions.shape == (8, 50, 1) and rollouts.rewards.shape == (8, 50)
    np.testing.assert_allclose(rollouts.observations[:, 0], noise + np.pad(tasks, ((0, 0), (2, 1))))
    steps = np.arange(50)[None, :] < rollouts.lengths[:, None]
    np.testing.assert_array_equal(rollouts.rewards, steps.astype(float))
    np.testing.assert_array_equal(rollouts.returns, rollouts.lengths)
    assert np.all(rollouts.actions[~steps] == 0.0)
    seen = np.where(steps[..., None], rollouts.observations[:, :-1], 0.0)
    np.testing.assert_allclose(rollouts.state_sum, seen.sum(axis=1))
    np.testing.assert_allclose(rollouts.state_sq_sum, (seen**2).sum(axis=1))
    replayed = policy.act(np.repeat(params, 50, axis=0), normalizer(rollouts.observations[:, :-1].reshape(-1, 4)))
    np.testing.assert_allclose(rollouts.actions[steps], replayed.reshape(8, 50, 1)[steps])


def test_batch_equals_single_rollouts(rng):
    policy = make_policy(4, 1, (8,))
    params = rng.normal(0.0, 0.5, (16, policy.num_params))
    tasks = FAMILY.task_params(rng.integers(0, 100, 16))
    noise = FAMILY.initial_noise(rng, 16)
    normalizer = ObsNormalizer.identity(4)
    batch = FAMILY.rollout(policy, params, tasks, normalizer, noise=noise)
    singles = [
        FAMILY.rollout(policy, params[i : i + 1], tasks[i : i + 1], normalizer, noise=noise[i : i + 1])
        for i in range(16)
    ]
    np.testing.assert_array_equal(batch.returns, [s.returns[0] for s in singles])
    np.testing.assert_array_equal(batch.state_sum, np.concatenate([s.state_sum for s in singles]))


def test_gymnasium_env_passes_check_env():
    check_env(gym.make(ENV_ID).unwrapped, skip_render_check=False)


def test_batched_rollout_equals_gymnasium_env(rng):
    """Same params, task and start noise: the same return, step count and first observation."""
    policy = make_policy(4, 1)
    params = BALANCING + rng.normal(0.0, 0.3, (12, 5))  # some long episodes, some falls
    task_ids = rng.integers(0, 100, 12)
    tasks = FAMILY.task_params(task_ids)
    seeds = rng.integers(0, 2**31, 12)
    # gymnasium seeds np_random as np.random.default_rng(seed) does.
    noise = np.concatenate([FAMILY.initial_noise(np.random.default_rng(seed), 1) for seed in seeds])
    normalizer = ObsNormalizer(np.zeros(4), np.array([1.0, 1.0, 0.2, 1.0]))
    batched = FAMILY.rollout(policy, params, tasks, normalizer, noise=noise, record=True)
    assert batched.lengths.max() > 50
    env = gym.make(ENV_ID)
    for row, (task_id, seed) in enumerate(zip(task_ids, seeds, strict=True)):
        observation, _ = env.reset(seed=int(seed), options={"task_id": int(task_id)})
        np.testing.assert_array_equal(observation, batched.observations[row, 0])
        total, steps, done = 0.0, 0, False
        while not done:
            action = policy.act(params[row : row + 1], normalizer(observation[None]))[0]
            observation, reward, terminated, truncated, _ = env.step(action)
            total, steps, done = total + reward, steps + 1, terminated or truncated
        assert total == batched.returns[row]
        assert steps == batched.lengths[row]


def test_env_task_choice_and_render():
    env = gym.make(ENV_ID, render_mode="rgb_array")
    observation, info = env.reset(seed=1, options={"task": [0.1]})
    np.testing.assert_allclose(info["task"], [0.1])
    np.testing.assert_allclose(observation[2] - env.unwrapped.state[2], 0.1)
    image = env.render()
    assert image.shape == (200, 400, 3) and image.dtype == np.uint8
    colours = {tuple(pixel) for pixel in image.reshape(-1, 3)}
    assert {(40, 40, 40), (200, 130, 60), (120, 160, 230)} <= colours


@pytest.mark.slow
def test_es_maml_learns_to_balance_and_adaptation_helps():
    """Returns rise from ~40 to near the 200-step horizon; adapted policies beat their meta-policy on the way."""
    config = TrainConfig(
        task="biased_sensor_cartpole",
        perturbations=20,
        queries=10,
        horizon=200,
        eval_tasks=20,
        lr=0.1,
        iterations=8,
        seed=0,
    )
    trainer = make_trainer(config)
    results = [trainer.step() for _ in range(config.iterations)]
    assert results[-1].post_adaptation_return > results[0].post_adaptation_return + 100
    gains = [result.post_adaptation_return - result.pre_adaptation_return for result in results[1:]]
    assert np.mean(gains) > 5


def test_termination_matches_gymnasium_cartpole(rng):
    """fallen() against gymnasium's own terminated flag, on states on both sides of both limits."""
    reference = CartPoleEnv()
    reference.reset(seed=0)
    for state in rng.uniform([-2.6, -1.0, -0.25, -1.0], [2.6, 1.0, 0.25, 1.0], size=(400, 4)):
        reference.state = state.copy()
        _, _, terminated, _, _ = reference.step(1)
        assert fallen(physics_step(state[None], np.array([[1.0]])))[0] == terminated
