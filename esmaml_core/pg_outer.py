"""PG-MAML as the literature runs it: TRPO-MAML and ProMP outer steps, T-MAML's estimator; pure JAX.

Every function here is pure over arrays and jit-compiles with the policy's ``distribution``
(params (P,), observations (..., obs_dim)) -> ``Gaussian`` and the settings as static
arguments. Batches carry a leading task axis N: ``inner_batches`` is a tuple of one
``TrajectoryBatch`` per inner step (each sampled by the policy adapted so far), and
``outer_batch`` the trajectories of the adapted policies. Per-trajectory objectives are
sum over t, mean over the K trajectories and the N tasks, like ``pg_maml.dice_objective``.

TRPO-MAML (Finn et al. 2017; the PyTorch MAML-TRPO code's ``MAMLTRPO.step``). With
theta'(theta) the inner steps (second order, recomputed from the pre-update batches, on
the DiCE or the REINFORCE surrogate: ``inner_objective``)
and pi_old the adapted policies that sampled ``outer_batch``:

    L(theta)  = mean_{tasks, k} sum_t pi_theta'(a_t | s_t) / pi_old(a_t | s_t) A_t,
    KL(theta) = mean_tasks mean_{live steps} KL(pi_old(. | s_t) || pi_theta'(. | s_t)).

grad L at the current theta is the DiCE meta-gradient. The step direction s solves
(H + damping I) s = grad L by ``cg_iterations`` conjugate-gradient steps, H the Hessian of
KL. At the current theta the gradient of KL w.r.t. theta' is zero, so
H = J^T F J exactly (J = d theta'/d theta, F the Fisher matrix of the adapted policies):
one JVP and one VJP through the inner step per product, no third derivatives (with one
inner step J is symmetric and the VJP is a JVP too, about half its cost). The full
step s * sqrt(2 max_kl / s^T (H + damping I) s), the quadratic form read off CG's
residual r as s^T (grad L - r) rather than from an eleventh product, is backtracked by
``backtrack_ratio`` up to ``line_search_steps`` times; the first candidate with
KL <= max_kl and L improved is taken, and theta stays put when none is. With
``cg_subsample`` < 1 the products (J and F) use only the first fraction of each task's
trajectories (Schulman's subsampled curvature, rllab's ``subsample_factor``); the
gradient, the adapted parameters and the line search's KL and L use them all.

ProMP (Rothfuss et al., ICLR 2019; ``meta_policy_search/meta_algos/pro_mp.py``). The
inner step uses the low-variance curvature (LVC) objective

    J_LVC(theta) = mean_k sum_t pi_theta(a_t | s_t) / pi_sampler(a_t | s_t) A_t,

per-step likelihood ratios instead of DiCE's cumulative products: the same gradient,
a Hessian without the cross-time terms (biased, lower variance). The outer objective, maximised by
``outer_steps`` Adam steps on one batch, is PPO's clipped likelihood ratio of the
post-update trajectories minus a KL penalty that keeps every pre-update policy near the one
that sampled its batch:

    mean_tasks mean_{live steps} min(r_t A_t, clip(r_t, 1 - eps, 1 + eps) A_t)
      - mean_steps(c_s * mean_tasks mean_{live steps} KL(pi_sampler_s || pi_theta_s)),

and each penalty coefficient c_s is halved or doubled as its KL falls below 1/1.5 or
rises above 1.5 times ``target_inner_kl`` (ProMP's adaptive inner KL penalty). As in
ProMP the clipped objective and the KLs are means over live steps. This module scales
the inner objective per trajectory, like the rest of PG-MAML, so one alpha means the same
step for every method (ProMP and the PyTorch code take per-step means and normalise the
advantages: their alpha is about T times larger).

T-MAML (Liu, Socher, Xiong, ICML 2019). DiCE (Foerster et al. 2018) on raw rewards,
sum_t box(W_t) r_t, estimates every derivative of the expected return, but its Hessian
carries sum_t' r_t' on every product grad log pi_i grad log pi_j^T. T-MAML adds terms
of value zero and expectation zero at every order (``tmaml_control_variates``):

    sum_t (1 - box(log pi_t)) b_t                         baseline of the first-order terms,
  - sum_t (1 - box(log pi_t)) (1 - box(W_{t-1})) b_t      control variate of the cross terms,

with b_t = b(s_t). The pair sums to sum_t (box(W_{t-1}) - box(W_t)) b_t, so DiCE plus
T-MAML's control variates is exactly Loaded DiCE with advantages R_t - b_t, the
estimator ``pg_maml.dice_objective`` already uses (tested). What T-MAML adds over the
original DiCE is measured in tests/test_pg_outer.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from esmaml_core.optimizers import ADAM_BETA1, ADAM_BETA2, ADAM_EPS
from esmaml_core.pg_maml import (
    Gaussian,
    TrajectoryBatch,
    as_float64,
    dice_objective,
    gaussian_log_probs,
    inner_step,
    jax_precision,
    magic_box,
)

Distribution = Callable[[jax.Array, jax.Array], Gaussian]
KL_RATE_BAND = 1.5  # ProMP: halve the penalty below target / 1.5, double it above target * 1.5


def policy_log_probs(distribution: Distribution, params: jax.Array, batch: TrajectoryBatch) -> jax.Array:
    """log pi(a_t | s_t) (..., K, T) of one parameter vector on one task's batch."""
    return gaussian_log_probs(distribution(params, batch.observations), batch.actions)


def gaussian_kl(old: Gaussian, new: Gaussian) -> jax.Array:
    """KL(old || new) (...) of diagonal Gaussians, summed over the action coordinates."""
    squared = jnp.exp(2 * old.log_std) + (old.mean - new.mean) ** 2
    return jnp.sum(new.log_std - old.log_std + squared / (2 * jnp.exp(2 * new.log_std)) - 0.5, axis=-1)


def live_mean(values: jax.Array, alive: jax.Array) -> jax.Array:
    """Mean of ``values`` over the steps trajectories took."""
    return jnp.sum(values * alive) / jnp.sum(alive)


def task_live_mean(values: jax.Array, alive: jax.Array) -> jax.Array:
    """Mean over tasks (leading axis) of each task's mean over live steps."""
    return jnp.mean(jax.vmap(live_mean)(values, alive))


def likelihood_ratio_objective(log_probs: jax.Array, sampler_log_probs: jax.Array, advantages: jax.Array):
    """mean over leading axes of sum_t exp(log pi - log pi_sampler) A_t: TRPO's surrogate and ProMP's LVC."""
    ratios = jnp.exp(log_probs - sampler_log_probs)
    return jnp.sum(ratios * advantages) / np.prod(advantages.shape[:-1])


def adapt(
    distribution: Distribution, alpha: float, params: jax.Array, inner_batches: tuple, objective: str = "dice"
) -> jax.Array:
    """One task's inner steps on the ``objective`` (``methods.INNER_OBJECTIVES``), differentiable to any order."""
    for batch in inner_batches:
        params = inner_step(partial(policy_log_probs, distribution), alpha, False, params, batch, objective)
    return params


def adapt_tasks(
    distribution: Distribution, alpha: float, params: jax.Array, inner_batches: tuple, objective: str = "dice"
) -> jax.Array:
    """Adapted parameters (N, P) of one meta-parameter vector on the N tasks of ``inner_batches``."""
    task_adapt = partial(adapt, distribution, alpha, objective=objective)
    return jax.vmap(task_adapt, in_axes=(None, 0))(params, inner_batches)


class ConjugateGradient(NamedTuple):
    """CG's x ~ A^{-1} b and the residual r = b - A x it carried along (so x^T A x = x^T (b - r), no product)."""

    solution: jax.Array
    residual: jax.Array


def conjugate_gradient(
    matvec: Callable[[jax.Array], jax.Array], b: jax.Array, iterations: int, tolerance: float = 1e-10
) -> ConjugateGradient:
    """x ~ A^{-1} b for a symmetric positive definite A given as ``matvec``: CG from x = 0.

    Stops after ``iterations`` steps or once the squared residual is below ``tolerance``
    (b = 0 gives x = 0).
    """

    def step(state):
        i, x, residual, direction, squared = state
        product = matvec(direction)
        length = squared / (direction @ product)
        x, residual = x + length * direction, residual - length * product
        new_squared = residual @ residual
        return i + 1, x, residual, residual + (new_squared / squared) * direction, new_squared

    def running(state):
        return (state[0] < iterations) & (state[4] >= tolerance)

    _, solution, residual, _, _ = jax.lax.while_loop(running, step, (0, jnp.zeros_like(b), b, b, b @ b))
    return ConjugateGradient(solution, residual)


class TrpoSettings(NamedTuple):
    """TRPO-MAML's outer step; defaults of the standard 2D-navigation configuration."""

    max_kl: float = 0.01
    cg_iterations: int = 10
    cg_damping: float = 1e-5
    line_search_steps: int = 15
    backtrack_ratio: float = 0.8
    inner_objective: str = "dice"
    cg_subsample: float = 1.0


class TrpoStep(NamedTuple):
    """The new parameters; surrogate gain, mean KL and step fraction of the accepted step (all 0 if none)."""

    params: jax.Array
    surrogate_gain: jax.Array
    kl: jax.Array
    step_fraction: jax.Array


def kl_fisher_product(
    distribution: Distribution, params: jax.Array, observations: jax.Array, alive: jax.Array, tangent: jax.Array
) -> jax.Array:
    """Hessian of theta -> live-step mean KL(pi_params || pi_theta) at theta = params, times ``tangent``.

    The Fisher matrix of the Gaussian, J^T diag(1 / sigma^2 for the mean, 2 for log_std) J with
    J the Jacobian of (mean, log_std) per live step: one JVP and one VJP of the policy, no
    second derivatives.
    """
    gaussian, (mean_tangent, log_std_tangent) = jax.jvp(lambda p: distribution(p, observations), (params,), (tangent,))
    weights = alive[..., None] / jnp.sum(alive)
    _, pullback = jax.vjp(lambda p: distribution(p, observations), params)
    cotangent = Gaussian(mean_tangent * jnp.exp(-2 * gaussian.log_std) * weights, 2 * log_std_tangent * weights)
    return pullback(cotangent)[0]


def inner_jacobian_products(
    distribution: Distribution, alpha: float, params: jax.Array, inner_batches: tuple, objective: str = "dice"
):
    """(v -> J v (N, P), w (N, P) -> J^T w (P,)) for J the Jacobian of the tasks' inner steps at ``params``.

    With one inner step J_n = I + alpha * (Hessian of the inner objective) is symmetric, so
    J^T w is a sum of per-task JVPs, about half the cost of a VJP through the inner
    gradient (measured with the 64x64 MLP); with more steps it is the VJP.
    """
    adapt_all = partial(adapt_tasks, distribution, alpha, inner_batches=inner_batches, objective=objective)

    def jacobian_product(vector):
        return jax.jvp(adapt_all, (params,), (vector,))[1]

    if len(inner_batches) == 1:

        def task_product(batch, tangent):
            def task_adapt(theta):
                return adapt(distribution, alpha, theta, (batch,), objective)

            return jax.jvp(task_adapt, (params,), (tangent,))[1]

        def jacobian_transpose_product(cotangent):
            return jnp.sum(jax.vmap(task_product)(inner_batches[0], cotangent), axis=0)

    else:
        pullback = jax.vjp(adapt_all, params)[1]

        def jacobian_transpose_product(cotangent):
            return pullback(cotangent)[0]

    return jacobian_product, jacobian_transpose_product


def first_trajectories(batch: TrajectoryBatch, fraction: float) -> TrajectoryBatch:
    """Each task's first max(1, round(fraction * K)) of its K trajectories ((N, K, T, ...) batch).

    A task's trajectories are independent draws, so its first ones are a random subset (rllab
    draws indices; a prefix takes no random numbers). Objectives are means over
    trajectories, so the subset's curvature estimates the whole batch's at the same scale.
    """
    kept = max(1, round(fraction * batch.alive.shape[1]))
    return TrajectoryBatch(*(array[:, :kept] for array in batch))


class TrpoProblem(NamedTuple):
    """One meta-batch's TRPO problem at the current meta-parameters.

    ``adapt`` maps meta-parameters to adapted ones (N, P); ``surrogate`` and ``kl`` are L and
    KL as functions of adapted parameters; ``adapted`` the current adapted parameters (the
    samplers of the outer batch); ``gradient`` = grad L; ``damped_curvature`` v -> (H + damping I) v.
    """

    adapt: Callable[[jax.Array], jax.Array]
    surrogate: Callable[[jax.Array], jax.Array]
    kl: Callable[[jax.Array], jax.Array]
    adapted: jax.Array
    gradient: jax.Array
    damped_curvature: Callable[[jax.Array], jax.Array]


def trpo_problem(
    distribution: Distribution,
    alpha: float,
    damping: float,
    params: jax.Array,
    inner_batches: tuple,
    outer_batch: TrajectoryBatch,
    inner_objective: str = "dice",
    cg_subsample: float = 1.0,
) -> TrpoProblem:
    """L, KL, grad L and the damped KL-Hessian product of one meta-batch (see the module docstring).

    The product uses each task's first ``cg_subsample`` of the trajectories (``first_trajectories``).
    """
    adapt_all = partial(adapt_tasks, distribution, alpha, inner_batches=inner_batches, objective=inner_objective)
    adapted = adapt_all(params)
    gradient_pullback = inner_jacobian_products(distribution, alpha, params, inner_batches, inner_objective)[1]
    task_distribution = jax.vmap(distribution)
    old = jax.lax.stop_gradient(task_distribution(adapted, outer_batch.observations))
    old_log_probs = gaussian_log_probs(old, outer_batch.actions)

    def surrogate(new_adapted):
        log_probs = gaussian_log_probs(task_distribution(new_adapted, outer_batch.observations), outer_batch.actions)
        return likelihood_ratio_objective(log_probs, old_log_probs, outer_batch.advantages)

    def kl(new_adapted):
        new = task_distribution(new_adapted, outer_batch.observations)
        return task_live_mean(gaussian_kl(old, new), outer_batch.alive)

    fisher = jax.vmap(partial(kl_fisher_product, distribution))
    curvature_inner = tuple(first_trajectories(batch, cg_subsample) for batch in inner_batches)
    curvature_outer = first_trajectories(outer_batch, cg_subsample)
    jacobian_product, jacobian_transpose_product = inner_jacobian_products(
        distribution, alpha, params, curvature_inner, inner_objective
    )

    def damped_curvature(vector):
        fisher_product = fisher(adapted, curvature_outer.observations, curvature_outer.alive, jacobian_product(vector))
        return jacobian_transpose_product(fisher_product / len(adapted)) + damping * vector

    gradient = gradient_pullback(jax.grad(surrogate)(adapted))
    return TrpoProblem(adapt_all, surrogate, kl, adapted, gradient, damped_curvature)


def trpo_full_step(problem: TrpoProblem, settings: TrpoSettings) -> jax.Array:
    """The CG direction scaled to a quadratic KL of ``max_kl`` (zero when there is no curvature).

    The direction's curvature comes from CG's residual, which saves the eleventh product.
    """
    solved = conjugate_gradient(problem.damped_curvature, problem.gradient, settings.cg_iterations)
    direction = solved.solution
    curvature = direction @ (problem.gradient - solved.residual)
    scale = jnp.sqrt(2 * settings.max_kl / jnp.where(curvature > 0, curvature, 1.0))
    return jnp.where(curvature > 0, scale, 0.0) * direction


def trpo_step(
    distribution: Distribution,
    alpha: float,
    settings: TrpoSettings,
    params: jax.Array,
    inner_batches: tuple,
    outer_batch: TrajectoryBatch,
) -> TrpoStep:
    """One TRPO-MAML outer step from ``params`` on one meta-batch: CG direction, backtracking line search."""
    problem = trpo_problem(
        distribution,
        alpha,
        settings.cg_damping,
        params,
        inner_batches,
        outer_batch,
        settings.inner_objective,
        settings.cg_subsample,
    )
    full_step = trpo_full_step(problem, settings)
    start = problem.surrogate(problem.adapted)

    def try_step(state):
        index = state[0]
        fraction = jnp.asarray(settings.backtrack_ratio, start.dtype) ** index  # in the batch's precision
        adapted = problem.adapt(params + fraction * full_step)
        gain, kl = problem.surrogate(adapted) - start, problem.kl(adapted)
        return index + 1, (gain > 0) & (kl <= settings.max_kl), fraction, gain, kl

    def searching(state):
        return (state[0] < settings.line_search_steps) & ~state[1]

    zero = jnp.zeros_like(start)
    _, accepted, fraction, gain, kl = jax.lax.while_loop(searching, try_step, (0, False, zero, zero, zero))
    fraction = jnp.where(accepted, fraction, 0.0)
    return TrpoStep(
        params + fraction * full_step, jnp.where(accepted, gain, 0.0), jnp.where(accepted, kl, 0.0), fraction
    )


class PrompSettings(NamedTuple):
    """ProMP's outer optimisation of one meta-batch (defaults of ``pro_mp.py``)."""

    learning_rate: float = 1e-3
    outer_steps: int = 5
    clip_eps: float = 0.2
    target_inner_kl: float = 0.01


class PrompStep(NamedTuple):
    """New parameters and Adam state, the inner KLs (S,) at them, the next penalty coefficients (S,)."""

    params: jax.Array
    optimizer_state: dict
    inner_kls: jax.Array
    kl_coefficients: jax.Array


def lvc_inner_step(
    distribution: Distribution, alpha: float, params: jax.Array, batch: TrajectoryBatch, sampler: Gaussian
) -> jax.Array:
    """theta + alpha grad J_LVC(theta) on one task's batch sampled by ``sampler``."""
    sampler_log_probs = gaussian_log_probs(sampler, batch.actions)

    def objective(theta):
        return likelihood_ratio_objective(
            policy_log_probs(distribution, theta, batch), sampler_log_probs, batch.advantages
        )

    return params + alpha * jax.grad(objective)(params)


def clipped_ratio_objective(log_probs, sampler_log_probs, advantages, alive, clip_eps: float) -> jax.Array:
    """PPO's mean over live steps of min(r A, clip(r, 1 - eps, 1 + eps) A), r = pi / pi_sampler."""
    ratios = jnp.exp(log_probs - sampler_log_probs)
    clipped = jnp.minimum(ratios * advantages, jnp.clip(ratios, 1 - clip_eps, 1 + clip_eps) * advantages)
    return live_mean(clipped, alive)


def sampler_distributions(distribution, alpha, params, inner_batches) -> tuple[tuple[Gaussian, ...], Gaussian]:
    """The policies that sampled one task's batches: each inner batch's, then the outer batch's (no gradient)."""
    samplers, adapted = [], params
    for batch in inner_batches:
        samplers.append(distribution(adapted, batch.observations))
        adapted = lvc_inner_step(distribution, alpha, adapted, batch, samplers[-1])
    return jax.lax.stop_gradient((tuple(samplers), adapted))


def promp_task_terms(distribution, alpha, clip_eps, params, inner_batches, samplers, outer_batch, outer_sampler):
    """One task's clipped post-update objective and its inner KLs (S,) at meta-parameters ``params``."""
    adapted, kls = params, []
    for batch, sampler in zip(inner_batches, samplers, strict=True):
        kls.append(live_mean(gaussian_kl(sampler, distribution(adapted, batch.observations)), batch.alive))
        adapted = lvc_inner_step(distribution, alpha, adapted, batch, sampler)
    objective = clipped_ratio_objective(
        policy_log_probs(distribution, adapted, outer_batch),
        gaussian_log_probs(outer_sampler, outer_batch.actions),
        outer_batch.advantages,
        outer_batch.alive,
        clip_eps,
    )
    return objective, jnp.stack(kls)


def adam_ascent(params: jax.Array, gradient: jax.Array, state: dict, learning_rate: float) -> tuple[jax.Array, dict]:
    """``optimizers.ascent_step("adam", ...)`` for traced JAX arrays: same constants, same state layout."""
    t = state["t"] + 1
    m = ADAM_BETA1 * state["m"] + (1 - ADAM_BETA1) * gradient
    v = ADAM_BETA2 * state["v"] + (1 - ADAM_BETA2) * gradient**2
    step = (m / (1 - ADAM_BETA1**t)) / (jnp.sqrt(v / (1 - ADAM_BETA2**t)) + ADAM_EPS)
    return params + learning_rate * step, {"m": m, "v": v, "t": t}


def adapted_kl_coefficients(coefficients: jax.Array, kls: jax.Array, target: float) -> jax.Array:
    """ProMP's adaptive penalty: halve where KL < target / 1.5, double where KL > 1.5 target."""
    return jnp.where(
        kls < target / KL_RATE_BAND,
        coefficients / 2,
        jnp.where(kls > target * KL_RATE_BAND, coefficients * 2, coefficients),
    )


def promp_update(
    distribution: Distribution,
    alpha: float,
    settings: PrompSettings,
    params: jax.Array,
    optimizer_state: dict,
    kl_coefficients: jax.Array,
    inner_batches: tuple,
    outer_batch: TrajectoryBatch,
) -> PrompStep:
    """``outer_steps`` Adam ascent steps on ProMP's objective for one meta-batch sampled by ``params``."""
    samplers, outer_samplers = jax.vmap(partial(sampler_distributions, distribution, alpha), in_axes=(None, 0))(
        params, inner_batches
    )
    outer_sampler = jax.vmap(distribution)(outer_samplers, outer_batch.observations)
    terms = jax.vmap(partial(promp_task_terms, distribution, alpha, settings.clip_eps), in_axes=(None, 0, 0, 0, 0))

    def mean_terms(theta):
        objectives, kls = terms(theta, inner_batches, samplers, outer_batch, outer_sampler)
        return jnp.mean(objectives), jnp.mean(kls, axis=0)

    def penalised(theta):
        objective, kls = mean_terms(theta)
        return objective - jnp.mean(kl_coefficients * kls)

    def outer_step(carry, _):
        theta, state = carry
        return adam_ascent(theta, jax.grad(penalised)(theta), state, settings.learning_rate), None

    (params, optimizer_state), _ = jax.lax.scan(
        outer_step, (params, optimizer_state), None, length=settings.outer_steps
    )
    inner_kls = mean_terms(params)[1]
    coefficients = adapted_kl_coefficients(kl_coefficients, inner_kls, settings.target_inner_kl)
    return PrompStep(params, optimizer_state, inner_kls, coefficients)


def dice_return_objective(log_probs: jax.Array, rewards: jax.Array) -> jax.Array:
    """The original DiCE (Foerster et al. 2018): mean over leading axes of sum_t box(W_t) r_t."""
    return jnp.sum(magic_box(jnp.cumsum(log_probs, axis=-1)) * rewards) / np.prod(rewards.shape[:-1])


def first_order_control_variate(log_probs: jax.Array, baselines: jax.Array) -> jax.Array:
    """DiCE's baseline term, mean of sum_t (1 - box(log pi_t)) b_t: zero value, baselines the first order."""
    return jnp.sum((1 - magic_box(log_probs)) * baselines) / np.prod(baselines.shape[:-1])


def tmaml_control_variates(log_probs: jax.Array, baselines: jax.Array) -> jax.Array:
    """T-MAML's control variates: the first-order baseline minus the cross-term one (module docstring)."""
    earlier = jnp.cumsum(log_probs, axis=-1) - log_probs  # W_{t-1}
    cross = jnp.sum((1 - magic_box(log_probs)) * (1 - magic_box(earlier)) * baselines) / np.prod(baselines.shape[:-1])
    return first_order_control_variate(log_probs, baselines) - cross


def tmaml_objective(log_probs: jax.Array, rewards: jax.Array, baselines: jax.Array) -> jax.Array:
    """DiCE on raw rewards plus T-MAML's control variates for baselines b(s_t) (..., K, T)."""
    return dice_return_objective(log_probs, rewards) + tmaml_control_variates(log_probs, baselines)


class TmamlSettings(NamedTuple):
    """Adam ascent along the mean T-MAML (= Loaded DiCE) meta-gradient, as ``pg_maml`` trains."""

    learning_rate: float = 0.01


class OuterUpdate(NamedTuple):
    """What an outer method returns: new parameters, Adam state, ProMP's KL coefficients, scalar statistics."""

    params: jax.Array
    optimizer_state: dict
    kl_coefficients: jax.Array
    stats: dict


def trpo_update(distribution, alpha, settings: TrpoSettings, params, optimizer_state, kl_coefficients, inner, outer):
    """TRPO-MAML; the Adam state and KL coefficients pass through."""
    step = trpo_step(distribution, alpha, settings, params, inner, outer)
    stats = {"kl": step.kl, "surrogate_gain": step.surrogate_gain, "step_fraction": step.step_fraction}
    return OuterUpdate(step.params, optimizer_state, kl_coefficients, stats)


def promp_outer_update(
    distribution, alpha, settings: PrompSettings, params, optimizer_state, kl_coefficients, inner, outer
):
    """ProMP; reports the mean inner KL and penalty coefficient."""
    step = promp_update(distribution, alpha, settings, params, optimizer_state, kl_coefficients, inner, outer)
    stats = {"inner_kl": jnp.mean(step.inner_kls), "kl_coefficient": jnp.mean(step.kl_coefficients)}
    return OuterUpdate(step.params, step.optimizer_state, step.kl_coefficients, stats)


def tmaml_meta_gradient(distribution: Distribution, alpha: float, params, inner_batches, outer_batch) -> jax.Array:
    """Mean over tasks of the T-MAML (= Loaded DiCE) meta-gradient J^T grad L(theta'), pulled back as TRPO's."""
    adapted = adapt_tasks(distribution, alpha, params, inner_batches)

    def outer_objective(theta, batch):
        return dice_objective(policy_log_probs(distribution, theta, batch), batch.advantages)

    outer_gradients = jax.vmap(jax.grad(outer_objective))(adapted, outer_batch)
    return inner_jacobian_products(distribution, alpha, params, inner_batches)[1](outer_gradients) / len(adapted)


def tmaml_update(distribution, alpha, settings: TmamlSettings, params, optimizer_state, kl_coefficients, inner, outer):
    """One Adam step along the mean T-MAML (= Loaded DiCE) meta-gradient; KL coefficients pass through."""
    gradient = tmaml_meta_gradient(distribution, alpha, params, inner, outer)
    params, optimizer_state = adam_ascent(params, gradient, optimizer_state, settings.learning_rate)
    return OuterUpdate(params, optimizer_state, kl_coefficients, {"gradient_norm": jnp.linalg.norm(gradient)})


OUTER_METHODS = {"trpo": trpo_update, "promp": promp_outer_update, "tmaml": tmaml_update}


@lru_cache(maxsize=16)
def compiled_outer_update(method: str, distribution: Distribution, alpha: float, settings: NamedTuple) -> Callable:
    """The jitted update (params, optimizer_state, kl_coefficients, inner_batches, outer_batch) -> OuterUpdate."""
    return jax.jit(partial(OUTER_METHODS[method], distribution, alpha, settings))


def pg_outer_update(
    method: str,
    distribution: Distribution,
    alpha: float,
    settings: NamedTuple,
    params: np.ndarray,
    optimizer_state: dict,
    kl_coefficients: np.ndarray,
    inner_batches: tuple,
    outer_batch: TrajectoryBatch,
    precision: str = "float64",
) -> OuterUpdate:
    """One outer update of ``method`` ("trpo", "promp" or "tmaml") on one meta-batch, as numpy arrays.

    ``params`` sampled the batches (``PGMAML.sampled_adaptation``); ``optimizer_state`` is an Adam state
    (``optimizers.init_optimizer_state("adam", P)``; TRPO passes it through) and
    ``kl_coefficients`` ProMP's penalty coefficients, one per inner step (others pass them through).
    JAX computes in ``precision`` (``pg_maml.jax_precision``); the results are float64 either way.
    """
    with jax_precision(precision):
        update = compiled_outer_update(method, distribution, alpha, settings)(
            params, optimizer_state, kl_coefficients, inner_batches, outer_batch
        )
        return as_float64(update)
