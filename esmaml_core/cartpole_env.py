"""BiasedSensorCartPole as a gymnasium environment (``esmaml/BiasedSensorCartPole-v0``).

One cart-pole whose pole-angle sensor is off by its task's bias. Dynamics, reward,
termination, observation and start-state noise are the batched family's own functions
(``esmaml_core.tasks.cartpole``), applied to a batch of one, so a gymnasium loop and the
batched engine give identical returns. The task is chosen as for every esmaml env:
``reset(options={"task": [bias]})``, ``reset(options={"task_id": i})`` or ``set_task``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from esmaml_core.envs import TaskChoiceMixin
from esmaml_core.tasks.cartpole import (
    BIAS_RANGE,
    BIASED_SENSOR_CARTPOLE,
    POLE_HALF_LENGTH,
    THETA_THRESHOLD,
    X_THRESHOLD,
)

CART_COLOUR = (40, 40, 40)
POLE_COLOUR = (200, 130, 60)
SENSED_POLE_COLOUR = (120, 160, 230)
TRACK_COLOUR = (0, 0, 0)
CART_HALF_WIDTH = 0.25  # m, as drawn


class BiasedSensorCartPoleEnv(TaskChoiceMixin, gym.Env):
    """Cart-pole with a continuous force in [-1, 1] x 10 N and a biased pole-angle reading."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, render_mode: str | None = None):
        self.family = BIASED_SENSOR_CARTPOLE
        self.render_mode = render_mode
        unbounded = np.finfo(np.float64).max
        high = np.array([2 * X_THRESHOLD, unbounded, 2 * THETA_THRESHOLD + BIAS_RANGE, unbounded])
        self.observation_space = spaces.Box(-high, high, dtype=np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float64)
        self.task = None
        self.state = np.zeros(4)

    def _observation(self) -> np.ndarray:
        return self.family.observe(self.state[None], self.task[None])[0]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._choose_task(options)
        self.state = self.family.initial_noise(self.np_random, 1)[0]
        return self._observation(), {"task": self.task.copy()}

    def step(self, action):
        states, rewards, terminated = self.family.step(self.state[None], np.asarray(action, dtype=float).reshape(1, 1))
        self.state = states[0]
        return self._observation(), float(rewards[0]), bool(terminated[0]), False, {"task": self.task.copy()}

    def render(self):
        """A 200x400 side view: track, cart, the true pole (orange) and the pole as sensed (blue)."""
        return draw_cartpole(self.state, self.task[0])


def draw_cartpole(state: np.ndarray, bias: float, half_width: float = X_THRESHOLD) -> np.ndarray:
    """A (200, 400, 3) uint8 side view of ``state`` (x, x_dot, theta, theta_dot): track, cart, true and sensed pole.

    The view spans x in [-half_width, half_width] m; ticks mark the track's ends (±2.4 m).
    """
    height, width = 200, 400
    scale = width / (2 * half_width)
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    track_row = 150
    image[track_row, :] = TRACK_COLOUR
    for end in (-X_THRESHOLD, X_THRESHOLD):
        column = min(int(round(width / 2 + end * scale)), width - 1)
        image[track_row : track_row + 10, max(column - 1, 0) : column + 1] = TRACK_COLOUR
    cart_column = int(round(width / 2 + state[0] * scale))
    cart_half = int(round(CART_HALF_WIDTH * scale))
    cart_columns = slice(min(max(cart_column - cart_half, 0), width), min(max(cart_column + cart_half, 0), width))
    image[track_row - 15 : track_row + 1, cart_columns] = CART_COLOUR
    for angle, colour in ((state[2] + bias, SENSED_POLE_COLOUR), (state[2], POLE_COLOUR)):
        along = np.linspace(0.0, 2 * POLE_HALF_LENGTH * scale, 100)
        columns = np.round(cart_column + along * np.sin(angle)).astype(int)
        rows = np.round(track_row - 15 - along * np.cos(angle)).astype(int)
        for offset in (-1, 0, 1):
            inside = (columns + offset >= 0) & (columns + offset < width) & (rows >= 0) & (rows < height)
            image[rows[inside], columns[inside] + offset] = colour
    return image
