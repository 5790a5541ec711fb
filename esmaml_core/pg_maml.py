"""PG-MAML (Finn et al., 2017): the action-space-exploration baseline to ES-MAML.

Policy. ``GaussianPolicy`` is the ES policy ``MLPPolicy`` (same flat layout, ReLU hidden
layers, tanh output) plus a state-independent log standard deviation in the last
``act_dim`` entries of the flat vector. Noise is added after the tanh,
a = tanh(net(s)) + exp(log_std) * eps, so log pi(a | s) is a Gaussian density around the
ES policy's action. Point tasks clip a to +-0.1 inside their dynamics; the policy and its
log-probability see the pre-clip action (the clip belongs to the environment).

Rollouts. All tasks x K trajectories run in one ``evaluate.rollout`` call. The action
noise (B, T, act_dim) is drawn up front from the run's generator and travels with its row,
which names the task's parameters (``NoisyRows``), so a stochastic rollout stays a pure
function of its inputs, like every other rollout in the library. The K rows of a task
share one copy of its weights: each step is one matrix product per task and layer.

Meta-gradient, per task (``inner_steps`` = S; theta_0 = theta):

    theta_{j+1} = theta_j + alpha * grad L(theta_j; tau_j),  tau_j: K trajectories of theta_j,
    meta-objective L(theta_S(theta); tau'),                     tau': K trajectories of theta_S,

with the DiCE surrogate in its advantage form (Loaded DiCE, Farquhar et al. 2019)

    L(theta; tau) = 1/K sum_k sum_t (box(W_t) - box(W_{t-1})) A_t,
    W_t = sum_{t' <= t} log pi_theta(a_t' | s_t'),  box(x) = exp(x - stop_gradient(x)).

L is 0 in value, its gradient is the policy gradient with baseline, and its Hessian is
E[sum_t (grad^2 W_t + grad W_t grad W_t^T) (A_t - A_{t+1})], i.e. both second-order
terms of MAML (grad^2 log pi R and grad log pi grad log pi^T R). JAX differentiates
through the S inner steps (grad through grad), vmapped over tasks, so the meta-gradient
is (I + alpha H_S)...(I + alpha H_1) grad L'. ``first_order`` stops the gradient at the
inner steps (first-order MAML: the meta-gradient is grad L' at theta_S). ``inner_objective``
"reinforce" differentiates the inner step on 1/K sum_k sum_t log pi_t A_t instead, as MAML's
code does: the same step, but its Hessian estimate keeps only the grad^2 log pi terms.
JAX computes in float64 unless ``precision`` is float32 (``jax_precision``).

As in MAML, theta_S is treated as the inner update of the expected return: the
dependence of the inner samples' distribution on theta through the outer return
(E-MAML/ProMP "formulation I") is left out. Advantages A_t are rewards-to-go (by default
undiscounted: the return ES-MAML maximises) minus a linear feature baseline (MAML's
``LinearFeatureBaseline``: obs, obs^2, t, t^2, t^3, 1) fitted per task to its K
trajectories; with ``discount`` gamma < 1 the rewards-to-go are discounted, with
``gae_lambda`` lambda < 1 they become GAE over that baseline (as rllab and
pytorch-maml-rl), and ``normalize_advantages`` scales each task's to mean 0, std 1. The
reported pre-/post-adaptation returns are the stochastic policy's returns, averaged over
the K trajectories of each held-out task.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache, partial
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from esmaml_core.config import TrainConfig
from esmaml_core.evaluation import BatchEvaluator
from esmaml_core.learners import GradientAscent
from esmaml_core.methods import INNER_OBJECTIVES
from esmaml_core.policies import ACTIVATIONS, MLPPolicy, make_policy
from esmaml_core.results import Adaptation, AdaptationOutcome, MetaGradient, ProbeTrajectories
from esmaml_core.tasks.base import TaskFamily, fixed_tasks, sample_tasks

COMPILATION_CACHE_ENV = "ESMAML_JAX_CACHE"  # a folder for JAX's compiled functions, or "off"
CACHED_COMPILE_SECONDS = 0.1  # compiles at least this long are kept on disk


def compilation_cache_dir(environment: Mapping[str, str] = os.environ) -> Path | None:
    """Where JAX keeps compiled functions across processes: $ESMAML_JAX_CACHE, else
    $XDG_CACHE_HOME (or ~/.cache) / esmaml-studio/jax; None when $ESMAML_JAX_CACHE is "off"."""
    chosen = environment.get(COMPILATION_CACHE_ENV)
    if chosen == "off":
        return None
    if chosen:
        return Path(chosen)
    return Path(environment.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "esmaml-studio" / "jax"


def use_compilation_cache() -> None:
    """Keep JAX's compiled PG updates on disk, so a new process loads them instead of compiling.

    The first TRPO-MAML iteration of a ``maml_nav2d`` run takes about 1.5 s instead of 2.7 s once
    any earlier process compiled it. A cache folder the user set for JAX itself
    (``JAX_COMPILATION_CACHE_DIR``) wins; a folder that cannot be made leaves the cache off.
    """
    folder = compilation_cache_dir()
    if jax.config.jax_compilation_cache_dir is not None or folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", CACHED_COMPILE_SECONDS)


use_compilation_cache()


def jax_precision(precision: str):
    """JAX computes in ``precision`` (a ``methods.PRECISIONS`` name) inside this context.

    The library enters it around each of its JAX calls rather than switching JAX's
    precision for the whole process. Inputs are numpy float64 arrays; in float32 JAX
    casts them on the way in, and ``as_float64`` brings results back.
    """
    return jax.enable_x64(precision == "float64")


def float64():
    """``jax_precision("float64")``: the numpy side's precision, what PG-MAML computes in by default."""
    return jax_precision("float64")


def as_float64(tree):
    """A pytree of JAX results as numpy float64 arrays (integer leaves kept), whatever precision computed them."""
    return jax.tree.map(
        lambda x: np.asarray(x, np.float64) if jnp.issubdtype(x.dtype, jnp.floating) else np.asarray(x), tree
    )


BASELINE_RIDGE = 1e-5  # ridge term of the linear feature baseline's least squares (as rllab)
BASELINE_TIME_SCALE = 100.0  # time feature t / 100 (as rllab)
NORMALIZE_EPS = 1e-8  # added to the std when normalising advantages (as pytorch-maml-rl)


class Gaussian(NamedTuple):
    """N(mean, diag exp(log_std)^2): mean and log_std (..., act_dim)."""

    mean: jax.Array
    log_std: jax.Array


def gaussian_log_probs(gaussian: Gaussian, actions: jax.Array) -> jax.Array:
    """log N(actions; mean, std) (...), summed over the action coordinates."""
    z = (actions - gaussian.mean) * jnp.exp(-gaussian.log_std)
    return jnp.sum(-0.5 * z**2 - gaussian.log_std - 0.5 * jnp.log(2 * jnp.pi), axis=-1)


@dataclass(frozen=True)
class GaussianPolicy:
    """N(MLP mean, diag exp(log_std)^2); flat params = [MLPPolicy params | log_std (act_dim)].

    ``act`` is the deterministic mean action (what an evaluator without a sampler runs);
    ``NoisyRows`` turns the policy into the stochastic one for a rollout.
    """

    mean: MLPPolicy
    init_log_std: float

    @property
    def act_dim(self) -> int:
        return self.mean.act_dim

    @cached_property
    def num_params(self) -> int:
        return self.mean.num_params + self.act_dim

    def init(self, rng: np.random.Generator) -> np.ndarray:
        return np.concatenate([self.mean.init(rng), np.full(self.act_dim, self.init_log_std)])

    def act(self, params: np.ndarray, observations: np.ndarray) -> np.ndarray:
        """Mean actions (B, act_dim), exactly ``MLPPolicy.act`` of the mean parameters."""
        return self.mean.act(params[..., : self.mean.num_params], observations)

    def mean_actions(self, params: jax.Array, observations: jax.Array) -> jax.Array:
        """JAX mean actions (..., act_dim) of one parameter vector (P,) at observations (..., obs_dim)."""
        *hidden_layers, (weights, bias) = self.mean.layers(params[: self.mean.num_params])
        activation = ACTIVATIONS[self.mean.activation].apply
        hidden = observations
        for hidden_weights, hidden_bias in hidden_layers:
            hidden = activation(hidden @ hidden_weights.T + hidden_bias, jnp)
        return jnp.tanh(hidden @ weights.T + bias)

    def distribution(self, params: jax.Array, observations: jax.Array) -> Gaussian:
        """The action distribution of one parameter vector (P,) at observations (..., obs_dim)."""
        mean = self.mean_actions(params, observations)
        return Gaussian(mean, jnp.broadcast_to(params[self.mean.num_params :], mean.shape))

    def log_probs(self, params: jax.Array, batch: TrajectoryBatch) -> jax.Array:
        """log pi(a_t | s_t) (..., T) of one parameter vector on a batch of recorded steps.

        ``gaussian_log_probs(self.distribution(...))`` in value; written out with the terms in
        this order because PG-MAML's runs have always been computed so (bit for bit since).
        """
        log_std = params[self.mean.num_params :]
        z = (batch.actions - self.mean_actions(params, batch.observations)) * jnp.exp(-log_std)
        return -0.5 * jnp.sum(z**2, axis=-1) - jnp.sum(log_std) - 0.5 * self.act_dim * jnp.log(2 * jnp.pi)


@dataclass
class NoisyRows:
    """The Gaussian policy as a ``BatchPolicy`` for one rollout of ``group_size`` trajectories of each ``params[g]``.

    Row b is [g, q, noise (T * act_dim)]: trajectory q of parameters g ((G, P) table) and its
    action noise (``rows``). The task family calls ``act`` once per time step, so ``step`` is
    the time index into each row's noise. Rows name their parameters rather than carry a
    copy: every time step reads each group's weights once (``MLPPolicy.act_in_groups``).
    Use a fresh instance for every rollout call.
    """

    policy: GaussianPolicy
    params: np.ndarray
    group_size: int
    step: int = 0
    mean_params: np.ndarray = field(init=False, repr=False)
    stds: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        self.mean_params, log_stds = np.split(self.params, [self.policy.mean.num_params], axis=1)
        self.stds = np.exp(log_stds)

    def rows(self, noise: np.ndarray) -> np.ndarray:
        """The rollout's rows, group by group, from the trajectories' ``noise`` (G * group_size, T * act_dim)."""
        groups = np.repeat(np.arange(len(self.params)), self.group_size)
        positions = np.tile(np.arange(self.group_size), len(self.params))
        return np.column_stack([groups, positions, noise])

    def act(self, rows: np.ndarray, observations: np.ndarray) -> np.ndarray:
        """Sampled (pre-clip) actions mean + exp(log_std) * noise (B, act_dim) at time ``step``."""
        groups, positions = rows[:, 0].astype(np.intp), rows[:, 1].astype(np.intp)
        start = 2 + self.step * self.policy.act_dim
        self.step += 1
        means = self.policy.mean.act_in_groups(self.mean_params, groups, positions, self.group_size, observations)
        return means + self.stds[groups] * rows[:, start : start + self.policy.act_dim]


class TrajectoryBatch(NamedTuple):
    """Recorded steps of K trajectories (per task: leading axes (..., K, T)), as the loss needs them."""

    observations: np.ndarray  # (..., K, T, obs_dim), normalised as the policy saw them
    actions: np.ndarray  # (..., K, T, act_dim), sampled pre-clip actions
    advantages: np.ndarray  # (..., K, T), zero from each trajectory's end on
    alive: np.ndarray  # (..., K, T), 1.0 for the steps a trajectory took, 0.0 past its end

    def rows(self, index: slice) -> TrajectoryBatch:
        return TrajectoryBatch(*(array[index] for array in self))


LogProbs = Callable[[jax.Array, TrajectoryBatch], jax.Array]


def magic_box(x: jax.Array) -> jax.Array:
    """DiCE's operator: 1 in value, d box(x) = box(x) dx at every order."""
    return jnp.exp(x - jax.lax.stop_gradient(x))


def dice_objective(log_probs: jax.Array, advantages: jax.Array) -> jax.Array:
    """Loaded DiCE surrogate from per-step log-probs and advantages (..., K, T), mean over trajectories."""
    boxed = magic_box(jnp.cumsum(log_probs, axis=-1))
    before = jnp.concatenate([jnp.ones_like(boxed[..., :1]), boxed[..., :-1]], axis=-1)
    return jnp.sum((boxed - before) * advantages) / np.prod(advantages.shape[:-1])


def reinforce_objective(log_probs: jax.Array, advantages: jax.Array) -> jax.Array:
    """REINFORCE surrogate mean_k sum_t log pi(a_t | s_t) A_t: DiCE's gradient, Hessian E[sum_t grad^2 log pi_t A_t]
    (MAML's code; the grad log pi grad log pi^T terms are left out)."""
    return jnp.sum(log_probs * advantages) / np.prod(advantages.shape[:-1])


def inner_step(
    log_probs: LogProbs,
    alpha: float,
    first_order: bool,
    params: jax.Array,
    batch: TrajectoryBatch,
    objective: str = "dice",
) -> jax.Array:
    """One policy-gradient step theta + alpha * grad L(theta; batch) of one task, L the ``objective``."""
    surrogate = INNER_OBJECTIVES[objective]
    gradient = jax.grad(lambda p: surrogate(log_probs(p, batch), batch.advantages))(params)
    if first_order:
        gradient = jax.lax.stop_gradient(gradient)
    return params + alpha * gradient


def meta_objective(
    log_probs: LogProbs,
    alpha: float,
    first_order: bool,
    params: jax.Array,
    inner_batches: tuple[TrajectoryBatch, ...],
    outer_batch: TrajectoryBatch,
    inner_objective: str = "dice",
) -> jax.Array:
    """DiCE surrogate of the post-adaptation trajectories as a function of the meta-parameters."""
    adapted = params
    for batch in inner_batches:
        adapted = inner_step(log_probs, alpha, first_order, adapted, batch, inner_objective)
    return dice_objective(log_probs(adapted, outer_batch), outer_batch.advantages)


def task_meta_gradients(
    log_probs: LogProbs,
    alpha: float,
    first_order: bool,
    params: jax.Array,
    inner_batches: tuple[TrajectoryBatch, ...],
    outer_batches: TrajectoryBatch,
    inner_objective: str = "dice",
) -> jax.Array:
    """Meta-gradients (N, P) of N tasks whose batches have a leading task axis."""
    gradient = jax.grad(partial(meta_objective, log_probs, alpha, first_order, inner_objective=inner_objective))
    return jax.vmap(gradient, in_axes=(None, 0, 0))(params, inner_batches, outer_batches)


def discounted_cumsum(values: np.ndarray, discount: float) -> np.ndarray:
    """sum_{t' >= t} discount^(t' - t) values_t' along the last axis (a plain reverse cumsum at discount 1)."""
    if discount == 1.0:
        return np.flip(np.cumsum(np.flip(values, axis=-1), axis=-1), axis=-1)
    sums, running = np.empty_like(values), np.zeros_like(values[..., 0])
    for t in reversed(range(values.shape[-1])):
        running = values[..., t] + discount * running
        sums[..., t] = running
    return sums


def rewards_to_go(rewards: np.ndarray, discount: float = 1.0) -> np.ndarray:
    """sum_{t' >= t} discount^(t' - t) r_t' along the last axis."""
    return discounted_cumsum(rewards, discount)


def gae(rewards: np.ndarray, values: np.ndarray, discount: float, gae_lambda: float) -> np.ndarray:
    """Generalised advantage estimates sum_k (discount lambda)^k delta_{t+k} along the last axis,
    delta_t = r_t + discount V_{t+1} - V_t, with V = 0 after the last step (values must be 0 past a
    trajectory's end). At lambda = 1 this is the discounted rewards-to-go minus V."""
    next_values = np.concatenate([values[..., 1:], np.zeros_like(values[..., :1])], axis=-1)
    return discounted_cumsum(rewards + discount * next_values - values, discount * gae_lambda)


def normalized_per_task(advantages: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """Advantages (N, K, T) scaled per task to mean 0 and std 1 over its live steps; 0 past each end."""
    axes = tuple(range(1, advantages.ndim))
    count = alive.sum(axis=axes, keepdims=True)
    mean = (advantages * alive).sum(axis=axes, keepdims=True) / count
    std = np.sqrt((((advantages - mean) * alive) ** 2).sum(axis=axes, keepdims=True) / count)
    return np.where(alive, (advantages - mean) / (std + NORMALIZE_EPS), 0.0)


def baseline_features(observations: np.ndarray) -> np.ndarray:
    """MAML's linear-baseline features (..., T, 2 obs_dim + 4) of observations (..., T, obs_dim)."""
    clipped = np.clip(observations, -10.0, 10.0)
    time = np.broadcast_to(
        np.arange(observations.shape[-2])[:, None] / BASELINE_TIME_SCALE, (*observations.shape[:-1], 1)
    )
    return np.concatenate([clipped, clipped**2, time, time**2, time**3, np.ones_like(time)], axis=-1)


def alive_steps(lengths: np.ndarray, horizon: int) -> np.ndarray:
    """(..., T) True for the steps t < length of each trajectory."""
    return np.arange(horizon) < lengths[..., None]


def linear_baseline_advantages(
    observations: np.ndarray,
    rewards: np.ndarray,
    lengths: np.ndarray,
    discount: float = 1.0,
    gae_lambda: float = 1.0,
) -> np.ndarray:
    """Discounted rewards-to-go minus a per-task least-squares fit of them on ``baseline_features``
    (GAE over that fit when ``gae_lambda`` < 1).

    ``observations`` (N, K, T, obs) are the states the actions were taken in, ``rewards``
    (N, K, T) and ``lengths`` (N, K); steps past a trajectory's length get advantage 0
    and take no part in the fit.
    """
    num_tasks = rewards.shape[0]
    alive = alive_steps(lengths, rewards.shape[-1])
    targets = rewards_to_go(rewards, discount)
    features = baseline_features(observations) * alive[..., None]
    design = features.reshape(num_tasks, -1, features.shape[-1])
    gram = design.transpose(0, 2, 1) @ design + BASELINE_RIDGE * np.eye(design.shape[-1])
    coefficients = np.linalg.solve(gram, design.transpose(0, 2, 1) @ targets.reshape(num_tasks, -1, 1))
    baseline = (features @ coefficients[:, None]).squeeze(-1)  # 0 past each end: so are the features
    if gae_lambda == 1.0:  # GAE telescopes to this exactly
        return np.where(alive, targets - baseline, 0.0)
    return np.where(alive, gae(np.where(alive, rewards, 0.0), baseline, discount, gae_lambda), 0.0)


@dataclass(frozen=True)
class SampledTrajectories:
    """K stochastic trajectories on each of N tasks: returns (N, K), raw paths (N, K, T+1, obs), loss batch."""

    returns: np.ndarray
    observations: np.ndarray
    batch: TrajectoryBatch


@dataclass(frozen=True)
class PGAdaptation:
    """The ``inner_steps`` sampled batches, the adapted parameters (N, P) and their trajectories."""

    inner: list[SampledTrajectories]
    adapted_params: np.ndarray
    post: SampledTrajectories

    def probe(self, rows: slice, tasks: np.ndarray) -> ProbeTrajectories:
        """Dashboard paths: one meta-policy trajectory, its K queries, one adapted trajectory."""
        queries = self.inner[0]
        return ProbeTrajectories(
            tasks=tasks,
            start_paths=queries.observations[rows, 0],
            query_paths=queries.observations[rows],
            adapted_paths=self.post.observations[rows, 0],
            query_returns=queries.returns[rows],
            adapted_returns=self.post.returns[rows, 0],
        )

    def outcome(self, rows: slice, tasks: np.ndarray, record: bool) -> AdaptationOutcome:
        """Mean stochastic returns per task before and after adaptation."""
        return AdaptationOutcome(
            pre_adaptation_returns=self.inner[0].returns[rows].mean(axis=1),
            post_adaptation_returns=self.post.returns[rows].mean(axis=1),
            probe=self.probe(rows, tasks) if record else None,
        )


@dataclass(frozen=True)
class MetaBatch:
    """One iteration's samples: the adaptation of training and evaluation tasks together, the rows of the
    training tasks, and the evaluation tasks' returns (N_eval,) before and after adaptation."""

    adaptation: PGAdaptation
    train_rows: slice
    pre_adaptation_returns: np.ndarray
    post_adaptation_returns: np.ndarray
    probe: ProbeTrajectories | None

    def train_batches(self) -> tuple[tuple[TrajectoryBatch, ...], TrajectoryBatch]:
        """The training tasks' inner batches (one per inner step) and post-adaptation batch."""
        inner = tuple(sampled.batch.rows(self.train_rows) for sampled in self.adaptation.inner)
        return inner, self.adaptation.post.batch.rows(self.train_rows)


@lru_cache(maxsize=16)
def compiled_functions(
    policy: GaussianPolicy, alpha: float, first_order: bool, inner_objective: str
) -> tuple[Callable, Callable]:
    """Jitted (inner steps vmapped over tasks, ``task_meta_gradients``), shared by learners of one setting.

    Sharing means a resumed or re-created trainer does not compile again.
    """
    step = partial(inner_step, policy.log_probs, alpha, first_order, objective=inner_objective)
    gradients = partial(task_meta_gradients, policy.log_probs, alpha, first_order, inner_objective=inner_objective)
    return jax.jit(jax.vmap(step)), jax.jit(gradients)


class PGMAML(GradientAscent):
    """PG-MAML meta-learner for the ``Trainer``: ascent direction = mean task meta-gradient."""

    def __init__(self, config: TrainConfig, family: TaskFamily):
        self.config, self.family = config, family
        self.policy = GaussianPolicy(
            make_policy(family.obs_dim, family.act_dim, config.hidden_sizes, config.activation), config.init_log_std
        )
        self.eval_tasks = fixed_tasks(family, config.eval_tasks, "test")
        self._inner_steps, self._meta_gradients = compiled_functions(
            self.policy, config.alpha, config.first_order, config.inner_objective
        )

    def sample(
        self, params: np.ndarray, tasks: np.ndarray, evaluate: BatchEvaluator, rng: np.random.Generator
    ) -> SampledTrajectories:
        """K trajectories of params[i] (N, P) on tasks[i], all in one rollout call."""
        num_tasks, queries, horizon = len(tasks), self.config.queries, evaluate.horizon
        noise = rng.standard_normal((num_tasks * queries, horizon * self.policy.act_dim))
        policy = NoisyRows(self.policy, params, queries)
        rollouts = evaluate.rollout(policy.rows(noise), np.repeat(tasks, queries, axis=0), record=True, policy=policy)

        def per_task(array: np.ndarray) -> np.ndarray:
            return array.reshape(num_tasks, queries, *array.shape[1:])

        observations, lengths = per_task(rollouts.observations), per_task(rollouts.lengths)
        advantages = linear_baseline_advantages(
            observations[:, :, :-1], per_task(rollouts.rewards), lengths, self.config.discount, self.config.gae_lambda
        )
        alive = alive_steps(lengths, horizon).astype(float)
        if self.config.normalize_advantages:
            advantages = normalized_per_task(advantages, alive)
        batch = TrajectoryBatch(
            evaluate.normalizer(observations[:, :, :-1]), per_task(rollouts.actions), advantages, alive
        )
        return SampledTrajectories(per_task(rollouts.returns), observations, batch)

    def sampled_adaptation(
        self, params: np.ndarray, evaluate: BatchEvaluator, tasks: np.ndarray, rng: np.random.Generator
    ) -> PGAdaptation:
        """``inner_steps`` policy-gradient steps on every task, then K trajectories of each adapted policy."""
        adapted = np.broadcast_to(params, (len(tasks), len(params)))
        inner = []
        for _ in range(self.config.inner_steps):
            inner.append(self.sample(adapted, tasks, evaluate, rng))
            with jax_precision(self.config.precision):
                adapted = as_float64(self._inner_steps(adapted, inner[-1].batch))
        return PGAdaptation(inner, adapted, self.sample(adapted, tasks, evaluate, rng))

    def task_meta_gradients(self, params: np.ndarray, adaptation: PGAdaptation, rows: slice) -> np.ndarray:
        """Meta-gradients (N, P) of the adapted tasks ``rows``, through every inner step (unless first-order)."""
        inner_batches = tuple(sampled.batch.rows(rows) for sampled in adaptation.inner)
        with jax_precision(self.config.precision):
            return as_float64(self._meta_gradients(params, inner_batches, adaptation.post.batch.rows(rows)))

    def meta_batch(
        self, params: np.ndarray, evaluate: BatchEvaluator, rng: np.random.Generator, probe: bool = False
    ) -> MetaBatch:
        """Adapt to ``task_batch`` training tasks and the evaluation tasks together, in one batch per stage."""
        cfg = self.config
        train_tasks = sample_tasks(self.family, rng, cfg.task_batch, "train")
        tasks = np.concatenate([train_tasks, self.eval_tasks])
        with evaluate.statistics_from(cfg.task_batch, len(tasks)):
            adaptation = self.sampled_adaptation(params, evaluate, tasks, rng)
        evaluation = adaptation.outcome(slice(cfg.task_batch, None), self.eval_tasks, record=False)
        probe_rows = slice(cfg.task_batch, cfg.task_batch + cfg.probe_tasks)
        return MetaBatch(
            adaptation,
            slice(0, cfg.task_batch),
            evaluation.pre_adaptation_returns,
            evaluation.post_adaptation_returns,
            adaptation.probe(probe_rows, self.eval_tasks[: cfg.probe_tasks]) if probe else None,
        )

    def meta_gradient(
        self, params: np.ndarray, evaluate: BatchEvaluator, rng: np.random.Generator, probe: bool = False
    ) -> MetaGradient:
        """The mean meta-gradient of the training tasks of one ``meta_batch``."""
        batch = self.meta_batch(params, evaluate, rng, probe)
        gradients = self.task_meta_gradients(params, batch.adaptation, batch.train_rows)
        return MetaGradient(
            gradients.mean(axis=0), batch.pre_adaptation_returns, batch.post_adaptation_returns, batch.probe
        )

    def evaluate_adaptation(
        self, params: np.ndarray, evaluate: BatchEvaluator, tasks: np.ndarray, rng: np.random.Generator, record=False
    ) -> AdaptationOutcome:
        return self.sampled_adaptation(params, evaluate, tasks, rng).outcome(slice(None), tasks, record)

    def adapt(
        self, params: np.ndarray, evaluate: BatchEvaluator, tasks: np.ndarray, rng: np.random.Generator
    ) -> Adaptation:
        """``params`` (P,) adapted to each of ``tasks`` by ``inner_steps`` policy-gradient steps."""
        sampled = self.sampled_adaptation(params, evaluate, tasks, rng)
        return Adaptation(sampled.adapted_params, sampled.inner[0].returns.mean(axis=1))
