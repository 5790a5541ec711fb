"""Headless video of MuJoCo rollouts: frames from ``mujoco.Renderer`` offscreen, H.264 MP4 via imageio-ffmpeg.

Headless rendering needs ``MUJOCO_GL=egl`` (or ``osmesa``) in the environment before
``mujoco`` is first imported. The library never sets it (importing it changes nothing
process-wide) and imports ``mujoco`` only on first use; the CLI and the dashboard set
``egl`` for their own processes unless the user chose a backend.

A rollout is rendered by running the batched rollout for one row with ``record=True``
and replaying its recorded actions in one ``MjData``: the physics is bit-identical, so
the video shows exactly the rollout that was scored.

    frames = rollout_frames(family, policy, params, task, normalizer, noise)
    write_mp4(frames, "ant.mp4", fps=family_fps(family))
    render_adaptation_video(family, policy, before, after, task, normalizer, noise, "videos/")

The ``fast`` quality (default) turns shadows, reflections, skybox and anti-aliasing off; on a
2-core machine without a GPU it renders about 60 frames per second at 480x360.
"""

from __future__ import annotations

import copy
import itertools
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from esmaml_core.tasks.base import BatchPolicy, ObsNormalizer
from esmaml_core.tasks.mujoco import ForwardBackwardFamily

TRACKING_CAMERA = "track"  # every gymnasium locomotion model has this torso-tracking camera
START_LINE_SIZE = (0.02, 3.0, 0.002)  # half sizes (m) of the box drawn across the floor where x started
START_LINE_RGBA = (0.9, 0.1, 0.1, 1.0)


@dataclass(frozen=True)
class RenderQuality:
    """Picture size and the costly effects; software rendering pays for each of them."""

    width: int = 480
    height: int = 360
    shadows: bool = False
    reflections: bool = False
    skybox: bool = False  # without it the sky is black, and frames render twice as fast
    multisamples: int = 0  # offscreen anti-aliasing samples


QUALITIES = {
    "fast": RenderQuality(),
    "high": RenderQuality(width=640, height=480, shadows=True, reflections=True, skybox=True, multisamples=4),
}


class FrameRenderer:
    """Renders one simulation's ``MjData`` from the tracking camera into (height, width, 3) uint8 frames."""

    def __init__(self, model, quality: RenderQuality = QUALITIES["fast"]):
        import mujoco

        render_model = copy.deepcopy(model)  # the visual settings below must not touch the shared model
        render_model.vis.quality.offsamples = quality.multisamples
        render_model.vis.global_.offwidth = max(render_model.vis.global_.offwidth, quality.width)
        render_model.vis.global_.offheight = max(render_model.vis.global_.offheight, quality.height)
        self.quality = quality
        try:
            self.renderer = mujoco.Renderer(render_model, quality.height, quality.width)
        except mujoco.FatalError as error:
            raise RuntimeError(f"{error}; for headless rendering set MUJOCO_GL=egl before importing mujoco") from error
        self.effects = {
            mujoco.mjtRndFlag.mjRND_SHADOW: quality.shadows,
            mujoco.mjtRndFlag.mjRND_REFLECTION: quality.reflections,
            mujoco.mjtRndFlag.mjRND_SKYBOX: quality.skybox,
        }

    def render(self, data, start_x: float | None = None) -> np.ndarray:
        """The frame of ``data``; with ``start_x``, a red line across the floor marks where x started."""
        self.renderer.update_scene(data, camera=TRACKING_CAMERA)
        for flag, enabled in self.effects.items():
            self.renderer.scene.flags[flag] = enabled
        if start_x is not None:
            self.add_start_line(start_x)
        return self.renderer.render()

    def add_start_line(self, x: float) -> None:
        import mujoco

        scene = self.renderer.scene
        if scene.ngeom == scene.maxgeom:
            return
        mujoco.mjv_initGeom(
            scene.geoms[scene.ngeom],
            mujoco.mjtGeom.mjGEOM_BOX,
            np.array(START_LINE_SIZE),
            np.array([x, 0.0, START_LINE_SIZE[2]]),
            np.eye(3).ravel(),
            np.array(START_LINE_RGBA, dtype=np.float32),
        )
        scene.ngeom += 1

    def close(self) -> None:
        self.renderer.close()


def family_fps(family: ForwardBackwardFamily) -> int:
    """Frames per second that play a rollout in real time: one frame per control step."""
    return int(round(1.0 / family.dt))


def watched_states(
    family: ForwardBackwardFamily,
    policy: BatchPolicy,
    params: np.ndarray,
    normalizer: ObsNormalizer,
    noise: np.ndarray,
    actions: np.ndarray,
    steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """States (steps + 1, nq + nv) and forward x (steps + 1,) of one simulation, for watching.

    The recorded ``actions`` (T, act_dim) of a scored rollout are replayed in one ``MjData``
    (bit-identical physics); past them, up to ``steps`` control steps, the policy ``params``
    (P,) keeps acting on what it observes: a clip longer than the scored episode, for
    watching only (a fallen walker stays on screen).
    """
    data = family.make_data()
    family.reset_data(data, noise)
    readout = family.read_data(data)
    states, forward_x = [np.concatenate([data.qpos, data.qvel])], [readout.forward_x[0]]
    for step in range(steps):
        if step < len(actions):
            action = actions[step]
        else:
            action = policy.act(params[None], normalizer(family.observe(readout)))[0]
        family.step_data(data, action)
        readout = family.read_data(data)
        states.append(np.concatenate([data.qpos, data.qvel]))
        forward_x.append(readout.forward_x[0])
    return np.stack(states), np.array(forward_x)


def iter_state_frames(
    family: ForwardBackwardFamily,
    states: Iterable[np.ndarray],
    quality: RenderQuality = QUALITIES["fast"],
    start_x: float | None = None,
) -> Iterator[np.ndarray]:
    """Frames (height, width, 3) of the simulation states (nq + nv,) of ``watched_states``, one per state.

    With ``start_x``, a red line across the floor marks the start: the tracking camera
    follows the body, so the line shows which way and how far it went.
    """
    import mujoco

    data = family.make_data()
    renderer = FrameRenderer(family.model, quality)
    try:
        for state in states:
            data.qpos[:], data.qvel[:] = state[: family.model.nq], state[family.model.nq :]
            mujoco.mj_forward(family.model, data)
            yield renderer.render(data, start_x)
    finally:
        renderer.close()


def iter_rollout_frames(
    family: ForwardBackwardFamily,
    policy: BatchPolicy,
    params: np.ndarray,
    task: np.ndarray,
    normalizer: ObsNormalizer,
    noise: np.ndarray,
    *,
    horizon: int | None = None,
    quality: RenderQuality = QUALITIES["fast"],
) -> Iterator[np.ndarray]:
    """Frames (height, width, 3) of ``params`` (P,) on ``task`` (task_dim,) from start ``noise``, one per step.

    Yields length + 1 frames: the start, then the state after each control step.
    """
    rollouts = family.rollout(
        policy, params[None], np.asarray(task)[None], normalizer, noise=noise[None], horizon=horizon, record=True
    )
    actions = rollouts.actions[0, : rollouts.lengths[0]]
    states, _ = watched_states(family, policy, params, normalizer, noise, actions, len(actions))
    yield from iter_state_frames(family, states, quality)


def rollout_frames(*args, **kwargs) -> np.ndarray:
    """All frames of ``iter_rollout_frames`` (same arguments) as one (length + 1, height, width, 3) array."""
    return np.stack(list(iter_rollout_frames(*args, **kwargs)))


def encoder_command(width: int, height: int, fps: float, path: Path) -> list[str]:
    """imageio-ffmpeg's ffmpeg reading raw RGB frames on stdin, writing H.264 (yuv420p: plays in browsers)."""
    import imageio_ffmpeg

    raw_input = ["-f", "rawvideo", "-vcodec", "rawvideo", "-s", f"{width}x{height}", "-pix_fmt", "rgb24"]
    output = ["-an", "-vcodec", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast"]
    return [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-y",
        "-v",
        "warning",
        *raw_input,
        "-r",
        str(fps),
        "-i",
        "-",
        *output,
        str(path),
    ]


def write_mp4(frames: Iterable[np.ndarray], path: str | Path, fps: float) -> Path:
    """Write (H, W, 3) uint8 frames, H and W even, as an H.264 MP4; returns the path.

    Frames may come from a generator: ffmpeg encodes in its own process while they render.
    It starts in its own session (a Ctrl-C meant for Python does not cut the file short),
    set up without running Python in the child, so no at-fork handler runs (JAX warns in
    its own). Written to a temporary file first, then moved into place.
    """
    path = Path(path)
    partial = path.with_name(f".{path.stem}.partial.mp4")
    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    if first.shape != (height, width, 3) or height % 2 or width % 2:
        raise ValueError(f"frames must be (H, W, 3) with H and W even; got {first.shape}")
    command = encoder_command(width, height, fps, partial)
    with subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True) as encoder:
        for frame in itertools.chain([first], frames):
            if frame.shape != first.shape:
                raise ValueError(f"every frame must be {first.shape}; got {frame.shape}")
            encoder.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        encoder.stdin.close()
        messages = encoder.stderr.read().decode(errors="replace")
    if encoder.returncode != 0:
        raise RuntimeError(f"ffmpeg could not write {path}: {messages.strip()}")
    partial.replace(path)
    return path


def render_adaptation_video(
    family: ForwardBackwardFamily,
    policy: BatchPolicy,
    params_before: np.ndarray,
    params_after: np.ndarray,
    task: np.ndarray,
    normalizer: ObsNormalizer,
    noise: np.ndarray,
    out_dir: str | Path,
    *,
    horizon: int | None = None,
    quality: RenderQuality = QUALITIES["fast"],
) -> dict[str, Path]:
    """Render the meta-policy ("before" adaptation) and the adapted policy ("after") on one task.

    Both start from the same ``noise``. Writes ``before.mp4`` and ``after.mp4`` in ``out_dir``
    and returns their paths by name.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    videos = {}
    for label, params in (("before", params_before), ("after", params_after)):
        frames = iter_rollout_frames(family, policy, params, task, normalizer, noise, horizon=horizon, quality=quality)
        videos[label] = write_mp4(frames, out_dir / f"{label}.mp4", family_fps(family))
    return videos


@dataclass(frozen=True)
class ReplayVideo:
    """A side-by-side replay: the file, and the returns of the rollouts it shows."""

    path: Path
    before_return: float
    after_return: float
    frames: int


def side_by_side(left: Iterable[np.ndarray], right: Iterable[np.ndarray], gap: int = 8) -> Iterator[np.ndarray]:
    """Pairs of frames joined horizontally with a white gap; the shorter clip holds its last frame."""
    left, right = iter(left), iter(right)
    last_left, last_right = next(left), next(right)
    separator = np.full((last_left.shape[0], gap, 3), 255, dtype=np.uint8)
    while True:
        yield np.concatenate([last_left, separator, last_right], axis=1)
        next_left, next_right = next(left, None), next(right, None)
        if next_left is None and next_right is None:
            return
        last_left = last_left if next_left is None else next_left
        last_right = last_right if next_right is None else next_right


def render_replay_video(
    trainer, task: np.ndarray, out_path: str | Path, *, seed: int = 0, quality: RenderQuality = QUALITIES["fast"]
) -> ReplayVideo:
    """One MP4 of a trained meta-policy before (left) and after (right) adapting to ``task``, same start."""
    family = trainer.family
    if not isinstance(family, ForwardBackwardFamily):
        raise ValueError(f"render supports the MuJoCo tasks; {family.name} has no 3-D scene")
    replay = trainer.adaptation_replay(task, seed)
    horizon = trainer.horizon
    rollouts = trainer.replay_rollouts(replay)
    clips = [
        iter_rollout_frames(
            family,
            trainer.policy,
            params,
            replay.task,
            replay.normalizer,
            replay.start_noise,
            horizon=horizon,
            quality=quality,
        )
        for params in (replay.before, replay.after)
    ]
    path = write_mp4(side_by_side(*clips), out_path, family_fps(family))
    return ReplayVideo(path, float(rollouts.returns[0]), float(rollouts.returns[1]), int(rollouts.lengths.max()) + 1)
