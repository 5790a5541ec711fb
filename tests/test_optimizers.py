"""Meta optimizers: SGD and Adam as ascent steps over flat parameter vectors."""

import numpy as np

from esmaml_core.optimizers import ascent_step, init_optimizer_state


def test_adam_first_step_moves_every_coordinate_by_the_learning_rate():
    """Bias correction makes Adam's first step lr * sign(g), whatever the gradient's scale."""
    gradient = np.array([3.0, -0.01, 100.0])
    params, _ = ascent_step("adam", np.zeros(3), gradient, init_optimizer_state("adam", 3), 0.1)
    np.testing.assert_allclose(params, 0.1 * np.sign(gradient), rtol=1e-6)


def test_sgd_ascends_along_the_gradient():
    gradient = np.array([1.0, -2.0])
    params, _ = ascent_step("sgd", np.ones(2), gradient, init_optimizer_state("sgd", 2), 0.5)
    np.testing.assert_allclose(params, [1.5, 0.0])


def test_adam_with_a_constant_gradient_moves_by_the_learning_rate_at_every_step():
    """Bias correction makes m̂ = g and v̂ = g² at every step t when g is constant: it must count t."""
    gradient = np.array([3.0, -0.01, 100.0])
    params, state = np.zeros(3), init_optimizer_state("adam", 3)
    for step in range(1, 6):
        params, state = ascent_step("adam", params, gradient, state, 0.1)
        np.testing.assert_allclose(params, step * 0.1 * np.sign(gradient), rtol=1e-6)
    assert state["t"] == 5
