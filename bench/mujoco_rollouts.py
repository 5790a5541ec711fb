"""Env steps per second of the batched MuJoCo engine against a gymnasium loop and the machine's limit.

For each task, on the same parameters (a linear policy, ES-style perturbations
sigma * N(0, I) around the zero policy), directions and start states:

  (a) batched: ``family.rollout`` of all B rows at once, policy in the loop;
  (b) gymnasium: one ``gym.make`` env stepped row after row in a Python loop;
  (c) limit: open-loop physics with zero controls over every core from the same B start
      states, the faster of ``mujoco.rollout`` and ``mujoco.batch.Batch`` (B simulations x
      horizon x frame_skip substeps, no policy, no rewards);
  (c0) the same from the model's rest pose (every simulation at qpos0, at rest): a
      cheaper workload than any rollout's, since nothing moves until gravity acts (the
      Swimmer, floating, never moves at all), shown for reference;
  (c') the limit on (a)'s own workload: one ``Batch.rollout`` call replaying the actions
      (a) took (zero after termination) from the same starts, which tells the engine's
      overhead apart from the workload.

An env step is one control step (frame_skip physics substeps); (a) and (b) count only
steps before termination. Each timing is the best of ``--repeats``, the runs taking turns
so that they see the same background load. The last three lines are the worse task's
ratios a/c', a/b and a/c:

    python bench/mujoco_rollouts.py [--batch 64] [--horizon 200] [--sigma 0.05]
"""

from __future__ import annotations

import argparse
import os

import gymnasium as gym
import mujoco
import numpy as np
from mujoco import rollout as mj_rollout
from mujoco.batch import Batch
from timing import best_times  # bench/timing.py, beside this script

from esmaml_core.envs import FORWARD_BACKWARD_ENVS
from esmaml_core.policies import make_policy
from esmaml_core.tasks import ObsNormalizer, get_task_family
from esmaml_core.tasks.mujoco import ForwardBackwardFamily

ENV_IDS = {family: env_id for env_id, family in FORWARD_BACKWARD_ENVS.items()}


def gymnasium_loop(env_id: str, policy, params, tasks, noise, horizon: int) -> int:
    """Step one gymnasium env through every row; returns the env steps taken."""
    env = gym.make(env_id, max_episode_steps=horizon)
    steps = 0
    for row in range(len(params)):
        observation, _ = env.reset(options={"task": tasks[row], "noise": noise[row]})
        for _ in range(horizon):
            action = policy.act(params[row : row + 1], observation[None])[0]
            observation, _, terminated, truncated, _ = env.step(action)
            steps += 1
            if terminated or truncated:
                break
    env.close()
    return steps


def start_poses(family: ForwardBackwardFamily, noise: np.ndarray | None, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """(qpos, qvel) of the ``batch`` start states of ``noise``, or of the model's rest pose if None."""
    if noise is not None:
        return family.start_state(noise)
    model = family.model
    return np.tile(model.qpos0, (batch, 1)), np.zeros((batch, model.nv))


def full_physics_states(family: ForwardBackwardFamily, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    """mjSTATE_FULLPHYSICS vectors (B, nstate) of the model with these positions and velocities."""
    model = family.model
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    state = np.empty(mujoco.mj_stateSize(model, mujoco.mjtState.mjSTATE_FULLPHYSICS))
    mujoco.mj_getState(model, data, state, mujoco.mjtState.mjSTATE_FULLPHYSICS)
    states = np.tile(state, (len(qpos), 1))  # layout: time, qpos, qvel, then the rest
    states[:, 1 : 1 + model.nq], states[:, 1 + model.nq : 1 + model.nq + model.nv] = qpos, qvel
    return states


def open_loop_rollout(family: ForwardBackwardFamily, states: np.ndarray, horizon: int, nthread: int) -> None:
    """mujoco.rollout of simulations from full-physics ``states`` with zero controls."""
    model = family.model
    controls = np.zeros((len(states), horizon * family.frame_skip, model.nu))
    with mj_rollout.Rollout(nthread=nthread) as runner:
        runner.rollout(model, [mujoco.MjData(model) for _ in range(nthread)], states, controls)


def started_batch(family: ForwardBackwardFamily, qpos: np.ndarray, qvel: np.ndarray, nthread: int) -> Batch:
    """A ``mujoco.batch.Batch`` of simulations at these positions and velocities."""
    simulations = Batch(family.model, nsim=len(qpos), nthread=nthread)
    simulations.reset()
    simulations.qpos[:], simulations.qvel[:] = qpos, qvel
    simulations.forward()
    return simulations


def open_loop_batch(family: ForwardBackwardFamily, qpos: np.ndarray, qvel: np.ndarray, horizon: int, nthread: int):
    """mujoco.batch.Batch stepping simulations from these starts with zero controls, one call per control step."""
    simulations = started_batch(family, qpos, qvel, nthread)
    for _ in range(horizon):
        simulations.step(nstep=family.frame_skip)


def open_loop_replay(
    family: ForwardBackwardFamily, qpos: np.ndarray, qvel: np.ndarray, actions: np.ndarray, nthread: int
) -> None:
    """One ``Batch.rollout`` call replaying recorded actions (B, T, act_dim) from these starts, no policy."""
    simulations = started_batch(family, qpos, qvel, nthread)
    controls = np.repeat(family.controls(actions), family.frame_skip, axis=1)
    simulations.rollout(nstep=controls.shape[1], control=controls, record=())


def bench_task(name: str, batch: int, horizon: int, sigma: float, repeats: int) -> tuple[float, float, float]:
    family = get_task_family(name)
    policy = make_policy(family.obs_dim, family.act_dim)
    rng = np.random.default_rng(0)
    params = sigma * rng.standard_normal((batch, policy.num_params))
    tasks = family.task_params(rng.choice(family.split_ids("train"), batch))
    noise = family.initial_noise(rng, batch)
    normalizer = ObsNormalizer.identity(family.obs_dim)
    nthread = os.cpu_count()
    recorded = family.rollout(policy, params, tasks, normalizer, noise=noise, horizon=horizon, record=True)

    starts, rest = start_poses(family, noise, batch), start_poses(family, None, batch)
    start_states, rest_states = full_physics_states(family, *starts), full_physics_states(family, *rest)
    times, results = best_times(
        {
            "batched": lambda: family.rollout(policy, params, tasks, normalizer, noise=noise, horizon=horizon),
            "rollout": lambda: open_loop_rollout(family, start_states, horizon, nthread),
            "batch": lambda: open_loop_batch(family, *starts, horizon, nthread),
            "rollout_rest": lambda: open_loop_rollout(family, rest_states, horizon, nthread),
            "batch_rest": lambda: open_loop_batch(family, *rest, horizon, nthread),
            "replay": lambda: open_loop_replay(family, *starts, recorded.actions, nthread),
        },
        repeats,
    )
    gym_times, gym_results = best_times(
        {"gymnasium": lambda: gymnasium_loop(ENV_IDS[name], policy, params, tasks, noise, horizon)}, 1
    )
    steps = int(results["batched"].lengths.sum())
    assert gym_results["gymnasium"] == steps, "the gymnasium loop must take the same steps as the batched rollout"
    rate = {label: batch * horizon / seconds for label, seconds in times.items()}
    batched_rate, gym_rate = steps / times["batched"], steps / gym_times["gymnasium"]
    limit_rate, rest_rate = max(rate["rollout"], rate["batch"]), max(rate["rollout_rest"], rate["batch_rest"])
    print(
        f"{name:<12} B={batch} horizon={horizon} sigma={sigma} mean length {steps / batch:.1f}, {nthread} threads\n"
        f"  (a) batched {batched_rate:,.0f}/s  (b) gymnasium {gym_rate:,.0f}/s\n"
        f"  (c) limit, same starts {limit_rate:,.0f}/s [mujoco.rollout {rate['rollout']:,.0f}/s, "
        f"Batch {rate['batch']:,.0f}/s]  (c0) limit, rest pose {rest_rate:,.0f}/s  "
        f"(c') same actions {rate['replay']:,.0f}/s\n"
        f"  a/b {batched_rate / gym_rate:.2f}  a/c {batched_rate / limit_rate:.2f}  "
        f"a/c0 {batched_rate / rest_rate:.2f}  a/c' {batched_rate / rate['replay']:.2f}"
    )
    return batched_rate / gym_rate, batched_rate / limit_rate, batched_rate / rate["replay"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--horizon", type=int, default=200)
    parser.add_argument("--sigma", type=float, default=0.05, help="scale of the random linear policies")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tasks", nargs="+", default=["fb_swimmer", "fb_ant"])
    args = parser.parse_args()
    ratios = [bench_task(name, args.batch, args.horizon, args.sigma, args.repeats) for name in args.tasks]
    vs_gym, vs_limit, vs_replay = (min(column) for column in zip(*ratios, strict=True))
    print(f"ratio_vs_same_actions_limit: {vs_replay:.2f}")
    print(f"ratio_vs_gymnasium: {vs_gym:.2f}")
    print(f"ratio_vs_limit: {vs_limit:.2f}")


if __name__ == "__main__":
    main()
