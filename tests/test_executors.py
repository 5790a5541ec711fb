"""Executors: sharding, and bit-identical training runs in-process, in a process pool and on Ray."""

import multiprocessing
import signal
import socket
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from esmaml_core.config import ConfigError, TrainConfig
from esmaml_core.errors import WorkerError
from esmaml_core.executors import (
    InProcessExecutor,
    ProcessPoolRolloutExecutor,
    check_ray_head_reachable,
    join_shards,
    rollout_shard,
    shard_slices,
    single_threaded,
)
from esmaml_core.policies import make_policy
from esmaml_core.tasks import ObsNormalizer
from esmaml_core.tasks.cartpole import BIASED_SENSOR_CARTPOLE
from esmaml_core.tasks.mujoco import FB_SWIMMER
from esmaml_core.tasks.point import GOAL_2D
from esmaml_core.trainer import make_trainer
from tests.job_helpers import wait_for

SMALL = dict(perturbations=8, queries=4, eval_tasks=6, probe_tasks=2, seed=7)


def cartpole_batch(rng, batch):
    """A policy, parameters, tasks, normaliser and start noise for ``batch`` cart-pole rows."""
    policy = make_policy(4, 1, (8,))
    params = rng.normal(0.0, 0.5, (batch, policy.num_params))
    tasks = BIASED_SENSOR_CARTPOLE.task_params(rng.integers(0, 100, batch))
    normalizer = ObsNormalizer(np.array([0.1, 0.0, 0.05, 0.0]), np.array([1.0, 0.5, 0.2, 2.0]))
    return policy, params, tasks, normalizer, BIASED_SENSOR_CARTPOLE.initial_noise(rng, batch)


def test_shards_are_contiguous_balanced_and_cover_every_row():
    for rows, shards in ((10, 3), (2, 5), (7, 7), (100, 2), (0, 4)):
        slices = shard_slices(rows, shards)
        assert len(slices) == max(1, min(rows, shards))
        assert slices[0].start == 0 and slices[-1].stop == rows
        assert all(a.stop == b.start for a, b in zip(slices[:-1], slices[1:], strict=True))
        sizes = [s.stop - s.start for s in slices]
        assert max(sizes) - min(sizes) <= 1


def test_joined_shards_are_the_same_bits_for_any_sharding(rng):
    """Returns, records and observation statistics do not depend on where shards are cut."""
    policy, params, tasks, normalizer, noise = cartpole_batch(rng, 23)
    whole = BIASED_SENSOR_CARTPOLE.rollout(policy, params, tasks, normalizer, noise=noise, record=True)
    joined = {}
    for shards in (1, 2, 3, 7, 23):
        joined[shards] = join_shards(
            [
                rollout_shard(
                    BIASED_SENSOR_CARTPOLE, policy, params[r], tasks[r], normalizer, noise[r], horizon=200, record=True
                )
                for r in shard_slices(23, shards)
            ]
        )
    for rollouts in joined.values():
        for name in ("returns", "lengths", "state_sum", "state_sq_sum", "observations", "actions", "rewards"):
            np.testing.assert_array_equal(getattr(rollouts, name), getattr(whole, name))


def test_workers_step_mujoco_on_one_thread_with_the_same_results(rng, monkeypatch):
    """A worker owns one CPU: its MuJoCo batch gets one thread, and the bits do not change."""
    import mujoco.batch

    threads = []

    class RecordingBatch(mujoco.batch.Batch):
        def __init__(self, model, nsim, nthread=0, persistent=False):
            threads.append(nthread)
            super().__init__(model, nsim, nthread, persistent)

    monkeypatch.setattr(mujoco.batch, "Batch", RecordingBatch)
    policy = make_policy(FB_SWIMMER.obs_dim, FB_SWIMMER.act_dim)
    params = rng.normal(0.0, 0.1, (5, policy.num_params))
    tasks = FB_SWIMMER.task_params(rng.integers(0, 100, 5))
    arguments = (policy, params, tasks, ObsNormalizer.identity(FB_SWIMMER.obs_dim))
    noise = FB_SWIMMER.initial_noise(rng, 5)
    in_worker = rollout_shard("fb_swimmer", *arguments, noise, 30, False)
    here = InProcessExecutor().rollout(FB_SWIMMER, *arguments, noise=noise, horizon=30)
    assert threads == [1, FB_SWIMMER.nthread]
    np.testing.assert_array_equal(in_worker.returns, here.returns)
    np.testing.assert_array_equal(in_worker.state_sum, here.state_sum)
    assert single_threaded(GOAL_2D) is GOAL_2D


def test_recordings_are_dropped_unless_asked_for(rng):
    policy, params, tasks, normalizer, noise = cartpole_batch(rng, 4)
    rollouts = InProcessExecutor().rollout(
        BIASED_SENSOR_CARTPOLE, policy, params, tasks, normalizer, noise=noise, horizon=50
    )
    assert rollouts.observations is None and rollouts.actions is None and rollouts.rewards is None


def test_process_pool_runs_unregistered_families_and_stops_on_close(rng):
    """A family that is not in TASK_FAMILIES travels by value; close() ends the worker processes."""
    family = replace(GOAL_2D, name="goal_2d_short", horizon=30)
    policy = make_policy(2, 2)
    params = rng.normal(0.0, 1.0, (9, policy.num_params))
    tasks = family.task_params(rng.integers(0, 100, 9))
    arguments = (family, policy, params, tasks, ObsNormalizer.identity(2))
    options = dict(noise=family.initial_noise(rng, 9), horizon=family.horizon, record=True)
    executor = ProcessPoolRolloutExecutor(workers=2)
    try:
        pooled = executor.rollout(*arguments, **options)
        assert len(multiprocessing.active_children()) >= 2
    finally:
        executor.close()
    assert not multiprocessing.active_children()
    local = InProcessExecutor().rollout(*arguments, **options)
    for name in ("returns", "lengths", "state_sum", "state_sq_sum", "observations"):
        np.testing.assert_array_equal(getattr(pooled, name), getattr(local, name))
    assert pooled.observations.shape == (9, 31, 2)


def test_a_dead_worker_is_one_error_and_ctrl_c_is_left_to_the_main_process(rng):
    family, policy = GOAL_2D, make_policy(2, 2)
    params = rng.normal(0.0, 1.0, (4, policy.num_params))
    arguments = (family, policy, params, family.task_params(np.arange(4)), ObsNormalizer.identity(2))
    options = dict(noise=family.initial_noise(rng, 4), horizon=10)
    executor = ProcessPoolRolloutExecutor(workers=2)
    try:
        executor.rollout(*arguments, **options)
        workers = list(executor._pool._processes.values())
        ignored = executor._pool.submit(signal.getsignal, signal.SIGINT).result()
        assert ignored == signal.SIG_IGN  # workers print no traceback on Ctrl-C
        workers[0].kill()
        workers[0].join()
        # The pool's manager thread notices the death on its own time: a call made first could run
        # on the surviving worker (CPython takes a wake-up for "not broken") and succeed.
        wait_for(lambda: executor._pool._broken, 30.0)
        with pytest.raises(WorkerError, match="worker process died"):
            executor.rollout(*arguments, **options)
        assert len(executor.rollout(*arguments, **options).returns) == 4  # a new pool on the next call
    finally:
        executor.close()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        (dict(executor="threads"), "executor"),
        (dict(executor="process", workers=0), "workers"),
        (dict(executor="process", workers=1.5), "workers"),
        (dict(executor="process", ray_address="auto"), "ray_address"),
        (dict(executor="ray", ray_address=""), "ray_address"),
    ],
)
def test_bad_executor_settings_are_refused(values, field):
    with pytest.raises(ConfigError) as error:
        TrainConfig(**values).validate()
    assert error.value.field == field


def run(task: str, executor: str, iterations: int = 3):
    """Metrics (timings dropped), probe paths, parameters and observation statistics of a short run."""
    trainer = make_trainer(TrainConfig(task=task, executor=executor, workers=2, **SMALL))
    try:
        results = [trainer.step(probe=iteration == 1) for iteration in range(iterations)]
    finally:
        trainer.close()
    metrics = [{**result.metrics(), "wall_time": 0.0, "iteration_seconds": 0.0} for result in results]
    return metrics, results[1].probe.adapted_paths, trainer.state.params, trainer.state.obs_stats


def assert_same_run(actual, expected):
    metrics, paths, params, stats = actual
    assert metrics == expected[0]
    np.testing.assert_array_equal(paths, expected[1])
    np.testing.assert_array_equal(params, expected[2])
    assert stats.count == expected[3].count
    np.testing.assert_array_equal(stats.total, expected[3].total)
    np.testing.assert_array_equal(stats.total_sq, expected[3].total_sq)


@pytest.fixture(scope="module")
def inprocess_runs():
    return {task: run(task, "inprocess") for task in ("biased_sensor_cartpole", "goal_2d")}


@pytest.mark.parametrize("task", ["biased_sensor_cartpole", "goal_2d"])
def test_process_pool_gives_the_same_run_as_inprocess(task, inprocess_runs):
    assert_same_run(run(task, "process"), inprocess_runs[task])


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install -r requirements-ray.txt)")
    ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


@pytest.mark.parametrize("task", ["biased_sensor_cartpole", "goal_2d"])
def test_ray_gives_the_same_run_as_inprocess(task, inprocess_runs, local_ray):
    assert_same_run(run(task, "ray"), inprocess_runs[task])
    assert local_ray.is_initialized()  # the trainer did not shut down a Ray it did not start


def test_pg_maml_stochastic_policy_gives_the_same_run_in_a_process_pool():
    """PG-MAML passes its own (stateful, per-rollout) stochastic policy through the executor."""
    params = {}
    for executor in ("inprocess", "process"):
        config = TrainConfig.for_method(
            method="pg_maml", task="biased_sensor_cartpole", queries=4, task_batch=3, eval_tasks=4, executor=executor
        )
        trainer = make_trainer(config)
        try:
            results = [trainer.step() for _ in range(2)]
        finally:
            trainer.close()
        params[executor] = (results[-1].metrics()["post_adaptation_return"], trainer.state.params)
    assert params["process"][0] == params["inprocess"][0]
    np.testing.assert_array_equal(params["process"][1], params["inprocess"][1])


def test_a_trainer_used_as_a_context_shuts_its_pool_down():
    """eval, render and export load trainers for one job: their worker processes must not outlive it."""
    with make_trainer(TrainConfig(task="goal_2d", executor="process", workers=2, **SMALL)) as trainer:
        trainer.evaluate(2)
        assert len(multiprocessing.active_children()) >= 2
    assert not multiprocessing.active_children()


UNREACHABLE_RAY = """
import socket, sys
import numpy as np
from esmaml_core.errors import WorkerError
from esmaml_core.executors import make_executor
from tests.test_executors import cartpole_batch
from esmaml_core.tasks.cartpole import BIASED_SENSOR_CARTPOLE
with socket.socket() as closed:  # a port on this machine that nothing listens on
    closed.bind(("127.0.0.1", 0))
    address = f"127.0.0.1:{closed.getsockname()[1]}"
policy, params, tasks, normalizer, noise = cartpole_batch(np.random.default_rng(0), 4)
try:
    make_executor("ray", workers=1, ray_address=address).rollout(
        BIASED_SENSOR_CARTPOLE, policy, params, tasks, normalizer, noise=noise, horizon=5
    )
except WorkerError as error:
    print(error)
"""


def test_an_unreachable_ray_address_is_a_worker_error_at_once():
    """Ray retries an address that takes no connection for minutes; the executor says so within seconds.

    In a process of its own: in this one another test's Ray may be running, which the executor would use.
    """
    pytest.importorskip("ray", reason="ray is not installed (pip install -r requirements-ray.txt)")
    result = subprocess.run([sys.executable, "-c", UNREACHABLE_RAY], capture_output=True, text=True, timeout=60)
    assert result.stdout.startswith("cannot reach the Ray cluster at 127.0.0.1:"), result.stderr[-2000:]
    check_ray_head_reachable("auto")  # other forms are left to Ray
    check_ray_head_reachable("ray://head:10001")


def test_a_bracketed_ipv6_ray_address_is_reached():
    try:
        listening = socket.socket(socket.AF_INET6)
        listening.bind(("::1", 0))
    except OSError as error:
        pytest.skip(f"no IPv6 loopback here ({error})")
    with listening:
        listening.listen()
        check_ray_head_reachable(f"[::1]:{listening.getsockname()[1]}")
