"""PG-MAML against ES-MAML on goal_2d at the same rollout budget per meta-iteration.

Both methods use K = 20 queries and score 20 held-out tasks every iteration. PG-MAML
(defaults: 20 training tasks, one inner step) rolls out (20 + 20) tasks x 20 trajectories
x 2 stages = 1600 trajectories; zero-order ES-MAML with hill climbing rolls out
(2 x 26 perturbations + 20) x (1 start + 20 queries + 1 adapted) = 1584. goal_2d episodes
end early at the goal, so the env steps actually taken are measured and printed.
The methods take turns iteration by iteration; the median wall time per iteration is
printed. The first ``--warmup`` iterations (JAX compiles PG-MAML there) are not timed.

    python bench/pg_vs_es.py [--iterations 20] [--warmup 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from esmaml_core.config import TrainConfig
from esmaml_core.trainer import make_trainer

CONFIGS = {
    "ES-MAML (hill climbing)": TrainConfig.for_method(method="es_maml", task="goal_2d", perturbations=26),
    "PG-MAML first-order": TrainConfig.for_method(method="pg_maml", task="goal_2d", first_order=True),
    "PG-MAML": TrainConfig.for_method(method="pg_maml", task="goal_2d"),
}


def measure(configs: dict[str, TrainConfig], iterations: int, warmup: int) -> dict[str, tuple[float, float]]:
    """Per method: (median seconds per meta-iteration, mean env steps per meta-iteration).

    The methods take turns, one iteration each, so load from other processes hits all alike.
    """
    trainers = {name: make_trainer(config) for name, config in configs.items()}
    seconds = {name: [] for name in configs}
    steps = {name: [] for name in configs}
    for iteration in range(warmup + iterations):
        for name, trainer in trainers.items():
            steps_before, started = trainer.state.env_steps, time.perf_counter()
            trainer.step()
            if iteration >= warmup:
                seconds[name].append(time.perf_counter() - started)
                steps[name].append(trainer.state.env_steps - steps_before)
    return {name: (float(np.median(seconds[name])), float(np.mean(steps[name]))) for name in configs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20, help="timed meta-iterations per method")
    parser.add_argument("--warmup", type=int, default=2, help="untimed meta-iterations first")
    args = parser.parse_args()
    results = measure(CONFIGS, args.iterations, args.warmup)
    for name, (seconds, steps) in results.items():
        rate = steps / seconds
        print(f"{name:24s} {seconds * 1e3:7.1f} ms/iteration  {steps:9,.0f} env steps/iteration  {rate:9,.0f} steps/s")
    (es_seconds, es_steps), (pg_seconds, pg_steps) = results["ES-MAML (hill climbing)"], results["PG-MAML"]
    print(
        f"ratio PG-MAML / ES-MAML: {pg_seconds / es_seconds:.2f}x wall time per iteration, "
        f"{(pg_steps / pg_seconds) / (es_steps / es_seconds):.2f}x env steps per second"
    )


if __name__ == "__main__":
    main()
