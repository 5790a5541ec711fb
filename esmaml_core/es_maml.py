"""ES-MAML meta-gradients (Song et al., ICLR 2020): zero-order and first-order/Hessian.

Zero-order (Algorithm 3 of the paper): with directions g_i and one training task T_i per
direction (shared by an antithetic pair),

    grad J(theta) ~ 1/(n sigma) sum_i shape(R_{T_i}(U_{T_i}(theta + sigma g_i))) g_i,

where U is any adaptation operator, even a non-differentiable one such as hill climbing.

First-order/Hessian (the paper's "ES-MAML with ES gradient adaptation"): on each task,
U(theta) = theta + alpha g1 with g1 the operator's K-query ES gradient; the
meta-gradient is g2 + alpha H g2, with g2 an ES gradient at U(theta) from the sampler's
rows for ``n`` directions (2n antithetic) and H the K-query ES Hessian
mean_k((z_k - mean z) eps_k eps_k^T) / sigma^2 (drop H with ``hessian=False``).
Returns are z-scored per task, so g1, g2 and H are in the same units.

Both learners evaluate the current meta-policy on fixed held-out tasks in the same
batched calls as the perturbations: the pre/post-adaptation returns they report are
those of theta itself, and the first ``probe_tasks`` of them can be recorded as paths.
"""

from __future__ import annotations

import numpy as np

from esmaml_core.adaptation import AdaptationResult, make_operator
from esmaml_core.config import TrainConfig
from esmaml_core.evaluation import BatchEvaluator, Evaluation
from esmaml_core.fitness import shape_fitness, zscore
from esmaml_core.learners import GradientAscent
from esmaml_core.policies import make_policy
from esmaml_core.results import Adaptation, AdaptationOutcome, MetaGradient, ProbeTrajectories
from esmaml_core.sampling import make_sampler
from esmaml_core.tasks.base import TaskFamily, fixed_tasks, sample_tasks


def probe_trajectories(
    adaptation: AdaptationResult, adapted: Evaluation, rows: slice, tasks: np.ndarray
) -> ProbeTrajectories:
    """Cut the probe rows out of a recorded adaptation and the adapted policies' rollouts."""
    return ProbeTrajectories(
        tasks=tasks,
        start_paths=adaptation.start_observations[rows],
        query_paths=adaptation.query_observations[rows],
        adapted_paths=adapted.observations[rows],
        query_returns=adaptation.query_returns[rows],
        adapted_returns=adapted.returns[rows],
        accepted=None if adaptation.accepted is None else adaptation.accepted[rows],
    )


class ESLearnerBase(GradientAscent):
    """What both ES-MAML learners share: policy, operator, sampler, evaluation tasks."""

    def __init__(self, config: TrainConfig, family: TaskFamily):
        self.config, self.family = config, family
        self.policy = make_policy(family.obs_dim, family.act_dim, config.hidden_sizes, config.activation)
        self.operator = make_operator(config.operator, config.queries, config.adaptation_sigma, config.alpha)
        self.sampler = make_sampler(config.sampler, config.sigma)
        self.eval_tasks = fixed_tasks(family, config.eval_tasks, "test")

    def operator_adaptation(
        self, params: np.ndarray, evaluate: BatchEvaluator, tasks: np.ndarray, rng: np.random.Generator, record=False
    ) -> AdaptationResult:
        """The meta-parameters ``params`` (P,) adapted to each of ``tasks`` by the operator, queries and all."""
        starts = np.broadcast_to(params, (len(tasks), len(params)))
        return self.operator.adapt(evaluate, starts, tasks, rng, record=record)

    def adapt(
        self, params: np.ndarray, evaluate: BatchEvaluator, tasks: np.ndarray, rng: np.random.Generator
    ) -> Adaptation:
        """The meta-parameters ``params`` (P,) adapted to each of ``tasks``."""
        adaptation = self.operator_adaptation(params, evaluate, tasks, rng)
        return Adaptation(adaptation.adapted_params, adaptation.start_returns)

    def evaluate_adaptation(
        self, params: np.ndarray, evaluate: BatchEvaluator, tasks: np.ndarray, rng: np.random.Generator, record=False
    ) -> AdaptationOutcome:
        """Adapt to each task and roll out the adapted policies: returns before and after, paths if recorded."""
        adaptation = self.operator_adaptation(params, evaluate, tasks, rng, record)
        adapted = evaluate(adaptation.adapted_params, tasks, record=record)
        probe = probe_trajectories(adaptation, adapted, slice(None), tasks) if record else None
        return AdaptationOutcome(adaptation.start_returns, adapted.returns, probe)


class ZeroOrderESMAML(ESLearnerBase):
    """Zero-order ES-MAML: any adaptation operator, antithetic/orthogonal/DPP directions."""

    def meta_gradient(
        self, params: np.ndarray, evaluate: BatchEvaluator, rng: np.random.Generator, probe: bool = False
    ) -> MetaGradient:
        cfg = self.config
        directions = self.sampler.draw(rng, cfg.perturbations, len(params))
        train_tasks = sample_tasks(self.family, rng, cfg.perturbations, "train")
        train_tasks = np.repeat(train_tasks, self.sampler.rows_per_direction, axis=0)
        num_rows = len(directions)
        starts = np.concatenate(
            [params + cfg.sigma * directions, np.broadcast_to(params, (len(self.eval_tasks), len(params)))]
        )
        tasks = np.concatenate([train_tasks, self.eval_tasks])
        with evaluate.statistics_from(num_rows, len(tasks)):
            adaptation = self.operator.adapt(evaluate, starts, tasks, rng, record=probe)
            adapted = evaluate(adaptation.adapted_params, tasks, record=probe)
        weights = shape_fitness(adapted.returns[:num_rows], cfg.fitness)
        gradient = weights @ directions / (num_rows * cfg.sigma)
        probe_rows = slice(num_rows, num_rows + cfg.probe_tasks)
        return MetaGradient(
            gradient=gradient,
            pre_adaptation_returns=adaptation.start_returns[num_rows:],
            post_adaptation_returns=adapted.returns[num_rows:],
            probe=probe_trajectories(adaptation, adapted, probe_rows, self.eval_tasks[: cfg.probe_tasks])
            if probe
            else None,
        )


class FirstOrderESMAML(ESLearnerBase):
    """First-order ES-MAML through the ES-gradient operator, optionally with its ES Hessian."""

    def meta_gradient(
        self, params: np.ndarray, evaluate: BatchEvaluator, rng: np.random.Generator, probe: bool = False
    ) -> MetaGradient:
        cfg = self.config
        num_tasks, num_eval, dim = cfg.task_batch, len(self.eval_tasks), len(params)
        train_tasks = sample_tasks(self.family, rng, num_tasks, "train")
        starts = np.broadcast_to(params, (num_tasks + num_eval, dim))
        tasks = np.concatenate([train_tasks, self.eval_tasks])
        with evaluate.statistics_from(num_tasks, len(tasks)):
            adaptation = self.operator.adapt(evaluate, starts, tasks, rng, record=probe)
        adapted_train = adaptation.adapted_params[:num_tasks]
        adapted_eval = adaptation.adapted_params[num_tasks:]

        directions = self.sampler.draw_batch(rng, num_tasks, cfg.perturbations, dim)
        outer = np.concatenate([adapted_train[:, None], adapted_train[:, None] + cfg.sigma * directions], axis=1)
        outer_returns = evaluate(outer, train_tasks).returns
        with evaluate.statistics_from(0, num_eval):
            post = evaluate(adapted_eval, self.eval_tasks, record=probe)
        weights = shape_fitness(outer_returns, cfg.fitness)[:, 1:]
        outer_gradient = np.einsum("tr,trp->tp", weights, directions) / (directions.shape[1] * cfg.sigma)
        if cfg.hessian:
            outer_gradient = outer_gradient + cfg.alpha * self._hessian_times(adaptation, num_tasks, outer_gradient)
        probe_rows = slice(0, cfg.probe_tasks)
        return MetaGradient(
            gradient=outer_gradient.mean(axis=0),
            pre_adaptation_returns=adaptation.start_returns[num_tasks:],
            post_adaptation_returns=post.returns,
            probe=probe_trajectories(_rows(adaptation, num_tasks), post, probe_rows, self.eval_tasks[: cfg.probe_tasks])
            if probe
            else None,
        )

    def _hessian_times(self, adaptation: AdaptationResult, num_tasks: int, vectors: np.ndarray) -> np.ndarray:
        """H_t v_t per task with H_t = mean_k((z_k - mean z) eps_k eps_k^T) / sigma^2."""
        directions = adaptation.query_directions[:num_tasks]
        values = np.concatenate([adaptation.start_returns[:num_tasks, None], adaptation.query_returns[:num_tasks]], 1)
        z = zscore(values)[:, 1:]
        z = z - z.mean(axis=1, keepdims=True)
        projections = np.einsum("tkp,tp->tk", directions, vectors)
        return np.einsum("tk,tkp->tp", z * projections, directions) / (
            directions.shape[1] * self.config.adaptation_sigma**2
        )


def _rows(adaptation: AdaptationResult, start: int) -> AdaptationResult:
    """The adaptation rows from ``start`` on (the evaluation tasks' part)."""

    def cut(array):
        return None if array is None else array[start:]

    return AdaptationResult(**{name: cut(value) for name, value in vars(adaptation).items()})
