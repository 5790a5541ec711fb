"""The task families as gymnasium environments, registered under the ``esmaml/`` namespace.

Each Env shares its dynamics and reward with the batched task family (one definition),
so a gymnasium loop and the batched engine give the same returns. The task is chosen
with ``reset(options={"task": array})``, ``reset(options={"task_id": i})`` or
``set_task(array)`` and stays for later resets; until one is chosen, ``reset`` draws a
training task from ``np_random``. ``gym.make`` returns the env inside gymnasium's
wrappers, which pass ``reset`` options through but not methods: reach ``set_task`` with
``env.get_wrapper_attr("set_task")`` or ``env.unwrapped.set_task``.

    import gymnasium as gym
    import esmaml_core.envs  # registers the ids
    env = gym.make("esmaml/FourCorner-v0")
    obs, info = env.reset(seed=0, options={"task_id": 50})
    env.get_wrapper_attr("set_task")([2.0, -2.0])
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from esmaml_core.tasks.cartpole import BIASED_SENSOR_CARTPOLE
from esmaml_core.tasks.mujoco import DEFAULT_HORIZON
from esmaml_core.tasks.point import FOUR_CORNER, GOAL_2D, NAVIGATION_2D, PointTaskFamily

FORWARD_BACKWARD_ENVS = {
    "esmaml/ForwardBackwardSwimmer-v0": "fb_swimmer",
    "esmaml/ForwardBackwardWalker-v0": "fb_walker",
    "esmaml/ForwardBackwardAnt-v0": "fb_ant",
    "esmaml/ForwardBackwardHalfCheetah-v0": "fb_halfcheetah",
}


class TaskChoiceMixin:
    """Task selection shared by every esmaml env: by array, by id, or drawn from np_random."""

    family = None
    task: np.ndarray

    def set_task(self, task) -> None:
        task = np.asarray(task, dtype=float).reshape(self.family.task_dim)
        self.task = task

    def _choose_task(self, options: dict | None) -> None:
        options = options or {}
        if "task" in options:
            self.set_task(options["task"])
        elif "task_id" in options:
            self.set_task(self.family.task_params(np.array([options["task_id"]]))[0])
        elif getattr(self, "task", None) is None:
            task_id = self.np_random.choice(self.family.split_ids("train"))
            self.set_task(self.family.task_params(np.array([task_id]))[0])


class PointNavigationEnv(TaskChoiceMixin, gym.Env):
    """One agent on a point task; actions in [-1, 1] are clipped to +-0.1 per step."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, family: PointTaskFamily, render_mode: str | None = None):
        self.family = family
        self.render_mode = render_mode
        clip = family.position_clip
        self.observation_space = spaces.Box(-clip, clip, shape=(2,), dtype=np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float64)
        self.task = None
        self.position = np.zeros(2)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._choose_task(options)
        self.position = self.family.initial_positions(1)[0]
        return self.position.copy(), {"task": self.task.copy()}

    def step(self, action):
        positions, rewards, done = self.family.step(
            self.position[None], np.asarray(action, dtype=float)[None], self.task[None]
        )
        self.position = positions[0]
        return self.position.copy(), float(rewards[0]), bool(done[0]), False, {"task": self.task.copy()}

    def render(self):
        """A 256x256 top-down picture: goal in green, agent in red."""
        size, clip = 256, min(max(self.family.position_clip, 2.5), 5.0)  # 2D Navigation has no clip
        image = np.full((size, size, 3), 255, dtype=np.uint8)

        def pixel(point):
            return np.clip(((np.asarray(point) / clip + 1) / 2 * (size - 1)).astype(int), 0, size - 1)

        for point, colour in ((self.task, (40, 160, 60)), (self.position, (210, 40, 40))):
            column, row = pixel(point)
            image[max(size - 1 - row - 3, 0) : size - row + 3, max(column - 3, 0) : column + 4] = colour
        return image


def register_envs() -> None:
    """Register every esmaml env id with gymnasium (idempotent)."""
    specs = {
        "esmaml/FourCorner-v0": (FOUR_CORNER, FOUR_CORNER.horizon),
        "esmaml/Goal2D-v0": (GOAL_2D, GOAL_2D.horizon),
        "esmaml/Navigation2D-v0": (NAVIGATION_2D, NAVIGATION_2D.horizon),
    }
    for env_id, (family, horizon) in specs.items():
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=PointNavigationEnv, kwargs={"family": family}, max_episode_steps=horizon)
    if "esmaml/BiasedSensorCartPole-v0" not in gym.registry:
        # By name: esmaml_core.cartpole_env imports TaskChoiceMixin from this module.
        gym.register(
            "esmaml/BiasedSensorCartPole-v0",
            entry_point="esmaml_core.cartpole_env:BiasedSensorCartPoleEnv",
            max_episode_steps=BIASED_SENSOR_CARTPOLE.horizon,
        )
    for env_id, family_name in FORWARD_BACKWARD_ENVS.items():
        if env_id not in gym.registry:
            # By name: esmaml_core.mujoco_envs imports MuJoCo (slow) and TaskChoiceMixin from this module.
            gym.register(
                env_id,
                entry_point="esmaml_core.mujoco_envs:ForwardBackwardEnv",
                kwargs={"family": family_name},
                max_episode_steps=DEFAULT_HORIZON,
            )


register_envs()
