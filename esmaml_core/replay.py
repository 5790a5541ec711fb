"""Replays: a meta-policy beside its adapted versions, one start state, as videos, rewards and x positions.

``replay_adaptation`` adapts the meta-policy to each of a few tasks (one batched call),
rolls out the meta-policy and every adapted policy from one shared start, scores those
rollouts exactly as training does, and films them. A clip lasts at least
``min_seconds``: past the scored episode (its horizon, or the step a walker fell) the
physics goes on with the policy still acting, for watching only; rewards and returns
are those of the scored rollout. Positions are the x coordinate that defines forward
velocity (MuJoCo) or the cart's position (cart-pole), at every control step of the clip.

    replay = replay_adaptation(trainer, [[1.0], [-1.0]], ("forward", "backward"), seed=0)
    replay.clips[0].video, replay.clips[1].mean_velocity, replay.clips[2].fell_at
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from esmaml_core.tasks.base import BatchPolicy, ObsNormalizer
from esmaml_core.tasks.cartpole import POLE_HALF_LENGTH, TAU, X_THRESHOLD, BiasedSensorCartPoleFamily, physics_step
from esmaml_core.tasks.mujoco import ForwardBackwardFamily
from esmaml_core.trainer import Trainer

MIN_CLIP_SECONDS = 4.0
MAX_FPS = 50.0  # frames of faster families (Walker2d: 125 steps/s) are thinned to at most this rate
META_LABEL = "meta-policy"
FORWARD_BACKWARD = (np.array([[1.0], [-1.0]]), ("forward", "backward"))


@dataclass(frozen=True)
class Clip:
    """One policy's replay: its video, the scored episode's rewards, x at every control step of the clip."""

    label: str
    task: np.ndarray  # (task_dim,) the task it is scored on
    video: bytes  # H.264 MP4
    rewards: np.ndarray  # (scored steps,) per-step rewards of the scored episode
    score: float  # its return, as training sums it
    positions: np.ndarray  # (clip steps + 1,) x at each step (world frame), scored steps first, then watched ones
    seconds_per_step: float
    fell: bool  # the scored episode ended before the horizon

    @property
    def scored_seconds(self) -> float:
        return len(self.rewards) * self.seconds_per_step

    @property
    def fell_at(self) -> float | None:
        """Simulated seconds at which the scored episode ended by falling; None if it ran to the horizon."""
        return self.scored_seconds if self.fell else None

    @property
    def mean_velocity(self) -> float:
        """Mean x velocity over the scored episode (x units per second)."""
        return float(self.positions[len(self.rewards)] - self.positions[0]) / self.scored_seconds


@dataclass(frozen=True)
class AdaptationReplays:
    """The meta-policy's clip (on the first task), then one clip per adapted policy, all from one start."""

    clips: tuple[Clip, ...]
    meta_returns: np.ndarray  # (n,) the meta-policy's return on each adapted clip's task, same start
    kept: tuple[bool, ...]  # per task: adaptation returned the meta-policy itself (no query did better)
    start_noise: np.ndarray  # the family's start noise shared by every clip
    horizon: int  # control steps of a scored episode
    seconds_per_step: float
    fps: float  # playback rate of the videos: real time

    @property
    def meta(self) -> Clip:
        return self.clips[0]

    @property
    def adapted(self) -> tuple[Clip, ...]:
        return self.clips[1:]


def cartpole_watched_states(
    family: BiasedSensorCartPoleFamily,
    policy: BatchPolicy,
    params: np.ndarray,
    task: np.ndarray,
    normalizer: ObsNormalizer,
    noise: np.ndarray,
    actions: np.ndarray,
    steps: int,
) -> np.ndarray:
    """States (steps + 1, 4): the recorded ``actions`` replayed, then the policy acting on (unscored) to ``steps``."""
    states = [np.asarray(noise, dtype=float)]
    for step in range(steps):
        if step < len(actions):
            action = actions[step]
        else:
            action = policy.act(params[None], normalizer(family.observe(states[-1][None], task[None])))[0]
        states.append(physics_step(states[-1][None], action[None])[0])
    return np.stack(states)


def watch(family, policy, params, task, normalizer, noise, actions, steps) -> tuple[np.ndarray, np.ndarray]:
    """(states (steps + 1, ...), positions (steps + 1,)) of one policy, its scored ``actions`` replayed first.

    The family is the cart-pole or a MuJoCo one (``seconds_per_step`` refuses the others).
    """
    if isinstance(family, BiasedSensorCartPoleFamily):
        states = cartpole_watched_states(family, policy, params, task, normalizer, noise, actions, steps)
        return states, states[:, 0]
    from esmaml_core.render import watched_states  # only MuJoCo replays need rendering

    return watched_states(family, policy, params, normalizer, noise, actions, steps)


def film(family, watched: Sequence[tuple[np.ndarray, np.ndarray]], tasks, stride: int) -> list[Iterator[np.ndarray]]:
    """Frames of every ``stride``-th state of each watched (states, positions) clip, all from one start.

    Cart-pole clips share a view that keeps every cart in sight; MuJoCo clips mark the start line.
    """
    states = [clip_states for clip_states, _ in watched]
    if isinstance(family, BiasedSensorCartPoleFamily):
        from esmaml_core.cartpole_env import draw_cartpole

        half_width = max(X_THRESHOLD, max(np.abs(clip[:, 0]).max() for clip in states) + 2 * POLE_HALF_LENGTH)
        return [
            (draw_cartpole(state, task[0], half_width) for state in clip[::stride])
            for clip, task in zip(states, tasks, strict=True)
        ]
    from esmaml_core.render import iter_state_frames

    start_x = float(watched[0][1][0])
    return [iter_state_frames(family, clip[::stride], start_x=start_x) for clip in states]


def seconds_per_step(family) -> float:
    """Simulated seconds per control step of a filmed family; ValueError for a family without a scene."""
    if isinstance(family, ForwardBackwardFamily):
        return family.dt
    if isinstance(family, BiasedSensorCartPoleFamily):
        return TAU
    raise ValueError(f"{family.name} has no replay: only the MuJoCo tasks and the cart-pole are filmed")


def encode(frames: Iterator[np.ndarray], fps: float) -> bytes:
    from esmaml_core.render import write_mp4

    with tempfile.TemporaryDirectory() as folder:
        return write_mp4(frames, Path(folder) / "clip.mp4", fps).read_bytes()


def replay_adaptation(
    trainer: Trainer,
    tasks: np.ndarray,
    labels: Sequence[str],
    seed: int,
    *,
    min_seconds: float = MIN_CLIP_SECONDS,
) -> AdaptationReplays:
    """The meta-policy and its adaptation to each of ``tasks`` (n, task_dim), named ``labels``, from one start.

    ``seed`` fixes the adaptation's noise and the start state. The meta-policy's clip is
    scored on ``tasks[0]``; ``meta_returns`` holds its return on every task.
    """
    family, policy, horizon = trainer.family, trainer.policy, trainer.horizon
    dt = seconds_per_step(family)
    tasks = np.asarray(tasks, dtype=float).reshape(-1, family.task_dim)
    evaluate = trainer.evaluator(np.random.default_rng(seed))
    meta = trainer.state.params
    adapted = trainer.learner.adapt(meta, evaluate, tasks, evaluate.rng).adapted_params
    start = family.initial_noise(evaluate.rng, 1)[0]
    params = np.concatenate([np.repeat(meta[None], len(tasks), axis=0), adapted])
    rollouts = family.rollout(
        policy,
        params,
        np.concatenate([tasks, tasks]),
        evaluate.normalizer,
        noise=np.repeat(start[None], len(params), axis=0),
        horizon=horizon,
        record=True,
    )
    steps = max(horizon, math.ceil(min_seconds / dt - 1e-9))
    stride = math.ceil(1.0 / (dt * MAX_FPS) - 1e-9)
    rows = [0, *range(len(tasks), len(params))]  # the meta-policy on the first task, each adapted one on its own
    row_tasks = np.concatenate([tasks, tasks])[rows]
    watched = [
        watch(family, policy, params[row], task, evaluate.normalizer, start, actions[:length], steps)
        for row, task, actions, length in zip(
            rows, row_tasks, rollouts.actions[rows], rollouts.lengths[rows], strict=True
        )
    ]
    fps = 1.0 / (stride * dt)
    videos = [encode(frames, fps) for frames in film(family, watched, row_tasks, stride)]
    clips = tuple(
        Clip(
            label,
            task,
            video,
            rollouts.rewards[row, : rollouts.lengths[row]],
            float(rollouts.returns[row]),
            positions,
            dt,
            bool(rollouts.lengths[row] < horizon),
        )
        for row, label, task, video, (_, positions) in zip(
            rows, (META_LABEL, *labels), row_tasks, videos, watched, strict=True
        )
    )
    kept = tuple(bool(np.array_equal(row, meta)) for row in adapted)
    meta_returns = rollouts.returns[: len(tasks)]
    return AdaptationReplays(clips, meta_returns, kept, start, horizon, dt, fps)
