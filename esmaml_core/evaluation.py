"""One batched evaluation call: many parameter vectors on their tasks, with bookkeeping.

``BatchEvaluator`` is the only way the learners touch a task family. It flattens any
leading shape of parameters into one rollout call, broadcasts each task over its row,
and adds up env steps and observation statistics for the running normaliser. With an
``executor`` (esmaml_core.executors) the call is split across workers.

Learners batch the held-out evaluation tasks with the training tasks (one call, not
two); ``statistics_from`` keeps the held-out rows' states out of the normaliser, so no
test task shapes training.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from esmaml_core.executors import Executor
from esmaml_core.tasks.base import BatchPolicy, ObsNormalizer, Rollouts, TaskFamily


@dataclass(frozen=True)
class Evaluation:
    """Returns with the parameters' leading shape; observations (..., T+1, obs_dim) if recorded."""

    returns: np.ndarray
    observations: np.ndarray | None = None


@dataclass
class RunningObsStats:
    """Sums of every observation seen, from which the normaliser is derived."""

    count: float
    total: np.ndarray
    total_sq: np.ndarray

    @staticmethod
    def empty(obs_dim: int) -> RunningObsStats:
        return RunningObsStats(0.0, np.zeros(obs_dim), np.zeros(obs_dim))

    def normalizer(self) -> ObsNormalizer:
        """Mean/std of all observations so far; identity until there are any."""
        if self.count == 0:
            return ObsNormalizer.identity(len(self.total))
        mean = self.total / self.count
        std = np.sqrt(np.maximum(self.total_sq / self.count - mean**2, 0.0))
        return ObsNormalizer(mean, np.where(std > 1e-6, std, 1.0))

    def added(self, count: float, total: np.ndarray, total_sq: np.ndarray) -> RunningObsStats:
        return RunningObsStats(self.count + count, self.total + total, self.total_sq + total_sq)


@dataclass
class BatchEvaluator:
    """Evaluates (..., P) parameter arrays on tasks, one rollout call per evaluation."""

    family: TaskFamily
    policy: BatchPolicy
    normalizer: ObsNormalizer
    horizon: int
    rng: np.random.Generator
    env_steps: int = 0
    state_count: int = 0
    state_sum: np.ndarray = field(default=None)
    state_sq_sum: np.ndarray = field(default=None)
    executor: Executor | None = None  # None: call the family here, directly
    counted_tasks: tuple[int, int] | None = None  # (counted, of): set by statistics_from

    def __post_init__(self):
        self.state_sum = np.zeros(self.family.obs_dim)
        self.state_sq_sum = np.zeros(self.family.obs_dim)

    @contextmanager
    def statistics_from(self, counted: int, of: int) -> Iterator[BatchEvaluator]:
        """In this block every call covers ``of`` tasks in order, and only the first ``counted`` feed the statistics.

        The rest are held-out evaluation tasks: their steps still count as env steps.
        """
        self.counted_tasks = (counted, of)
        try:
            yield self
        finally:
            self.counted_tasks = None

    def _counted_rows(self, rows: int) -> int:
        if self.counted_tasks is None:
            return rows
        counted, of = self.counted_tasks
        if rows % of:
            raise ValueError(f"{rows} rollout rows do not cover {of} tasks evenly")
        return counted * (rows // of)

    def rollout(
        self, params: np.ndarray, tasks: np.ndarray, record: bool = False, policy: BatchPolicy | None = None
    ) -> Rollouts:
        """One batched rollout of rows ``params`` (B, P) on ``tasks`` (B, task_dim), counted.

        ``policy`` overrides the evaluator's own (e.g. a stochastic policy for PG-MAML).
        """
        arguments = (self.policy if policy is None else policy, params, tasks, self.normalizer)
        options = dict(noise=self.family.initial_noise(self.rng, len(params)), horizon=self.horizon, record=record)
        if self.executor is None:
            rollouts = self.family.rollout(*arguments, **options)
        else:
            rollouts = self.executor.rollout(self.family, *arguments, **options)
        self.env_steps += int(rollouts.lengths.sum())
        counted = self._counted_rows(len(params))
        self.state_count += int(rollouts.lengths[:counted].sum())
        self.state_sum += rollouts.state_sum[:counted].sum(axis=0)
        self.state_sq_sum += rollouts.state_sq_sum[:counted].sum(axis=0)
        return rollouts

    def __call__(self, params: np.ndarray, tasks: np.ndarray, record: bool = False) -> Evaluation:
        """Roll out ``params`` (M, ..., P) where row m runs on ``tasks[m]`` (M, task_dim)."""
        lead = params.shape[:-1]
        row_tasks = tasks.reshape(len(tasks), *([1] * (len(lead) - 1)), tasks.shape[-1])
        row_tasks = np.broadcast_to(row_tasks, (*lead, tasks.shape[-1]))
        rollouts = self.rollout(params.reshape(-1, params.shape[-1]), row_tasks.reshape(-1, tasks.shape[-1]), record)
        observations = None
        if rollouts.observations is not None:
            observations = rollouts.observations.reshape(*lead, *rollouts.observations.shape[1:])
        return Evaluation(rollouts.returns.reshape(lead), observations)
