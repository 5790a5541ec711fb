"""The task-family interface shared by every task: point navigation, MuJoCo, cart-pole.

A task family samples tasks as rows of a float array (a corner, a goal, a direction)
and rolls out a batch of B parameter vectors on B tasks in one call that steps all B
episodes together. Python loops only over time steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

Split = Literal["train", "test"]


@dataclass(frozen=True)
class ObsNormalizer:
    """Fixed observation statistics used by a policy: ``(obs - mean) / std``."""

    mean: np.ndarray
    std: np.ndarray

    @staticmethod
    def identity(obs_dim: int) -> ObsNormalizer:
        return ObsNormalizer(np.zeros(obs_dim), np.ones(obs_dim))

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        return (observations - self.mean) / self.std


@dataclass
class Rollouts:
    """What a batched rollout returns: one entry per row of the batch.

    ``state_sum`` and ``state_sq_sum`` (B, obs_dim) add up, row by row in time order, every
    observation the policy saw, for the running observation normaliser. Kept per row, they
    are the same bits however the rows are split across workers. When recording was asked for, ``observations`` is the
    full path (B, T+1, obs_dim) (rows that ended early repeat their last observation),
    ``actions`` (B, T, act_dim) the actions the policy chose and ``rewards`` (B, T) the
    rewards, both zero past a row's ``lengths``.
    """

    returns: np.ndarray
    lengths: np.ndarray
    state_sum: np.ndarray
    state_sq_sum: np.ndarray
    observations: np.ndarray | None = None
    actions: np.ndarray | None = None
    rewards: np.ndarray | None = None


class EpisodeBatch:
    """The bookkeeping every batched rollout shares: live rows, returns, lengths, statistics, logs.

    A family's rollout loop is::

        episodes = EpisodeBatch(first_observations, horizon, act_dim, record)
        for t in range(horizon):
            actions = policy.act(params, normalizer(episodes.observations))
            ...                                  # step the simulations
            episodes.step(next_observations, actions, rewards, terminated)
            if episodes.finished:
                break
        return episodes.rollouts()

    Rows that have terminated keep their last observation and collect no more reward.
    """

    def __init__(self, observations: np.ndarray, horizon: int, act_dim: int, record: bool = False):
        batch, obs_dim = observations.shape
        self.observations = observations
        self.active = np.ones(batch, dtype=bool)
        self.all_active = True  # until a row terminates, no masking is needed
        self.returns = np.zeros(batch)
        self.lengths = np.zeros(batch, dtype=np.int64)
        self.state_sum = np.zeros((batch, obs_dim))
        self.state_sq_sum = np.zeros((batch, obs_dim))
        self.t = 0
        self.path = np.empty((batch, horizon + 1, obs_dim)) if record else None
        self.actions = np.zeros((batch, horizon, act_dim)) if record else None
        self.rewards = np.zeros((batch, horizon)) if record else None
        if record:
            self.path[:, 0] = observations

    @property
    def finished(self) -> bool:
        return not self.all_active and not self.active.any()

    def step(self, observations: np.ndarray, actions: np.ndarray, rewards: np.ndarray, terminated: np.ndarray) -> None:
        """Account one time step: the live rows saw ``self.observations``, acted, and moved on."""
        if not self.all_active:
            live = self.active[:, None]
            observations = np.where(live, observations, self.observations)
            actions = np.where(live, actions, 0.0)
            rewards = np.where(self.active, rewards, 0.0)
            seen = np.where(live, self.observations, 0.0)
        else:
            seen = self.observations
        self.state_sum += seen
        self.state_sq_sum += seen * seen
        self.observations = observations
        self.returns += rewards
        if not self.all_active:
            self.lengths += self.active  # while every row lives, lengths are t (set when that ends)
        if self.path is not None:
            self.path[:, self.t + 1] = observations
            self.actions[:, self.t] = actions
            self.rewards[:, self.t] = rewards
        if terminated.any():
            if self.all_active:
                self.lengths[:] = self.t + 1
            self.active &= ~terminated
            self.all_active = False
        self.t += 1

    def rollouts(self) -> Rollouts:
        if self.all_active:
            self.lengths[:] = self.t
        if self.path is not None:
            self.path[:, self.t + 1 :] = self.observations[:, None]
        return Rollouts(
            self.returns, self.lengths, self.state_sum, self.state_sq_sum, self.path, self.actions, self.rewards
        )


class BatchPolicy(Protocol):
    """Anything that maps (B, P) parameters and (B, obs_dim) observations to actions."""

    def act(self, params: np.ndarray, observations: np.ndarray) -> np.ndarray: ...


class TaskFamily(Protocol):
    """A distribution over tasks that can roll out many policies on many tasks at once."""

    name: str
    obs_dim: int
    act_dim: int
    task_dim: int
    horizon: int

    def task_params(self, task_ids: np.ndarray) -> np.ndarray:
        """Task parameters (len(task_ids), task_dim) of the numbered tasks."""
        ...

    def split_ids(self, split: Split) -> np.ndarray:
        """The task ids that belong to a split (train and test never overlap)."""
        ...

    def initial_noise(self, rng: np.random.Generator, batch: int) -> np.ndarray:
        """All randomness of ``batch`` episodes' starts, drawn up front: (batch, noise_dim).

        Drawing it in the caller, in row order, makes a rollout a pure function of its
        inputs, so splitting rows across processes or machines cannot change results.
        """
        ...

    def rollout(
        self,
        policy: BatchPolicy,
        params: np.ndarray,
        tasks: np.ndarray,
        normalizer: ObsNormalizer,
        *,
        noise: np.ndarray | None = None,
        horizon: int | None = None,
        record: bool = False,
    ) -> Rollouts:
        """Roll out params[b] on tasks[b] from start noise[b] for every b, in one batched simulation."""
        ...


def sample_tasks(family: TaskFamily, rng: np.random.Generator, n: int, split: Split) -> np.ndarray:
    """Draw n tasks uniformly (with replacement) from a split of a family."""
    ids = rng.choice(family.split_ids(split), size=n)
    return family.task_params(ids)


def fixed_tasks(family: TaskFamily, n: int, split: Split = "test") -> np.ndarray:
    """The first n tasks of a split, cycling if the split is smaller: a fixed evaluation set."""
    ids = family.split_ids(split)
    return family.task_params(ids[np.arange(n) % len(ids)])
