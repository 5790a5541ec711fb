"""The meta-training loop shared by every method: one ``step()`` is one meta-iteration.

``Trainer`` owns the state (parameters, optimizer state, observation statistics, the
random generator, counters) and delegates the meta-gradient to a learner, the method
registered under the config's name (``esmaml_core.methods``): each iteration it returns a
``MetaUpdate`` (new parameters and optimizer state), see ``esmaml_core.learners``. The CLI, the tests and
the dashboard all drive this one loop and read ``IterationResult``s from it.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from esmaml_core.config import TrainConfig
from esmaml_core.errors import CheckpointError, DivergenceError
from esmaml_core.evaluation import BatchEvaluator, RunningObsStats
from esmaml_core.executors import make_executor
from esmaml_core.methods import METHODS
from esmaml_core.optimizers import OptimizerState
from esmaml_core.policies import MLPPolicy
from esmaml_core.results import Adaptation, AdaptationOutcome, IterationResult, MetaUpdate
from esmaml_core.tasks import TaskFamily, fixed_tasks, get_task_family
from esmaml_core.tasks.base import ObsNormalizer, Rollouts, Split

__all__ = ["DivergenceError", "IterationResult", "MetaLearner", "Trainer", "TrainerState", "make_trainer"]


class MetaLearner(Protocol):
    """A method: it owns the policy whose flat parameters the trainer optimises."""

    policy: MLPPolicy

    def initial_optimizer_state(self) -> OptimizerState:
        """The optimizer state of a fresh run (arrays only: it is checkpointed as is)."""
        ...

    def meta_update(
        self,
        params: np.ndarray,
        optimizer_state: OptimizerState,
        evaluate: BatchEvaluator,
        rng: np.random.Generator,
        probe: bool,
    ) -> MetaUpdate:
        """One meta-iteration from ``params``: the next parameters and optimizer state."""
        ...

    def adapt(
        self, params: np.ndarray, evaluate: BatchEvaluator, tasks: np.ndarray, rng: np.random.Generator
    ) -> Adaptation:
        """``params`` (P,) adapted to each of ``tasks``."""
        ...

    def evaluate_adaptation(
        self, params: np.ndarray, evaluate: BatchEvaluator, tasks: np.ndarray, rng: np.random.Generator, record=False
    ) -> AdaptationOutcome: ...


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
            optimizer_state=learner.initial_optimizer_state(),
            obs_stats=RunningObsStats.empty(family.obs_dim),
            rng=rng,
        )
        self.executor = make_executor(config.executor, config.workers, config.ray_address)

    def restore(self, state: TrainerState, source: object) -> None:
        """Continue from ``state`` (read from ``source``); CheckpointError if it does not fit this trainer's config."""
        expected = TrainerState(
            0,
            self.state.params,
            self.learner.initial_optimizer_state(),
            RunningObsStats.empty(self.family.obs_dim),
            self.state.rng,
        )
        shapes = {name: np.shape(value) for name, value in state.to_arrays().items() if name != "rng_state"}
        wanted = {name: np.shape(value) for name, value in expected.to_arrays().items() if name != "rng_state"}
        if shapes != wanted or state.iteration < 0 or state.env_steps < 0:
            raise CheckpointError(
                f"{source} does not fit the run's config "
                f"(arrays {shapes}, expected {wanted}, iteration {state.iteration})"
            )
        self.state = state

    def close(self) -> None:
        """Shut down the executor's workers (a process pool, or a Ray this trainer started)."""
        self.executor.close()

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def evaluator(self, rng: np.random.Generator) -> BatchEvaluator:
        """A fresh evaluator drawing from ``rng``, with the current observation normaliser (fixed per iteration)."""
        stats = self.state.obs_stats if self.config.obs_norm else RunningObsStats.empty(self.family.obs_dim)
        return BatchEvaluator(self.family, self.policy, stats.normalizer(), self.horizon, rng, executor=self.executor)

    @property
    def horizon(self) -> int:
        """Episode length: the config's, or the task's own."""
        return self.family.horizon if self.config.horizon is None else self.config.horizon

    def evaluate(self, num_tasks: int, split: Split = "test", seed: int = 0, record: bool = False) -> AdaptationOutcome:
        """Adapt the current meta-policy to the first ``num_tasks`` tasks of a split and score it.

        Uses its own generator (from ``seed``), so evaluating never changes the training run.
        """
        evaluate = self.evaluator(np.random.default_rng(seed))
        tasks = fixed_tasks(self.family, num_tasks, split)
        return self.learner.evaluate_adaptation(self.state.params, evaluate, tasks, evaluate.rng, record=record)

    def adaptation_replay(self, task: np.ndarray, seed: int = 0) -> AdaptationReplay:
        """Adapt the current meta-policy to ``task`` (task_dim,) and draw one start for both rollouts."""
        evaluate = self.evaluator(np.random.default_rng(seed))
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
        """One meta-iteration; on NaN/inf, DivergenceError and the whole state, RNG included, as it was."""
        started = time.perf_counter()
        state = self.state
        rng = copy.deepcopy(state.rng)  # the state's own generator advances only if the step succeeds
        evaluate = self.evaluator(rng)
        result = self.learner.meta_update(state.params, state.optimizer_state, evaluate, rng, probe)
        finite = [result.params, result.pre_adaptation_returns, result.post_adaptation_returns]
        if not all(np.all(np.isfinite(values)) for values in finite):
            raise DivergenceError(state.iteration + 1)
        seconds = time.perf_counter() - started
        self.state = TrainerState(
            iteration=state.iteration + 1,
            params=result.params,
            optimizer_state=result.optimizer_state,
            obs_stats=state.obs_stats.added(evaluate.state_count, evaluate.state_sum, evaluate.state_sq_sum),
            rng=rng,
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


def make_trainer(config: TrainConfig) -> Trainer:
    """A trainer at iteration 0 for a validated config."""
    config.validate()
    family = get_task_family(config.task)
    learner = METHODS.make(config.method, config, family)
    return Trainer(config, learner, family, learner.policy)
