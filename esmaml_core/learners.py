"""How a method's output becomes the next meta-parameters.

The ``Trainer`` asks every learner for one ``MetaUpdate`` per iteration
(``meta_update``) and for the optimizer state a run starts from
(``initial_optimizer_state``). Methods that estimate an ascent direction (ES-MAML,
PG-MAML) implement ``meta_gradient`` and take both from ``GradientAscent``: the
configured optimizer (SGD or Adam) at the configured step size. Methods whose outer
step is an optimisation of its own (TRPO-MAML's line search, ProMP's several clipped
steps) implement ``meta_update`` directly and keep whatever state they need (ProMP's KL
coefficients) in the optimizer-state dict, which the trainer checkpoints as it is.
"""

from __future__ import annotations

import numpy as np

from esmaml_core.optimizers import OptimizerState, ascent_step, init_optimizer_state
from esmaml_core.results import MetaUpdate


class GradientAscent:
    """Mixin for a learner with ``config`` and ``policy`` whose ``meta_gradient`` gives an ascent direction."""

    def initial_optimizer_state(self) -> OptimizerState:
        return init_optimizer_state(self.config.optimizer, self.policy.num_params)

    def meta_update(
        self, params: np.ndarray, optimizer_state: OptimizerState, evaluate, rng: np.random.Generator, probe: bool
    ) -> MetaUpdate:
        """One step of the configured optimizer along ``meta_gradient`` (a NaN or inf gradient gives non-finite
        parameters, which the trainer refuses)."""
        result = self.meta_gradient(params, evaluate, rng, probe=probe)
        params, optimizer_state = ascent_step(
            self.config.optimizer, params, result.gradient, optimizer_state, self.config.lr
        )
        return MetaUpdate(
            params, optimizer_state, result.pre_adaptation_returns, result.post_adaptation_returns, result.probe
        )
