"""The training configuration, each option declared once.

``TrainConfig`` is a frozen dataclass whose every field carries an ``Option``: its
label, help, bounds, form section, the methods that read it, and how it depends on
other fields. Everything else is generated from these declarations: ``validate()``,
the command line (``esmaml_core.cli``), the dashboard's Train form
(``esmaml_core.form``), the recorded train command, run labels and JSON. Adding an
option means adding one field here (and reading it where it is used).

Defaults follow the ES-MAML reference code (``es_maml/config.py``); a method may
declare its own (PG-MAML trains with Adam on 20 tasks per iteration). Named sets of
values with their sources are presets (``esmaml_core.presets``).
``validate()`` raises ``ConfigError`` naming the field, the value and what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cache

from esmaml_core.adaptation import OPERATORS
from esmaml_core.cost import IterationCost, iteration_cost, memory_cap
from esmaml_core.errors import ConfigError
from esmaml_core.executors import EXECUTORS
from esmaml_core.fitness import FITNESS_SHAPINGS
from esmaml_core.methods import INNER_OBJECTIVES, METHODS, PG_METHODS, PRECISIONS
from esmaml_core.optimizers import OPTIMIZERS
from esmaml_core.policies import ACTIVATIONS, POLICIES
from esmaml_core.registry import Registry
from esmaml_core.sampling import SAMPLERS
from esmaml_core.tasks import TASK_FAMILIES

__all__ = ["ConfigError", "Option", "TrainConfig", "OPTIONS"]

MAX_LAYER_SIZE = 1024  # ES perturbs every weight: wider layers only exhaust memory
# Hard bounds on sizes; within them, validate() also refuses a run whose one iteration would not
# fit in memory (esmaml_core.cost). README lists both.
MAX_ROWS = 100_000  # perturbations, queries, evaluation tasks, tasks per iteration
MAX_HORIZON = 100_000
MAX_INNER_STEPS = 20
MAX_ITERATIONS = 10_000_000
MAX_WORKERS = 1024
MAX_SOLVER_STEPS = 1000  # conjugate-gradient iterations, line-search steps, ProMP outer steps
SIZE_FIELDS = ("perturbations", "queries", "eval_tasks", "task_batch", "horizon", "inner_steps", "hidden")
ES_METHODS = ("es_maml", "es_maml_first_order")
PG_DEFAULTS = (("task_batch", 20), ("alpha", 0.001))  # PG-MAML's sweep (docs/ARCHITECTURE.md); the family shares them


def for_pg(name: str, *more: tuple[str, object]) -> tuple[tuple[str, object], ...]:
    """``method_defaults`` giving every PG-family method the PG default of field ``name``, then ``more``."""
    return tuple((method, dict(PG_DEFAULTS)[name]) for method in PG_METHODS) + more


SECTIONS = (
    "Task",
    "Method",
    "Meta level (outer loop)",
    "Adaptation (inner loop, K queries)",
    "Run",
    "Advanced",
    "Execution",
)


@dataclass(frozen=True)
class Option:
    """How one ``TrainConfig`` field is offered and checked.

    ``kind`` is one of choice, int, float, bool, sizes (a tuple of whole numbers) or text.
    ``methods`` lists the methods that read the field (None: every method); ``when`` lists
    (other field, values) pairs it needs, e.g. a step size only gradient operators use.
    A field that does not apply must keep its default. ``execution`` fields say where
    rollouts run, not what they compute: a resumed run may change them.
    """

    label: str
    help: str
    section: str
    kind: str
    choices: Registry | None = None
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False
    optional: bool = False
    step: float | None = None
    methods: tuple[str, ...] | None = None
    when: tuple[tuple[str, tuple], ...] = ()
    method_defaults: tuple[tuple[str, object], ...] = ()
    spelled_out: bool = False
    execution: bool = False
    form: bool = True


def option(default: object, label: str, help: str, section: str, kind: str, **details) -> object:
    """A dataclass field whose metadata is its ``Option``."""
    return field(default=default, metadata={"option": Option(label, help, section, kind, **details)})


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; the defaults follow the ES-MAML release."""

    task: str = option(
        "four_corner", "Task", "task family meta-trained on", "Task", "choice", choices=TASK_FAMILIES, spelled_out=True
    )
    policy: str = option(
        "linear",
        "Policy",
        "policy class: linear, or an MLP with ReLU or tanh hidden layers (tanh output, as every policy)",
        "Task",
        "choice",
        choices=POLICIES,
        spelled_out=True,
    )
    hidden: tuple[int, ...] = option(
        (32, 32),
        "Hidden layer sizes",
        "MLP hidden layer sizes, e.g. 32 32",
        "Task",
        "sizes",
        minimum=1,
        maximum=MAX_LAYER_SIZE,
        when=(("policy", ("mlp",)),),
        spelled_out=True,
    )
    activation: str = option(
        "relu",
        "Hidden activation",
        "hidden-layer nonlinearity of the MLP (weights start He-scaled for relu, Glorot for tanh)",
        "Task",
        "choice",
        choices=ACTIVATIONS,
        when=(("policy", ("mlp",)),),
    )
    method: str = option(
        "es_maml", "Method", "meta-learning method", "Method", "choice", choices=METHODS, spelled_out=True
    )
    operator: str = option(
        "hill_climb",
        "Adaptation operator U",
        "adaptation operator U_T: how K queries of a task turn theta into adapted parameters",
        "Method",
        "choice",
        choices=OPERATORS,
        methods=ES_METHODS,
        method_defaults=(("es_maml_first_order", "es_grad"),),  # it needs a differentiable operator
        spelled_out=True,
    )
    hessian: bool = option(
        False,
        "Add the ES-Hessian term",
        "add the ES-Hessian term to first-order ES-MAML: meta-gradient g + alpha H g",
        "Method",
        "bool",
        methods=("es_maml_first_order",),
        when=(("operator", ("es_grad",)),),
    )
    first_order: bool = option(
        False,
        "First-order MAML",
        "first-order MAML: no gradient through the inner step",
        "Method",
        "bool",
        methods=("pg_maml",),
    )
    inner_objective: str = option(
        "dice",
        "Inner objective",
        "surrogate the inner step differentiates: DiCE (its Hessian is the return's) or REINFORCE, as MAML's code "
        "(same step, a Hessian without the grad log pi grad log pi^T terms)",
        "Method",
        "choice",
        choices=INNER_OBJECTIVES,
        methods=("pg_maml", "trpo_maml"),
    )
    inner_steps: int = option(
        1,
        "Inner policy-gradient steps",
        "policy-gradient steps in adaptation, new trajectories each",
        "Method",
        "int",
        minimum=1,
        maximum=MAX_INNER_STEPS,
        step=1,
        methods=PG_METHODS,
    )
    discount: float = option(
        1.0,
        "Discount γ",
        "discount of the rewards-to-go in the policy-gradient advantages (1: the undiscounted return)",
        "Method",
        "float",
        positive=True,
        maximum=1.0,
        step=0.01,
        methods=PG_METHODS,
    )
    gae_lambda: float = option(
        1.0,
        "GAE λ",
        "generalised advantage estimation over the linear baseline (1: rewards-to-go minus the baseline)",
        "Method",
        "float",
        minimum=0.0,
        maximum=1.0,
        step=0.05,
        methods=PG_METHODS,
    )
    normalize_advantages: bool = option(
        False,
        "Normalise advantages per task",
        "scale each task's advantages to mean 0 and std 1 over its live steps",
        "Method",
        "bool",
        methods=PG_METHODS,
    )
    sampler: str = option(
        "antithetic",
        "Perturbation sampler",
        "how meta-level perturbation directions are drawn",
        "Meta level (outer loop)",
        "choice",
        choices=SAMPLERS,
        methods=ES_METHODS,
    )
    perturbations: int = option(
        150,
        "Perturbations n",
        "meta-level perturbation directions per iteration (antithetic: 2n rollouts)",
        "Meta level (outer loop)",
        "int",
        minimum=1,
        maximum=MAX_ROWS,
        step=1,
        methods=ES_METHODS,
    )
    sigma: float = option(
        0.1,
        "σ: meta perturbation scale",
        "meta-level perturbation scale: theta + sigma g",
        "Meta level (outer loop)",
        "float",
        positive=True,
        step=0.01,
        methods=ES_METHODS,
    )
    lr: float = option(
        0.01,
        "Meta step size",
        "meta (outer) learning rate (promp, tmaml: of their Adam steps)",
        "Meta level (outer loop)",
        "float",
        positive=True,
        step=0.001,
        methods=(*ES_METHODS, "pg_maml", "promp", "tmaml"),
        method_defaults=(("promp", 1e-3),),
    )
    optimizer: str = option(
        "sgd",
        "Meta optimizer",
        "meta (outer) update rule",
        "Meta level (outer loop)",
        "choice",
        choices=OPTIMIZERS,
        methods=(*ES_METHODS, "pg_maml"),
        method_defaults=(("pg_maml", "adam"),),
    )
    task_batch: int = option(
        1,
        "Tasks per iteration",
        "training tasks per meta-iteration",
        "Meta level (outer loop)",
        "int",
        minimum=1,
        maximum=MAX_ROWS,
        step=1,
        methods=("es_maml_first_order", *PG_METHODS),
        method_defaults=for_pg("task_batch"),
    )
    max_kl: float = option(
        0.01,
        "Max KL",
        "TRPO trust region: largest mean KL between the adapted policies before and after the step",
        "Meta level (outer loop)",
        "float",
        positive=True,
        step=0.001,
        methods=("trpo_maml",),
    )
    cg_iterations: int = option(
        10,
        "Conjugate-gradient iterations",
        "conjugate-gradient iterations solving for TRPO's step direction",
        "Meta level (outer loop)",
        "int",
        minimum=1,
        maximum=MAX_SOLVER_STEPS,
        step=1,
        methods=("trpo_maml",),
    )
    cg_damping: float = option(
        1e-5,
        "CG damping",
        "damping added to the KL Hessian in TRPO's conjugate gradient",
        "Meta level (outer loop)",
        "float",
        positive=True,
        step=1e-5,
        methods=("trpo_maml",),
    )
    cg_subsample: float = option(
        1.0,
        "CG subsample",
        "fraction of each task's trajectories TRPO's curvature products use (Schulman's subsampled"
        " curvature, rllab's subsample_factor; 1: all)",
        "Meta level (outer loop)",
        "float",
        positive=True,
        maximum=1.0,
        step=0.05,
        methods=("trpo_maml",),
    )
    line_search_steps: int = option(
        15,
        "Line-search steps",
        "TRPO backtracking steps before giving up the step",
        "Meta level (outer loop)",
        "int",
        minimum=1,
        maximum=MAX_SOLVER_STEPS,
        step=1,
        methods=("trpo_maml",),
    )
    backtrack_ratio: float = option(
        0.8,
        "Backtrack ratio",
        "factor shrinking TRPO's step at each line-search step",
        "Meta level (outer loop)",
        "float",
        positive=True,
        maximum=0.99,
        step=0.05,
        methods=("trpo_maml",),
    )
    outer_steps: int = option(
        5,
        "Outer steps per batch",
        "ProMP's Adam steps on each meta-batch",
        "Meta level (outer loop)",
        "int",
        minimum=1,
        maximum=MAX_SOLVER_STEPS,
        step=1,
        methods=("promp",),
    )
    clip_eps: float = option(
        0.2,
        "Clip ε",
        "ProMP's likelihood-ratio clip range [1 - eps, 1 + eps]",
        "Meta level (outer loop)",
        "float",
        positive=True,
        maximum=1.0,
        step=0.05,
        methods=("promp",),
    )
    target_inner_kl: float = option(
        0.01,
        "Target inner KL",
        "ProMP's inner KL target: its penalty coefficients halve below target/1.5 and double above 1.5 target",
        "Meta level (outer loop)",
        "float",
        positive=True,
        step=0.001,
        methods=("promp",),
    )
    queries: int = option(
        20,
        "K: queries per task",
        "K, rollouts adaptation may use on a task (PG methods: trajectories per task)",
        "Adaptation (inner loop, K queries)",
        "int",
        minimum=1,
        maximum=MAX_ROWS,
        step=1,
    )
    alpha: float = option(
        0.05,
        "α: adaptation step size",
        "adaptation step size (PG methods: inner policy-gradient step, on the return summed over time)",
        "Adaptation (inner loop, K queries)",
        "float",
        positive=True,
        step=0.001,
        when=(("operator", ("es_grad", "dpp")),),
        method_defaults=for_pg("alpha"),
    )
    adaptation_sigma: float = option(
        0.1,
        "Adaptation σ",
        "scale of the K adaptation query perturbations",
        "Adaptation (inner loop, K queries)",
        "float",
        positive=True,
        step=0.01,
        methods=ES_METHODS,
    )
    init_log_std: float = option(
        -1.0,
        "Initial log std",
        "initial log standard deviation of the Gaussian policy's action noise",
        "Adaptation (inner loop, K queries)",
        "float",
        minimum=-10.0,  # std 4.5e-5 to 20: outside, the first policy-gradient step diverges or learns nothing
        maximum=3.0,
        step=0.1,
        methods=PG_METHODS,
    )
    iterations: int = option(
        100,
        "Meta-iterations",
        "total meta-iterations of the run",
        "Run",
        "int",
        minimum=1,
        maximum=MAX_ITERATIONS,
        step=1,
        spelled_out=True,
    )
    seed: int = option(
        0, "Seed", "random seed; the same seed gives the same run", "Run", "int", minimum=0, step=1, spelled_out=True
    )
    fitness: str = option(
        "zscore",
        "Fitness shaping",
        "how meta-level returns become ES weights",
        "Advanced",
        "choice",
        choices=FITNESS_SHAPINGS,
        methods=ES_METHODS,
    )
    horizon: int | None = option(
        None,
        "Horizon",
        "episode length (default: the task's own: 100 point tasks, 200 others)",
        "Advanced",
        "int",
        minimum=1,
        maximum=MAX_HORIZON,
        optional=True,
        step=1,
    )
    eval_tasks: int = option(
        20,
        "Evaluation tasks",
        "held-out tasks scored before and after adaptation every iteration",
        "Advanced",
        "int",
        minimum=1,
        maximum=MAX_ROWS,
        step=1,
    )
    probe_tasks: int = option(
        4,
        "Probe tasks",
        "evaluation tasks whose paths are recorded for the dashboard",
        "Advanced",
        "int",
        minimum=0,
        form=False,
    )
    obs_norm: bool = option(
        True,
        "Normalise observations",
        "normalise observations by their running mean and std",
        "Advanced",
        "bool",
    )
    precision: str = option(
        "float64",
        "JAX precision",
        "floating-point precision of the policy-gradient computations (float32: about twice as fast)",
        "Advanced",
        "choice",
        choices=PRECISIONS,
        methods=PG_METHODS,
    )
    executor: str = option(
        "inprocess",
        "Executor",
        "where rollouts run; results are identical on each",
        "Execution",
        "choice",
        choices=EXECUTORS,
        execution=True,
        form=False,
    )
    workers: int = option(
        2,
        "Workers",
        "worker processes or Ray tasks per rollout",
        "Execution",
        "int",
        minimum=1,
        maximum=MAX_WORKERS,
        when=(("executor", ("process", "ray")),),
        execution=True,
        form=False,
    )
    ray_address: str | None = option(
        None,
        "Ray address",
        "Ray cluster to join, e.g. auto or ray://host:10001 (default: $RAY_ADDRESS or a local Ray)",
        "Execution",
        "text",
        optional=True,
        when=(("executor", ("ray",)),),
        execution=True,
        form=False,
    )

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        """Hidden layer sizes of the policy: () for the linear policy."""
        return POLICIES[self.policy](self.hidden)

    def validate(self) -> TrainConfig:
        """Return self if every field is allowed, else raise ConfigError for the first bad one."""
        values = self.to_values()
        for name, declared in OPTIONS.items():
            check_value(name, declared, values[name])
        for name in OPTIONS:
            if not applies(name, values) and values[name] != default(name, self.method):
                raise ConfigError(name, values[name], f"{requirement(name, values)}; leave it at its default")
        check_relations(self)
        return self

    @staticmethod
    def for_method(**values) -> TrainConfig:
        """A config from ``values``; fields not given take the method's defaults, then the class defaults."""
        method = values.get("method", TrainConfig.method)
        return TrainConfig(**{**method_defaults(method), **values})

    @staticmethod
    def from_given(values: dict) -> TrainConfig:
        """A validated config from the fields a user gave; a given field the run would not read is refused.

        Probe tasks are a subset of the evaluation tasks: fewer evaluation tasks than the
        default probe count, given alone, lower the probe count with them.
        """
        if "eval_tasks" in values and "probe_tasks" not in values and isinstance(values["eval_tasks"], int):
            values = {**values, "probe_tasks": max(0, min(TrainConfig.probe_tasks, values["eval_tasks"]))}
        config = TrainConfig.for_method(**values).validate()
        all_values = config.to_values()
        for name, value in values.items():
            if not applies(name, all_values):
                raise ConfigError(name, value, requirement(name, all_values))
        return config

    def to_values(self) -> dict:
        """Field name -> value, as the dataclass holds them (tuples stay tuples)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_dict(self) -> dict:
        """JSON-ready: field name -> value, layer sizes as a list."""
        return {**asdict(self), "hidden": list(self.hidden)}

    @staticmethod
    def from_dict(values: object) -> TrainConfig:
        """Build from a dict (e.g. config.json); unknown keys and non-objects are refused."""
        if not isinstance(values, dict):
            raise ConfigError("config", values, "must be a JSON object of config fields")
        unknown = sorted(set(values) - set(OPTIONS))
        if unknown:
            raise ConfigError(unknown[0], values[unknown[0]], f"not a config field; known: {', '.join(OPTIONS)}")
        values = dict(values)
        if isinstance(values.get("hidden"), list):
            values["hidden"] = tuple(values["hidden"])
        return TrainConfig(**values)

    def iteration_cost(self) -> IterationCost:
        """Env steps and peak memory of one meta-iteration (``esmaml_core.cost``)."""
        family = TASK_FAMILIES[self.task]
        return iteration_cost(self, family.obs_dim, family.act_dim, self.horizon or family.horizon)

    def label(self) -> str:
        """What people call this run: task, method and (if the method has one) operator, e.g.
        "Four Corner · ES-MAML (zero-order) · hill climbing"."""
        values = self.to_values()
        parts = [TASK_FAMILIES.label(self.task), METHODS.label(self.method)]
        if applies("operator", values):
            parts.append(OPERATORS.label(self.operator))
        return " · ".join(parts)


OPTIONS: dict[str, Option] = {f.name: f.metadata["option"] for f in fields(TrainConfig)}
EXECUTION_FIELDS = tuple(name for name, declared in OPTIONS.items() if declared.execution)


@cache
def method_defaults(method: str) -> dict[str, object]:
    """The fields whose default differs for ``method``."""
    return {
        name: dict(declared.method_defaults)[method]
        for name, declared in OPTIONS.items()
        if method in dict(declared.method_defaults)
    }


def default(name: str, method: str) -> object:
    """The default of field ``name`` under ``method``."""
    return method_defaults(method).get(name, TrainConfig.__dataclass_fields__[name].default)


def applies(name: str, values: Mapping[str, object]) -> bool:
    """Whether field ``name`` is read by a run with these ``values`` (its method and conditions)."""
    declared = OPTIONS[name]
    if declared.methods is not None and values["method"] not in declared.methods:
        return False
    return all(not applies(other, values) or values[other] in allowed for other, allowed in declared.when)


def requirement(name: str, values: Mapping[str, object] | None = None) -> str:
    """When field ``name`` applies, in words: "only pg_maml reads it", "only with operator es_grad or dpp".

    Given ``values``, only the conditions they do not meet are named.
    """
    declared = OPTIONS[name]
    words = []
    if declared.methods is not None and (values is None or values["method"] not in declared.methods):
        words.append(f"only {' and '.join(declared.methods)} read{'s' if len(declared.methods) == 1 else ''} it")
    for other, allowed in declared.when:
        if values is None or (applies(other, values) and values[other] not in allowed):
            words.append(f"only with {other} {' or '.join(map(str, allowed))}")
    return ", ".join(words)


def check_value(name: str, declared: Option, value: object) -> None:
    """Refuse a value of the wrong type or out of bounds (whether or not the field applies)."""
    if value is None and declared.optional:
        return
    if declared.kind == "choice":
        if value not in declared.choices:
            raise ConfigError(name, value, f"allowed: {', '.join(declared.choices)}")
    elif declared.kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(name, value, "must be true or false")
    elif declared.kind == "int":
        _check_integer(name, value, declared)
    elif declared.kind == "float":
        _check_float(name, value, declared)
    elif declared.kind == "sizes":
        allowed = f"one or more layer sizes from {declared.minimum:g} to {declared.maximum:g}"
        if not isinstance(value, tuple) or not value:
            raise ConfigError(name, value, allowed)
        for size in value:
            if isinstance(size, bool) or not isinstance(size, int) or not declared.minimum <= size <= declared.maximum:
                raise ConfigError(name, value, allowed)
    elif declared.kind == "text" and (not isinstance(value, str) or not value):
        raise ConfigError(name, value, f"{declared.help}; not empty")


def _check_integer(name: str, value: object, declared: Option) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, value, f"must be a whole number >= {declared.minimum:.0f}")
    if value < declared.minimum:
        raise ConfigError(name, value, f"must be >= {declared.minimum:.0f}")
    if declared.maximum is not None and value > declared.maximum:
        raise ConfigError(name, value, f"must be <= {declared.maximum:.0f}")


def _check_float(name: str, value: object, declared: Option) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(name, value, "must be a number")
    if not math.isfinite(value) or (declared.positive and value <= 0):
        raise ConfigError(
            name, value, "must be a finite number > 0" if declared.positive else "must be a finite number"
        )
    if declared.minimum is not None and value < declared.minimum:
        raise ConfigError(name, value, f"must be >= {declared.minimum:g}")
    if declared.maximum is not None and value > declared.maximum:
        raise ConfigError(name, value, f"must be <= {declared.maximum:g}")


def check_relations(config: TrainConfig) -> None:
    """The rules that tie two fields together beyond "applies or keeps its default"."""
    if config.probe_tasks > config.eval_tasks:
        raise ConfigError("probe_tasks", config.probe_tasks, f"at most eval_tasks ({config.eval_tasks})")
    if config.method == "es_maml_first_order" and config.operator == "hill_climb":
        raise ConfigError(
            "operator", config.operator, "es_maml_first_order needs a differentiable operator: es_grad or dpp"
        )
    check_cost(config)


def check_cost(config: TrainConfig) -> None:
    """Refuse a run whose one iteration would need more memory than ``cost.memory_cap()``.

    The message names the size field furthest above its default, with the estimate.
    """
    cost = config.iteration_cost()
    cap = memory_cap()
    if cost.peak_bytes <= cap:
        return
    values = config.to_values()

    def growth(name: str) -> float:
        value, usual = values[name], default(name, config.method)
        if name == "horizon":
            value, usual = config.horizon or TASK_FAMILIES[config.task].horizon, TASK_FAMILIES[config.task].horizon
        if name == "hidden":
            value, usual = max(config.hidden_sizes, default=1), max(usual)
        return value / usual

    culprit = max((name for name in SIZE_FIELDS if applies(name, values)), key=growth)
    raise ConfigError(
        culprit,
        values[culprit],
        f"one iteration would need about {cost.peak_gib:,.1f} GiB of memory, above the {cap / 2**30:.1f} GiB cap; "
        f"use fewer or smaller {', '.join(name for name in SIZE_FIELDS if applies(name, values))}"
        + (", or record no paths (probe_tasks 0)" if config.probe_tasks else ""),
    )


def check_task_count(tasks: object) -> None:
    """Refuse (ConfigError on ``tasks``) a number of held-out tasks that ``eval_tasks`` would refuse."""
    try:
        check_value("eval_tasks", OPTIONS["eval_tasks"], tasks)
    except ConfigError as error:
        raise ConfigError("tasks", tasks, error.allowed) from None


def check_evaluation_tasks(config: TrainConfig, tasks: int) -> None:
    """Refuse (ConfigError on ``tasks``) scoring a run of ``config`` on ``tasks`` tasks at once above the memory
    cap; ``tasks`` has passed ``check_task_count``.

    The estimate is an iteration's with no training rows (no perturbations, no training tasks): evaluating
    adapts the evaluation tasks alone.
    """
    evaluation_only = replace(config, eval_tasks=tasks, probe_tasks=0, perturbations=0, task_batch=0)
    cost, cap = evaluation_only.iteration_cost(), memory_cap()
    if cost.peak_bytes > cap:
        raise ConfigError(
            "tasks",
            tasks,
            f"scoring them at once would need about {cost.peak_gib:,.1f} GiB of memory, above the "
            f"{cap / 2**30:.1f} GiB cap; use fewer",
        )
