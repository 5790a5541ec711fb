"""Adaptation operators U_T(theta): K queries of a task turn meta-parameters into adapted ones.

Each operator adapts M parameter vectors on their M tasks at once:

- ``ESGradientAdaptation`` (MC): evaluate theta and theta + sigma eps_k (k = 1..K) in one
  call, z-score the K+1 returns per task, step theta + alpha * mean_k(z_k eps_k) / sigma.
  If all K+1 returns are equal, theta is returned unchanged (reference behaviour).
- DPP: the same operator with its K directions drawn by a k-DPP (``DPPSampler``).
- ``HillClimbAdaptation``: propose best + sigma eps, keep it only if its return beats the
  best so far; sequential in k, one call per query over all M. Monotone by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from esmaml_core.evaluation import BatchEvaluator
from esmaml_core.fitness import zscore
from esmaml_core.registry import Entry, Registry
from esmaml_core.sampling import DPPSampler, GaussianSampler


@dataclass(frozen=True)
class AdaptationResult:
    """Where M starting points ended, and what the K queries on the way looked like.

    ``query_directions`` are the unit-scale directions eps (M, K, P) and
    ``query_params`` the points queried; ``accepted`` marks hill-climbing proposals that
    were kept (None for gradient operators). Observations are present when recorded.
    """

    adapted_params: np.ndarray
    start_returns: np.ndarray
    query_directions: np.ndarray
    query_params: np.ndarray
    query_returns: np.ndarray
    accepted: np.ndarray | None = None
    start_observations: np.ndarray | None = None
    query_observations: np.ndarray | None = None


class AdaptationOperator(Protocol):
    queries: int

    def adapt(
        self,
        evaluate: BatchEvaluator,
        params: np.ndarray,
        tasks: np.ndarray,
        rng: np.random.Generator,
        record: bool = False,
    ) -> AdaptationResult: ...


@dataclass(frozen=True)
class ESGradientAdaptation:
    """theta + alpha * ES gradient from K queries (Monte Carlo, z-scored with the pivot)."""

    queries: int = 20
    sigma: float = 0.1
    step_size: float = 0.05
    sampler: object = GaussianSampler()

    def adapt(self, evaluate, params, tasks, rng, record=False) -> AdaptationResult:
        directions = self.sampler.draw_batch(rng, len(params), self.queries, params.shape[-1])
        query_params = params[:, None, :] + self.sigma * directions
        candidates = np.concatenate([params[:, None, :], query_params], axis=1)
        evaluation = evaluate(candidates, tasks, record=record)
        weights = zscore(evaluation.returns)[:, 1:]
        gradient = np.einsum("mk,mkp->mp", weights, directions) / (self.queries * self.sigma)
        observations = evaluation.observations
        return AdaptationResult(
            adapted_params=params + self.step_size * gradient,
            start_returns=evaluation.returns[:, 0],
            query_directions=directions,
            query_params=query_params,
            query_returns=evaluation.returns[:, 1:],
            start_observations=None if observations is None else observations[:, 0],
            query_observations=None if observations is None else observations[:, 1:],
        )


@dataclass(frozen=True)
class HillClimbAdaptation:
    """Greedy random search: accept best + sigma * eps only if it strictly improves."""

    queries: int = 20
    sigma: float = 0.1

    def adapt(self, evaluate, params, tasks, rng, record=False) -> AdaptationResult:
        start = evaluate(params, tasks, record=record)
        best, best_returns = params.copy(), start.returns.copy()
        directions = rng.standard_normal((len(params), self.queries, params.shape[-1]))
        query_params = np.empty_like(directions)
        query_returns = np.empty((len(params), self.queries))
        accepted = np.empty((len(params), self.queries), dtype=bool)
        query_observations = []
        for k in range(self.queries):
            query_params[:, k] = best + self.sigma * directions[:, k]
            evaluation = evaluate(query_params[:, k], tasks, record=record)
            query_returns[:, k] = evaluation.returns
            accepted[:, k] = evaluation.returns > best_returns
            best = np.where(accepted[:, k, None], query_params[:, k], best)
            best_returns = np.where(accepted[:, k], evaluation.returns, best_returns)
            query_observations.append(evaluation.observations)
        return AdaptationResult(
            adapted_params=best,
            start_returns=start.returns,
            query_directions=directions,
            query_params=query_params,
            query_returns=query_returns,
            accepted=accepted,
            start_observations=start.observations,
            query_observations=np.stack(query_observations, axis=1) if record else None,
        )


OPERATORS = Registry(
    "operator",
    {
        "es_grad": Entry(ESGradientAdaptation, "ES gradient"),
        "hill_climb": Entry(lambda queries, sigma, step_size: HillClimbAdaptation(queries, sigma), "hill climbing"),
        "dpp": Entry(
            lambda queries, sigma, step_size: ESGradientAdaptation(queries, sigma, step_size, DPPSampler(scale=sigma)),
            "DPP (ES gradient, diverse queries)",
        ),
    },
)


def make_operator(name: str, queries: int, sigma: float, step_size: float) -> AdaptationOperator:
    """The adaptation operator called ``name`` with K = ``queries``."""
    return OPERATORS.make(name, queries, sigma, step_size)
