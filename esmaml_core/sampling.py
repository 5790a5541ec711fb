"""Perturbation samplers: Gaussian, antithetic, orthogonal and DPP directions.

Every sampler is ``draw(rng, n, dim) -> (rows, dim)`` with rows whose second moment
matches a standard Gaussian's, so the smoothed-gradient estimator
``(1/sigma) E[f(x + sigma g) g]`` stays unbiased for quadratics:

- ``gaussian``: i.i.d. N(0, I), n rows.
- ``antithetic``: n Gaussian directions and their mirrors, 2n rows ordered
  (g1, -g1, g2, -g2, ...), so row pairs share a task.
- ``orthogonal``: blocks of ``dim`` exactly orthogonal directions with chi-distributed
  norms (Choromanski et al. 2018), n rows.
- ``dpp``: n of ``pool_factor * n`` Gaussian candidates chosen by a k-DPP with the RBF
  kernel exp(-|sigma (a - b)|^2 / (2 bandwidth^2)) (the reference code's kernel on
  sigma-scaled candidates), then rescaled so their mean squared norm is ``dim``.

``draw_batch(rng, batch, n, dim)`` draws ``batch`` independent sets at once
(batch, rows, dim), which adaptation operators use for all tasks in one call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from esmaml_core.registry import Entry, Registry


@dataclass(frozen=True)
class GaussianSampler:
    name = "gaussian"
    rows_per_direction = 1

    def draw_batch(self, rng: np.random.Generator, batch: int, n: int, dim: int) -> np.ndarray:
        return rng.standard_normal((batch, n, dim))

    def draw(self, rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
        return self.draw_batch(rng, 1, n, dim)[0]


@dataclass(frozen=True)
class AntitheticSampler:
    name = "antithetic"
    rows_per_direction = 2

    def draw_batch(self, rng: np.random.Generator, batch: int, n: int, dim: int) -> np.ndarray:
        directions = rng.standard_normal((batch, n, dim))
        return np.stack([directions, -directions], axis=2).reshape(batch, 2 * n, dim)

    def draw(self, rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
        return self.draw_batch(rng, 1, n, dim)[0]


@dataclass(frozen=True)
class OrthogonalSampler:
    name = "orthogonal"
    rows_per_direction = 1

    def draw_batch(self, rng: np.random.Generator, batch: int, n: int, dim: int) -> np.ndarray:
        blocks = -(-n // dim)
        gaussian = rng.standard_normal((batch, blocks, dim, dim))
        q, r = np.linalg.qr(gaussian)
        q *= np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]  # Haar-uniform rotation
        norms = np.linalg.norm(rng.standard_normal((batch, blocks, dim, dim)), axis=-1)
        rows = np.swapaxes(q, -1, -2) * norms[..., None]
        return rows.reshape(batch, blocks * dim, dim)[:, :n]

    def draw(self, rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
        return self.draw_batch(rng, 1, n, dim)[0]


@dataclass(frozen=True)
class DPPSampler:
    scale: float = 0.1
    bandwidth: float = 0.5
    pool_factor: int = 5
    name = "dpp"
    rows_per_direction = 1

    def draw_batch(self, rng: np.random.Generator, batch: int, n: int, dim: int) -> np.ndarray:
        pool = rng.standard_normal((batch, self.pool_factor * n, dim))
        kernel = rbf_kernel(pool * self.scale, self.bandwidth)
        chosen = sample_k_dpp(rng, kernel, n)
        selected = np.take_along_axis(pool, chosen[..., None], axis=1)
        mean_sq_norm = np.mean(np.sum(selected**2, axis=-1), axis=-1, keepdims=True)
        return selected * np.sqrt(dim / mean_sq_norm)[..., None]

    def draw(self, rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
        return self.draw_batch(rng, 1, n, dim)[0]

    def workspace_numbers(self, batch: int, n: int, dim: int) -> int:
        """How many float64 ``draw_batch`` holds at most: per set, its N = pool_factor * n candidates of
        ``dim`` numbers and their scaled copy, their kernel and its eigenvectors (three N x N arrays at the
        peak), the k-DPP's polynomial table and its projected basis."""
        pool = self.pool_factor * n
        return batch * (2 * pool * dim + 3 * pool**2 + (pool + 1) * (n + 1) + 3 * pool * n)


def rbf_kernel(points: np.ndarray, bandwidth: float) -> np.ndarray:
    """exp(-|a - b|^2 / (2 bandwidth^2)) between all rows, batched: (..., N, d) -> (..., N, N)."""
    sq_norms = np.sum(points**2, axis=-1)
    sq_dist = sq_norms[..., :, None] + sq_norms[..., None, :] - 2 * points @ np.swapaxes(points, -1, -2)
    return np.exp(-np.maximum(sq_dist, 0.0) / (2 * bandwidth**2))


def sample_k_dpp(rng: np.random.Generator, kernel: np.ndarray, k: int) -> np.ndarray:
    """Exact k-DPP samples for a batch of L-ensemble kernels (batch, N, N) -> indices (batch, k).

    Kulesza & Taskar (2012), Alg. 8 then Alg. 1: choose k eigenvectors with
    probabilities from elementary symmetric polynomials, then sample the projection DPP
    they span by sequential conditioning (a Schur complement per pick). Loops run over
    eigenvalues and picks; every operation is vectorised over the batch.
    """
    batch, size, _ = kernel.shape
    if not 1 <= k <= size:
        raise ValueError(f"k-DPP needs 1 <= k <= {size}, got k={k}")
    eigenvalues, eigenvectors = np.linalg.eigh(kernel)
    eigenvalues = np.maximum(eigenvalues, 0.0) / np.max(eigenvalues, axis=-1, keepdims=True)
    # poly[:, j, l] = e_l(lambda_1..lambda_j), the elementary symmetric polynomials
    poly = np.zeros((batch, size + 1, k + 1))
    poly[:, :, 0] = 1.0
    for j in range(1, size + 1):
        lam = eigenvalues[:, j - 1, None]
        poly[:, j, 1:] = poly[:, j - 1, 1:] + lam * poly[:, j - 1, :-1]
    rows = np.arange(batch)
    remaining = np.full(batch, k)
    keep = np.zeros((batch, size), dtype=bool)
    for j in range(size, 0, -1):
        wanted = remaining > 0
        numerator = eigenvalues[:, j - 1] * poly[rows, j - 1, np.maximum(remaining - 1, 0)]
        denominator = poly[rows, j, remaining]
        with np.errstate(invalid="ignore", divide="ignore"):
            take_prob = np.where(wanted, numerator / denominator, 0.0)
        take = rng.random(batch) < take_prob
        take |= wanted & (remaining >= j)  # numerical safety: must take all that are left
        keep[:, j - 1] = take
        remaining -= take
    # Orthonormal basis (batch, size, k) of the chosen eigenvectors; conditioning on a
    # pick i projects the basis onto the complement of its row: V <- V (I - u u^T).
    chosen = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    basis = np.take_along_axis(eigenvectors, chosen[:, None, :], axis=2)
    picks = np.empty((batch, k), dtype=np.int64)
    for pick in range(k):
        weights = np.sum(basis**2, axis=2)
        weights[rows[:, None], picks[:, :pick]] = 0.0
        cumulative = np.cumsum(weights, axis=1)
        targets = rng.random(batch) * cumulative[:, -1]
        item = np.minimum(np.sum(cumulative < targets[:, None], axis=1), size - 1)
        picks[:, pick] = item
        direction = basis[rows, item]
        direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-300)
        basis = basis - (basis @ direction[:, :, None]) * direction[:, None, :]
    return picks


SAMPLERS = Registry(
    "sampler",
    {
        "gaussian": Entry(lambda scale: GaussianSampler(), "Gaussian"),
        "antithetic": Entry(lambda scale: AntitheticSampler(), "antithetic"),
        "orthogonal": Entry(lambda scale: OrthogonalSampler(), "orthogonal"),
        "dpp": Entry(lambda scale: DPPSampler(scale=scale), "DPP"),
    },
)


def make_sampler(name: str, scale: float = 0.1):
    """The sampler called ``name``; ``scale`` is sigma, used by the DPP kernel."""
    return SAMPLERS.make(name, scale)
