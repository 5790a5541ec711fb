"""The ForwardBackward MuJoCo task families as gymnasium environments (``esmaml/ForwardBackward*-v0``).

One simulation in one ``MjData`` stepped with ``mj_step``, as gymnasium's MuJoCo envs do;
start state, controls, observation, reward and termination are the batched family's own
functions (``esmaml_core.tasks.mujoco``) applied to a batch of one, so a gymnasium loop
and the batched engine give identical returns. The task is a direction, chosen as for
every esmaml env: ``reset(options={"task": [1.0]})``, ``reset(options={"task_id": i})``
or ``set_task``. ``reset(options={"noise": ...})`` sets the start noise (nq + nv,)
instead of drawing it from ``np_random``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from esmaml_core.envs import TaskChoiceMixin
from esmaml_core.render import QUALITIES, FrameRenderer, RenderQuality, family_fps
from esmaml_core.tasks import get_task_family


class ForwardBackwardEnv(TaskChoiceMixin, gym.Env):
    """A MuJoCo runner that is rewarded for moving in its task's direction; actions in [-1, 1]."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, family: str, render_mode: str | None = None, quality: RenderQuality = QUALITIES["fast"]):
        self.family = get_task_family(family)
        self.render_mode = render_mode
        self.quality = quality
        self.metadata = {**self.metadata, "render_fps": family_fps(self.family)}
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(self.family.obs_dim,), dtype=np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(self.family.act_dim,), dtype=np.float64)
        self.data = self.family.make_data()
        self.task = None
        self.readout = None
        self.renderer = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._choose_task(options)
        options = options or {}
        if "noise" in options:
            noise = np.asarray(options["noise"], dtype=float)
        else:
            noise = self.family.initial_noise(self.np_random, 1)[0]
        self.family.reset_data(self.data, noise)
        self.readout = self.family.read_data(self.data)
        return self.family.observe(self.readout)[0], self._info()

    def step(self, action):
        actions = np.asarray(action, dtype=float).reshape(1, self.family.act_dim)
        self.family.step_data(self.data, actions[0])
        after = self.family.read_data(self.data)
        rewards, terminated = self.family.reward(self.readout, after, actions, self.task[None, 0])
        self.readout = after
        return self.family.observe(after)[0], float(rewards[0]), bool(terminated[0]), False, self._info()

    def _info(self) -> dict:
        return {"task": self.task.copy(), "x_position": float(self.readout.forward_x[0])}

    def render(self):
        """The tracking camera's view, (height, width, 3) uint8."""
        if self.renderer is None:
            self.renderer = FrameRenderer(self.family.model, self.quality)
        return self.renderer.render(self.data)

    def close(self):
        if self.renderer is not None:
            self.renderer.close()
            self.renderer = None
