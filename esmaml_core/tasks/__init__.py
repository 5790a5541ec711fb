"""Task families by name. Each rolls out a batch of policies on a batch of tasks in one call."""

from __future__ import annotations

from esmaml_core.registry import Entry, Registry
from esmaml_core.tasks.base import ObsNormalizer, Rollouts, TaskFamily, fixed_tasks, sample_tasks
from esmaml_core.tasks.cartpole import BIASED_SENSOR_CARTPOLE
from esmaml_core.tasks.mujoco import FB_ANT, FB_HALFCHEETAH, FB_SWIMMER, FB_WALKER
from esmaml_core.tasks.point import FOUR_CORNER, GOAL_2D, NAVIGATION_2D

TASK_FAMILIES: Registry[TaskFamily] = Registry(
    "task",
    {
        FOUR_CORNER.name: Entry(FOUR_CORNER, "Four Corner"),
        GOAL_2D.name: Entry(GOAL_2D, "2D Goal"),
        NAVIGATION_2D.name: Entry(NAVIGATION_2D, "2D Navigation (MAML benchmark)"),
        BIASED_SENSOR_CARTPOLE.name: Entry(BIASED_SENSOR_CARTPOLE, "BiasedSensorCartPole"),
        # MuJoCo models compile on first use
        FB_SWIMMER.name: Entry(FB_SWIMMER, "ForwardBackward Swimmer"),
        FB_WALKER.name: Entry(FB_WALKER, "ForwardBackward Walker"),
        FB_ANT.name: Entry(FB_ANT, "ForwardBackward Ant"),
        FB_HALFCHEETAH.name: Entry(FB_HALFCHEETAH, "ForwardBackward HalfCheetah"),
    },
)


def get_task_family(name: str) -> TaskFamily:
    """The task family called ``name``; raises KeyError listing the known names."""
    return TASK_FAMILIES[name]


__all__ = [
    "TASK_FAMILIES",
    "ObsNormalizer",
    "Rollouts",
    "TaskFamily",
    "fixed_tasks",
    "get_task_family",
    "sample_tasks",
]
