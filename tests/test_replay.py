"""Replays: the meta-policy and its adapted versions from one start, as videos, rewards and x positions."""

import dataclasses

import imageio.v2 as imageio
import numpy as np
import pytest

from esmaml_core.assets import list_pretrained
from esmaml_core.config import TrainConfig
from esmaml_core.replay import FORWARD_BACKWARD, META_LABEL, replay_adaptation
from esmaml_core.runs import load_trainer
from esmaml_core.trainer import make_trainer


def frames(video: bytes, tmp_path) -> np.ndarray:
    path = tmp_path / "clip.mp4"
    path.write_bytes(video)
    with imageio.get_reader(path, format="FFMPEG") as reader:
        return np.stack(list(reader.iter_data()))


def pretrained_trainer(task: str, horizon: int):
    trainer = load_trainer(list_pretrained(task=task)[0].path)[0]
    trainer.config = dataclasses.replace(trainer.config, horizon=horizon)  # short episodes keep the test fast
    return trainer


@pytest.fixture(scope="module")
def swimmer_replay():
    with pretrained_trainer("fb_swimmer", horizon=50) as trainer:
        return replay_adaptation(trainer, *FORWARD_BACKWARD, seed=0, min_seconds=0.0)


def test_the_three_swimmers_start_alike_and_adaptation_sets_the_direction(swimmer_replay, tmp_path):
    meta, forward, backward = swimmer_replay.clips
    assert [clip.label for clip in swimmer_replay.clips] == [META_LABEL, "forward", "backward"]
    assert meta.positions[0] == forward.positions[0] == backward.positions[0]
    first = [frames(clip.video, tmp_path)[0].astype(int) for clip in swimmer_replay.clips]
    assert np.abs(first[0] - first[1]).mean() < 1.0 and np.abs(first[0] - first[2]).mean() < 1.0
    assert forward.mean_velocity > 0 > backward.mean_velocity  # the pretrained meta-policy adapts both ways
    assert forward.positions[50] - forward.positions[0] > 0 > backward.positions[50] - backward.positions[0]


def test_scores_are_the_rollouts_and_positions_give_the_velocity_term(swimmer_replay):
    meta, forward, backward = swimmer_replay.clips
    assert all(len(clip.rewards) == 50 and len(clip.positions) == 51 and not clip.fell for clip in (meta, forward))
    np.testing.assert_allclose(swimmer_replay.meta_returns[0], meta.score)
    # the swimmer's reward is direction x velocity minus a 1e-4 control cost
    velocity = np.diff(backward.positions) / backward.seconds_per_step
    np.testing.assert_allclose(backward.rewards, -velocity, atol=1e-3)
    assert backward.mean_velocity == pytest.approx(velocity.mean())


def test_a_fallen_walker_is_filmed_for_the_minimum_time_and_scored_as_before(tmp_path):
    config = TrainConfig(task="fb_walker", operator="es_grad", queries=2, horizon=400)
    with make_trainer(config) as trainer:  # an untrained walker falls long before 4 s
        replay = replay_adaptation(trainer, *FORWARD_BACKWARD, seed=0, min_seconds=4.0)
        scored = trainer.family.rollout(  # the meta-policy alone, from the replay's start, as training scores it
            trainer.policy,
            trainer.state.params[None],
            np.array([[1.0]]),
            trainer.evaluator(np.random.default_rng(0)).normalizer,
            noise=replay.start_noise[None],
            horizon=trainer.horizon,
            record=True,
        )
    meta = replay.meta
    assert meta.fell and meta.fell_at == pytest.approx(len(meta.rewards) * 0.008) and meta.fell_at < 4.0
    assert len(meta.positions) - 1 == 500  # 4 s of 8 ms steps, though the episode ended early
    video = frames(meta.video, tmp_path)
    assert len(video) == 167 and replay.fps == pytest.approx(1 / 0.024)  # every third step: 41.7 fps, real time
    assert np.abs(video[-1].astype(int) - video[len(video) // 2].astype(int)).mean() > 0.5  # it still moves
    assert scored.lengths[0] == len(meta.rewards) and scored.returns[0] == meta.score
    np.testing.assert_array_equal(scored.rewards[0, : len(meta.rewards)], meta.rewards)


def test_cartpole_is_filmed_before_and_after_adapting_to_a_bias(tmp_path):
    with pretrained_trainer("biased_sensor_cartpole", horizon=100) as trainer:
        replay = replay_adaptation(trainer, [[0.15]], ["bias +0.15"], seed=0)
    assert [clip.label for clip in replay.clips] == [META_LABEL, "bias +0.15"]
    assert replay.seconds_per_step == 0.02 and len(replay.meta.positions) == 201  # 4 s minimum of 20 ms steps
    before, after = (frames(clip.video, tmp_path) for clip in replay.clips)
    assert before.shape == (201, 200, 400, 3)
    for clip in (before, after):  # never blank: the cart and the true pole in every frame, even once fallen
        frames_ = clip.astype(int)
        cart = (frames_[:, 135:149] < 90).all(axis=-1).sum(axis=(1, 2))
        red, green, blue = np.moveaxis(frames_, -1, 0)
        pole = ((red > 150) & (green > 90) & (green < 180) & (blue < 120)).sum(axis=(1, 2))
        assert cart.min() > 100 and pole.min() > 30
    assert np.abs(before[0].astype(int) - after[0].astype(int)).mean() < 1.0  # one start state
    np.testing.assert_array_equal(replay.meta.positions[0], replay.adapted[0].positions[0])


def test_families_without_a_scene_are_refused():
    with make_trainer(TrainConfig(task="goal_2d", queries=2)) as trainer, pytest.raises(ValueError, match="no replay"):
        replay_adaptation(trainer, [[0.1, 0.2]], ["goal"], seed=0)
