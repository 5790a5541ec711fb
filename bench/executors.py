"""Seconds per ES-MAML meta-iteration with the default config: in-process vs process pool vs Ray.

Each executor trains the same seed, so iteration i does the same work everywhere; the
runs must agree bit for bit, which the bench checks. After one untimed warm-up
iteration each (worker start-up, model compilation, Ray start), the executors take
turns, one iteration each per round, so they see the same background load. The task
is ``fb_swimmer`` when the MuJoCo families are available, else
``biased_sensor_cartpole``. The last line is the ratio in-process seconds / Ray
seconds (above 1: Ray is faster):

    python bench/executors.py [--task fb_swimmer] [--workers 2] [--iterations 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from esmaml_core.config import TrainConfig
from esmaml_core.executors import EXECUTORS
from esmaml_core.tasks import TASK_FAMILIES
from esmaml_core.trainer import Trainer, make_trainer

DEFAULT_TASK = "fb_swimmer" if "fb_swimmer" in TASK_FAMILIES else "biased_sensor_cartpole"


def seconds_per_iteration(trainers: dict[str, Trainer], iterations: int) -> dict[str, float]:
    """Mean wall time per meta-iteration of each trainer, stepping them in turn after a warm-up step each."""
    for trainer in trainers.values():
        trainer.step()
    seconds = dict.fromkeys(trainers, 0.0)
    for _ in range(iterations):
        for name, trainer in trainers.items():
            started = time.perf_counter()
            trainer.step()
            seconds[name] += time.perf_counter() - started
    return {name: total / iterations for name, total in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default=DEFAULT_TASK, choices=sorted(TASK_FAMILIES))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=3)
    args = parser.parse_args()
    trainers = {
        executor: make_trainer(TrainConfig(task=args.task, executor=executor, workers=args.workers))
        for executor in EXECUTORS
    }
    try:
        seconds = seconds_per_iteration(trainers, args.iterations)
    finally:
        for trainer in trainers.values():
            trainer.close()
    for executor, value in seconds.items():
        print(f"{executor:>9}: {value:.2f} s per meta-iteration ({args.task}, {args.workers} workers)")
    params = [trainer.state.params for trainer in trainers.values()]
    print(f"identical parameters on every executor: {all(np.array_equal(params[0], p) for p in params)}")
    print(f"process pool speed-up: {seconds['inprocess'] / seconds['process']:.2f}")
    print(f"ratio: {seconds['inprocess'] / seconds['ray']:.2f}")


if __name__ == "__main__":
    main()
