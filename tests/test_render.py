"""Headless rendering: rollout frames show the moving robot, MP4 files read back frame for frame."""

from __future__ import annotations

import imageio.v2 as imageio
import numpy as np
import pytest

from esmaml_core.mujoco_envs import ForwardBackwardEnv
from esmaml_core.policies import make_policy
from esmaml_core.render import (
    QUALITIES,
    FrameRenderer,
    family_fps,
    iter_state_frames,
    render_adaptation_video,
    rollout_frames,
    watched_states,
    write_mp4,
)
from esmaml_core.tasks import ObsNormalizer, get_task_family


@pytest.fixture(scope="module")
def swimmer():
    family = get_task_family("fb_swimmer")
    policy = make_policy(family.obs_dim, family.act_dim)
    rng = np.random.default_rng(0)
    params = rng.normal(0.0, 0.5, (2, policy.num_params))
    return family, policy, params, family.initial_noise(rng, 1)[0]


def read_frames(path) -> np.ndarray:
    with imageio.get_reader(path, format="FFMPEG") as reader:
        return np.stack(list(reader.iter_data()))


def test_rollout_frames_show_the_rollout(swimmer):
    family, policy, params, noise = swimmer
    frames = rollout_frames(family, policy, params[0], [1.0], ObsNormalizer.identity(family.obs_dim), noise, horizon=40)
    assert frames.shape == (41, 360, 480, 3) and frames.dtype == np.uint8
    assert all(frame.std() > 10 for frame in frames)  # every frame has content, none is blank
    assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).mean() > 1.0  # the swimmer moved


def test_mp4_reads_back_with_the_right_frame_count(swimmer, tmp_path):
    family, policy, params, noise = swimmer
    frames = rollout_frames(family, policy, params[0], [1.0], ObsNormalizer.identity(family.obs_dim), noise, horizon=24)
    path = write_mp4(frames, tmp_path / "swimmer.mp4", fps=family_fps(family))
    decoded = read_frames(path)
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 8  # H.264 is lossy, but the picture survives
    assert not list(tmp_path.glob(".*partial*"))


def test_adaptation_video_renders_before_and_after(swimmer, tmp_path):
    family, policy, params, noise = swimmer
    normalizer = ObsNormalizer.identity(family.obs_dim)
    before, after = params
    videos = render_adaptation_video(family, policy, before, after, [-1.0], normalizer, noise, tmp_path, horizon=16)
    assert set(videos) == {"before", "after"}
    before, after = read_frames(videos["before"]), read_frames(videos["after"])
    assert len(before) == len(after) == 17
    assert np.abs(before[0].astype(int) - after[0].astype(int)).mean() < 1.0  # same start state
    assert np.abs(before[-1].astype(int) - after[-1].astype(int)).mean() > 1.0  # different policies


def test_quality_sets_size_and_effects_without_touching_the_shared_model():
    env = ForwardBackwardEnv("fb_ant")
    env.reset(seed=0, options={"task_id": 0})
    samples = env.family.model.vis.quality.offsamples
    for name, shape, effects in (("fast", (360, 480, 3), False), ("high", (480, 640, 3), True)):
        renderer = FrameRenderer(env.family.model, QUALITIES[name])
        assert renderer.render(env.data).shape == shape
        assert renderer.effects  # shadows and reflections
        for flag in renderer.effects:
            assert renderer.renderer.scene.flags[flag] == effects
        renderer.close()
    assert env.family.model.vis.quality.offsamples == samples


def test_watching_past_the_recorded_actions_lets_the_policy_act_on(swimmer):
    family, policy, params, noise = swimmer
    normalizer = ObsNormalizer.identity(family.obs_dim)
    rollouts = family.rollout(
        policy, params[:1], np.array([[1.0]]), normalizer, noise=noise[None], horizon=20, record=True
    )
    recorded = rollouts.actions[0]
    full, full_x = watched_states(family, policy, params[0], normalizer, noise, recorded, 20)
    half, half_x = watched_states(family, policy, params[0], normalizer, noise, recorded[:10], 20)
    np.testing.assert_array_equal(half, full)  # from step 10 on the policy chose what the rollout recorded
    np.testing.assert_array_equal(half_x, half[:, 0])  # the swimmer's forward x is its root slide joint
    assert half_x[-1] != half_x[0]


def test_a_red_start_line_marks_where_x_started(swimmer):
    family, policy, params, noise = swimmer
    states, positions = watched_states(family, policy, params[0], ObsNormalizer.identity(family.obs_dim), noise, [], 0)
    plain, marked = (next(iter_state_frames(family, states, start_x=x)).astype(int) for x in (None, positions[0]))
    red = (marked[..., 0] > 180) & (marked[..., 1] < 80) & (marked[..., 2] < 80)
    assert red.sum() > 200 and not ((plain[..., 0] > 180) & (plain[..., 1] < 80) & (plain[..., 2] < 80)).any()
