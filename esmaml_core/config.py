"""Validated training configuration: one frozen dataclass, one error type.

``TrainConfig`` holds every choice of a run with the ES-MAML reference code's defaults
(``es_maml/config.py``). ``validate()`` raises ``ConfigError`` naming the field, the
value and what is allowed; the CLI prints it and exits 2, the app shows it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from esmaml_core.executors import EXECUTORS
from esmaml_core.fitness import FITNESS_SHAPINGS
from esmaml_core.optimizers import OPTIMIZERS
from esmaml_core.sampling import SAMPLERS
from esmaml_core.tasks import TASK_FAMILIES

METHODS = ("es_maml", "es_maml_first_order", "pg_maml")
OPERATORS = ("es_grad", "hill_climb", "dpp")
POLICIES = ("linear", "mlp")
MAX_LAYER_SIZE = 1024  # ES perturbs every weight: wider layers only exhaust memory
# Defaults that differ by method; TrainConfig.for_method applies them under the values given.
METHOD_DEFAULTS: dict[str, dict[str, object]] = {
    "pg_maml": {"optimizer": "adam", "task_batch": 20, "alpha": 0.001, "lr": 0.01},
}
PG_ONLY_FIELDS = ("inner_steps", "init_log_std", "first_order")
# Where rollouts run, not what they compute: a run may change them on resume.
EXECUTION_FIELDS = ("executor", "workers", "ray_address")


class ConfigError(ValueError):
    """A configuration value that is not allowed; the message names field, value and rule."""

    def __init__(self, field: str, value: object, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"{field}: got {value!r}; {allowed}")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; the defaults follow the ES-MAML release."""

    task: str = "four_corner"
    method: str = "es_maml"
    operator: str = "hill_climb"
    policy: str = "linear"
    hidden: tuple[int, ...] = (32, 32)
    iterations: int = 100
    seed: int = 0
    sigma: float = 0.1
    perturbations: int = 150
    sampler: str = "antithetic"
    lr: float = 0.01
    optimizer: str = "sgd"
    fitness: str = "zscore"
    queries: int = 20
    alpha: float = 0.05
    adaptation_sigma: float = 0.1
    horizon: int | None = None  # None: the task's own (100 point tasks, 200 cart-pole and MuJoCo)
    obs_norm: bool = True
    task_batch: int = 1
    hessian: bool = False
    eval_tasks: int = 20
    probe_tasks: int = 4
    # Where rollouts run (esmaml_core.executors); results are identical on every executor.
    executor: str = "inprocess"
    workers: int = 2
    ray_address: str | None = None
    # PG-MAML only: alpha is the inner policy-gradient step, lr the outer step, queries the
    # K trajectories per task, task_batch the training tasks per iteration.
    inner_steps: int = 1
    init_log_std: float = -1.0
    first_order: bool = False

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        """Hidden layer sizes of the policy: () for the linear policy."""
        return () if self.policy == "linear" else self.hidden

    def validate(self) -> TrainConfig:
        """Return self if every field is allowed, else raise ConfigError for the first bad one."""
        _choice("task", self.task, tuple(TASK_FAMILIES))
        _choice("method", self.method, METHODS)
        _choice("operator", self.operator, OPERATORS)
        _choice("policy", self.policy, POLICIES)
        _choice("sampler", self.sampler, SAMPLERS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("fitness", self.fitness, FITNESS_SHAPINGS)
        _choice("executor", self.executor, EXECUTORS)
        _integer("workers", self.workers, minimum=1)
        if self.ray_address is not None:
            if not isinstance(self.ray_address, str) or not self.ray_address:
                raise ConfigError("ray_address", self.ray_address, "a Ray address such as auto or ray://host:10001")
            if self.executor != "ray":
                raise ConfigError("ray_address", self.ray_address, "only the ray executor uses it")
        if self.policy == "mlp" and (not self.hidden or any(not 1 <= h <= MAX_LAYER_SIZE for h in self.hidden)):
            raise ConfigError("hidden", self.hidden, f"an MLP needs one or more layer sizes from 1 to {MAX_LAYER_SIZE}")
        for name in ("sigma", "lr", "alpha", "adaptation_sigma"):
            _positive_float(name, getattr(self, name))
        _integer("iterations", self.iterations, minimum=0)
        _integer("seed", self.seed, minimum=0)
        _integer("perturbations", self.perturbations, minimum=1)
        _integer("queries", self.queries, minimum=1)
        if self.horizon is not None:
            _integer("horizon", self.horizon, minimum=1)
        _integer("task_batch", self.task_batch, minimum=1)
        _integer("eval_tasks", self.eval_tasks, minimum=1)
        _integer("probe_tasks", self.probe_tasks, minimum=0)
        if self.probe_tasks > self.eval_tasks:
            raise ConfigError("probe_tasks", self.probe_tasks, f"at most eval_tasks ({self.eval_tasks})")
        if self.method == "es_maml_first_order" and self.operator == "hill_climb":
            raise ConfigError(
                "operator", self.operator, "es_maml_first_order needs a differentiable operator: es_grad or dpp"
            )
        if self.hessian and self.method != "es_maml_first_order":
            raise ConfigError("hessian", self.hessian, "only es_maml_first_order has a Hessian term")
        if self.hessian and self.operator == "dpp":
            # The ES Hessian relies on Gaussian fourth moments; DPP-selected directions lack them.
            raise ConfigError("hessian", self.hessian, "the ES Hessian needs Gaussian queries: use operator es_grad")
        _integer("inner_steps", self.inner_steps, minimum=1)
        _finite_float("init_log_std", self.init_log_std)
        if not isinstance(self.first_order, bool):
            raise ConfigError("first_order", self.first_order, "must be true or false")
        if self.method != "pg_maml":
            for name in PG_ONLY_FIELDS:
                if getattr(self, name) != getattr(TrainConfig, name):
                    raise ConfigError(name, getattr(self, name), "only pg_maml uses it")
        return self

    @staticmethod
    def for_method(**values) -> TrainConfig:
        """A config from ``values``; fields not given take the method's METHOD_DEFAULTS, then the class defaults."""
        method = values.get("method", TrainConfig.method)
        return TrainConfig(**{**METHOD_DEFAULTS.get(method, {}), **values})

    def to_dict(self) -> dict:
        return {**asdict(self), "hidden": list(self.hidden)}

    @staticmethod
    def from_dict(values: dict) -> TrainConfig:
        """Build from a dict (e.g. config.json); unknown keys are refused."""
        known = {f.name for f in fields(TrainConfig)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(unknown[0], values[unknown[0]], f"not a config field; known: {', '.join(sorted(known))}")
        values = dict(values)
        if "hidden" in values:
            values["hidden"] = tuple(values["hidden"])
        return TrainConfig(**values)


def _choice(field: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(field, value, f"allowed: {', '.join(allowed)}")


def _positive_float(field: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(field, value, "must be a number")
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(field, value, "must be a finite number > 0")


def _finite_float(field: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(field, value, "must be a finite number")


def _integer(field: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field, value, f"must be a whole number >= {minimum}")
    if value < minimum:
        raise ConfigError(field, value, f"must be >= {minimum}")
