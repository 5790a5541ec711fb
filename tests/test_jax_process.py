"""A process that runs JAX forks no Python: forking it warns and may deadlock (JAX's threads do not survive).

The process pool starts workers from a forkserver, and the video encoder starts in its own
session without a Python ``preexec_fn``, so neither runs the at-fork handlers where JAX warns.
Checked in a fresh interpreter whose JAX threads are running (``fork`` as the pool's start
method, or imageio's own ffmpeg writer, makes this test fail).
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JAX_THEN_POOL_AND_VIDEO = """
import sys
import jax.numpy as jnp
import numpy as np
from esmaml_core.config import TrainConfig
from esmaml_core.render import write_mp4
from esmaml_core.trainer import make_trainer

if __name__ == "__main__":
    assert float(jnp.arange(3.0).sum()) == 3.0  # JAX's threads are running
    with make_trainer(TrainConfig(task="goal_2d", perturbations=4, queries=4, eval_tasks=4, executor="process")) as t:
        t.step()
    write_mp4((np.full((32, 48, 3), shade, np.uint8) for shade in range(0, 250, 25)), sys.argv[1], fps=10)
    print("done")
"""


def test_pool_workers_and_the_video_encoder_start_without_a_jax_fork_warning(tmp_path):
    script = tmp_path / "jax_then_pool_and_video.py"
    script.write_text(JAX_THEN_POOL_AND_VIDEO)
    video = tmp_path / "clip.mp4"
    done = subprocess.run(
        [sys.executable, "-W", "default", str(script), str(video)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr
    assert "fork" not in done.stderr, done.stderr
    assert video.stat().st_size > 0
