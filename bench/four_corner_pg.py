"""Why PG-MAML with the linear policy does not meta-learn Four Corner: the numbers of docs/FOUR_CORNER_PG.md.

Every measurement starts from the untrained PG-MAML policy (zero mean, log std -1) with
the pg_maml method defaults, on N tasks cycling through the four corners:

1. exploration: how many of the K = 20 stochastic trajectories reach the reward region
   (distance < 2 from the corner), and how far they get;
2. the inner step: the angle between the policy gradient of the bias and the corner
   direction, and the post-adaptation return and final distance for several alpha;
3. the landscape of the post-adaptation return along the directions the square's
   symmetry leaves open for the linear policy (W = s I + r J, J the 90-degree rotation,
   and the log std), bias zero;
4. the meta-gradient at the untrained policy: its mean over N tasks in units of its
   standard error (|t| below about 2: no signal), linear and MLP policies.

    python bench/four_corner_pg.py [--tasks 400]
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

from esmaml_core.config import TrainConfig
from esmaml_core.pg_maml import dice_objective, float64
from esmaml_core.tasks.point import CORNERS
from esmaml_core.trainer import Trainer, make_trainer

REWARD_RADIUS = 2.0  # the reward -4 + max(0, 4 - d^2) is above -4 only for d < 2


def trainer_for(**values) -> Trainer:
    return make_trainer(TrainConfig.for_method(method="pg_maml", task="four_corner", **values))


def corner_tasks(count: int) -> np.ndarray:
    return CORNERS[np.arange(count) % 4]


def adapted(trainer: Trainer, params: np.ndarray, tasks: np.ndarray):
    """The PG-MAML adaptation of ``params`` to each of ``tasks``, trajectories and all, from a fixed seed."""
    return trainer.learner.sampled_adaptation(
        params, trainer.evaluator(trainer.state.rng), tasks, np.random.default_rng(0)
    )


def exploration(trainer: Trainer, tasks: np.ndarray) -> None:
    params = np.broadcast_to(trainer.state.params, (len(tasks), trainer.policy.num_params))
    sampled = trainer.learner.sample(params, tasks, trainer.evaluator(trainer.state.rng), np.random.default_rng(0))
    distances = np.linalg.norm(sampled.observations - tasks[:, None, None], axis=-1)
    reached = (distances < REWARD_RADIUS).any(axis=-1)
    print(
        f"1. exploration: {reached.mean():.0%} of trajectories reach the reward region, "
        f"{reached.any(axis=1).mean():.0%} of tasks have one of K={reached.shape[1]}; "
        f"mean final |pos| {np.linalg.norm(sampled.observations[:, :, -1], axis=-1).mean():.2f}, "
        f"mean return {sampled.returns.mean():.1f} (best {sampled.returns.max():.1f})"
    )


def inner_step(tasks: np.ndarray, alphas: tuple[float, ...]) -> None:
    trainer = trainer_for()
    learner, evaluate = trainer.learner, trainer.evaluator(trainer.state.rng)
    params = np.broadcast_to(trainer.state.params, (len(tasks), trainer.policy.num_params))
    sampled = learner.sample(params, tasks, evaluate, np.random.default_rng(0))
    gradient = jax.vmap(jax.grad(lambda p, b: dice_objective(learner.policy.log_probs(p, b), b.advantages)))
    with float64():
        gradients = np.asarray(gradient(params, sampled.batch))
    bias = gradients[:, 4:6]  # linear policy layout: W (2 x 2), bias (2), log std (2)
    cosine = np.sum(bias * tasks, axis=1) / np.linalg.norm(bias, axis=1) / np.linalg.norm(tasks, axis=1)
    print(f"2. inner step: cos(bias gradient, corner direction) mean {cosine.mean():.2f}, min {cosine.min():.2f}")
    for alpha in alphas:
        post = learner.sample(params + alpha * gradients, tasks, evaluate, np.random.default_rng(1))
        final = np.linalg.norm(post.observations[:, :, -1] - tasks[:, None], axis=-1).mean()
        print(
            f"   alpha {alpha:<6}: return {sampled.returns.mean():.1f} -> {post.returns.mean():.1f}, "
            f"mean final distance to the corner {final:.2f}"
        )


def symmetric_landscape(tasks: np.ndarray) -> None:
    print("3. post-adaptation return of the linear policy W = s I + r J, bias 0 (s > 0 pushes away from the origin)")
    trainer = trainer_for()
    points = [(0.0, 0.0), (-0.1, 0.0), (-0.3, 0.0), (0.1, 0.0), (0.3, 0.0), (1.0, 0.0), (0.0, 0.3), (0.0, 1.0)]
    for log_std in (-2.3, -1.0, 0.0):
        row = []
        for s, r in points:
            params = np.array([s, -r, r, s, 0.0, 0.0, log_std, log_std])
            adaptation = trainer.learner.sampled_adaptation(
                params, trainer.evaluator(trainer.state.rng), tasks, np.random.default_rng(0)
            )
            row.append(f"s{s:+},r{r}: {adaptation.post.returns.mean():.0f}")
        print(f"   log std {log_std:+}: " + "  ".join(row))


def meta_gradient_signal(tasks: np.ndarray) -> None:
    for policy in ("linear", "mlp"):
        trainer = trainer_for(policy=policy)
        params = trainer.state.params
        adaptation = trainer.learner.sampled_adaptation(
            params, trainer.evaluator(trainer.state.rng), tasks, np.random.default_rng(0)
        )
        gradients = trainer.learner.task_meta_gradients(params, adaptation, slice(None))
        moving = gradients.std(axis=0) > 0  # an MLP's dead ReLU units have no gradient at all
        t = gradients[:, moving].mean(axis=0) / (gradients[:, moving].std(axis=0, ddof=1) / np.sqrt(len(tasks)))
        print(
            f"4. meta-gradient, {policy} ({moving.sum()} of {len(params)} parameters move, {len(tasks)} tasks): "
            f"|t| median {np.median(np.abs(t)):.2f}, max {np.abs(t).max():.2f}, "
            f"fraction above 3: {np.mean(np.abs(t) > 3):.0%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=400)
    tasks = corner_tasks(parser.parse_args().tasks)
    exploration(trainer_for(), tasks)
    inner_step(tasks, alphas=(0.0003, 0.001, 0.003, 0.01, 0.03))
    symmetric_landscape(tasks)
    meta_gradient_signal(tasks)


if __name__ == "__main__":
    main()
