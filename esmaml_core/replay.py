"""MuJoCo replays: a meta-policy before and after adapting to one task, as MP4 videos and per-step rewards."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import numpy as np

from esmaml_core.trainer import Trainer


@dataclass(frozen=True)
class Replay:
    """A meta-policy and its adapted version on one task: MP4 videos and per-step rewards, same start."""

    before_video: bytes
    after_video: bytes
    before_rewards: np.ndarray
    after_rewards: np.ndarray
    seconds_per_step: float


def replay_adaptation(trainer: Trainer, task: np.ndarray, seed: int) -> Replay:
    """Adapt to ``task`` once, then render the rollouts before and after adaptation from one start state."""
    from esmaml_core.render import family_fps, render_adaptation_video  # only replays need MuJoCo rendering

    replay = trainer.adaptation_replay(task, seed)
    family, horizon = trainer.family, trainer.horizon
    rollouts = trainer.replay_rollouts(replay, record=True)
    with tempfile.TemporaryDirectory() as folder:
        videos = render_adaptation_video(
            family,
            trainer.policy,
            replay.before,
            replay.after,
            replay.task,
            replay.normalizer,
            replay.start_noise,
            folder,
            horizon=horizon,
        )
        before_video, after_video = videos["before"].read_bytes(), videos["after"].read_bytes()
    return Replay(before_video, after_video, rollouts.rewards[0], rollouts.rewards[1], 1.0 / family_fps(family))
