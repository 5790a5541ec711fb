"""Four Corner and 2D Goal: the ES-MAML paper's exploration tasks, pure numpy, fully batched.

Definitions follow the authors' ``es_maml/task.py`` (``NavigationTask4corner``,
``NavigationTask2d``): the agent starts at the origin, each action coordinate is
clipped to +-0.1 and added to the position, which is clipped to a box. The
observation is the position, so the policy cannot see the goal: it must find it by
exploring. Task ids 0-49 are the training split, 50-99 the test split.

- Four Corner: the goal is corner ``id % 4`` of (2,2), (-2,2), (-2,-2), (2,-2);
  reward -4 + max(0, 4 - |pos - corner|^2), non-zero signal only within distance 2;
  position clipped to +-5; never terminates.
- 2D Goal: the goal is uniform in [-1, 1]^2 (drawn from a generator seeded by the
  task id); reward -|pos - goal|^2; position clipped to +-1; the episode ends once
  the reward reaches -0.01.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from esmaml_core.tasks.base import BatchPolicy, EpisodeBatch, ObsNormalizer, Rollouts, Split

NUM_TASK_IDS = 100
TRAIN_IDS = np.arange(0, 50)
TEST_IDS = np.arange(50, 100)
ACTION_CLIP = 0.1
CORNERS = np.array([[2.0, 2.0], [-2.0, 2.0], [-2.0, -2.0], [2.0, -2.0]])


def _clip(values: np.ndarray, bound: float) -> np.ndarray:
    """Clip to [-bound, bound] with two ufuncs (np.clip's Python wrapper costs more than the work here)."""
    return np.minimum(np.maximum(values, -bound), bound)


def _squared_distance(positions: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """|p - g|^2 row by row, as two column operations (much faster than a sum over a length-2 axis)."""
    dx, dy = positions[:, 0] - goals[:, 0], positions[:, 1] - goals[:, 1]
    return dx * dx + dy * dy


def _corner_reward(positions: np.ndarray, goals: np.ndarray) -> np.ndarray:
    return -4.0 + np.maximum(0.0, 4.0 - _squared_distance(positions, goals))


def _goal_reward(positions: np.ndarray, goals: np.ndarray) -> np.ndarray:
    return -_squared_distance(positions, goals)


def _corner_goals(task_ids: np.ndarray) -> np.ndarray:
    return CORNERS[np.asarray(task_ids) % 4]


_UNIFORM_GOALS = np.stack([np.random.default_rng(task_id).uniform(-1.0, 1.0, 2) for task_id in range(NUM_TASK_IDS)])


def _uniform_goals(task_ids: np.ndarray) -> np.ndarray:
    return _UNIFORM_GOALS[np.asarray(task_ids)]


@dataclass(frozen=True)
class PointTaskFamily:
    """A 2-D point-navigation task family; ``tasks`` rows are goal positions."""

    name: str
    position_clip: float
    reward_fn: object = field(repr=False)
    goal_fn: object = field(repr=False)
    success_reward: float | None = None  # episode ends once reward >= this (None: never)
    horizon: int = 100
    obs_dim: int = 2
    act_dim: int = 2
    task_dim: int = 2

    def task_params(self, task_ids: np.ndarray) -> np.ndarray:
        task_ids = np.asarray(task_ids)
        if np.any((task_ids < 0) | (task_ids >= NUM_TASK_IDS)):
            raise ValueError(f"{self.name} task ids must be in [0, {NUM_TASK_IDS}), got {task_ids}")
        return self.goal_fn(task_ids)

    def split_ids(self, split: Split) -> np.ndarray:
        return {"train": TRAIN_IDS, "test": TEST_IDS}[split]

    def initial_positions(self, batch: int) -> np.ndarray:
        return np.zeros((batch, 2))

    def initial_noise(self, rng: np.random.Generator, batch: int) -> np.ndarray:
        """Point tasks start deterministically at the origin: no noise."""
        return np.zeros((batch, 0))

    def step(
        self, positions: np.ndarray, actions: np.ndarray, goals: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One transition for a batch: (next positions, rewards, terminated)."""
        moved = positions + _clip(actions, ACTION_CLIP)
        positions = _clip(moved, self.position_clip)
        rewards = self.reward_fn(positions, goals)
        if self.success_reward is None:
            return positions, rewards, np.zeros(len(rewards), dtype=bool)
        return positions, rewards, rewards >= self.success_reward

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
        """Roll out params[b] on goal tasks[b] for all b at once (deterministic: no noise)."""
        horizon = self.horizon if horizon is None else horizon
        episodes = EpisodeBatch(self.initial_positions(len(params)), horizon, self.act_dim, record)
        for _ in range(horizon):
            positions = episodes.observations
            actions = policy.act(params, normalizer(positions))
            moved, rewards, done = self.step(positions, actions, tasks)
            episodes.step(moved, actions, rewards, done)
            if episodes.finished:
                break
        return episodes.rollouts()


FOUR_CORNER = PointTaskFamily(name="four_corner", position_clip=5.0, reward_fn=_corner_reward, goal_fn=_corner_goals)
GOAL_2D = PointTaskFamily(
    name="goal_2d",
    position_clip=1.0,
    reward_fn=_goal_reward,
    goal_fn=_uniform_goals,
    success_reward=-0.01,
)
