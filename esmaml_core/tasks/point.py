"""Four Corner, 2D Goal and 2D Navigation: point-navigation tasks, pure numpy, fully batched.

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
- 2D Navigation: the MAML paper's benchmark (Finn et al. 2017; cbfinn/maml_rl
  ``point_env_randgoal.py``, the common PyTorch MAML-TRPO ``navigation.py``): the goal is
  uniform in [-0.5, 0.5]^2 (seeded by the task id); reward -|pos - goal| (Euclidean, not
  squared); no position clip; the episode ends once |x - gx| and |y - gy| are both below
  0.01.
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


def _distance_reward(positions: np.ndarray, goals: np.ndarray) -> np.ndarray:
    return -np.sqrt(_squared_distance(positions, goals))


def _within_goal_radius(positions: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """2D Goal's end: reward -|pos - goal|^2 >= -0.01."""
    return _goal_reward(positions, goals) >= -0.01


def _within_goal_box(positions: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """2D Navigation's end: both coordinates within 0.01 of the goal's."""
    return (np.abs(positions[:, 0] - goals[:, 0]) < 0.01) & (np.abs(positions[:, 1] - goals[:, 1]) < 0.01)


def _corner_goals(task_ids: np.ndarray) -> np.ndarray:
    return CORNERS[np.asarray(task_ids) % 4]


def _seeded_uniform_goals(bound: float) -> np.ndarray:
    """Goal of task id i: uniform in [-bound, bound]^2 from ``default_rng(i)``, for every id."""
    return np.stack([np.random.default_rng(task_id).uniform(-bound, bound, 2) for task_id in range(NUM_TASK_IDS)])


_UNIFORM_GOALS = _seeded_uniform_goals(1.0)
_NAVIGATION_GOALS = _seeded_uniform_goals(0.5)


def _uniform_goals(task_ids: np.ndarray) -> np.ndarray:
    return _UNIFORM_GOALS[np.asarray(task_ids)]


def _navigation_goals(task_ids: np.ndarray) -> np.ndarray:
    return _NAVIGATION_GOALS[np.asarray(task_ids)]


@dataclass(frozen=True)
class PointTaskFamily:
    """A 2-D point-navigation task family; ``tasks`` rows are goal positions."""

    name: str
    position_clip: float
    reward_fn: object = field(repr=False)
    goal_fn: object = field(repr=False)
    reached_fn: object = field(default=None, repr=False)  # (positions, goals) -> episode ends (None: never)
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
        if self.reached_fn is None:
            return positions, rewards, np.zeros(len(rewards), dtype=bool)
        return positions, rewards, self.reached_fn(positions, goals)

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
    reached_fn=_within_goal_radius,
)
NAVIGATION_2D = PointTaskFamily(
    name="navigation_2d",
    position_clip=np.inf,
    reward_fn=_distance_reward,
    goal_fn=_navigation_goals,
    reached_fn=_within_goal_box,
)
