"""Policies over flat parameter vectors: layout, batched forward, initialisation."""

import numpy as np
import pytest

from esmaml_core.policies import make_policy


def test_parameter_count_and_layout():
    policy = make_policy(3, 2, (4, 5))
    assert policy.num_params == (4 * 3 + 4) + (5 * 4 + 5) + (2 * 5 + 2)
    params = np.arange(policy.num_params, dtype=float)
    (w1, b1), (w2, b2), (w3, b3) = policy.layers(params)
    assert w1.shape == (4, 3) and b1.shape == (4,) and w3.shape == (2, 5)
    np.testing.assert_array_equal(w1.ravel(), params[:12])
    np.testing.assert_array_equal(b1, params[12:16])


def test_batched_forward_matches_per_row_formula(rng):
    policy = make_policy(3, 2, (4,))
    params = rng.normal(size=(7, policy.num_params))
    observations = rng.normal(size=(7, 3))
    actions = policy.act(params, observations)
    for row in range(7):
        (w1, b1), (w2, b2) = policy.layers(params[row])
        expected = np.tanh(w2 @ np.maximum(w1 @ observations[row] + b1, 0.0) + b2)  # ReLU hidden, tanh out
        np.testing.assert_allclose(actions[row], expected, rtol=1e-12)


@pytest.mark.parametrize("hidden", [(), (64, 64)])
def test_grouped_forward_is_the_per_row_forward_and_independent_of_the_other_rows(rng, hidden):
    policy = make_policy(2, 2, hidden, "tanh")
    table = rng.normal(size=(5, policy.num_params))
    groups, positions = np.repeat(np.arange(5), 20), np.tile(np.arange(20), 5)
    observations = rng.normal(size=(100, 2))
    actions = policy.act_in_groups(table, groups, positions, 20, observations)
    np.testing.assert_allclose(actions, policy.act(table[groups], observations), rtol=1e-12, atol=1e-15)
    # shards that cut groups into pieces of 7 and 13 rows, or one row: BLAS rounds such products differently
    for shard in (slice(0, 7), slice(7, 53), slice(53, 100), slice(30, 31)):
        alone = policy.act_in_groups(table, groups[shard], positions[shard], 20, observations[shard])
        np.testing.assert_array_equal(alone, actions[shard])


def test_linear_policy_is_tanh_of_affine_map(rng):
    policy = make_policy(2, 2)
    params = rng.normal(size=(5, policy.num_params))
    observations = rng.normal(size=(5, 2))
    weights, bias = params[:, :4].reshape(5, 2, 2), params[:, 4:]
    expected = np.tanh(np.einsum("boi,bi->bo", weights, observations) + bias)
    np.testing.assert_allclose(policy.act(params, observations), expected, rtol=1e-12)


def test_initial_policy_outputs_zero_but_hidden_layers_are_random(rng):
    policy = make_policy(4, 3, (16,))
    params = policy.init(rng)
    (w1, b1), (w2, b2) = policy.layers(params)
    assert np.all(w2 == 0) and np.all(b2 == 0) and np.all(b1 == 0)
    assert abs(np.var(w1) - 2.0 / 4) < 0.25  # N(0, 2 / fan_in)
    np.testing.assert_array_equal(policy.act(params[None], rng.normal(size=(1, 4))), 0.0)
