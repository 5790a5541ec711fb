"""The cost of one meta-iteration, known before allocation: an upper bound on memory, and refusals above the cap."""

import json
import subprocess
import sys

import pytest

from esmaml_core import cost
from esmaml_core.config import MAX_ROWS, ConfigError, TrainConfig, check_evaluation_tasks
from esmaml_core.cost import describe_cost, format_duration, measured_steps_per_second, memory_cap
from esmaml_core.trainer import make_trainer

# The peak of the arrays one probe iteration allocates (numpy reports its buffers to tracemalloc),
# after a first iteration has compiled what needs compiling.
MEASURE = """
import json, sys, tracemalloc
from esmaml_core.config import TrainConfig
from esmaml_core.trainer import make_trainer
config = TrainConfig.from_dict(json.loads(sys.argv[1])).validate()
trainer = make_trainer(config)
trainer.step()
tracemalloc.start()
trainer.step(probe=True)
print(tracemalloc.get_traced_memory()[1])
"""


@pytest.mark.parametrize(
    "config",
    [
        TrainConfig(perturbations=2000),
        TrainConfig(task="biased_sensor_cartpole", operator="es_grad", perturbations=600),
        TrainConfig.for_method(method="pg_maml", queries=40, task_batch=40),
        TrainConfig(sampler="dpp", perturbations=400, queries=2, probe_tasks=0),
        TrainConfig(task="goal_2d", policy="mlp", hidden=(256, 256), sampler="dpp", perturbations=20, queries=1),
        TrainConfig(operator="dpp", queries=60, perturbations=20, probe_tasks=0),
        TrainConfig.for_method(method="es_maml_first_order", operator="dpp", sampler="dpp", perturbations=60),
    ],
    ids=["es-point", "es-cartpole", "pg", "dpp-sampler", "dpp-sampler-mlp", "dpp-operator", "dpp-first-order"],
)
def test_the_estimate_bounds_the_memory_an_iteration_really_takes(config):
    output = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps(config.to_dict())], capture_output=True, text=True, timeout=300
    )
    assert output.returncode == 0, output.stderr
    grown = int(output.stdout)
    estimate = config.iteration_cost().peak_bytes
    message = f"an iteration took {grown / 2**20:.0f} MiB, estimated {estimate / 2**20:.0f} MiB"
    assert estimate / 20 < grown <= estimate, message  # an upper bound, and not a vacuous one


def test_env_steps_are_counted_exactly_for_the_default_run():
    config = TrainConfig(probe_tasks=0)
    # 150 antithetic pairs (300 rows) + 20 evaluation rows, each adapted with K = 20 queries plus the
    # start, then the adapted policy: 22 rollouts of 100 steps per row
    assert config.iteration_cost().env_steps == 320 * 22 * 100


@pytest.mark.parametrize(
    "values",
    [
        dict(perturbations=10),
        dict(perturbations=10, sampler="gaussian"),
        dict(method="es_maml_first_order", perturbations=8, task_batch=3),  # 2 x 8 antithetic rows a task
        dict(method="es_maml_first_order", perturbations=8, task_batch=3, sampler="orthogonal"),
        dict(method="pg_maml", task_batch=3, queries=4),
    ],
)
def test_env_steps_counted_are_the_steps_an_iteration_takes(values):
    """On Four Corner no episode ends early, so the count is exact."""
    config = TrainConfig.for_method(probe_tasks=0, **values)
    assert make_trainer(config).step().env_steps == config.iteration_cost().env_steps


@pytest.mark.parametrize(
    "values, field, words",
    [
        (dict(perturbations=100_000_000), "perturbations", f"<= {MAX_ROWS}"),
        (dict(perturbations=99_999), "perturbations", "GiB of memory"),
        (dict(task="goal_2d", horizon=100_000, perturbations=1000), "horizon", "GiB of memory"),
        (dict(method="pg_maml", queries=20_000, task_batch=5_000), "queries", "GiB of memory"),
        (dict(policy="mlp", hidden=(1024, 1024), perturbations=20_000), "perturbations", "GiB of memory"),
        (dict(method="pg_maml", inner_steps=50), "inner_steps", "<= 20"),
        (dict(sampler="dpp", perturbations=20_000, queries=1), "perturbations", "GiB of memory"),
        (dict(operator="dpp", queries=1000, perturbations=10), "queries", "GiB of memory"),
    ],
)
def test_runs_that_cannot_fit_are_refused_before_any_allocation(values, field, words):
    with pytest.raises(ConfigError) as error:
        TrainConfig.for_method(**values).validate()
    assert error.value.field == field and words in error.value.allowed


def test_evaluating_a_run_counts_its_evaluation_alone():
    """A run whose training iteration needs more than this machine's cap can still be scored on a few tasks."""
    check_evaluation_tasks(TrainConfig(perturbations=90_000, probe_tasks=0), 20)  # training rows: not counted
    with pytest.raises(ConfigError, match="GiB of memory") as error:
        check_evaluation_tasks(TrainConfig(policy="mlp", hidden=(1024, 1024)), 100_000)
    assert error.value.field == "tasks"


def test_the_cap_is_at_most_half_the_machine():
    assert 0 < memory_cap() <= 8 * 2**30


def test_the_cost_line_counts_steps_and_measures_this_machine():
    config = TrainConfig(iterations=50, perturbations=10, probe_tasks=0)
    assert measured_steps_per_second(config) > 1_000  # a batched point-task rollout: far more than this
    line = describe_cost(config)
    assert f"{config.iteration_cost().env_steps:,} env steps" in line and "50 iterations" in line
    assert [format_duration(seconds) for seconds in (42, 720, 12_600)] == ["42 s", "12 min", "3.5 h"]


def test_the_speed_is_the_fastest_reading_so_one_slow_moment_does_not_set_it(monkeypatch):
    """A busy server can stall one millisecond-long reading 50 times over; the others show the real speed."""
    clock = iter([0.0, 0.05, *(tick + delta for tick in (1.0, 2.0, 3.0, 4.0) for delta in (0.0, 0.001))])
    monkeypatch.setattr(cost.time, "perf_counter", lambda: next(clock))
    config = TrainConfig(probe_tasks=0)  # Four Corner: no episode ends before the 20 steps
    assert measured_steps_per_second(config) == pytest.approx(cost.PROBE_ROWS * cost.PROBE_STEPS / 0.001)
