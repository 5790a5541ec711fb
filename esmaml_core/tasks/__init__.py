"""Task families by name. Each rolls out a batch of policies on a batch of tasks in one call."""

from __future__ import annotations

from esmaml_core.tasks.base import ObsNormalizer, Rollouts, TaskFamily, fixed_tasks, sample_tasks
from esmaml_core.tasks.cartpole import BIASED_SENSOR_CARTPOLE
from esmaml_core.tasks.mujoco import MUJOCO_FAMILIES
from esmaml_core.tasks.point import FOUR_CORNER, GOAL_2D, NAVIGATION_2D

TASK_FAMILIES: dict[str, TaskFamily] = {
    FOUR_CORNER.name: FOUR_CORNER,
    GOAL_2D.name: GOAL_2D,
    NAVIGATION_2D.name: NAVIGATION_2D,
    BIASED_SENSOR_CARTPOLE.name: BIASED_SENSOR_CARTPOLE,
    **{family.name: family for family in MUJOCO_FAMILIES},  # models compile on first use
}


def get_task_family(name: str) -> TaskFamily:
    """The task family called ``name``; raises KeyError listing the known names."""
    try:
        return TASK_FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(TASK_FAMILIES)}") from None


__all__ = [
    "TASK_FAMILIES",
    "ObsNormalizer",
    "Rollouts",
    "TaskFamily",
    "fixed_tasks",
    "get_task_family",
    "sample_tasks",
]
