"""ES-MAML meta-gradients on known objectives, and the iteration outputs the app relies on."""

import copy

import numpy as np
import pytest

from esmaml_core.adaptation import ESGradientAdaptation
from esmaml_core.config import TrainConfig
from esmaml_core.es_maml import FirstOrderESMAML, ZeroOrderESMAML
from esmaml_core.evaluation import RunningObsStats
from esmaml_core.fitness import zscore
from esmaml_core.tasks import get_task_family
from esmaml_core.trainer import make_trainer
from tests.fakes import FunctionEvaluator, concave_quadratic


def cosine(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.parametrize("operator", ["es_grad", "hill_climb", "dpp"])
def test_zero_order_meta_gradient_points_uphill(operator, rng):
    """J(theta) = f(U(theta)) for a concave quadratic f: the estimate aligns with grad f."""
    config = TrainConfig(task="goal_2d", operator=operator, perturbations=1000, queries=5, eval_tasks=2, probe_tasks=0)
    learner = ZeroOrderESMAML(config, get_task_family("goal_2d"))
    centre, theta = np.ones(learner.policy.num_params), np.zeros(learner.policy.num_params)
    f = concave_quadratic(centre, np.eye(len(theta)))
    result = learner.meta_gradient(theta, FunctionEvaluator(f), rng)
    assert cosine(result.gradient, centre - theta) > 0.8
    assert result.pre_adaptation_returns.shape == (2,) and result.post_adaptation_returns.shape == (2,)


def test_es_hessian_vector_product_matches_the_exact_hessian(rng):
    """H v from K queries equals the quadratic's Hessian times v (up to the z-score scale)."""
    dim, queries, sigma = 3, 40_000, 0.1
    curvature = np.diag([1.0, 2.0, 4.0])
    f = concave_quadratic(np.zeros(dim), curvature)
    config = TrainConfig(task="goal_2d", method="es_maml_first_order", operator="es_grad", hessian=True)
    learner = FirstOrderESMAML(config, get_task_family("goal_2d"))
    operator = ESGradientAdaptation(queries=queries, sigma=sigma)
    params = np.zeros((1, dim))  # at the optimum the gradient term adds no variance
    adaptation = operator.adapt(FunctionEvaluator(f), params, np.zeros((1, 1)), rng)
    vector = np.array([[1.0, -1.0, 0.5]])
    estimate = learner._hessian_times(adaptation, 1, vector)[0]
    values = np.concatenate([adaptation.start_returns, adaptation.query_returns[0]])
    exact = -curvature @ vector[0] / values.std()  # Hessian of the z-scored objective
    assert cosine(estimate, exact) > 0.98
    assert np.linalg.norm(estimate) == pytest.approx(np.linalg.norm(exact), rel=0.1)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(operator="hill_climb"),
        dict(operator="es_grad", sampler="orthogonal"),
        dict(method="es_maml_first_order", operator="es_grad", hessian=True),
    ],
)
def test_probe_trajectories_have_the_documented_shapes(overrides):
    config = TrainConfig(task="four_corner", queries=6, perturbations=10, eval_tasks=5, probe_tasks=4, **overrides)
    result = make_trainer(config).step(probe=True)
    probe = result.probe
    assert probe.query_paths.shape == (4, 6, 101, 2)
    assert probe.start_paths.shape == probe.adapted_paths.shape == (4, 101, 2)
    assert probe.query_returns.shape == (4, 6) and probe.adapted_returns.shape == (4,)
    np.testing.assert_array_equal(probe.query_paths[:, :, 0], 0.0)  # every path starts at the origin
    assert probe.tasks.shape == (4, 2)
    assert (probe.accepted is not None) == (config.operator == "hill_climb")
    assert make_trainer(config).step().probe is None


def test_iteration_counts_env_steps_and_time():
    trainer = make_trainer(TrainConfig(task="four_corner", queries=3, perturbations=5, eval_tasks=2, probe_tasks=0))
    first, second = trainer.step(), trainer.step()
    # antithetic: 10 perturbed + 2 evaluation rows, each 1 start + 3 queries + 1 adapted rollout of 100 steps
    assert first.env_steps == (10 + 2) * (1 + 3 + 1) * 100
    assert second.env_steps == 2 * first.env_steps
    assert second.wall_time > first.wall_time > 0
    assert set(first.metrics()) >= {"iteration", "pre_adaptation_return", "post_adaptation_return", "env_steps"}


def test_same_seed_same_run_and_different_seed_different_run():
    def run(seed):
        trainer = make_trainer(
            TrainConfig(task="goal_2d", seed=seed, perturbations=10, queries=4, eval_tasks=3, probe_tasks=0)
        )
        return [trainer.step().post_adaptation_return for _ in range(3)], trainer.state.params

    (returns_a, params_a), (returns_b, params_b) = run(7), run(7)
    assert returns_a == returns_b
    np.testing.assert_array_equal(params_a, params_b)
    assert not np.array_equal(run(8)[1], params_a)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(method="es_maml", operator="hill_climb", perturbations=4),
        dict(method="es_maml_first_order", operator="es_grad", task_batch=2, perturbations=4),
        dict(method="pg_maml", task_batch=2),
    ],
)
def test_held_out_tasks_never_shape_the_observation_normaliser(overrides):
    """Evaluation rows share the batched calls, but only training rows feed the running obs statistics."""
    config = TrainConfig.for_method(
        task="biased_sensor_cartpole", queries=3, eval_tasks=2, probe_tasks=0, horizon=30, **overrides
    )
    states = []
    for bias_shift in (0.0, 0.1):  # the sensor bias is in the observation: other eval tasks, other states
        trainer = make_trainer(config)
        trainer.learner.eval_tasks = trainer.learner.eval_tasks + bias_shift
        trainer.step()
        states.append(trainer.state)
    first, second = states
    assert first.obs_stats.count < first.env_steps  # eval steps count as env steps, not as statistics
    np.testing.assert_array_equal(first.obs_stats.total, second.obs_stats.total)
    np.testing.assert_array_equal(first.obs_stats.total_sq, second.obs_stats.total_sq)


def test_zero_order_meta_gradient_is_the_documented_formula(rng):
    """Antithetic pairs share a task, evaluation rows run theta itself, and the gradient is
    shape(R) @ directions / (rows * sigma) over the perturbed rows' post-adaptation returns."""
    config = TrainConfig(task="goal_2d", perturbations=50, queries=3, eval_tasks=2, probe_tasks=0, sigma=0.05)
    learner = ZeroOrderESMAML(config, get_task_family("goal_2d"))
    dim = learner.policy.num_params
    theta = np.linspace(-1.0, 1.0, dim)
    objective = concave_quadratic(np.ones(dim), np.eye(dim))
    evaluate = FunctionEvaluator(objective)
    directions = learner.sampler.draw(copy.deepcopy(rng), config.perturbations, dim)  # the draw the learner makes
    result = learner.meta_gradient(theta, evaluate, rng)
    rows = 2 * config.perturbations
    np.testing.assert_array_equal(evaluate.tasks[0][0:rows:2], evaluate.tasks[0][1:rows:2])
    np.testing.assert_allclose(result.pre_adaptation_returns, objective(np.stack([theta, theta])))
    expected = zscore(evaluate.returns[-1][:rows]) @ directions / (rows * config.sigma)
    np.testing.assert_allclose(result.gradient, expected)


def test_both_methods_report_the_adapted_policys_returns_on_the_evaluation_tasks(rng):
    """Pre-adaptation: theta itself on each evaluation task; post: the policy its adaptation made there."""
    for method in ("es_maml", "es_maml_first_order"):
        config = TrainConfig(
            task="goal_2d", method=method, operator="es_grad", perturbations=10, eval_tasks=2, probe_tasks=0
        )
        learner = make_trainer(config).learner
        theta = np.zeros(learner.policy.num_params)
        objective = concave_quadratic(np.ones(len(theta)), np.eye(len(theta)))
        evaluate = FunctionEvaluator(objective)
        result = learner.meta_gradient(theta, evaluate, rng)
        np.testing.assert_allclose(result.pre_adaptation_returns, objective(np.stack([theta, theta])))
        np.testing.assert_allclose(result.post_adaptation_returns, evaluate.returns[-1][-2:])  # the adapted rows
        assert not np.allclose(result.post_adaptation_returns, result.pre_adaptation_returns)


def test_first_order_meta_gradient_with_the_hessian_is_the_documented_formula(rng):
    """Per training task: g2 = shape(R) @ outer directions / (n sigma), z-scored with the adapted policy's own
    return (the pivot), plus alpha * H g2 from the adaptation's queries; averaged over the task batch."""
    config = TrainConfig(
        task="goal_2d",
        method="es_maml_first_order",
        operator="es_grad",
        hessian=True,
        task_batch=3,
        perturbations=7,
        queries=6,
        eval_tasks=2,
        probe_tasks=0,
        sigma=0.05,
        alpha=0.3,
    )
    learner = FirstOrderESMAML(config, get_task_family("goal_2d"))
    theta = np.linspace(-1.0, 1.0, learner.policy.num_params)
    evaluate = FunctionEvaluator(concave_quadratic(np.ones(len(theta)), np.diag(np.arange(1.0, len(theta) + 1))))
    result = learner.meta_gradient(theta, evaluate, rng)
    (candidates, outer, _), (queried, outer_returns, _) = evaluate.params, evaluate.returns
    tasks = config.task_batch
    query_directions = (candidates[:tasks, 1:] - candidates[:tasks, :1]) / config.adaptation_sigma
    z = zscore(queried[:tasks])[:, 1:]
    outer_directions = (outer[:, 1:] - outer[:, :1]) / config.sigma
    g2 = np.einsum("tr,trp->tp", zscore(outer_returns)[:, 1:], outer_directions) / (
        outer_directions.shape[1] * config.sigma
    )
    hessian_g2 = np.einsum(
        "tk,tkp->tp",
        (z - z.mean(axis=1, keepdims=True)) * np.einsum("tkp,tp->tk", query_directions, g2),
        query_directions,
    ) / (config.queries * config.adaptation_sigma**2)
    np.testing.assert_allclose(result.gradient, (g2 + config.alpha * hessian_g2).mean(axis=0), rtol=1e-10)


def test_es_hessian_is_the_centred_formula_with_the_adaptation_sigma(rng):
    """H v = mean_k((z_k - mean z) eps_k eps_k^T v) / sigma_a^2 per task, with meta sigma != sigma_a."""
    dim, adaptation_sigma, queries = 3, 0.1, 5
    objective = concave_quadratic(np.zeros(dim), np.diag([1.0, 2.0, 4.0]))
    config = TrainConfig(
        task="goal_2d",
        method="es_maml_first_order",
        operator="es_grad",
        hessian=True,
        sigma=0.05,
        adaptation_sigma=adaptation_sigma,
    )
    learner = FirstOrderESMAML(config, get_task_family("goal_2d"))
    operator = ESGradientAdaptation(queries=queries, sigma=adaptation_sigma)
    adaptation = operator.adapt(FunctionEvaluator(objective), np.zeros((4, dim)), np.zeros((4, 1)), rng)
    vectors = rng.normal(size=(4, dim))
    values = np.concatenate([adaptation.start_returns[:, None], adaptation.query_returns], axis=1)
    z = zscore(values)[:, 1:]
    expected = [
        sum((z[t, k] - z[t].mean()) * np.outer(eps, eps) @ vectors[t] for k, eps in enumerate(directions))
        / (queries * adaptation_sigma**2)
        for t, directions in enumerate(adaptation.query_directions)
    ]
    np.testing.assert_allclose(learner._hessian_times(adaptation, 4, vectors), np.stack(expected))


def test_running_statistics_give_the_mean_and_std_of_every_observation(rng):
    observations = rng.normal(3.0, 2.0, size=(500, 2))
    stats = RunningObsStats.empty(2).added(len(observations), observations.sum(0), (observations**2).sum(0))
    normalizer = stats.normalizer()
    np.testing.assert_allclose(normalizer.mean, observations.mean(axis=0))
    np.testing.assert_allclose(normalizer.std, observations.std(axis=0))
