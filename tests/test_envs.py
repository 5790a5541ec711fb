"""Every registered ``esmaml/`` id, used the gymnasium way: tasks chosen on the env ``gym.make`` returns.

``gym.make`` wraps the env (PassiveEnvChecker, OrderEnforcing, TimeLimit); gymnasium 1.x
wrappers pass ``reset`` options through but not methods, so the task is chosen with
``reset(options=...)``, or ``set_task`` is reached with ``get_wrapper_attr`` or ``unwrapped``.
"""

import gymnasium as gym
import numpy as np
import pytest

import esmaml_core.envs  # noqa: F401  (registers the ids)

ENV_IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("esmaml/"))


def test_importing_the_module_registers_every_task_family():
    assert ENV_IDS == [
        "esmaml/BiasedSensorCartPole-v0",
        "esmaml/ForwardBackwardAnt-v0",
        "esmaml/ForwardBackwardHalfCheetah-v0",
        "esmaml/ForwardBackwardSwimmer-v0",
        "esmaml/ForwardBackwardWalker-v0",
        "esmaml/FourCorner-v0",
        "esmaml/Goal2D-v0",
        "esmaml/Navigation2D-v0",
    ]


@pytest.fixture(params=ENV_IDS)
def made(request):
    """(the wrapped env gym.make returns, three distinct test tasks of its family)."""
    env = gym.make(request.param)
    family = env.unwrapped.family
    tasks = family.task_params(family.split_ids("test"))
    distinct = tasks[np.unique(tasks, axis=0, return_index=True)[1][:2]]
    assert len(distinct) == 2, "the test split has fewer than two distinct tasks"
    yield env, family, distinct
    env.close()


@pytest.mark.filterwarnings("error")  # neither gymnasium's checker nor MuJoCo may warn
def test_reset_options_choose_the_task_through_the_wrappers(made):
    env, family, tasks = made
    assert isinstance(env, gym.Wrapper)
    _, info = env.reset(seed=0, options={"task": tasks[0]})
    np.testing.assert_array_equal(info["task"], tasks[0])
    _, info = env.reset()  # the task stays for later resets
    np.testing.assert_array_equal(info["task"], tasks[0])
    task_id = int(family.split_ids("test")[1])
    _, info = env.reset(options={"task_id": task_id})
    np.testing.assert_array_equal(info["task"], family.task_params(np.array([task_id]))[0])
    _, _, _, _, info = env.step(env.action_space.sample())
    np.testing.assert_array_equal(info["task"], family.task_params(np.array([task_id]))[0])


def test_set_task_is_reached_through_the_wrappers(made):
    env, _, tasks = made
    with pytest.raises(AttributeError):
        env.set_task  # noqa: B018  (gymnasium 1.x wrappers do not forward methods)
    env.get_wrapper_attr("set_task")(tasks[0])
    _, info = env.reset()
    np.testing.assert_array_equal(info["task"], tasks[0])
    env.unwrapped.set_task(tasks[1])
    _, info = env.reset()
    np.testing.assert_array_equal(info["task"], tasks[1])
    np.testing.assert_array_equal(env.get_wrapper_attr("task"), tasks[1])


def test_a_task_of_the_wrong_size_is_refused(made):
    env, family, _ = made
    with pytest.raises(ValueError):
        env.reset(options={"task": np.zeros(family.task_dim + 1)})
