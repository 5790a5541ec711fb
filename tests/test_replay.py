"""MuJoCo replays: one start, before and after adaptation, as video and rewards."""

import numpy as np
import pytest

from esmaml_core.config import TrainConfig
from esmaml_core.replay import replay_adaptation
from esmaml_core.trainer import make_trainer


def test_a_replay_renders_both_policies_from_one_start_and_scores_them():
    trainer = make_trainer(TrainConfig(task="fb_swimmer", operator="es_grad", queries=4, horizon=20, eval_tasks=4))
    replay = replay_adaptation(trainer, np.array([1.0]), seed=3)
    assert replay.before_video[4:8] == b"ftyp" and replay.after_video[4:8] == b"ftyp"  # MP4 files
    assert replay.before_rewards.shape == replay.after_rewards.shape == (20,)
    assert not np.array_equal(replay.before_rewards, replay.after_rewards)
    assert replay.seconds_per_step == pytest.approx(0.04)
    again = replay_adaptation(trainer, np.array([1.0]), seed=3)
    np.testing.assert_array_equal(again.after_rewards, replay.after_rewards)
