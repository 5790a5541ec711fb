"""Time to quality on navigation_2d: wall time and env steps until the post-adaptation return reaches -20, -16.

Each method trains from scratch per seed; every ``--eval-every`` iterations the meta-policy
is adapted to 40 held-out tasks (``Trainer.evaluate``, its own generator) and scored.
That evaluation is not counted: wall time is the training steps' own (``Trainer.state``;
JAX compiles in the first seed's first iteration, and later seeds of a method reuse it) and
env steps are the training rollouts'
(with the one held-out task every training iteration scores, ``eval_tasks`` 1). A method
stops at -16, at ``--cap-seconds`` of training time or at ``--max-iterations``.

Methods: the PG family with the ``maml_nav2d`` preset (TRPO-MAML as published; ProMP,
T-MAML and PG-MAML take its values where they read them), TRPO-MAML with its curvature
products on a quarter of each task's trajectories (``--cg-subsample 0.25``), and
zero-order ES-MAML on the linear policy with hill climbing and with the ES-gradient
operator (its defaults).

    python bench/time_to_quality.py [--seeds 3] [--cap-seconds 600] [--methods trpo_maml,es_hill_climb]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from esmaml_core.config import TrainConfig
from esmaml_core.presets import with_preset
from esmaml_core.trainer import make_trainer

LEVELS = (-20.0, -16.0)
HELD_OUT_TASKS = 40
TRAINING = {"eval_tasks": 1, "probe_tasks": 0, "iterations": 10_000_000}


CG_SUBSAMPLE = 0.25  # 5 of the 20 trajectories per task: as few env steps as all 20 (docs/ARCHITECTURE.md)


def pg_config(method: str, **options) -> TrainConfig:
    return TrainConfig.from_given(with_preset("maml_nav2d", {"method": method, **TRAINING, **options}))


def es_config(operator: str) -> TrainConfig:
    return TrainConfig.from_given({"task": "navigation_2d", "method": "es_maml", "operator": operator, **TRAINING})


CONFIGS = {
    "trpo_maml": lambda: pg_config("trpo_maml"),
    "trpo_maml_cg_subsample": lambda: pg_config("trpo_maml", cg_subsample=CG_SUBSAMPLE),
    "promp": lambda: pg_config("promp"),
    "tmaml": lambda: pg_config("tmaml"),
    "pg_maml": lambda: pg_config("pg_maml"),
    "es_hill_climb": lambda: es_config("hill_climb"),
    "es_grad": lambda: es_config("es_grad"),
}


@dataclasses.dataclass
class Outcome:
    """When each level was first reached (training seconds, env steps), the best return, the work done."""

    reached: dict[float, tuple[float, int]]
    best: float
    iterations: int
    seconds: float
    env_steps: int


def time_to_quality(config: TrainConfig, cap_seconds: float, eval_every: int, max_iterations: int) -> Outcome:
    reached: dict[float, tuple[float, int]] = {}
    best = -float("inf")
    with make_trainer(config) as trainer:
        state = trainer.state
        while state.iteration < max_iterations and state.wall_time < cap_seconds and len(reached) < len(LEVELS):
            trainer.step()
            state = trainer.state
            if state.iteration % eval_every:
                continue
            score = float(trainer.evaluate(HELD_OUT_TASKS, "test", seed=state.iteration).post_adaptation_returns.mean())
            best = max(best, score)
            for level in LEVELS:
                if score >= level and level not in reached:
                    reached[level] = (state.wall_time, state.env_steps)
        return Outcome(reached, best, state.iteration, state.wall_time, state.env_steps)


def shown(outcome: Outcome, level: float) -> str:
    if level not in outcome.reached:
        return f"{'not reached':>22s}"
    seconds, steps = outcome.reached[level]
    return f"{seconds:8.1f} s {steps / 1e6:7.2f} M steps"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per method (0, 1, ...)")
    parser.add_argument("--cap-seconds", type=float, default=600.0, help="training time cap per run")
    parser.add_argument("--max-iterations", type=int, default=2000, help="iteration cap per run")
    parser.add_argument("--eval-every", type=int, default=5, help="iterations between held-out evaluations")
    parser.add_argument("--methods", default=",".join(CONFIGS), help=f"comma-separated subset of {', '.join(CONFIGS)}")
    args = parser.parse_args()
    methods = args.methods.split(",")
    unknown = [name for name in methods if name not in CONFIGS]
    if unknown:
        parser.error(f"unknown method {unknown[0]}; known: {', '.join(CONFIGS)}")
    print(f"{'method':22s} seed {'to -20':>22s} {'to -16':>22s}   best  iterations  seconds  M steps", flush=True)
    for name in methods:
        for seed in range(args.seeds):
            config = dataclasses.replace(CONFIGS[name](), seed=seed)
            started = time.perf_counter()
            outcome = time_to_quality(config, args.cap_seconds, args.eval_every, args.max_iterations)
            print(
                f"{name:22s} {seed:4d} {shown(outcome, LEVELS[0])} {shown(outcome, LEVELS[1])} {outcome.best:6.1f} "
                f"{outcome.iterations:11d} {outcome.seconds:8.1f} {outcome.env_steps / 1e6:8.2f}"
                f"   (with evaluations {time.perf_counter() - started:.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
