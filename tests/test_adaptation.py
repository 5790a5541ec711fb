"""Adaptation operators: batched calls, the ES step formula, hill-climbing monotonicity."""

import numpy as np
import pytest

from esmaml_core.adaptation import ESGradientAdaptation, HillClimbAdaptation, make_operator
from esmaml_core.fitness import zscore
from esmaml_core.sampling import DPPSampler
from tests.fakes import FunctionEvaluator, concave_quadratic

DIM, TASKS, K = 4, 6, 10


@pytest.fixture
def objective(rng):
    return concave_quadratic(rng.normal(size=DIM), np.eye(DIM))


def test_es_gradient_uses_one_call_and_the_zscored_formula(objective, rng):
    evaluate = FunctionEvaluator(objective)
    operator = ESGradientAdaptation(queries=K, sigma=0.1, step_size=0.05)
    params = rng.normal(size=(TASKS, DIM))
    result = operator.adapt(evaluate, params, np.zeros((TASKS, 1)), rng)
    assert evaluate.calls == [(TASKS, K + 1)]
    values = np.concatenate([objective(params)[:, None], objective(result.query_params)], axis=1)
    weights = zscore(values)[:, 1:]
    expected = params + 0.05 * np.einsum("mk,mkp->mp", weights, result.query_directions) / (K * 0.1)
    np.testing.assert_allclose(result.adapted_params, expected)
    np.testing.assert_allclose(result.query_params, params[:, None] + 0.1 * result.query_directions)


def test_es_gradient_step_goes_uphill_on_average(objective, rng):
    operator = ESGradientAdaptation(queries=50, sigma=0.1, step_size=0.05)
    params = rng.normal(size=(200, DIM))
    result = operator.adapt(FunctionEvaluator(objective), params, np.zeros((200, 1)), rng)
    assert np.mean(objective(result.adapted_params) > objective(params)) > 0.9


def test_es_gradient_leaves_params_unchanged_when_all_returns_are_equal(rng):
    operator = ESGradientAdaptation(queries=K)
    params = rng.normal(size=(TASKS, DIM))
    flat = FunctionEvaluator(lambda points: np.full(points.shape[:-1], -400.0))
    np.testing.assert_array_equal(operator.adapt(flat, params, np.zeros((TASKS, 1)), rng).adapted_params, params)


def test_hill_climbing_is_monotone_and_sequential(objective, rng):
    evaluate = FunctionEvaluator(objective)
    params = rng.normal(size=(TASKS, DIM))
    result = HillClimbAdaptation(queries=K, sigma=0.3).adapt(evaluate, params, np.zeros((TASKS, 1)), rng)
    assert evaluate.calls == [(TASKS,)] * (K + 1)  # the start, then one call per query over all rows
    assert np.all(objective(result.adapted_params) >= result.start_returns)
    best = result.start_returns.copy()
    for k in range(K):  # a proposal is accepted exactly when it beats the best so far
        np.testing.assert_array_equal(result.accepted[:, k], result.query_returns[:, k] > best)
        best = np.maximum(best, result.query_returns[:, k])
    np.testing.assert_allclose(objective(result.adapted_params), best)


def test_hill_climbing_never_moves_without_improvement(rng):
    params = rng.normal(size=(TASKS, DIM))
    flat = FunctionEvaluator(lambda points: np.zeros(points.shape[:-1]))
    result = HillClimbAdaptation(queries=K).adapt(flat, params, np.zeros((TASKS, 1)), rng)
    np.testing.assert_array_equal(result.adapted_params, params)
    assert not result.accepted.any()


def test_operators_by_name():
    assert isinstance(make_operator("dpp", 5, 0.1, 0.05).sampler, DPPSampler)
    assert isinstance(make_operator("hill_climb", 5, 0.1, 0.05), HillClimbAdaptation)
    with pytest.raises(KeyError, match="unknown operator"):
        make_operator("newton", 5, 0.1, 0.05)


def test_hill_climbing_proposes_around_the_best_so_far(rng):
    objective = concave_quadratic(rng.normal(size=4), np.eye(4))
    starts = rng.normal(size=(6, 4))
    result = HillClimbAdaptation(queries=10, sigma=0.3).adapt(
        FunctionEvaluator(objective), starts, np.zeros((6, 1)), rng
    )
    best = starts.copy()
    for k in range(10):
        np.testing.assert_allclose(result.query_params[:, k], best + 0.3 * result.query_directions[:, k])
        best = np.where(result.accepted[:, k, None], result.query_params[:, k], best)
    np.testing.assert_array_equal(result.adapted_params, best)
