"""Shared pytest fixtures, and headless MuJoCo rendering for every test."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # MuJoCo picks its GL backend at first import
# Tests read videos back with imageio, whose ffmpeg reader would otherwise start with a Python
# preexec_fn: forking this process, where JAX runs, makes JAX warn (the library's writer does not).
os.environ.setdefault("IMAGEIO_FFMPEG_NO_PREVENT_SIGINT", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
