"""Shared pytest fixtures: small, fast configurations for the core tests."""

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
