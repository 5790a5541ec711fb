"""Where rollouts run: in this process, in a local process pool, or on Ray.

An executor runs one batched rollout of B rows: it splits the rows into contiguous
shards (one per worker), calls ``family.rollout`` on every shard in parallel and joins
the shards in row order. Executors are not part of the math, so a run gives bit-identical
results on every executor and with any number of workers:

- the caller draws all start noise up front, in row order, so a rollout is a pure
  function of its rows (``TaskFamily.initial_noise``);
- observation statistics come per row (``Rollouts.state_sum`` is (B, obs_dim), summed in
  time order by ``EpisodeBatch``) and the caller adds them over all B rows at once, so
  they do not depend on where the shard boundaries fall (floating-point addition is not
  associative).

``inprocess`` (the default) runs the whole batch as one shard here. ``process`` uses a
``concurrent.futures`` pool of ``workers`` processes started with ``forkserver`` (safe
when the parent has threads, e.g. Ray or JAX); as with any spawned pool, a script that
uses it needs an ``if __name__ == "__main__":`` guard. ``ray`` runs shards as Ray tasks
(one CPU each); without a running Ray it joins the cluster at ``ray_address`` or, if
that is not given, at ``$RAY_ADDRESS`` (``"auto"``, ``"host:6379"``,
``"ray://host:10001"``), and with neither it starts a local Ray with ``workers`` CPUs. A
``host:port`` that takes no connection within ``RAY_CONNECT_SECONDS`` is a ``WorkerError``
(Ray itself retries for minutes).
Every node of a cluster needs this package installed (``pip install -e .``). Ray is
optional: ``pip install -r requirements-ray.txt``.

Registered task families travel to workers by name and are looked up there (MuJoCo
models compile once per worker); other families are pickled with each shard. A worker
owns one CPU, so in a worker a family with threaded physics (``nthread``, the MuJoCo
families) runs on one thread: the workers together use every core without
oversubscribing them. Thread counts never change results.
"""

from __future__ import annotations

import dataclasses
import functools
import multiprocessing
import os
import signal
import socket
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from esmaml_core.errors import WorkerError
from esmaml_core.registry import Entry, Registry
from esmaml_core.tasks import TASK_FAMILIES
from esmaml_core.tasks.base import BatchPolicy, ObsNormalizer, Rollouts, TaskFamily


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


def ignore_interrupts() -> None:
    """In a worker: leave Ctrl-C to the main process, which stops the run (no traceback per worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def shard_slices(rows: int, shards: int) -> list[slice]:
    """Contiguous row ranges of nearly equal size, at most ``rows`` of them (one if there are no rows)."""
    count = max(1, min(shards, rows))
    edges = [rows * index // count for index in range(count + 1)]
    return [slice(start, stop) for start, stop in zip(edges[:-1], edges[1:], strict=True)]


def _family_reference(family: TaskFamily) -> TaskFamily | str:
    """The family's name if it is the registered one (cheap to send), else the family itself."""
    return family.name if TASK_FAMILIES.get(family.name) is family else family


def single_threaded(family: TaskFamily) -> TaskFamily:
    """The family with its physics on one thread, if it has a thread count (``nthread``)."""
    return dataclasses.replace(family, nthread=1) if getattr(family, "nthread", 1) != 1 else family


@functools.cache
def _worker_family(name: str) -> TaskFamily:
    """A registered family as a worker runs it: one thread, one copy per worker process."""
    return single_threaded(TASK_FAMILIES[name])


def _resolve_family(reference: TaskFamily | str) -> TaskFamily:
    return _worker_family(reference) if isinstance(reference, str) else single_threaded(reference)


def rollout_shard(
    family: TaskFamily | str,
    policy: BatchPolicy,
    params: np.ndarray,
    tasks: np.ndarray,
    normalizer: ObsNormalizer,
    noise: np.ndarray,
    horizon: int,
    record: bool,
) -> Rollouts:
    """Roll out one shard in a worker, which owns one CPU (the function workers run)."""
    return _resolve_family(family).rollout(
        policy, params, tasks, normalizer, noise=noise, horizon=horizon, record=record
    )


def join_shards(shards: list[Rollouts]) -> Rollouts:
    """Concatenate shards' rollouts in row order."""

    def concatenated(name: str) -> np.ndarray | None:
        parts = [getattr(shard, name) for shard in shards]
        return None if parts[0] is None else np.concatenate(parts)

    return Rollouts(**{name: concatenated(name) for name in Rollouts.__dataclass_fields__})


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
        return family.rollout(policy, params, tasks, normalizer, noise=noise, horizon=horizon, record=record)

    def close(self) -> None:
        """Nothing to release."""


@dataclass
class ProcessPoolRolloutExecutor:
    """One shard per worker process; the pool starts on first use and lives until ``close()``."""

    workers: int = 2
    _pool: ProcessPoolExecutor | None = field(default=None, init=False, repr=False)

    def rollout(self, family, policy, params, tasks, normalizer, *, noise, horizon, record=False) -> Rollouts:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=ignore_interrupts)
        shards = _shard_arguments(self.workers, family, policy, params, tasks, normalizer, noise, horizon, record)
        try:
            futures = [self._pool.submit(rollout_shard, *arguments) for arguments in shards]
            return join_shards([future.result() for future in futures])
        except BrokenProcessPool as error:
            self._pool = None
            raise WorkerError(f"a rollout worker process died ({error})") from error

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


RAY_CONNECT_SECONDS = 10.0


def check_ray_head_reachable(address: str, timeout: float = RAY_CONNECT_SECONDS) -> None:
    """WorkerError if a ``host:port`` Ray address takes no TCP connection within ``timeout`` seconds.

    Other forms (``auto``, ``ray://...``) are left to Ray.
    """
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()  # [::1]:6379 too
    except OSError as error:
        raise WorkerError(f"cannot reach the Ray cluster at {address} ({error.strerror or error})") from error


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
                check_ray_head_reachable(address)
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


EXECUTORS = Registry(
    "executor",
    {
        "inprocess": Entry(lambda workers, ray_address: InProcessExecutor(), "in this process"),
        "process": Entry(lambda workers, ray_address: ProcessPoolRolloutExecutor(workers), "process pool"),
        "ray": Entry(RayRolloutExecutor, "Ray"),
    },
)


def make_executor(name: str, workers: int = 2, ray_address: str | None = None) -> Executor:
    """The executor called ``name`` with ``workers`` shards."""
    return EXECUTORS.make(name, workers, ray_address)
