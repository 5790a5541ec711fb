"""TRPO-MAML, ProMP and T-MAML as train methods; discount, GAE, advantage normalisation, tanh MLPs."""

import jax.numpy as jnp
import numpy as np
import pytest

from esmaml_core.config import ConfigError, TrainConfig
from esmaml_core.errors import CheckpointError
from esmaml_core.evaluation import BatchEvaluator
from esmaml_core.methods import PG_METHODS
from esmaml_core.pg_family import INITIAL_KL_PENALTY, KL_KEY, TRPOMAML
from esmaml_core.pg_maml import (
    GaussianPolicy,
    alive_steps,
    as_float64,
    float64,
    gae,
    jax_precision,
    linear_baseline_advantages,
    normalized_per_task,
    rewards_to_go,
)
from esmaml_core.pg_outer import TrpoSettings, trpo_problem
from esmaml_core.policies import MLPPolicy
from esmaml_core.runs import RunStore, run_training
from esmaml_core.tasks import get_task_family
from esmaml_core.tasks.base import ObsNormalizer, fixed_tasks
from esmaml_core.trainer import make_trainer

NEW_METHODS = ("trpo_maml", "promp", "tmaml")


@pytest.mark.slow
@pytest.mark.parametrize("method", NEW_METHODS)
def test_method_learns_goal_2d_through_the_trainer(method):
    trainer = make_trainer(
        TrainConfig.for_method(method=method, task="goal_2d", iterations=40, eval_tasks=10, probe_tasks=0)
    )
    results = [trainer.step() for _ in range(trainer.config.iterations)]
    pre = np.array([r.pre_adaptation_return for r in results])
    post = np.array([r.post_adaptation_return for r in results])
    assert post[-10:].mean() > post[:5].mean() + 5.0, (post[:5], post[-10:])
    assert post[-10:].mean() > pre[-10:].mean() + 20.0, (pre[-10:], post[-10:])


def small(method: str, iterations: int, **values) -> TrainConfig:
    return TrainConfig.for_method(
        method=method,
        task="goal_2d",
        queries=3,
        task_batch=2,
        eval_tasks=2,
        probe_tasks=0,
        iterations=iterations,
        **values,
    ).validate()


def train(path, config: TrainConfig, resume: bool = False):
    with RunStore.open(path).writer() if resume else RunStore.create(path, config) as store:
        if resume:
            store.write_config(config)
        trainer, _ = store.restore_trainer()
        list(run_training(trainer, store, config.iterations))
    return store, trainer


def without_times(rows):
    return [{k: v for k, v in row.items() if k not in ("wall_time", "iteration_seconds")} for row in rows]


@pytest.mark.parametrize(
    "method, values",
    [("promp", dict(inner_steps=2, target_inner_kl=1e-9, policy="mlp", hidden=(4,))), ("trpo_maml", {})],
)
def test_train_4_equals_train_2_then_resume_2_with_the_method_state(tmp_path, method, values):
    straight, straight_trainer = train(tmp_path / "straight", small(method, 4, **values))
    train(tmp_path / "split", small(method, 2, **values))
    split, split_trainer = train(tmp_path / "split", small(method, 4, **values), resume=True)
    np.testing.assert_array_equal(straight_trainer.state.params, split_trainer.state.params)
    assert straight_trainer.state.optimizer_state.keys() == split_trainer.state.optimizer_state.keys()
    for key, value in straight_trainer.state.optimizer_state.items():
        np.testing.assert_array_equal(value, split_trainer.state.optimizer_state[key])
    assert without_times(straight.read_metrics()) == without_times(split.read_metrics())
    if method == "promp":  # the KL coefficients moved (doubled: every KL is above the tiny target) and were resumed
        coefficients = split_trainer.state.optimizer_state[KL_KEY]
        assert coefficients.shape == (2,) and np.all(coefficients == INITIAL_KL_PENALTY * 2**4)


def test_the_method_state_is_checked_on_restore(tmp_path):
    trainer = make_trainer(small("promp", 1))
    state = trainer.state
    state.optimizer_state = {**state.optimizer_state, KL_KEY: np.zeros(3)}  # a checkpoint of another inner_steps
    with pytest.raises(CheckpointError, match="does not fit"):
        make_trainer(small("promp", 1)).restore(state, "checkpoint")


def test_options_reach_the_outer_step():
    config = small(
        "trpo_maml", 1, max_kl=0.02, cg_iterations=3, cg_damping=0.1, line_search_steps=4, inner_objective="reinforce"
    )
    learner = TRPOMAML(config, get_task_family("goal_2d"))
    assert learner.settings() == TrpoSettings(0.02, 3, 0.1, 4, 0.8, "reinforce")
    for method in PG_METHODS:
        TrainConfig.from_given({"method": method, "discount": 0.9, "gae_lambda": 0.5, "normalize_advantages": True})
    with pytest.raises(ConfigError, match="lr"):  # TRPO has no learning rate
        TrainConfig.from_given({"method": "trpo_maml", "lr": 0.1})
    with pytest.raises(ConfigError, match="max_kl"):
        TrainConfig.from_given({"method": "promp", "max_kl": 0.1})
    with pytest.raises(ConfigError, match="discount"):
        TrainConfig.from_given({"method": "es_maml", "discount": 0.9})
    with pytest.raises(ConfigError, match="<= 1"):
        TrainConfig.from_given({"method": "tmaml", "discount": 1.5})


@pytest.mark.parametrize("method", ("pg_maml", "promp", "tmaml"))
def test_float32_takes_the_float64_step_to_float32_accuracy(method):
    steps = {}
    for precision in ("float64", "float32"):
        trainer = make_trainer(small(method, 1, policy="mlp", hidden=(8,), precision=precision))
        start = trainer.state.params.copy()
        trainer.step()
        steps[precision] = trainer.state.params - start
        assert trainer.state.params.dtype == np.float64
    assert np.any(steps["float32"] != steps["float64"])  # the option reaches JAX
    np.testing.assert_allclose(steps["float32"], steps["float64"], atol=1e-4 * np.abs(steps["float64"]).max())
    with pytest.raises(ConfigError, match="precision"):
        TrainConfig.from_given({"method": "es_maml", "precision": "float32"})
    with pytest.raises(ConfigError, match="float16"):
        TrainConfig.from_given({"method": method, "precision": "float16"})


def test_float32_trpo_sees_the_float64_gradient_and_curvature():
    """TRPO's operators agree to float32 accuracy. Its conjugate-gradient solve need not: on a small,
    ill-conditioned batch like this one float32's direction differs by tens of percent (each is a
    trust-region step the line search checks), so that is not compared."""
    config = TrainConfig.for_method(
        method="trpo_maml",
        task="goal_2d",
        task_batch=4,
        queries=5,
        policy="mlp",
        hidden=(8,),
        normalize_advantages=True,
    )
    learner = TRPOMAML(config, get_task_family("goal_2d"))
    rng = np.random.default_rng(0)
    params = learner.policy.init(rng)
    evaluate = BatchEvaluator(learner.family, learner.policy, ObsNormalizer.identity(2), 20, rng)
    inner, outer = learner.meta_batch(params, evaluate, rng).train_batches()
    vector = rng.standard_normal(params.shape)
    operators = {}
    for precision in ("float64", "float32"):
        with jax_precision(precision):
            problem = trpo_problem(learner.policy.distribution, config.alpha, 1e-5, jnp.asarray(params), inner, outer)
            operators[precision] = as_float64((problem.gradient, problem.damped_curvature(jnp.asarray(vector))))
    for float32, float64_ in zip(operators["float32"], operators["float64"], strict=True):
        assert 0 < np.linalg.norm(float32 - float64_) < 1e-5 * np.linalg.norm(float64_)


def test_discounted_rewards_to_go_and_gae_by_hand():
    rewards, values = np.array([1.0, 2.0, 3.0]), np.array([0.5, 1.0, 1.5])
    np.testing.assert_allclose(rewards_to_go(rewards, 0.5), [2.75, 3.5, 3.0])
    np.testing.assert_array_equal(rewards_to_go(rewards), [6.0, 5.0, 3.0])
    # deltas r + 0.5 V' - V: 1.0, 1.75, 1.5; advantages with discount * lambda = 0.25
    np.testing.assert_allclose(gae(rewards, values, 0.5, 0.5), [1.0 + 0.25 * 2.125, 1.75 + 0.25 * 1.5, 1.5])
    np.testing.assert_allclose(gae(rewards, values, 0.5, 1.0), rewards_to_go(rewards, 0.5) - values)


def random_batch(seed: int = 0):
    rng = np.random.default_rng(seed)
    observations = rng.normal(size=(3, 4, 6, 2))
    rewards = rng.normal(size=(3, 4, 6))
    lengths = rng.integers(2, 7, size=(3, 4))
    rewards = np.where(alive_steps(lengths, 6), rewards, 0.0)
    return observations, rewards, lengths


def test_gae_tends_to_rewards_to_go_minus_the_baseline_as_lambda_tends_to_1():
    observations, rewards, lengths = random_batch()
    exact = linear_baseline_advantages(observations, rewards, lengths, 0.9, 1.0)
    near = linear_baseline_advantages(observations, rewards, lengths, 0.9, 1.0 - 1e-9)
    np.testing.assert_allclose(near, exact, atol=1e-7)
    assert np.all(exact[~alive_steps(lengths, 6)] == 0.0)
    td = linear_baseline_advantages(observations, rewards, lengths, 0.9, 0.0)  # one-step TD errors differ
    assert np.abs(td - exact).max() > 0.1


def test_normalized_advantages_have_mean_0_std_1_per_task_over_live_steps():
    observations, rewards, lengths = random_batch(1)
    advantages = linear_baseline_advantages(observations, rewards, lengths)
    alive = alive_steps(lengths, 6)
    scaled = advantages.copy()
    scaled[0] *= 100.0  # one task's scale does not leak into another's
    for values in (advantages, scaled):
        normalized = normalized_per_task(values, alive.astype(float))
        for task in range(3):
            live = normalized[task][alive[task]]
            assert abs(live.mean()) < 1e-12 and abs(live.std() - 1.0) < 1e-6
        assert np.all(normalized[~alive] == 0.0)
    np.testing.assert_allclose(
        normalized_per_task(scaled, alive.astype(float)), normalized_per_task(advantages, alive.astype(float))
    )


def test_sampled_batches_follow_the_advantage_options():
    config = small("tmaml", 1, normalize_advantages=True, discount=0.95)
    learner = TRPOMAML(config, get_task_family("goal_2d"))  # sampling is PG-MAML's, whichever outer step
    rng = np.random.default_rng(0)
    evaluate = BatchEvaluator(learner.family, learner.policy, ObsNormalizer.identity(2), 20, rng)
    sampled = learner.sample(
        np.zeros((2, learner.policy.num_params)), fixed_tasks(learner.family, 2, "test"), evaluate, rng
    )
    batch = sampled.batch
    live = batch.alive.astype(bool)
    for task in range(2):
        assert abs(batch.advantages[task][live[task]].mean()) < 1e-12
        assert abs(batch.advantages[task][live[task]].std() - 1.0) < 1e-6


@pytest.mark.parametrize("hidden", [(5,), (6, 4)])
def test_tanh_mlp_numpy_and_jax_policies_agree(hidden):
    rng = np.random.default_rng(0)
    tanh, relu = MLPPolicy(3, 2, hidden, "tanh"), MLPPolicy(3, 2, hidden)
    params = rng.normal(size=tanh.num_params)
    observations = rng.normal(size=(7, 3))
    numpy_actions = tanh.act(np.broadcast_to(params, (7, len(params))), observations)
    gaussian = GaussianPolicy(tanh, init_log_std=0.0)
    with float64():
        jax_actions = np.asarray(gaussian.mean_actions(jnp.asarray(np.append(params, [0.0, 0.0])), observations))
    np.testing.assert_allclose(jax_actions, numpy_actions, rtol=1e-12, atol=1e-14)
    relu_actions = relu.act(np.broadcast_to(params, (7, len(params))), observations)
    assert np.abs(relu_actions - numpy_actions).max() > 1e-3


def test_tanh_layers_start_glorot_scaled():
    policy = MLPPolicy(100, 2, (300,), "tanh")
    weights = policy.layers(policy.init(np.random.default_rng(0)))[0][0]
    assert abs(weights.std() - np.sqrt(2.0 / 400)) < 0.002
    relu_weights = MLPPolicy(100, 2, (300,)).layers(MLPPolicy(100, 2, (300,)).init(np.random.default_rng(0)))[0][0]
    assert abs(relu_weights.std() - np.sqrt(2.0 / 100)) < 0.003
