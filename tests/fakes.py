"""Test doubles: a BatchEvaluator whose "return" is a known function of the parameters, and small configs."""

from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from esmaml_core.config import TrainConfig
from esmaml_core.evaluation import Evaluation


@dataclass
class FunctionEvaluator:
    """Evaluates f(params) row by row (tasks ignored); records each call's shape, params, tasks and returns."""

    function: object
    calls: list = field(default_factory=list)
    params: list = field(default_factory=list)
    tasks: list = field(default_factory=list)
    returns: list = field(default_factory=list)

    def __call__(self, params, tasks, record=False):
        self.calls.append(params.shape[:-1])
        self.params.append(np.array(params))
        self.tasks.append(np.array(tasks))
        self.returns.append(self.function(params))
        return Evaluation(self.returns[-1])

    @contextmanager
    def statistics_from(self, counted, of):
        yield self  # no observations, no statistics


def concave_quadratic(centre, curvature):
    def f(points):
        diff = points - centre
        return -0.5 * np.einsum("...i,ij,...j->...", diff, curvature, diff)

    return f


SMALL = dict(task="four_corner", perturbations=6, queries=4, eval_tasks=4, probe_tasks=2)


def small_config(**overrides):
    """A four-corner run small enough to train in a fraction of a second per iteration."""
    return TrainConfig(**{**SMALL, "iterations": 4, **overrides}).validate()
