"""The meta-training loop shared by every method: one ``step()`` is one meta-iteration.

``Trainer`` owns the state (parameters, optimizer state, observation statistics, the
random generator, counters) and delegates the meta-gradient to a learner
(``ZeroOrderESMAML``, ``FirstOrderESMAML``, ``PGMAML``). The CLI, the tests and
the dashboard all drive this one loop and read ``IterationResult``s from it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from esmaml_core.config import TrainConfig
from esmaml_core.es_maml import (
    AdaptationOutcome,
    FirstOrderESMAML,
    MetaGradient,
    ProbeTrajectories,
    ZeroOrderESMAML,
)
from esmaml_core.evaluation import BatchEvaluator, RunningObsStats
from esmaml_core.executors import make_executor
from esmaml_core.optimizers import ascent_step, init_optimizer_state
from esmaml_core.policies import MLPPolicy
from esmaml_core.tasks import TaskFamily, fixed_tasks, get_task_family
from esmaml_core.tasks.base import ObsNormalizer, Rollouts, Split


class DivergenceError(RuntimeError):
    """Training produced NaN or inf; the trainer's state is left at the last good iteration."""


class MetaLearner(Protocol):
    """A method: it owns the policy whose flat parameters the trainer optimises."""

    policy: MLPPolicy

    def meta_gradient(
        self, params: np.ndarray, evaluate: BatchEvaluator, rng: np.random.Generator, probe: bool = False
    ) -> MetaGradient: ...

    def adapt(self, params: np.ndarray, evaluate: BatchEvaluator, tasks: np.ndarray, rng: np.random.Generator):
        """``params`` adapted to each task; the result has ``adapted_params`` (len(tasks), P)."""
        ...

    def evaluate_adaptation(
        self, params: np.ndarray, evaluate: BatchEvaluator, tasks: np.ndarray, rng: np.random.Generator, record=False
    ) -> AdaptationOutcome: ...


@dataclass(frozen=True)
class IterationResult:
    """What one meta-iteration did. ``env_steps`` and ``wall_time`` are run totals."""

    iteration: int
    pre_adaptation_return: float
    pre_adaptation_std: float
    post_adaptation_return: float
    post_adaptation_std: float
    env_steps: int
    wall_time: float
    iteration_seconds: float
    probe: ProbeTrajectories | None = None

    def metrics(self) -> dict:
        """The JSON line of metrics.jsonl."""
        return {
            "iteration": self.iteration,
            "pre_adaptation_return": self.pre_adaptation_return,
            "pre_adaptation_std": self.pre_adaptation_std,
            "post_adaptation_return": self.post_adaptation_return,
            "post_adaptation_std": self.post_adaptation_std,
            "env_steps": self.env_steps,
            "wall_time": self.wall_time,
            "iteration_seconds": self.iteration_seconds,
        }


@dataclass(frozen=True)
class AdaptationReplay:
    """A meta-policy and its adaptation to one task, with one episode start for both: what a replay shows."""

    task: np.ndarray
    before: np.ndarray
    after: np.ndarray
    normalizer: ObsNormalizer
    start_noise: np.ndarray


@dataclass
class TrainerState:
    iteration: int
    params: np.ndarray
    optimizer_state: dict[str, np.ndarray]
    obs_stats: RunningObsStats
    rng: np.random.Generator
    env_steps: int = 0
    wall_time: float = 0.0

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (no objects) for an ``allow_pickle=False`` checkpoint."""
        arrays = {
            "iteration": np.array(self.iteration),
            "params": self.params,
            "obs_count": np.array(self.obs_stats.count),
            "obs_sum": self.obs_stats.total,
            "obs_sq_sum": self.obs_stats.total_sq,
            "rng_state": np.array(json.dumps(self.rng.bit_generator.state)),
            "env_steps": np.array(self.env_steps),
            "wall_time": np.array(self.wall_time),
        }
        arrays.update({f"optimizer_{key}": value for key, value in self.optimizer_state.items()})
        return arrays

    @staticmethod
    def from_arrays(arrays: dict[str, np.ndarray]) -> TrainerState:
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(str(arrays["rng_state"]))
        return TrainerState(
            iteration=int(arrays["iteration"]),
            params=np.array(arrays["params"], dtype=float),
            optimizer_state={
                key.removeprefix("optimizer_"): np.array(value)
                for key, value in arrays.items()
                if key.startswith("optimizer_")
            },
            obs_stats=RunningObsStats(
                float(arrays["obs_count"]), np.array(arrays["obs_sum"]), np.array(arrays["obs_sq_sum"])
            ),
            rng=rng,
            env_steps=int(arrays["env_steps"]),
            wall_time=float(arrays["wall_time"]),
        )


class Trainer:
    """Meta-trains a policy with a learner; ``step()`` advances one iteration."""

    def __init__(self, config: TrainConfig, learner: MetaLearner, family: TaskFamily, policy: MLPPolicy):
        self.config, self.learner, self.family, self.policy = config, learner, family, policy
        rng = np.random.default_rng(config.seed)
        self.state = TrainerState(
            iteration=0,
            params=policy.init(rng),
            optimizer_state=init_optimizer_state(config.optimizer, policy.num_params),
            obs_stats=RunningObsStats.empty(family.obs_dim),
            rng=rng,
        )
        self.executor = make_executor(config.executor, config.workers, config.ray_address)

    def close(self) -> None:
        """Shut down the executor's workers (a process pool, or a Ray this trainer started)."""
        self.executor.close()

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def evaluator(self) -> BatchEvaluator:
        """A fresh evaluator with the current observation normaliser (fixed within an iteration)."""
        stats = self.state.obs_stats if self.config.obs_norm else RunningObsStats.empty(self.family.obs_dim)
        normalizer = stats.normalizer()
        return BatchEvaluator(
            self.family, self.policy, normalizer, self.horizon, self.state.rng, executor=self.executor
        )

    @property
    def horizon(self) -> int:
        """Episode length: the config's, or the task's own."""
        return self.family.horizon if self.config.horizon is None else self.config.horizon

    def evaluate(self, num_tasks: int, split: Split = "test", seed: int = 0, record: bool = False) -> AdaptationOutcome:
        """Adapt the current meta-policy to the first ``num_tasks`` tasks of a split and score it.

        Uses its own generator (from ``seed``), so evaluating never changes the training run.
        """
        evaluate = self.evaluator()
        evaluate.rng = np.random.default_rng(seed)
        tasks = fixed_tasks(self.family, num_tasks, split)
        return self.learner.evaluate_adaptation(self.state.params, evaluate, tasks, evaluate.rng, record=record)

    def adaptation_replay(self, task: np.ndarray, seed: int = 0) -> AdaptationReplay:
        """Adapt the current meta-policy to ``task`` (task_dim,) and draw one start for both rollouts."""
        evaluate = self.evaluator()
        evaluate.rng = np.random.default_rng(seed)
        task = np.asarray(task, dtype=float)
        adapted = self.learner.adapt(self.state.params, evaluate, task[None], evaluate.rng).adapted_params[0]
        start_noise = self.family.initial_noise(evaluate.rng, 1)[0]
        return AdaptationReplay(task, self.state.params, adapted, evaluate.normalizer, start_noise)

    def replay_rollouts(self, replay: AdaptationReplay, record: bool = False) -> Rollouts:
        """The meta-policy (row 0) and the adapted policy (row 1) rolled out from the replay's shared start."""
        return self.family.rollout(
            self.policy,
            np.stack([replay.before, replay.after]),
            np.stack([replay.task, replay.task]),
            replay.normalizer,
            noise=np.stack([replay.start_noise, replay.start_noise]),
            horizon=self.horizon,
            record=record,
        )

    def step(self, probe: bool = False) -> IterationResult:
        """Run one meta-iteration; raises DivergenceError (state unchanged) on NaN/inf."""
        started = time.perf_counter()
        state = self.state
        evaluate = self.evaluator()
        result = self.learner.meta_gradient(state.params, evaluate, state.rng, probe=probe)
        params, optimizer_state = ascent_step(
            self.config.optimizer, state.params, result.gradient, state.optimizer_state, self.config.lr
        )
        finite = [result.gradient, params, result.pre_adaptation_returns, result.post_adaptation_returns]
        if not all(np.all(np.isfinite(values)) for values in finite):
            raise DivergenceError(
                f"iteration {state.iteration + 1} produced NaN or inf (returns, gradient or parameters); "
                "try a smaller --lr or --alpha"
            )
        seconds = time.perf_counter() - started
        self.state = TrainerState(
            iteration=state.iteration + 1,
            params=params,
            optimizer_state=optimizer_state,
            obs_stats=state.obs_stats.added(evaluate.state_count, evaluate.state_sum, evaluate.state_sq_sum),
            rng=state.rng,
            env_steps=state.env_steps + evaluate.env_steps,
            wall_time=state.wall_time + seconds,
        )
        return IterationResult(
            iteration=self.state.iteration,
            pre_adaptation_return=float(np.mean(result.pre_adaptation_returns)),
            pre_adaptation_std=float(np.std(result.pre_adaptation_returns)),
            post_adaptation_return=float(np.mean(result.post_adaptation_returns)),
            post_adaptation_std=float(np.std(result.post_adaptation_returns)),
            env_steps=self.state.env_steps,
            wall_time=self.state.wall_time,
            iteration_seconds=seconds,
            probe=result.probe,
        )


def pg_maml_learner(config: TrainConfig, family: TaskFamily) -> MetaLearner:
    """PG-MAML, imported here so that JAX loads only when a run uses it."""
    from esmaml_core.pg_maml import PGMAML

    return PGMAML(config, family)


LEARNERS = {"es_maml": ZeroOrderESMAML, "es_maml_first_order": FirstOrderESMAML, "pg_maml": pg_maml_learner}


def make_trainer(config: TrainConfig) -> Trainer:
    """A trainer at iteration 0 for a validated config."""
    config.validate()
    family = get_task_family(config.task)
    learner = LEARNERS[config.method](config, family)
    return Trainer(config, learner, family, learner.policy)
