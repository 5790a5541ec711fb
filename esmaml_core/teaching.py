"""Teaching toys for the Learn page: Gaussian smoothing of a non-smooth 1-D function and its ES
gradient estimate; one adaptation by the library's own operators on a 2-D toy objective."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from esmaml_core.adaptation import make_operator
from esmaml_core.evaluation import Evaluation

SMOOTHING_NODES = np.linspace(-6.0, 6.0, 2401)  # quadrature grid for E over u ~ N(0, 1)
SMOOTHING_WEIGHTS = np.exp(-0.5 * SMOOTHING_NODES**2) / np.sum(np.exp(-0.5 * SMOOTHING_NODES**2))


def rugged(x: np.ndarray) -> np.ndarray:
    """A 1-D non-smooth objective: a kinked peak at x = 0.5 plus jumps every pi/4."""
    return -np.abs(x - 0.5) + 0.3 * np.sign(np.sin(4.0 * x))


def gaussian_smoothing(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, sigma: float) -> np.ndarray:
    """f_sigma(x) = E_u[f(x + sigma u)], u ~ N(0, 1), by dense quadrature."""
    return f(np.asarray(x)[..., None] + sigma * SMOOTHING_NODES) @ SMOOTHING_WEIGHTS


def smoothed_gradient(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, sigma: float) -> np.ndarray:
    """d/dx f_sigma(x) = E_u[f(x + sigma u) u] / sigma (exact identity), by the same quadrature."""
    return f(np.asarray(x)[..., None] + sigma * SMOOTHING_NODES) @ (SMOOTHING_WEIGHTS * SMOOTHING_NODES) / sigma


@dataclass(frozen=True)
class GradientEstimate:
    """An antithetic ES estimate of d/dx f_sigma(x) and the points it evaluated."""

    value: float
    points: np.ndarray
    values: np.ndarray


def es_gradient_estimate(
    f: Callable[[np.ndarray], np.ndarray], x: float, sigma: float, pairs: int, rng: np.random.Generator
) -> GradientEstimate:
    """(1 / 2 sigma n) sum_i (f(x + sigma g_i) - f(x - sigma g_i)) g_i with n antithetic pairs."""
    directions = rng.standard_normal(pairs)
    points = np.concatenate([x + sigma * directions, x - sigma * directions])
    values = f(points)
    value = float(np.mean((values[:pairs] - values[pairs:]) * directions) / (2 * sigma))
    return GradientEstimate(value, points, values)


TOY_OPTIMUM = np.array([1.0, 0.6])


def toy_objective(points: np.ndarray) -> np.ndarray:
    """A 2-D cone with its (non-differentiable) peak at TOY_OPTIMUM: -|theta - optimum|."""
    return -np.linalg.norm(points - TOY_OPTIMUM, axis=-1)


@dataclass
class FunctionEvaluator:
    """Stands in for a task: the 'return' of parameters is ``function(params)`` (tasks are ignored)."""

    function: Callable[[np.ndarray], np.ndarray]

    def __call__(self, params: np.ndarray, tasks: np.ndarray, record: bool = False) -> Evaluation:
        return Evaluation(self.function(params))


@dataclass(frozen=True)
class ToyAdaptation:
    """One adaptation U(theta) on the toy objective: the K queries, their values, where it ended."""

    start: np.ndarray
    queries: np.ndarray
    query_values: np.ndarray
    accepted: np.ndarray | None
    adapted: np.ndarray
    start_value: float
    adapted_value: float


def toy_adaptation(
    operator: str, start: np.ndarray, queries: int, sigma: float, step_size: float, seed: int
) -> ToyAdaptation:
    """Run the library's adaptation ``operator`` once on ``toy_objective`` from ``start`` (2,)."""
    adapt = make_operator(operator, queries, sigma, step_size)
    result = adapt.adapt(
        FunctionEvaluator(toy_objective), start[None, :], np.zeros((1, 1)), np.random.default_rng(seed)
    )
    return ToyAdaptation(
        start=start,
        queries=result.query_params[0],
        query_values=result.query_returns[0],
        accepted=None if result.accepted is None else result.accepted[0],
        adapted=result.adapted_params[0],
        start_value=float(toy_objective(start)),
        adapted_value=float(toy_objective(result.adapted_params[0])),
    )
