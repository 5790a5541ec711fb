"""Named configurations from the literature, each with its source: ``--preset NAME`` and the Train form.

A preset is a set of ``TrainConfig`` field values. Options given on the command line (or
changed in the form) win over the preset's; a preset value the resulting run would not
read (e.g. TRPO's ``max_kl`` once ``--method pg_maml`` is given) is dropped, not refused.
docs/ARCHITECTURE.md ("Presets") derives every value.

``maml_nav2d`` is the standard 2D-navigation configuration of MAML (Finn et al. 2017) as
the common PyTorch MAML-TRPO code runs it. Its inner step of 0.1 is on a loss averaged
over time steps with advantages normalised per task; this library's inner objective sums
over time, so with 100-step episodes and ``normalize_advantages`` the same step is
alpha = 0.1 / 100 = 0.001. The PyTorch policy's initial std is 1 (``init_log_std`` 0)
and it does not normalise observations. Its inner loss is REINFORCE's (``inner_objective``
reinforce) and it computes in float32 (``precision``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from esmaml_core.config import TrainConfig, applies
from esmaml_core.errors import ConfigError
from esmaml_core.registry import Entry, Registry

REFERENCE_EPISODE_STEPS = 100  # horizon of the 2D navigation benchmark: the per-step mean's divisor


@dataclass(frozen=True)
class Preset:
    """``values``: TrainConfig fields; ``source``: where they come from, and which are guesses."""

    values: Mapping[str, object]
    source: str


MAML_NAV2D = {
    "task": "navigation_2d",
    "method": "trpo_maml",
    "policy": "mlp",
    "hidden": (64, 64),
    "activation": "tanh",
    "task_batch": 20,
    "queries": 20,
    "inner_steps": 1,
    "alpha": 0.1 / REFERENCE_EPISODE_STEPS,
    "normalize_advantages": True,
    "discount": 0.99,
    "gae_lambda": 1.0,
    "max_kl": 0.01,
    "cg_iterations": 10,
    "cg_damping": 1e-5,
    "cg_subsample": 1.0,  # the reference's curvature products use every trajectory
    "line_search_steps": 15,
    "backtrack_ratio": 0.8,
    "init_log_std": 0.0,
    "obs_norm": False,
    "inner_objective": "reinforce",
    "precision": "float32",
    "iterations": 500,
}
# The ES-MAML paper's PG-MAML hyperparameters were not available offline: these two are the PG-MAML
# configurations this project measured to meta-learn the paper's point tasks (K = 20 queries, as the paper).
PG_MAML_FOUR_CORNER = {
    "task": "four_corner",
    "method": "pg_maml",
    "policy": "mlp",
    "hidden": (32, 32),
    "lr": 0.003,
    "iterations": 300,
}
PG_MAML_GOAL_2D = {"task": "goal_2d", "method": "pg_maml", "policy": "linear", "iterations": 100}

PRESETS = Registry(
    "preset",
    {
        "maml_nav2d": Entry(
            Preset(
                MAML_NAV2D,
                "Finn et al. 2017 (MAML) 2D navigation as run by the PyTorch MAML-TRPO code (maml-rl, "
                "configs/maml/2d-navigation.yaml): MLP 64x64 tanh, 20 tasks x 20 trajectories, inner step 0.1 "
                "on the per-step mean loss (0.001 here), normalised advantages, linear baseline, gamma 0.99, "
                "GAE lambda 1, TRPO max KL 0.01, CG 10 iterations, damping 1e-5, 15 line-search steps x 0.8, "
                "REINFORCE inner loss, float32, 500 batches",
            ),
            "MAML 2D navigation (TRPO-MAML)",
        ),
        "pg_maml_four_corner": Entry(
            Preset(
                PG_MAML_FOUR_CORNER,
                "PG-MAML (DiCE) on the ES-MAML paper's Four Corner, K = 20: an MLP policy (a linear one cannot "
                "stop at its corner) and Adam at 0.003; meta-learns on 3 of 3 seeds (docs/FOUR_CORNER_PG.md); "
                "the paper's own PG hyperparameters were not available, this is the project's measured setting "
                "(assets/pretrained/four_corner_pg_maml_mlp, seed 1)",
            ),
            "PG-MAML on Four Corner (MLP, measured)",
        ),
        "pg_maml_goal_2d": Entry(
            Preset(
                PG_MAML_GOAL_2D,
                "PG-MAML (DiCE) on the ES-MAML paper's 2D Goal, K = 20: linear Gaussian policy, the method's "
                "defaults (Adam 0.01, inner step 0.001, 20 tasks per iteration), 100 iterations; the project's "
                "measured setting (assets/pretrained/goal_2d_pg_maml_linear; an MLP did not do better there)",
            ),
            "PG-MAML on 2D Goal (linear, measured)",
        ),
    },
)


def preset_values(name: str) -> dict:
    """The fields of preset ``name``; ConfigError naming the known presets if there is none."""
    if name not in PRESETS:
        raise ConfigError("preset", name, f"known presets: {', '.join(PRESETS)}")
    return dict(PRESETS[name].values)


def with_preset(name: str, given: Mapping[str, object]) -> dict:
    """``given`` fields over preset ``name``'s, without the preset's fields the resulting run would not read."""
    values = {**preset_values(name), **given}
    all_values = TrainConfig.for_method(**values).to_values()
    return {field: value for field, value in values.items() if field in given or applies(field, all_values)}
