"""Where rollouts run: in this process, in a local process pool, or on Ray.

An executor runs one batched rollout of B rows: it splits the rows into contiguous
shards (one per worker), calls ``family.rollout`` on every shard in parallel and joins
the shards in row order. Executors are not part of the math, so a run gives bit-identical
results on every executor and with any number of workers:

- the caller draws all start noise up front, in row order, so a rollout is a pure
  function of its rows (``TaskFamily.initial_noise``);
- observation statistics are summed per row (in time order) inside each shard, and the per-row sums
  are added up over all B rows by the caller. A shard's own ``state_sum`` would depend
  on where the shard boundaries fall (floating-point addition is not associative), so
  it is not used. The price is that every shard records its observations: little next
  to MuJoCo physics, but it can double the time of the cheap numpy tasks at thousands of
  rows. (Per-row sums kept by the task families' ``EpisodeBatch`` would remove it.)

``inprocess`` (the default) runs the whole batch as one shard here. ``process`` uses a
``concurrent.futures`` pool of ``workers`` processes started with ``forkserver`` (safe
when the parent has threads, e.g. Ray or JAX); as with any spawned pool, a script that
uses it needs an ``if __name__ == "__main__":`` guard. ``ray`` runs shards as Ray tasks
(one CPU each); without a running Ray it joins the cluster at ``ray_address`` or, if
that is not given, at ``$RAY_ADDRESS`` (``"auto"``, ``"host:6379"``,
``"ray://host:10001"``), and with neither it starts a local Ray with ``workers`` CPUs.
Every node of a cluster needs this package installed (``pip install -e .``). Ray is
optional: ``pip install -r requirements-ray.txt``.

Registered task families travel to workers by name and are looked up there (MuJoCo
models compile once per worker); other families are pickled with each shard.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from esmaml_core.tasks import TASK_FAMILIES
from esmaml_core.tasks.base import BatchPolicy, ObsNormalizer, Rollouts, TaskFamily

EXECUTORS = ("inprocess", "process", "ray")


class Executor(Protocol):
    """Runs ``family.rollout`` for a batch of rows, possibly split across workers."""

    def rollout(
        self,
        family: TaskFamily,
        policy: BatchPolicy,
        params: np.ndarray,
        tasks: np.ndarray,
        normalizer: ObsNormalizer,
        *,
        noise: np.ndarray,
        horizon: int,
        record: bool = False,
    ) -> Rollouts: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ShardRollouts:
    """One shard's rollouts (recordings only if asked for) with its observation sums per row (b, obs_dim)."""

    rollouts: Rollouts
    row_state_sum: np.ndarray
    row_state_sq_sum: np.ndarray


def shard_slices(rows: int, shards: int) -> list[slice]:
    """Contiguous row ranges of nearly equal size, at most ``rows`` of them (one if there are no rows)."""
    count = max(1, min(shards, rows))
    edges = [rows * index // count for index in range(count + 1)]
    return [slice(start, stop) for start, stop in zip(edges[:-1], edges[1:], strict=True)]


def _family_reference(family: TaskFamily) -> TaskFamily | str:
    """The family's name if it is the registered one (cheap to send), else the family itself."""
    return family.name if TASK_FAMILIES.get(family.name) is family else family


def _resolve_family(reference: TaskFamily | str) -> TaskFamily:
    return TASK_FAMILIES[reference] if isinstance(reference, str) else reference


def rollout_shard(
    family: TaskFamily | str,
    policy: BatchPolicy,
    params: np.ndarray,
    tasks: np.ndarray,
    normalizer: ObsNormalizer,
    noise: np.ndarray,
    horizon: int,
    record: bool,
) -> ShardRollouts:
    """Roll out one shard and sum each row's observations over the steps it lived, in time order.

    Each row's sums depend on that row alone, so they are the same bits in any shard.
    """
    rollouts = _resolve_family(family).rollout(
        policy, params, tasks, normalizer, noise=noise, horizon=horizon, record=True
    )
    row_state_sum = np.zeros((len(params), rollouts.observations.shape[-1]))
    row_state_sq_sum = np.zeros_like(row_state_sum)
    for t in range(int(rollouts.lengths.max(initial=0))):
        seen = np.where((t < rollouts.lengths)[:, None], rollouts.observations[:, t], 0.0)
        row_state_sum += seen
        row_state_sq_sum += seen * seen
    if not record:
        rollouts = replace(rollouts, observations=None, actions=None, rewards=None)
    return ShardRollouts(rollouts, row_state_sum, row_state_sq_sum)


def join_shards(shards: list[ShardRollouts]) -> Rollouts:
    """Concatenate shards in row order; the observation sums are added over all rows at once."""

    def concatenated(name: str) -> np.ndarray | None:
        parts = [getattr(shard.rollouts, name) for shard in shards]
        return None if parts[0] is None else np.concatenate(parts)

    return Rollouts(
        returns=concatenated("returns"),
        lengths=concatenated("lengths"),
        state_sum=np.concatenate([shard.row_state_sum for shard in shards]).sum(axis=0),
        state_sq_sum=np.concatenate([shard.row_state_sq_sum for shard in shards]).sum(axis=0),
        observations=concatenated("observations"),
        actions=concatenated("actions"),
        rewards=concatenated("rewards"),
    )


def _shard_arguments(workers, family, policy, params, tasks, normalizer, noise, horizon, record) -> list[tuple]:
    """The ``rollout_shard`` arguments of each contiguous shard."""
    reference = _family_reference(family)
    return [
        (reference, policy, params[rows], tasks[rows], normalizer, noise[rows], horizon, record)
        for rows in shard_slices(len(params), workers)
    ]


@dataclass
class InProcessExecutor:
    """Runs the whole batch as one shard in this process."""

    def rollout(self, family, policy, params, tasks, normalizer, *, noise, horizon, record=False) -> Rollouts:
        return join_shards([rollout_shard(family, policy, params, tasks, normalizer, noise, horizon, record)])

    def close(self) -> None:
        """Nothing to release."""


@dataclass
class ProcessPoolRolloutExecutor:
    """One shard per worker process; the pool starts on first use and lives until ``close()``."""

    workers: int = 2
    _pool: ProcessPoolExecutor | None = field(default=None, init=False, repr=False)

    def rollout(self, family, policy, params, tasks, normalizer, *, noise, horizon, record=False) -> Rollouts:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("forkserver"))
        shards = _shard_arguments(self.workers, family, policy, params, tasks, normalizer, noise, horizon, record)
        futures = [self._pool.submit(rollout_shard, *arguments) for arguments in shards]
        return join_shards([future.result() for future in futures])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


@dataclass
class RayRolloutExecutor:
    """One shard per Ray task; joins ``address`` (or $RAY_ADDRESS) or starts a local Ray on first use.

    ``close()`` shuts Ray down only if this executor started it.
    """

    workers: int = 2
    address: str | None = None
    _remote_shard: object = field(default=None, init=False, repr=False)
    _started_ray: bool = field(default=False, init=False, repr=False)

    def _remote(self):
        import ray

        if not ray.is_initialized():
            address = self.address or os.environ.get("RAY_ADDRESS")
            if address:
                ray.init(address=address)
            else:
                ray.init(num_cpus=self.workers, include_dashboard=False)
            self._started_ray = True
        if self._remote_shard is None:
            self._remote_shard = ray.remote(num_cpus=1)(rollout_shard)
        return ray, self._remote_shard

    def rollout(self, family, policy, params, tasks, normalizer, *, noise, horizon, record=False) -> Rollouts:
        ray, remote_shard = self._remote()
        shards = _shard_arguments(self.workers, family, policy, params, tasks, normalizer, noise, horizon, record)
        return join_shards(ray.get([remote_shard.remote(*arguments) for arguments in shards]))

    def close(self) -> None:
        if self._started_ray:
            import ray

            ray.shutdown()
            self._started_ray = False
        self._remote_shard = None


def make_executor(name: str, workers: int = 2, ray_address: str | None = None) -> Executor:
    """The executor called ``name`` (one of EXECUTORS) with ``workers`` shards."""
    if name == "inprocess":
        return InProcessExecutor()
    if name == "process":
        return ProcessPoolRolloutExecutor(workers)
    if name == "ray":
        return RayRolloutExecutor(workers, ray_address)
    raise ValueError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
