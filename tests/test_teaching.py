"""The Learn page's toys: Gaussian smoothing, the ES gradient estimate, one adaptation on a 2-D cone, and
the zero-order ES-MAML meta-gradient on a 2-D task distribution."""

import numpy as np

from esmaml_core.teaching import (
    TOY_TASK_RADIUS,
    es_gradient_estimate,
    gaussian_smoothing,
    rugged,
    smoothed_gradient,
    toy_adaptation,
    toy_meta_gradient,
    toy_objective,
)


def test_smoothed_gradient_is_the_derivative_of_the_smoothed_function():
    x, step = np.linspace(-2.0, 2.0, 9), 1e-2
    numeric = (gaussian_smoothing(rugged, x + step, 0.4) - gaussian_smoothing(rugged, x - step, 0.4)) / (2 * step)
    np.testing.assert_allclose(smoothed_gradient(rugged, x, 0.4), numeric, atol=0.02)


def test_smoothing_a_line_changes_nothing():
    x = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(gaussian_smoothing(lambda z: 3 * z + 1, x, 0.7), 3 * x + 1, atol=1e-9)
    np.testing.assert_allclose(smoothed_gradient(lambda z: 3 * z + 1, x, 0.7), 3.0, atol=1e-6)


def test_es_estimate_is_unbiased_for_the_smoothed_gradient(rng):
    truth = float(smoothed_gradient(rugged, np.array(0.2), 0.5))
    estimates = [es_gradient_estimate(rugged, 0.2, 0.5, 50, rng).value for _ in range(400)]
    assert abs(np.mean(estimates) - truth) < 4 * np.std(estimates) / np.sqrt(len(estimates))
    single = es_gradient_estimate(rugged, 0.2, 0.5, 50, rng)
    assert single.points.shape == single.values.shape == (100,)


def test_hill_climbing_on_the_toy_never_gets_worse_and_the_es_step_moves_uphill():
    start = np.array([-0.5, -0.5])
    climb = toy_adaptation("hill_climb", start, queries=20, sigma=0.2, step_size=0.1, seed=0)
    assert climb.adapted_value >= climb.start_value
    assert climb.accepted.shape == (20,) and climb.accepted.any()
    kept_values = toy_objective(climb.queries[climb.accepted])
    assert np.all(np.diff(kept_values) > 0)
    es = toy_adaptation("es_grad", start, queries=50, sigma=0.2, step_size=0.3, seed=0)
    assert es.accepted is None and es.queries.shape == (50, 2)
    assert es.adapted_value > es.start_value


def test_the_toy_meta_gradient_is_the_zero_order_es_maml_estimate():
    theta = np.array([-0.8, -0.6])
    result = toy_meta_gradient(
        "hill_climb", theta, pairs=400, sigma=0.3, queries=10, adaptation_sigma=0.3, step_size=0.5, seed=0
    )
    np.testing.assert_array_equal(result.directions[0::2], -result.directions[1::2])  # antithetic pairs
    np.testing.assert_array_equal(result.tasks[0::2], result.tasks[1::2])  # a pair shares its task
    np.testing.assert_allclose(np.linalg.norm(result.tasks, axis=1), TOY_TASK_RADIUS)
    assert np.all(result.returns_after >= result.returns_before)  # hill climbing never gets worse
    shaped = (result.returns_after - result.returns_after.mean()) / result.returns_after.std()
    np.testing.assert_allclose(result.estimate, shaped @ result.directions / (800 * 0.3))
    towards_centre = -theta / np.linalg.norm(theta)  # the peaks surround the origin: the best theta is central
    assert result.estimate @ towards_centre / np.linalg.norm(result.estimate) > 0.9
    assert -1.0 <= result.agreement <= 1.0
