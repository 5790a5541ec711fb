"""BiasedSensorCartPole: cart-pole balancing where each task's pole-angle sensor lies by a constant.

The physics are gymnasium's ``CartPole-v1`` exactly (gravity 9.8, cart mass 1.0, pole
mass 0.1, pole half-length 0.5, time step 0.02 with explicit Euler integration, episode
ends once |x| > 2.4 or |theta| > 12 degrees, start state uniform in +-0.05), with two
changes:

- the action is a continuous force: the policy's output in [-1, 1] (clipped) times 10 N,
  instead of gymnasium's two discrete pushes of +-10 N;
- each task adds a constant bias to the *observed* pole angle: the policy sees
  (x, x_dot, theta + bias, theta_dot) while the dynamics use the true theta.

The bias of task ``id`` is uniform in [-0.2, 0.2] rad (about +-11.5 degrees), drawn from a
generator seeded by the id. The range is the size of the termination angle (12 degrees =
0.21 rad): a controller that trusts the sensor and drives the observed angle to zero
holds the true pole at -bias, which accelerates the cart steadily sideways until it
leaves the track (a linear controller that balances every unbiased start lasts about
120 of 200 steps at bias 0.18, 15 at 0.2). Shifting the policy's output by gain x bias
(for a linear policy: its output bias) restores balance, which is what adaptation from a
few returns can find. A controller with strong position feedback also tolerates the
bias, so a meta-policy trained long enough balances most tasks even before adapting;
adaptation pays off most early in training (tests/test_cartpole.py measures both). The
reward is +1 per step alive, including the step that ends the episode (as gymnasium);
the horizon is 200 steps (``CartPole-v0``'s limit). Task ids 0-49 are the training split,
50-99 the test split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from esmaml_core.tasks.base import BatchPolicy, EpisodeBatch, ObsNormalizer, Rollouts, Split

GRAVITY = 9.8
MASS_CART = 1.0
MASS_POLE = 0.1
TOTAL_MASS = MASS_CART + MASS_POLE
POLE_HALF_LENGTH = 0.5
POLE_MASS_LENGTH = MASS_POLE * POLE_HALF_LENGTH
FORCE_MAG = 10.0
TAU = 0.02
X_THRESHOLD = 2.4
THETA_THRESHOLD = 12 * 2 * np.pi / 360
START_RANGE = 0.05
BIAS_RANGE = 0.2
NUM_TASK_IDS = 100
TRAIN_IDS = np.arange(0, 50)
TEST_IDS = np.arange(50, 100)
_BIASES = np.array([np.random.default_rng(task_id).uniform(-BIAS_RANGE, BIAS_RANGE) for task_id in range(NUM_TASK_IDS)])


def physics_step(states: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """One Euler step of gymnasium's cart-pole for a batch: states (B, 4), actions (B, 1) in [-1, 1]."""
    x, x_dot, theta, theta_dot = states.T
    force = FORCE_MAG * np.clip(actions[:, 0], -1.0, 1.0)
    cos_theta, sin_theta = np.cos(theta), np.sin(theta)
    temp = (force + POLE_MASS_LENGTH * theta_dot**2 * sin_theta) / TOTAL_MASS
    theta_acc = (GRAVITY * sin_theta - cos_theta * temp) / (
        POLE_HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * cos_theta**2 / TOTAL_MASS)
    )
    x_acc = temp - POLE_MASS_LENGTH * theta_acc * cos_theta / TOTAL_MASS
    return np.stack([x + TAU * x_dot, x_dot + TAU * x_acc, theta + TAU * theta_dot, theta_dot + TAU * theta_acc], 1)


def fallen(states: np.ndarray) -> np.ndarray:
    """Whether each state (B, 4) is past the track edge or the angle limit."""
    return (np.abs(states[:, 0]) > X_THRESHOLD) | (np.abs(states[:, 2]) > THETA_THRESHOLD)


@dataclass(frozen=True)
class BiasedSensorCartPoleFamily:
    """Cart-pole with a per-task pole-angle sensor bias; ``tasks`` rows are (bias,) in radians."""

    name: str = "biased_sensor_cartpole"
    horizon: int = 200
    obs_dim: int = 4
    act_dim: int = 1
    task_dim: int = 1
    noise_dim: int = 4

    def task_params(self, task_ids: np.ndarray) -> np.ndarray:
        task_ids = np.asarray(task_ids)
        if np.any((task_ids < 0) | (task_ids >= NUM_TASK_IDS)):
            raise ValueError(f"{self.name} task ids must be in [0, {NUM_TASK_IDS}), got {task_ids}")
        return _BIASES[task_ids][:, None]

    def split_ids(self, split: Split) -> np.ndarray:
        return {"train": TRAIN_IDS, "test": TEST_IDS}[split]

    def initial_noise(self, rng: np.random.Generator, batch: int) -> np.ndarray:
        """Start states (batch, 4) uniform in +-0.05, as gymnasium's CartPole."""
        return rng.uniform(-START_RANGE, START_RANGE, (batch, self.noise_dim))

    def observe(self, states: np.ndarray, tasks: np.ndarray) -> np.ndarray:
        """What the policy sees: the state with the task's bias added to the pole angle."""
        return states + np.pad(tasks, ((0, 0), (2, 1)))

    def step(self, states: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One transition for a batch: (next states, rewards, terminated); the bias plays no part."""
        states = physics_step(states, actions)
        return states, np.ones(len(states)), fallen(states)

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
        """Roll out params[b] on bias tasks[b] from start state noise[b] for all b at once.

        Without ``noise`` every episode starts exactly upright at rest. Rows that have
        fallen keep their state and collect no more reward.
        """
        horizon = self.horizon if horizon is None else horizon
        states = np.zeros((len(params), 4)) if noise is None else np.asarray(noise, dtype=float)
        episodes = EpisodeBatch(self.observe(states, tasks), horizon, self.act_dim, record)
        for _ in range(horizon):
            actions = policy.act(params, normalizer(episodes.observations))
            moved, rewards, terminated = self.step(states, actions)
            states = np.where(episodes.active[:, None], moved, states)
            episodes.step(self.observe(states, tasks), actions, rewards, terminated)
            if episodes.finished:
                break
        return episodes.rollouts()


BIASED_SENSOR_CARTPOLE = BiasedSensorCartPoleFamily()
