"""Teaching toys for the Learn page: Gaussian smoothing of a non-smooth 1-D function and its ES
gradient estimate; one adaptation by the library's own operators on a 2-D toy objective; and
the zero-order ES-MAML meta-gradient on a 2-D toy task distribution (cones whose peaks lie on a
circle), with the library's own operators, sampler and fitness shaping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from esmaml_core.adaptation import make_operator
from esmaml_core.evaluation import Evaluation
from esmaml_core.fitness import zscore
from esmaml_core.sampling import AntitheticSampler

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


# --- the zero-order meta-gradient on a toy task distribution ----------------------------------------

TOY_TASK_RADIUS = 1.0  # task T: a cone -|theta - c_T| whose peak c_T lies on this circle around the origin


def toy_task_optima(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` task peaks (count, 2), uniform on the circle of radius TOY_TASK_RADIUS."""
    angles = rng.uniform(0.0, 2.0 * np.pi, count)
    return TOY_TASK_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=-1)


def toy_task_objective(points: np.ndarray, optima: np.ndarray) -> np.ndarray:
    """R_T(theta) = -|theta - c_T|, row by row."""
    return -np.linalg.norm(points - optima, axis=-1)


@dataclass
class TaskFunctionEvaluator:
    """Stands in for tasks: the 'return' of parameters on task rows is ``function(params, tasks)``."""

    function: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def __call__(self, params: np.ndarray, tasks: np.ndarray, record: bool = False) -> Evaluation:
        """``params`` (M, ..., P) on ``tasks`` (M, task_dim): task i for every row of params[i], as BatchEvaluator."""
        rows = tasks.reshape(len(tasks), *([1] * (params.ndim - 2)), tasks.shape[-1])
        return Evaluation(self.function(params, rows))


@dataclass(frozen=True)
class ToyMetaGradient:
    """One zero-order ES-MAML estimate: 2n antithetic perturbations theta + sigma g_i, each adapted to its
    task by the operator, their returns before and after adaptation, and the two estimates they give."""

    theta: np.ndarray
    directions: np.ndarray
    perturbed: np.ndarray
    tasks: np.ndarray
    adapted: np.ndarray
    returns_before: np.ndarray
    returns_after: np.ndarray
    estimate: np.ndarray
    plain_estimate: np.ndarray

    @property
    def agreement(self) -> float:
        """The cosine between the ES-MAML estimate and the plain ES gradient (1: the same direction)."""
        norms = np.linalg.norm(self.estimate) * np.linalg.norm(self.plain_estimate)
        return float(self.estimate @ self.plain_estimate / max(norms, 1e-12))


def toy_meta_gradient(
    operator: str,
    theta: np.ndarray,
    pairs: int,
    sigma: float,
    queries: int,
    adaptation_sigma: float,
    step_size: float,
    seed: int,
) -> ToyMetaGradient:
    """The ES-MAML meta-gradient at ``theta`` (2,), as ``es_maml.ZeroOrderESMAML`` forms it.

    Antithetic pairs share a task; each perturbation is adapted by the library's ``operator``
    with K = ``queries``; the estimate is zscore(R after adaptation) @ g / (2n sigma). The
    plain ES gradient of the pre-adaptation return (the same samples, no adaptation) is
    returned beside it, for contrast.
    """
    rng = np.random.default_rng(seed)
    directions = AntitheticSampler().draw(rng, pairs, 2)
    tasks = np.repeat(toy_task_optima(rng, pairs), 2, axis=0)
    perturbed = theta + sigma * directions
    adapt = make_operator(operator, queries, adaptation_sigma, step_size)
    result = adapt.adapt(TaskFunctionEvaluator(toy_task_objective), perturbed, tasks, rng)
    after = toy_task_objective(result.adapted_params, tasks)
    scale = len(directions) * sigma
    return ToyMetaGradient(
        theta=np.asarray(theta, dtype=float),
        directions=directions,
        perturbed=perturbed,
        tasks=tasks,
        adapted=result.adapted_params,
        returns_before=result.start_returns,
        returns_after=after,
        estimate=zscore(after) @ directions / scale,
        plain_estimate=zscore(result.start_returns) @ directions / scale,
    )
