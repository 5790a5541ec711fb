"""Learning tests: ES-MAML actually meta-learns on the paper's exploration tasks.

These assert on the numbers of real training runs with fixed seeds, so they are the
slowest tests (marked ``slow``); together they take well under two minutes on 2 cores.
"""

import numpy as np
import pytest

from esmaml_core.config import TrainConfig
from esmaml_core.trainer import make_trainer


def post_adaptation_curve(config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    trainer = make_trainer(config)
    results = [trainer.step() for _ in range(config.iterations)]
    return (
        np.array([r.pre_adaptation_return for r in results]),
        np.array([r.post_adaptation_return for r in results]),
    )


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_four_corner_hill_climbing_defaults_learn_to_explore(seed):
    """Defaults (n=150 antithetic, sigma 0.1, K=20, hill climbing, linear): post-adaptation rises."""
    _, post = post_adaptation_curve(TrainConfig(task="four_corner", seed=seed, iterations=30))
    start, end = post[:3].mean(), post[-5:].mean()
    assert end > start + 50, (start, end)
    assert end > -200, end  # -400 never reaches a corner; -40 walks straight to it


@pytest.mark.slow
def test_goal_2d_adaptation_helps_after_training():
    pre, post = post_adaptation_curve(TrainConfig(task="goal_2d", seed=0, iterations=25))
    assert post[-5:].mean() > pre[-5:].mean() + 20, (pre[-5:], post[-5:])


TRAIN_VARIANTS = {
    "es_grad+orthogonal": dict(operator="es_grad", sampler="orthogonal"),
    "dpp+dpp": dict(operator="dpp", sampler="dpp"),
    "first_order+hessian": dict(method="es_maml_first_order", operator="es_grad", hessian=True, task_batch=5),
    "hill_climb+gaussian+adam+rank": dict(sampler="gaussian", optimizer="adam", fitness="centered_rank", lr=0.05),
    "mlp+hill_climb": dict(policy="mlp", hidden=(16,)),
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", TRAIN_VARIANTS)
def test_every_operator_and_sampler_trains(variant):
    """Each operator, sampler, optimizer and method trains on 2D Goal: adaptation helps by a wide margin.

    Gradient operators must also raise their post-adaptation return; hill climbing from the
    zero-initialised policy is near its best from the first iteration on this task.
    """
    overrides = {"task": "goal_2d", "seed": 1, "iterations": 15, "perturbations": 40, **TRAIN_VARIANTS[variant]}
    config = TrainConfig(**overrides)
    pre, post = post_adaptation_curve(config)
    assert post[-4:].mean() > pre[-4:].mean() + 20, (variant, pre, post)
    if config.operator != "hill_climb":
        assert post[-4:].mean() > post[:2].mean() + 5, (variant, post)
