"""PG-MAML: the Gaussian policy, the DiCE meta-gradient (closed form and finite differences), training, config."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esmaml_core.cli import main
from esmaml_core.config import ConfigError, TrainConfig
from esmaml_core.evaluation import BatchEvaluator
from esmaml_core.pg_maml import (
    BASELINE_RIDGE,
    PGMAML,
    GaussianPolicy,
    NoisyRows,
    TrajectoryBatch,
    alive_steps,
    baseline_features,
    compilation_cache_dir,
    float64,
    inner_step,
    linear_baseline_advantages,
    rewards_to_go,
    task_meta_gradients,
)
from esmaml_core.policies import MLPPolicy
from esmaml_core.runs import RunStore, run_training
from esmaml_core.tasks import ObsNormalizer, get_task_family
from esmaml_core.trainer import make_trainer


@pytest.fixture(autouse=True)
def jax_in_float64():
    """These tests call the JAX functions directly, in float64 as the library's own calls are."""
    with float64():
        yield


def pg_config(**values) -> TrainConfig:
    return TrainConfig.for_method(method="pg_maml", task="goal_2d", **values).validate()


@pytest.mark.parametrize("hidden", [(), (5, 3)])
def test_mean_and_log_probs_agree_with_the_es_policy(hidden):
    rng = np.random.default_rng(0)
    mean = MLPPolicy(obs_dim=3, act_dim=2, hidden=hidden)
    policy = GaussianPolicy(mean, init_log_std=-1.0)
    params = rng.normal(size=policy.num_params)
    observations = rng.normal(size=(7, 4, 3))
    actions = rng.normal(size=(7, 4, 2))
    es_actions = mean.act(
        np.broadcast_to(params[: mean.num_params], (28, mean.num_params)), observations.reshape(28, 3)
    )

    jax_actions = np.asarray(policy.mean_actions(jnp.asarray(params), observations)).reshape(28, 2)
    np.testing.assert_allclose(jax_actions, es_actions, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(policy.act(params[None], observations[0, :1]), es_actions[:1], rtol=1e-12)

    std = np.exp(params[-2:])
    expected = -0.5 * np.sum(((actions.reshape(28, 2) - es_actions) / std) ** 2 + np.log(2 * np.pi * std**2), axis=-1)
    batch = TrajectoryBatch(observations, actions, np.zeros((7, 4)), np.ones((7, 4)))
    np.testing.assert_allclose(np.asarray(policy.log_probs(jnp.asarray(params), batch)).ravel(), expected, rtol=1e-12)
    assert policy.num_params == mean.num_params + 2
    np.testing.assert_array_equal(policy.init(rng)[-2:], [-1.0, -1.0])


def test_rollout_records_the_sampled_pre_clip_actions():
    family = get_task_family("goal_2d")
    policy = GaussianPolicy(MLPPolicy(2, 2, (4,)), init_log_std=-0.5)
    rng = np.random.default_rng(1)
    params = rng.normal(size=(3, policy.num_params))  # 3 groups of 2 trajectories
    noise = rng.standard_normal((6, 10, 2))
    normalizer = ObsNormalizer(np.array([0.1, -0.2]), np.array([0.5, 2.0]))
    evaluate = BatchEvaluator(family, policy, normalizer, horizon=10, rng=rng)
    sampler = NoisyRows(policy, params, group_size=2)
    rows = sampler.rows(noise.reshape(6, -1))
    rollouts = evaluate.rollout(rows, family.task_params(np.arange(6)), record=True, policy=sampler)

    observed = normalizer(rollouts.observations[:, :-1])
    row_params = np.repeat(params, 2, axis=0)
    means = np.stack([policy.act(row_params, observed[:, t]) for t in range(10)], axis=1)
    expected = means + np.exp(row_params[:, None, -2:]) * noise
    alive = np.arange(10) < rollouts.lengths[:, None]
    np.testing.assert_allclose(rollouts.actions[alive], expected[alive], rtol=1e-12)
    assert np.abs(rollouts.actions).max() > 0.1  # pre-clip: the dynamics clip to +-0.1, the record does not
    assert evaluate.env_steps == rollouts.lengths.sum()


# One-step bandit: r(a) = -(a - g)^2, a ~ N(theta, s^2). With the exact inner step
# theta' = theta + alpha dE[r]/dtheta = theta - 2 alpha (theta - g), J = -((theta' - g)^2 + s^2)
# and dJ/dtheta = -2 (theta' - g)(1 - 2 alpha). With K samples per inner step the MAML
# estimator has an O(alpha^2 / K) bias (theta' and the Hessian estimate share samples);
# here it is about 0.25 standard errors, so the test checks the estimator, not luck.
BANDIT_THETA, BANDIT_GOAL, BANDIT_STD, BANDIT_ALPHA = 0.5, 0.0, 1.0, 0.25
BANDIT_REPEATS, BANDIT_SAMPLES = 200, 5000


def bandit_log_probs(params: jax.Array, batch: TrajectoryBatch) -> jax.Array:
    z = (batch.actions[..., 0] - params[0]) / BANDIT_STD
    return -0.5 * z**2 - jnp.log(BANDIT_STD) - 0.5 * jnp.log(2 * jnp.pi)


def bandit_batch(rng: np.random.Generator, means: np.ndarray) -> TrajectoryBatch:
    """BANDIT_SAMPLES one-step episodes per repeat, advantages from the real linear baseline."""
    shape = (len(means), BANDIT_SAMPLES, 1)
    actions = means[:, None, None] + BANDIT_STD * rng.standard_normal(shape)
    rewards = -((actions - BANDIT_GOAL) ** 2)
    observations = np.zeros((*shape, 1))
    advantages = linear_baseline_advantages(observations, rewards, np.ones(shape[:2], dtype=int))
    return TrajectoryBatch(observations, actions[..., None], advantages, np.ones(shape))


def bandit_meta_gradients(first_order: bool, inner_objective: str = "dice") -> np.ndarray:
    rng = np.random.default_rng(7)
    theta = np.full(1, BANDIT_THETA)
    inner = bandit_batch(rng, np.full(BANDIT_REPEATS, BANDIT_THETA))
    step = jax.vmap(
        lambda batch: inner_step(
            bandit_log_probs, BANDIT_ALPHA, first_order, jnp.asarray(theta), batch, inner_objective
        )
    )
    adapted = np.asarray(step(inner))
    outer = bandit_batch(rng, adapted[:, 0])
    gradients = task_meta_gradients(
        bandit_log_probs, BANDIT_ALPHA, first_order, theta, (inner,), outer, inner_objective
    )
    return np.asarray(gradients)[:, 0]


def test_meta_gradient_matches_the_bandit_closed_form():
    adapted = BANDIT_THETA - 2 * BANDIT_ALPHA * (BANDIT_THETA - BANDIT_GOAL)
    exact = -2 * (adapted - BANDIT_GOAL) * (1 - 2 * BANDIT_ALPHA)
    first_order_value = -2 * (adapted - BANDIT_GOAL)

    second = bandit_meta_gradients(first_order=False)
    error = second.std(ddof=1) / np.sqrt(len(second))
    assert abs(second.mean() - exact) < 4 * error, (second.mean(), exact, error)
    assert error < 0.05 * abs(exact)  # the tolerance is tight enough to mean something

    first = bandit_meta_gradients(first_order=True)
    first_error = first.std(ddof=1) / np.sqrt(len(first))
    assert abs(first.mean() - first_order_value) < 4 * first_error
    assert abs(first.mean() - exact) > 20 * first_error  # misses the (1 - 2 alpha) factor


def test_reinforce_inner_objective_takes_dice_s_step_but_drops_the_score_product_hessian():
    """MAML's code differentiates the REINFORCE loss: Hessian estimate E[grad^2 log pi A] = -E[A] / s^2 = 0
    with a baseline, so on the bandit its meta-gradient is the first-order one (the bias ProMP and DiCE name)."""
    adapted = BANDIT_THETA - 2 * BANDIT_ALPHA * (BANDIT_THETA - BANDIT_GOAL)
    first_order_value, exact = -2 * (adapted - BANDIT_GOAL), -2 * (adapted - BANDIT_GOAL) * (1 - 2 * BANDIT_ALPHA)
    reinforce = bandit_meta_gradients(first_order=False, inner_objective="reinforce")
    error = reinforce.std(ddof=1) / np.sqrt(len(reinforce))
    assert abs(reinforce.mean() - first_order_value) < 4 * error, (reinforce.mean(), first_order_value, error)
    assert abs(reinforce.mean() - exact) > 20 * error
    batch = bandit_batch(np.random.default_rng(3), np.full(2, BANDIT_THETA))
    steps = [
        inner_step(bandit_log_probs, BANDIT_ALPHA, False, jnp.full(1, BANDIT_THETA), batch.rows(0), objective)
        for objective in ("dice", "reinforce")
    ]
    np.testing.assert_allclose(steps[0], steps[1], rtol=1e-12)  # the same inner step


def importance_surrogate(log_probs, params, reference, batch: TrajectoryBatch) -> jax.Array:
    """Fixed-sample objective mean_k sum_t (rho_{<=t} - rho_{<t}) A_t with rho = pi_params / pi_reference.

    Its gradient and Hessian at ``params == reference`` are those of the expected return
    (score-function form), but it is an ordinary function of params: no DiCE operator.
    """
    ratios = jnp.exp(jnp.cumsum(log_probs(params, batch) - log_probs(reference, batch), axis=-1))
    before = jnp.concatenate([jnp.ones_like(ratios[..., :1]), ratios[..., :-1]], axis=-1)
    return jnp.sum((ratios - before) * batch.advantages) / np.prod(batch.advantages.shape[:-1])


@pytest.mark.slow
@pytest.mark.parametrize("inner_steps", [1, 2])
def test_mlp_meta_gradient_matches_finite_differences_of_a_fixed_sample_objective(inner_steps):
    config = pg_config(
        policy="mlp", hidden=(4,), queries=4, horizon=12, alpha=0.05, init_log_std=-0.7, inner_steps=inner_steps
    )
    learner = PGMAML(config, get_task_family("goal_2d"))
    rng = np.random.default_rng(3)
    params = rng.normal(0.0, 0.5, learner.policy.num_params)
    normalizer = ObsNormalizer(np.array([0.2, -0.1]), np.array([0.6, 0.8]))
    evaluate = BatchEvaluator(learner.family, learner.policy, normalizer, config.horizon, rng)
    tasks = learner.family.task_params(np.array([3, 11]))
    adaptation = learner.sampled_adaptation(params, evaluate, tasks, rng)
    gradients = learner.task_meta_gradients(params, adaptation, slice(None))
    first_order = PGMAML(replace(config, first_order=True), learner.family)
    first_order_gradients = first_order.task_meta_gradients(params, adaptation, slice(None))
    log_probs = learner.policy.log_probs
    inner = tuple(sampled.batch for sampled in adaptation.inner)

    def step(theta, batch, reference):
        return theta + config.alpha * jax.grad(importance_surrogate, argnums=1)(log_probs, theta, reference, batch)

    def objective(theta, inner, outer, references):
        """Fixed samples; each step's ratios are taken against the parameters that sampled it."""
        for batch, reference in zip(inner, references[:-1], strict=True):
            theta = step(theta, batch, reference)
        return importance_surrogate(log_probs, theta, references[-1], outer)

    references = [np.broadcast_to(params, adaptation.adapted_params.shape)]
    for batch in inner:
        references.append(jax.vmap(step)(references[-1], batch, references[-1]))
    np.testing.assert_allclose(references[-1], adaptation.adapted_params, rtol=1e-10)
    offset = 1e-5
    points = np.concatenate([params + offset * np.eye(len(params)), params - offset * np.eye(len(params))])
    values = jax.jit(jax.vmap(jax.vmap(objective, (0, None, None, None)), (None, 0, 0, 0)))(
        points, inner, adaptation.post.batch, tuple(references)
    )
    finite_differences = (values[:, : len(params)] - values[:, len(params) :]) / (2 * offset)
    scale = np.linalg.norm(finite_differences, axis=1, keepdims=True)
    assert np.all(np.abs(gradients - finite_differences) < 1e-6 * scale), np.abs(gradients - finite_differences).max()
    # the check can fail: dropping the second-order terms is far off
    assert np.all(np.linalg.norm(first_order_gradients - finite_differences, axis=1) > 0.1 * scale[:, 0])


def test_meta_gradient_reports_held_out_returns_and_probe_paths():
    config = pg_config(queries=3, task_batch=2, eval_tasks=5, probe_tasks=2, horizon=15)
    trainer = make_trainer(config)
    result = trainer.learner.meta_gradient(
        trainer.state.params, trainer.evaluator(trainer.state.rng), trainer.state.rng, probe=True
    )
    assert result.gradient.shape == (trainer.learner.policy.num_params,)
    assert result.pre_adaptation_returns.shape == result.post_adaptation_returns.shape == (5,)
    probe = result.probe
    assert probe.start_paths.shape == probe.adapted_paths.shape == (2, 16, 2)
    assert probe.query_paths.shape == (2, 3, 16, 2)
    assert probe.query_returns.shape == (2, 3) and probe.adapted_returns.shape == (2,)
    assert probe.accepted is None
    np.testing.assert_array_equal(probe.tasks, trainer.learner.eval_tasks[:2])
    # three jittery query paths from one policy: they differ
    assert np.abs(probe.query_paths[:, 0] - probe.query_paths[:, 1]).max() > 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_pg_maml_learns_goal_2d(seed):
    trainer = make_trainer(pg_config(iterations=50, seed=seed, eval_tasks=10, probe_tasks=0))
    results = [trainer.step() for _ in range(trainer.config.iterations)]
    pre = np.array([r.pre_adaptation_return for r in results])
    post = np.array([r.post_adaptation_return for r in results])
    assert post[-10:].mean() > post[:5].mean() + 5.0, (post[:5], post[-10:])
    assert post[-10:].mean() > pre[-10:].mean() + 20.0, (pre[-10:], post[-10:])


@pytest.mark.parametrize(
    ("values", "field"),
    [
        (dict(method="pg_maml", inner_steps=0), "inner_steps"),
        (dict(method="pg_maml", inner_steps=1.5), "inner_steps"),
        (dict(method="pg_maml", init_log_std=float("nan")), "init_log_std"),
        (dict(method="pg_maml", init_log_std="low"), "init_log_std"),
        (dict(method="pg_maml", first_order="yes"), "first_order"),
        (dict(method="pg_maml", alpha=0.0), "alpha"),
        (dict(method="pg_maml", queries=0), "queries"),
        (dict(method="es_maml", first_order=True), "first_order"),
        (dict(method="es_maml", inner_steps=2), "inner_steps"),
    ],
)
def test_bad_pg_config_is_refused(values, field):
    with pytest.raises(ConfigError) as error:
        TrainConfig.for_method(**values).validate()
    assert error.value.field == field


def test_method_defaults_apply_under_given_values():
    config = TrainConfig.for_method(method="pg_maml", lr=0.5)
    assert (config.optimizer, config.task_batch, config.lr) == ("adam", 20, 0.5)
    assert TrainConfig.for_method(method="es_maml") == TrainConfig()


def test_jax_loads_only_when_pg_maml_is_used():
    code = "import sys, esmaml_core.trainer, esmaml_core.cli; print('jax' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "False"


def test_compilation_cache_folder_follows_the_environment(tmp_path):
    assert compilation_cache_dir({"ESMAML_JAX_CACHE": str(tmp_path)}) == tmp_path
    assert compilation_cache_dir({"ESMAML_JAX_CACHE": "off", "XDG_CACHE_HOME": str(tmp_path)}) is None
    assert compilation_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "esmaml-studio" / "jax"
    assert compilation_cache_dir({}).parts[-3:] == (".cache", "esmaml-studio", "jax")


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"ESMAML_JAX_CACHE": "{tmp}/ours"}, "{tmp}/ours"),
        ({"ESMAML_JAX_CACHE": "{tmp}/ours", "JAX_COMPILATION_CACHE_DIR": "{tmp}/users"}, "{tmp}/users"),
        ({"ESMAML_JAX_CACHE": "off"}, "None"),
    ],
)
def test_pg_maml_keeps_compiled_functions_where_told_and_leaves_a_users_jax_cache_alone(
    tmp_path, environment, expected
):
    code = "import jax, esmaml_core.pg_maml; print(jax.config.jax_compilation_cache_dir)"
    env = {name: value for name, value in os.environ.items() if name != "JAX_COMPILATION_CACHE_DIR"}
    env.update({name: value.format(tmp=tmp_path) for name, value in environment.items()})
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert output.strip() == expected.format(tmp=tmp_path)


def test_cli_trains_pg_maml_with_its_method_defaults_and_options(tmp_path, capsys):
    out = tmp_path / "run"
    small = [
        "--task",
        "goal_2d",
        "--queries",
        "2",
        "--task-batch",
        "2",
        "--eval-tasks",
        "2",
        "--probe-tasks",
        "1",
        "--horizon",
        "10",
    ]
    options = ["--method", "pg_maml", "--inner-steps", "2", "--init-log-std", "-0.5", "--first-order"]
    assert main(["train", *options, *small, "--iterations", "2", "--quiet", "--out", str(out)]) == 0
    config = RunStore.open(out).config()
    assert (config.optimizer, config.alpha, config.inner_steps, config.init_log_std, config.first_order) == (
        "adam",
        0.001,
        2,
        -0.5,
        True,
    )
    assert main(["train", "--method", "pg_maml", "--init-log-std", "inf", "--out", str(tmp_path / "bad")]) == 2
    assert "error: --init-log-std: got inf" in capsys.readouterr().err


def train(config: TrainConfig, iterations: int) -> np.ndarray:
    trainer = make_trainer(config)
    try:
        for _ in range(iterations):
            trainer.step()
        return trainer.state.params
    finally:
        trainer.close()


@pytest.mark.parametrize("policy", [{"policy": "linear"}, {"policy": "mlp", "hidden": (64, 64)}])
def test_process_executor_and_resume_reproduce_a_run_bit_for_bit(tmp_path, policy):
    """The action noise travels with its row, and a row's action does not depend on the rows beside it
    (grouped products for the MLP), so sharding rows over processes changes nothing. 5 tasks x 13
    queries: the two workers' shards cut a task's rows 7 / 6, sizes BLAS rounds differently."""
    config = pg_config(queries=13, task_batch=3, eval_tasks=2, probe_tasks=0, horizon=20, iterations=4, **policy)
    reference = train(config, 4)
    np.testing.assert_array_equal(train(replace(config, executor="process", workers=2), 4), reference)

    store = RunStore.create(tmp_path / "run", replace(config, iterations=2))
    trainer, _ = store.restore_trainer()
    list(run_training(trainer, store, 2))
    store.write_config(config)  # the same writer continues
    resumed, _ = store.restore_trainer()
    list(run_training(resumed, store, 4))
    np.testing.assert_array_equal(resumed.state.params, reference)


def test_linear_baseline_is_fitted_on_each_tasks_live_steps_only():
    """Episodes that end early (2D Goal, 2D Navigation): what lies past an end takes no part in the fit."""
    rng = np.random.default_rng(4)
    lengths = np.array([[6, 3, 1], [2, 6, 4]])
    alive = alive_steps(lengths, 6)
    observations = np.where(alive[..., None], rng.normal(size=(2, 3, 6, 2)), 8.0)  # past the end: far away
    rewards = np.where(alive, rng.normal(size=(2, 3, 6)), 0.0)
    advantages = linear_baseline_advantages(observations, rewards, lengths, discount=0.9)
    targets = rewards_to_go(rewards, 0.9)
    for task in range(2):
        design, target = baseline_features(observations[task])[alive[task]], targets[task][alive[task]]
        fit = np.linalg.solve(design.T @ design + BASELINE_RIDGE * np.eye(design.shape[1]), design.T @ target)
        np.testing.assert_allclose(advantages[task][alive[task]], target - design @ fit, rtol=1e-9, atol=1e-12)
    assert np.all(advantages[~alive] == 0.0)
