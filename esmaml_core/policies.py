"""Deterministic linear and MLP policies over flat parameter vectors, batched over rows.

A policy is a shape, not weights: ``params`` is a (B, P) array with one flat vector
per row, and ``act`` evaluates all B policies on their own observations in one pass
(``act_in_groups``: rows that share a (G, P) table's parameters, one product per group).
The layout of a flat vector is, layer by layer, the weight matrix (out x in, row-major)
then the bias. Hidden layers use ReLU (or tanh, ``ACTIVATIONS``) and the output tanh
(actions in [-1, 1]), as in the ES-MAML reference code (``DeterministicNumpyPolicy``).

Initialisation: hidden-layer weights N(0, 2 / fan_in) for ReLU (He), N(0, 2 / (fan_in +
fan_out)) for tanh (Glorot), biases zero, and the output layer all zero, so the initial
policy outputs 0 everywhere (the linear policy starts at zero, as in ARS, Mania et al.
2018). The reference code draws the output layer like the others; on Four Corner that
random linear map often pins the agent near the origin, where the sparse reward gives ES
no signal (docs/ARCHITECTURE.md has the measurements).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from types import ModuleType

import numpy as np

from esmaml_core.registry import Entry, Registry


@dataclass(frozen=True)
class Activation:
    """A hidden-layer nonlinearity: ``apply(x, xp)`` with ``xp`` the array module (numpy or jax.numpy),
    so the numpy policy and the JAX Gaussian policy compute the same function; ``init_std(fan_in,
    fan_out)`` the standard deviation of its layers' initial weights."""

    apply: Callable[[object, ModuleType], object]
    init_std: Callable[[int, int], float]


def he_std(fan_in: int, fan_out: int) -> float:
    return np.sqrt(2.0 / fan_in)


def glorot_std(fan_in: int, fan_out: int) -> float:
    return np.sqrt(2.0 / (fan_in + fan_out))


ACTIVATIONS = Registry(
    "activation",
    {
        "relu": Entry(Activation(lambda x, xp: xp.maximum(x, 0.0), he_std), "ReLU"),
        "tanh": Entry(Activation(lambda x, xp: xp.tanh(x), glorot_std), "tanh"),
    },
)


@dataclass(frozen=True)
class MLPPolicy:
    """MLP from ``obs_dim`` to ``act_dim`` (``activation`` hidden, tanh output); ``hidden=()`` is the linear policy."""

    obs_dim: int
    act_dim: int
    hidden: tuple[int, ...] = ()
    activation: str = "relu"

    @cached_property
    def layer_shapes(self) -> list[tuple[int, int]]:
        """(out, in) of each layer."""
        sizes = (self.obs_dim, *self.hidden, self.act_dim)
        return [(fan_out, fan_in) for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True)]

    @cached_property
    def num_params(self) -> int:
        return sum(fan_out * fan_in + fan_out for fan_out, fan_in in self.layer_shapes)

    def init(self, rng: np.random.Generator) -> np.ndarray:
        """A fresh flat parameter vector: hidden weights N(0, activation's init std), zero biases, zero output layer."""
        pieces = []
        init_std = ACTIVATIONS[self.activation].init_std
        for fan_out, fan_in in self.layer_shapes[:-1]:
            pieces.append(rng.normal(0.0, init_std(fan_in, fan_out), fan_out * fan_in))
            pieces.append(np.zeros(fan_out))
        fan_out, fan_in = self.layer_shapes[-1]
        pieces.append(np.zeros(fan_out * fan_in + fan_out))
        return np.concatenate(pieces)

    def layers(self, params: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Views (weights (..., out, in), bias (..., out)) of a (..., P) parameter array."""
        lead = params.shape[:-1]
        views, offset = [], 0
        for fan_out, fan_in in self.layer_shapes:
            weights = params[..., offset : offset + fan_out * fan_in]
            offset += fan_out * fan_in
            bias = params[..., offset : offset + fan_out]
            offset += fan_out
            views.append((weights.reshape(*lead, fan_out, fan_in), bias))
        return views

    def act(self, params: np.ndarray, observations: np.ndarray) -> np.ndarray:
        """Actions (B, act_dim) of the B policies ``params`` (B, P) at ``observations`` (B, obs_dim)."""
        return self._forward(self.layers(params), observations, batched_matvec)

    def act_in_groups(
        self, params: np.ndarray, groups: np.ndarray, positions: np.ndarray, group_size: int, observations: np.ndarray
    ) -> np.ndarray:
        """Actions (B, act_dim) of rows that share parameters: row b runs ``params[groups[b]]`` ((G, P) table).

        Each group's rows go through a layer as one (group_size, in) matrix product, row b at
        ``positions[b]`` (< ``group_size``) of its group's block, so one copy of the weights serves
        the whole group. A row's action depends on its group and position only, not on which other
        rows are evaluated with it (a BLAS product's rounding may depend on the product's shape and
        on where a row sits in it): splitting rows across workers cannot change it. A linear
        policy's rows run one by one (``act``): its few weights cost less than the grouping.
        """
        if not self.hidden:
            return self.act(params[groups], observations)
        first = groups.min()
        blocks = groups - first
        layers = [(weights, bias[:, None]) for weights, bias in self.layers(params[first : groups.max() + 1])]
        padded = np.zeros((len(layers[0][0]), group_size, observations.shape[-1]))
        padded[blocks, positions] = observations
        return self._forward(layers, padded, grouped_matmul)[blocks, positions]

    def _forward(self, layers: list[tuple[np.ndarray, np.ndarray]], inputs: np.ndarray, product) -> np.ndarray:
        """The network on ``inputs``, ``product(weights, hidden)`` applying one layer's weights."""
        *hidden_layers, (weights, bias) = layers
        activation = ACTIVATIONS[self.activation].apply
        hidden = inputs
        for hidden_weights, hidden_bias in hidden_layers:
            hidden = product(hidden_weights, hidden)
            hidden += hidden_bias
            hidden = activation(hidden, np)
        actions = product(weights, hidden)
        actions += bias
        return np.tanh(actions, out=actions)


NARROW_LAYER = 8


def batched_matvec(weights: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """weights[b] @ vectors[b] for every row b: (B, out, in), (B, in) -> (B, out).

    Narrow inputs (the linear policy's 2-D positions) go column by column, which avoids
    numpy's per-row overhead for tiny matrices; wider ones use einsum.
    """
    if weights.shape[-1] > NARROW_LAYER:
        return np.einsum("boi,bi->bo", weights, vectors)
    total = weights[..., 0] * vectors[..., 0, None]
    for column in range(1, weights.shape[-1]):
        total += weights[..., column] * vectors[..., column, None]
    return total


def grouped_matmul(weights: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """weights[g] applied to every row of blocks[g]: (G, out, in), (G, Q, in) -> (G, Q, out), one GEMM per group."""
    return blocks @ weights.swapaxes(-1, -2)


def make_policy(obs_dim: int, act_dim: int, hidden: tuple[int, ...] = (), activation: str = "relu") -> MLPPolicy:
    """The deterministic policy for a task: linear when ``hidden`` is empty."""
    return MLPPolicy(obs_dim, act_dim, tuple(hidden), activation)


POLICIES = Registry(
    "policy",
    {
        "linear": Entry(lambda hidden: (), "linear"),
        "mlp": Entry(tuple, "MLP"),
    },
)
"""Policy class -> its hidden layer sizes given the configured ones (a linear policy has none)."""
