"""Fitness shaping: z-scores and centred ranks along the last axis, ties included."""

import numpy as np
import pytest

from esmaml_core.fitness import centered_rank, shape_fitness, zscore


def test_centered_rank_spreads_distinct_values_evenly_per_row(rng):
    values = rng.normal(size=(3, 5))
    shaped = centered_rank(values)
    for row, weights in zip(values, shaped, strict=True):
        np.testing.assert_allclose(np.sort(weights), np.linspace(-0.5, 0.5, 5))
        np.testing.assert_array_equal(np.argsort(weights), np.argsort(row))


def test_tied_values_share_their_average_rank():
    np.testing.assert_allclose(centered_rank(np.array([1.0, 2.0, 2.0, 3.0])), [-0.5, 0.0, 0.0, 0.5])
    np.testing.assert_array_equal(centered_rank(np.full((2, 6), -400.0)), np.zeros((2, 6)))


def test_centered_rank_is_the_pairwise_average_rank_with_many_ties(rng):
    """Rank = number smaller + (number equal - 1) / 2, per row, against the O(n^2) definition."""
    values = rng.integers(-3, 4, size=(4, 3, 40)).astype(float)
    values[0, 0, :5] = np.inf
    values[1, 2] = -np.inf
    column, row = values[..., None, :], values[..., :, None]
    pairwise = np.sum(column < row, axis=-1) + (np.sum(column == row, axis=-1) - 1) / 2
    np.testing.assert_array_equal(centered_rank(values), pairwise / 39 - 0.5)


def test_nan_returns_rank_lowest_and_tie():
    np.testing.assert_allclose(centered_rank(np.array([1.0, np.nan, 2.0])), [0.0, -0.5, 0.5])
    np.testing.assert_allclose(centered_rank(np.array([np.nan, np.nan, 1.0])), [-0.25, -0.25, 0.5])


def test_centered_rank_of_a_million_returns_needs_no_n_by_n_table():
    """The pairwise table of 10^6 returns would be 10^12 booleans (931 GiB): sorting needs a few MB."""
    values = np.repeat(np.arange(500_000.0), 2)
    shaped = centered_rank(values)
    np.testing.assert_allclose(shaped[:2], -0.5 + 0.5 / (len(values) - 1))
    np.testing.assert_allclose(shaped[-2:], 0.5 - 0.5 / (len(values) - 1))


@pytest.mark.parametrize("method", ["zscore", "centered_rank"])
def test_antithetic_pairs_with_equal_returns_give_no_gradient(method, rng):
    """On Four Corner many returns are exactly -400: tied pairs (g, -g) must cancel."""
    directions = rng.normal(size=(50, 4))
    directions = np.concatenate([directions, -directions])
    returns = np.where(rng.random(100) < 0.9, -400.0, 0.0)
    returns[50:] = returns[:50]  # every pair ties
    gradient = shape_fitness(returns, method) @ directions
    np.testing.assert_allclose(gradient, 0.0, atol=1e-12)


def test_zscore_and_unknown_shaping():
    np.testing.assert_allclose(zscore(np.array([1.0, 3.0])), [-1.0, 1.0])
    with pytest.raises(KeyError, match="centered_rank"):
        shape_fitness(np.zeros(3), "softmax")
