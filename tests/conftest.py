"""Shared pytest fixtures, and headless MuJoCo rendering for every test."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # MuJoCo picks its GL backend at first import

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
