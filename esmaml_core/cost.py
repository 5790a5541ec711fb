"""What one meta-iteration of a config costs, known before anything is allocated.

``iteration_cost`` counts the environment steps of one iteration and estimates the
memory of its largest batched arrays (parameter rows, query directions, the kernels of
DPP sampling, and the paths recorded on probe iterations if the run has probe tasks),
from the config and the task's dimensions alone. ``TrainConfig.validate`` refuses a run
whose estimate is above ``memory_cap()``: half the machine's memory, at most
``MAX_ITERATION_BYTES``. The estimate errs high: it counts every array of a stage as
alive at once.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from esmaml_core.methods import PG_METHODS
from esmaml_core.sampling import SAMPLERS, DPPSampler

BYTES_PER_NUMBER = 8  # float64 everywhere
MAX_ITERATION_BYTES = 8 * 2**30
ARRAYS_PER_PARAMETER_ROW = 3  # queried parameters, their directions, and one temporary
ARRAYS_PER_RECORDED_STEP = 4  # observations, actions, rewards and the PG loss batch
PG_COPIES = 2  # PG-MAML keeps a batch's paths twice: as recorded and as its normalised loss batch


@dataclass(frozen=True)
class IterationCost:
    env_steps: int
    peak_bytes: int

    @property
    def peak_gib(self) -> float:
        return self.peak_bytes / 2**30


def memory_cap() -> int:
    """Half of this machine's memory, at most MAX_ITERATION_BYTES."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        physical = 2 * MAX_ITERATION_BYTES
    return min(MAX_ITERATION_BYTES, physical // 2)


def num_params(obs_dim: int, act_dim: int, hidden: tuple[int, ...]) -> int:
    sizes = (obs_dim, *hidden, act_dim)
    return sum(fan_in * fan_out + fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=False))


def iteration_cost(config, obs_dim: int, act_dim: int, horizon: int) -> IterationCost:
    """Env steps and peak memory of one meta-iteration of ``config`` (a TrainConfig) on a task of these sizes."""
    params = num_params(obs_dim, act_dim, config.hidden_sizes)
    recorded_step = ARRAYS_PER_RECORDED_STEP * (obs_dim + act_dim) * BYTES_PER_NUMBER
    if config.method in PG_METHODS:
        rows = (config.task_batch + config.eval_tasks) * config.queries
        steps = rows * horizon * (config.inner_steps + 1)
        baseline_features = (2 * obs_dim + 4) * BYTES_PER_NUMBER  # obs, obs^2, t, t^2, t^3, 1
        memory = steps * PG_COPIES * (recorded_step + baseline_features)
        return IterationCost(steps, memory + rows * params * BYTES_PER_NUMBER * ARRAYS_PER_PARAMETER_ROW)
    sampler = SAMPLERS.make(config.sampler, config.sigma)
    perturbation_rows = config.perturbations * sampler.rows_per_direction  # antithetic: 2n
    if config.method == "es_maml_first_order":
        starts = config.task_batch + config.eval_tasks
        query_rows = starts * (config.queries + 1)
        outer_rows = config.task_batch * (perturbation_rows + 1)
        steps = (query_rows + outer_rows + config.eval_tasks) * horizon
        parameter_rows = max(query_rows, outer_rows)
        direction_sets = config.task_batch  # one set of perturbations per training task
    else:
        starts = perturbation_rows + config.eval_tasks
        query_rows = starts * (config.queries + 1)
        steps = (query_rows + starts) * horizon
        parameter_rows = query_rows
        direction_sets = 1
    memory = parameter_rows * params * BYTES_PER_NUMBER * ARRAYS_PER_PARAMETER_ROW
    if isinstance(sampler, DPPSampler):
        memory += sampler.workspace_numbers(direction_sets, config.perturbations, params) * BYTES_PER_NUMBER
    if config.operator == "dpp":  # every start draws its K queries from a k-DPP
        memory += DPPSampler().workspace_numbers(starts, config.queries, params) * BYTES_PER_NUMBER
    if config.probe_tasks > 0:  # probe iterations record every query's path
        memory += query_rows * (horizon + 1) * recorded_step
    return IterationCost(steps, memory)


PROBE_ROWS, PROBE_STEPS = 256, 20  # the quick measurement: this many rows for this many steps
PROBE_READINGS, PROBE_SECONDS = 5, 0.2


def measured_steps_per_second(config) -> float:
    """Env steps per second of a short batched rollout of the config's task and policy on this machine.

    The rows are random policies on random tasks: a rough measure of the simulator and
    policy cost, about a millisecond for point tasks and about a second for MuJoCo. The
    fastest of up to ``PROBE_READINGS`` readings, taken while they add up to less than
    ``PROBE_SECONDS``: one millisecond-long reading in a busy dashboard server (other
    sessions' threads, a training job) came out up to 35 times too slow.
    """
    from esmaml_core.policies import make_policy
    from esmaml_core.tasks import TASK_FAMILIES, ObsNormalizer

    family = TASK_FAMILIES[config.task]
    policy = make_policy(family.obs_dim, family.act_dim, config.hidden_sizes)
    rng = np.random.default_rng(0)
    params = rng.normal(0.0, 0.1, (PROBE_ROWS, policy.num_params))
    tasks = family.task_params(rng.choice(family.split_ids("train"), PROBE_ROWS))
    noise, identity = family.initial_noise(rng, PROBE_ROWS), ObsNormalizer.identity(family.obs_dim)
    readings = []
    while len(readings) < PROBE_READINGS and sum(readings) < PROBE_SECONDS:
        started = time.perf_counter()
        rollouts = family.rollout(policy, params, tasks, identity, noise=noise, horizon=PROBE_STEPS)
        readings.append(time.perf_counter() - started)
    return float(rollouts.lengths.sum()) / max(min(readings), 1e-9)


def describe_cost(config) -> str:
    """One line for a front end: env steps, simulation seconds and memory of one iteration, and of the run.

    The seconds are the simulation's alone, from ``measured_steps_per_second``: a method's own
    arithmetic (PG-MAML's gradients, JAX compiling once) comes on top.
    """
    cost = config.iteration_cost()
    seconds = cost.env_steps / measured_steps_per_second(config)
    return (
        f"one iteration: {cost.env_steps:,} env steps (about {seconds:.2g} s of simulation here), "
        f"at most {cost.peak_gib:.2g} GiB; {config.iterations} iterations: about "
        f"{format_duration(seconds * config.iterations)} of simulation"
    )


def format_duration(seconds: float) -> str:
    """Seconds as people read a duration: 42 s, 12 min, 3.5 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
