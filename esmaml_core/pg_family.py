"""TRPO-MAML, ProMP and T-MAML as methods of ``train``: PG-MAML's sampling, the literature's outer steps.

Each iteration samples exactly as ``pg_maml.PGMAML`` does (training and evaluation tasks
adapted together, one batched rollout per stage), then hands the training tasks'
batches to ``pg_outer.pg_outer_update``, which returns the new parameters. The optimizer
state each method keeps, checkpointed by the trainer as it is:

- TRPO-MAML: none (the step is solved afresh from each batch);
- ProMP: Adam's ``m``, ``v``, ``t`` and ``kl_coefficients``, its inner KL penalty
  coefficients (one per inner step, starting at ProMP's ``init_inner_kl_penalty`` 0.01);
- T-MAML: Adam's ``m``, ``v``, ``t``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from esmaml_core.evaluation import BatchEvaluator
from esmaml_core.optimizers import OptimizerState, init_optimizer_state
from esmaml_core.pg_maml import PGMAML
from esmaml_core.pg_outer import PrompSettings, TmamlSettings, TrpoSettings, pg_outer_update
from esmaml_core.results import MetaUpdate

INITIAL_KL_PENALTY = 0.01  # ProMP's init_inner_kl_penalty
KL_KEY = "kl_coefficients"


class PGOuterMethod(PGMAML):
    """A PG-family method whose outer step is ``pg_outer``'s ``outer_method``."""

    outer_method: str

    def settings(self) -> NamedTuple:
        """The outer step's settings, from the config."""
        raise NotImplementedError

    def initial_optimizer_state(self) -> OptimizerState:
        return init_optimizer_state("adam", self.policy.num_params)

    def meta_update(
        self,
        params: np.ndarray,
        optimizer_state: OptimizerState,
        evaluate: BatchEvaluator,
        rng: np.random.Generator,
        probe: bool,
    ) -> MetaUpdate:
        """Sample one meta-batch from ``params``, then take the outer step on its training tasks."""
        batch = self.meta_batch(params, evaluate, rng, probe)
        inner, outer = batch.train_batches()
        state = {key: value for key, value in optimizer_state.items() if key != KL_KEY}
        update = pg_outer_update(
            self.outer_method,
            self.policy.distribution,
            self.config.alpha,
            self.settings(),
            params,
            state,
            optimizer_state.get(KL_KEY, np.zeros(0)),
            inner,
            outer,
            self.config.precision,
        )
        new_state = dict(update.optimizer_state)
        if KL_KEY in optimizer_state:
            new_state[KL_KEY] = update.kl_coefficients
        return MetaUpdate(
            update.params, new_state, batch.pre_adaptation_returns, batch.post_adaptation_returns, batch.probe
        )


class TRPOMAML(PGOuterMethod):
    """TRPO on the post-adaptation surrogate (Finn et al. 2017), no optimizer state."""

    outer_method = "trpo"

    def settings(self) -> TrpoSettings:
        cfg = self.config
        return TrpoSettings(
            cfg.max_kl,
            cfg.cg_iterations,
            cfg.cg_damping,
            cfg.line_search_steps,
            cfg.backtrack_ratio,
            cfg.inner_objective,
            cfg.cg_subsample,
        )

    def initial_optimizer_state(self) -> OptimizerState:
        return {}


class ProMP(PGOuterMethod):
    """ProMP (Rothfuss et al. 2019): ``outer_steps`` clipped, KL-penalised Adam steps per batch."""

    outer_method = "promp"

    def settings(self) -> PrompSettings:
        cfg = self.config
        return PrompSettings(cfg.lr, cfg.outer_steps, cfg.clip_eps, cfg.target_inner_kl)

    def initial_optimizer_state(self) -> OptimizerState:
        return {**super().initial_optimizer_state(), KL_KEY: np.full(self.config.inner_steps, INITIAL_KL_PENALTY)}


class TMAML(PGOuterMethod):
    """T-MAML (Liu et al. 2019): Adam along the control-variate meta-gradient."""

    outer_method = "tmaml"

    def settings(self) -> TmamlSettings:
        return TmamlSettings(self.config.lr)
