"""Seconds to adapt, render and encode a 300-frame replay clip, fast quality against high.

The clip is what the dashboard's Replay page shows: the pretrained fb_swimmer meta-policy
before (left) and after (right) adapting to one task, side by side, one frame per control
step (the Swimmer never terminates, so a horizon of 299 steps gives 300 frames). Each
quality is timed end to end through ``render_replay_video`` (adaptation, physics, two
renders per frame, H.264 encoding), best of ``--repeats``, the two taking turns. The last
lines are the fast clip's seconds (target: under 10) and the ratio high / fast seconds:

    python bench/render_replay.py [--frames 300] [--repeats 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
from pathlib import Path

from timing import best_times  # bench/timing.py, beside this script

from esmaml_core.assets import asset_paths, read_asset_meta
from esmaml_core.config import TrainConfig
from esmaml_core.files import load_checkpoint
from esmaml_core.render import QUALITIES, render_replay_video
from esmaml_core.trainer import make_trainer

ASSET = Path(__file__).resolve().parents[1] / "assets/pretrained/fb_swimmer_es_maml_hill_climb_linear"


def main() -> None:
    os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; MuJoCo reads it on first import
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    config = dataclasses.replace(TrainConfig.from_dict(read_asset_meta(ASSET)["config"]), horizon=args.frames - 1)
    with make_trainer(config) as trainer, tempfile.TemporaryDirectory() as out_dir:
        trainer.state = load_checkpoint(asset_paths(ASSET)[0])
        task = trainer.family.task_params(trainer.family.split_ids("test")[:1])[0]
        best, videos = best_times(
            {
                name: lambda name=name, quality=quality: render_replay_video(
                    trainer, task, Path(out_dir) / f"{name}.mp4", quality=quality
                )
                for name, quality in QUALITIES.items()
            },
            args.repeats,
        )
    for name, video in videos.items():
        assert video.frames == args.frames, f"{name}: expected {args.frames} frames, rendered {video.frames}"
    for name, seconds in best.items():
        size = f"{QUALITIES[name].width}x{QUALITIES[name].height}"
        print(f"{name:<5} {size:>8}  {seconds:6.2f} s  {args.frames / seconds:6.1f} frames/s (two renders each)")
    print(f"seconds_{args.frames}_frames_fast: {best['fast']:.2f}")
    print(f"ratio_high_vs_fast: {best['high'] / best['fast']:.2f}")


if __name__ == "__main__":
    main()
