"""Batched point-task rollouts versus a per-environment gymnasium loop, in one run.

    python bench/point_rollouts.py [--rollouts 4000] [--task four_corner]

Both engines evaluate the same linear-policy parameters on the same tasks; the script
checks that their returns agree, prints env steps per second of each, the time of one
ES-MAML hill-climbing meta-iteration with the default configuration, and, as its last
line, ``ratio: N`` = batched steps/s divided by gymnasium-loop steps/s.

The batched call takes tens of milliseconds, so it is timed as the best of ``--repeats``
runs (as ``timeit`` does); the gymnasium loop takes seconds and is timed once.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import esmaml_core.envs  # noqa: F401 (registers the env ids)
from esmaml_core.config import TrainConfig
from esmaml_core.policies import make_policy
from esmaml_core.tasks import ObsNormalizer, get_task_family
from esmaml_core.trainer import make_trainer

ENV_IDS = {"four_corner": "esmaml/FourCorner-v0", "goal_2d": "esmaml/Goal2D-v0"}


def batched(family, policy, params, tasks, normalizer, repeats: int = 1) -> tuple[np.ndarray, int, float]:
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        rollouts = family.rollout(policy, params, tasks, normalizer)
        best = min(best, time.perf_counter() - started)
    return rollouts.returns, int(rollouts.lengths.sum()), best


def gymnasium_loop(env_id, policy, params, tasks, normalizer) -> tuple[np.ndarray, int, float]:
    env = gym.make(env_id)
    returns, steps = np.zeros(len(params)), 0
    started = time.perf_counter()
    for row in range(len(params)):
        observation, _ = env.reset(options={"task": tasks[row]})
        done = False
        while not done:
            action = policy.act(params[row : row + 1], normalizer(observation[None]))[0]
            observation, reward, terminated, truncated, _ = env.step(action)
            returns[row] += reward
            steps += 1
            done = terminated or truncated
    return returns, steps, time.perf_counter() - started


def meta_iteration_seconds(task: str, repeats: int = 10) -> tuple[float, float]:
    """Median and best wall time of a default hill-climbing meta-iteration."""
    trainer = make_trainer(TrainConfig(task=task, operator="hill_climb"))
    trainer.step()  # warm-up
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        trainer.step()
        seconds.append(time.perf_counter() - started)
    return float(np.median(seconds)), min(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=list(ENV_IDS), default="four_corner")
    parser.add_argument("--rollouts", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of the batched engine (best counts)")
    args = parser.parse_args()

    family = get_task_family(args.task)
    policy = make_policy(family.obs_dim, family.act_dim)
    rng = np.random.default_rng(0)
    params = rng.normal(0.0, 1.0, (args.rollouts, policy.num_params))
    tasks = family.task_params(rng.integers(0, 100, args.rollouts))
    normalizer = ObsNormalizer(np.array([0.1, -0.1]), np.array([1.2, 0.8]))

    batched(family, policy, params[:10], tasks[:10], normalizer)  # warm-up
    returns, steps, seconds = batched(family, policy, params, tasks, normalizer, args.repeats)
    rates = {"batched engine": steps / seconds}
    slow_returns, slow_steps, slow_seconds = gymnasium_loop(ENV_IDS[args.task], policy, params, tasks, normalizer)
    np.testing.assert_allclose(returns, slow_returns, rtol=1e-12, atol=1e-12)
    assert steps == slow_steps
    rates["gymnasium loop"] = slow_steps / slow_seconds

    print(f"task: {args.task}, linear policy, {args.rollouts} rollouts, {steps:,} env steps (returns agree)")
    for name, rate in rates.items():
        print(f"{name + ':':20s}{rate:14,.0f} env steps/s")
    median, best = meta_iteration_seconds(args.task)
    print(f"ES-MAML hill-climbing meta-iteration (defaults): median {median:.3f} s, best {best:.3f} s")
    print(f"ratio: {rates['batched engine'] / rates['gymnasium loop']:.0f}")


if __name__ == "__main__":
    main()
