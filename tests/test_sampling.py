"""Perturbation samplers: structure, second moments, and unbiased smoothed gradients."""

import itertools

import numpy as np
import pytest

from esmaml_core.sampling import SAMPLERS, make_sampler, rbf_kernel, sample_k_dpp


def test_antithetic_rows_come_in_mirrored_pairs(rng):
    rows = make_sampler("antithetic").draw(rng, 5, 3)
    assert rows.shape == (10, 3)
    np.testing.assert_array_equal(rows[0::2], -rows[1::2])


def test_orthogonal_blocks_are_orthogonal_with_gaussian_norms(rng):
    rows = make_sampler("orthogonal").draw(rng, 12, 6)
    for block in (rows[:6], rows[6:]):
        gram = block @ block.T
        np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0.0, atol=1e-10)
    norms = np.linalg.norm(make_sampler("orthogonal").draw(rng, 6000, 6), axis=1)
    assert np.mean(norms**2) == pytest.approx(6.0, rel=0.05)  # chi(6): E|g|^2 = 6


@pytest.mark.parametrize("name", SAMPLERS)
def test_second_moment_is_identity(name, rng):
    sampler = make_sampler(name, scale=0.1)
    rows = sampler.draw_batch(rng, 200, 10, 4).reshape(-1, 4)
    np.testing.assert_allclose(rows.T @ rows / len(rows), np.eye(4), atol=0.12)


@pytest.mark.parametrize("name", SAMPLERS)
def test_smoothed_gradient_estimator_is_unbiased_on_a_quadratic(name, rng):
    """(1/sigma) E[f(x + sigma g) g] equals grad f_sigma(x) = grad f(x) for a quadratic f."""
    dim, sigma, n = 5, 0.3, 20
    curvature = rng.normal(size=(dim, dim))
    curvature = curvature @ curvature.T / dim
    centre, x = rng.normal(size=dim), rng.normal(size=dim)

    def f(points):
        diff = points - centre
        return -0.5 * np.einsum("...i,ij,...j->...", diff, curvature, diff)

    exact = -curvature @ (x - centre)
    sampler = make_sampler(name, scale=sigma)
    directions = sampler.draw_batch(rng, 400, n, dim)
    values = f(x + sigma * directions)
    estimates = np.einsum("rn,rnp->rp", values, directions) / (directions.shape[1] * sigma)
    mean = estimates.mean(axis=0)
    standard_error = estimates.std(axis=0, ddof=1) / np.sqrt(len(estimates))
    assert np.all(np.abs(mean - exact) < 4 * standard_error + 1e-9), (mean, exact, standard_error)


def test_k_dpp_sampler_follows_determinant_probabilities(rng):
    """On a 5-point kernel, subset frequencies of the k-DPP match det(L_S) / sum det(L_S')."""
    points = rng.normal(size=(5, 2))
    kernel = rbf_kernel(points, 1.0)
    subsets = list(itertools.combinations(range(5), 2))
    weights = np.array([np.linalg.det(kernel[np.ix_(s, s)]) for s in subsets])
    expected = weights / weights.sum()
    draws = 100_000
    picks = np.sort(sample_k_dpp(rng, np.broadcast_to(kernel, (draws, 5, 5)).copy(), 2), axis=1)
    counts = np.array([np.sum((picks[:, 0] == a) & (picks[:, 1] == b)) for a, b in subsets]) / draws
    tolerance = 4 * np.sqrt(expected * (1 - expected) / draws) + 1e-3
    assert np.all(np.abs(counts - expected) < tolerance), (counts, expected)


def test_dpp_picks_are_distinct_and_more_spread_than_random(rng):
    sampler = make_sampler("dpp", scale=0.1)
    rows = sampler.draw_batch(rng, 100, 10, 3)
    assert all(len(np.unique(set_rows, axis=0)) == 10 for set_rows in rows)

    def mean_min_distance(sets):
        distance = np.linalg.norm(sets[:, :, None] - sets[:, None], axis=-1)
        distance[:, np.arange(10), np.arange(10)] = np.inf
        return distance.min(axis=-1).mean()

    gaussian = rng.normal(size=rows.shape)
    assert mean_min_distance(rows) > 1.1 * mean_min_distance(gaussian)


def test_unknown_sampler_is_refused():
    with pytest.raises(KeyError, match="unknown sampler"):
        make_sampler("sobol")


def test_orthogonal_row_norms_are_chi_distributed(rng):
    """Not just E|g|^2 = d: constant norms sqrt(d) would pass that, not Var|g|^2 = 2d."""
    norms = np.linalg.norm(make_sampler("orthogonal").draw(rng, 6000, 6), axis=1)
    assert np.var(norms**2) == pytest.approx(12.0, rel=0.15)


def test_rbf_kernel_is_the_gaussian_of_the_distance_over_twice_the_squared_bandwidth():
    points = np.array([[[0.0, 0.0], [3.0, 4.0], [1.0, 0.0]]])  # squared distances 25, 1 and 20
    kernel = rbf_kernel(points, 2.0)
    squared = np.array([[0.0, 25.0, 1.0], [25.0, 0.0, 20.0], [1.0, 20.0, 0.0]])
    np.testing.assert_allclose(kernel[0], np.exp(-squared / 8.0), rtol=1e-12)
