"""ForwardBackward Swimmer, Walker2d, Ant and HalfCheetah: MuJoCo locomotion, one direction bit per task.

Each task is a direction d in {-1, +1} (task params of shape (n, 1)); the reward per
control step is ``d * forward_velocity - ctrl_cost * sum(a^2)``, plus a healthy bonus
(and termination once unhealthy) for Walker2d and Ant, and a contact cost for Ant.
The models are gymnasium's own v5 XML files, loaded from the installed gymnasium
package; frame skips, reset noise and observations are gymnasium v5's defaults
(x, and for Swimmer/Ant also y, left out of the observation). Task ids 0-49 are
the training split, 50-99 the test split; task ``i`` flips a fair coin from
``numpy.random.default_rng(i)`` (ids 50 and 51 point opposite ways).

Constants:

| task | model | frame_skip (dt) | ctrl cost | healthy bonus; healthy when | contact cost |
|---|---|---|---|---|---|
| fb_swimmer | swimmer.xml | 4 (0.04 s) | 1e-4 | none | none |
| fb_walker | walker2d_v5.xml | 4 (0.008 s) | 1e-3 | 1.0; z in (0.8, 2), angle in (-1, 1) | none |
| fb_ant | ant.xml | 5 (0.05 s) | 0.5 | 1.0; torso z in [0.2, 1], state finite | 5e-4 |
| fb_halfcheetah | half_cheetah.xml | 5 (0.05 s) | 0.05 | none | none |

Episodes end when unhealthy (Walker2d, Ant). Ant's contact cost is 5e-4 sum(clip(cfrc_ext,
-1, 1)^2). Reset noise (gymnasium v5): qpos0 + U(-s, s) and qvel U(-s, s) with s = 0.1
(Swimmer) and 5e-3 (Walker2d); qpos0 + U(-0.1, 0.1) and qvel 0.1 N(0, 1) (Ant, HalfCheetah).

Swimmer uses gymnasium Swimmer-v5's weights (no established forward/backward version);
Walker2d and Ant follow ProMP's RandDirec variants (whose weights are gymnasium v5's);
HalfCheetah's 0.05 control cost is that of HalfCheetahDir (pytorch-maml-rl, ProMP), not
gymnasium's 0.1. Forward velocity is the x displacement over one control step divided by
dt: of the root slide joint (qpos[0]) for Swimmer, Walker2d and HalfCheetah, of the
torso body position for Ant, exactly as gymnasium v5 measures it. All four models have
ctrlrange [-1, 1], so policy actions in [-1, 1] map to controls one to one (the map is
the affine one onto ctrlrange); the control cost is on the policy's actions. Episodes
last ``horizon`` = 200 control steps unless the rollout is given another horizon.

Physics: a rollout of B parameter vectors steps B simulations with ``mujoco.batch.Batch``
on ``nthread`` threads (0: all cores), one call per control step (``frame_skip``
substeps), with the B policies evaluated in one batched call between them. The batch
keeps each simulation's whole integration state, solver warm start included, so it is
bit-identical to stepping one ``MjData`` per simulation with ``mj_step`` (the gymnasium
env does that, and tests compare). Terminated simulations are not stepped again.

One deviation from gymnasium's Ant-v5: MuJoCo computes ``cfrc_ext`` only when a sensor
needs it, so the Ant model gets a torso acceleration sensor (sensors never change the
dynamics; qpos/qvel match Ant-v5 bit for bit) and the contact forces come from the last
substep's sensor stage, at the state that substep starts from. Gymnasium instead calls
``mj_rnePostConstraint`` after ``mj_step``, on the contacts of the last Runge-Kutta
stage; the contact terms (observation entries 27-104 and the contact cost) then differ
slightly, e.g. 0.004 over a 200-step random-action episode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np

from esmaml_core.tasks.base import BatchPolicy, EpisodeBatch, ObsNormalizer, Rollouts, Split

NUM_TASK_IDS = 100
TRAIN_IDS = np.arange(0, 50)
TEST_IDS = np.arange(50, 100)
DEFAULT_HORIZON = 200
CONTACT_FORCE_RANGE = (-1.0, 1.0)
WALKER_QVEL_CLIP = 10.0

_DIRECTIONS = np.array([2.0 * np.random.default_rng(task_id).integers(2) - 1.0 for task_id in range(NUM_TASK_IDS)])


def gymnasium_asset(xml_file: str) -> Path:
    """Path of one of gymnasium's MuJoCo model files."""
    import gymnasium

    return Path(gymnasium.__file__).parent / "envs" / "mujoco" / "assets" / xml_file


def sequential_mean(values: np.ndarray) -> float:
    """The mean summed left to right, as MuJoCo's C loops do (numpy's pairwise sum can differ in the last bit)."""
    return float(np.cumsum(values)[-1] / len(values))


def compile_spec(spec):
    """``spec.compile()``, with a ``settotalmass`` (deprecated in the XML) applied the way MuJoCo advises.

    ``mj_setTotalmass`` scales masses and inertias as the compiler does, ``mj_setConst``
    redoes what depends on them, and the two statistics only the compiler computes (mean
    body mass, mean diagonal inertia at qpos0; the solver's tolerances scale with the
    latter) are set the compiler's way: the model equals the compiler's, bit for bit.
    """
    import mujoco

    total_mass = spec.compiler.settotalmass
    if total_mass <= 0:
        return spec.compile()
    spec.compiler.settotalmass = -1
    model = spec.compile()
    mujoco.mj_setTotalmass(model, total_mass)
    mujoco.mj_setConst(model, mujoco.MjData(model))
    model.stat.meanmass = sequential_mean(model.body_mass[1:])
    model.stat.meaninertia = sequential_mean(model.dof_M0)
    return model


def _walker_healthy(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    """Walker2d-v5: torso height in (0.8, 2) and torso angle in (-1, 1)."""
    height, angle = qpos[:, 1], qpos[:, 2]
    return (height > 0.8) & (height < 2.0) & (angle > -1.0) & (angle < 1.0)


def _ant_healthy(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    """Ant-v5: finite state and torso height in [0.2, 1]."""
    finite = np.isfinite(qpos).all(axis=1) & np.isfinite(qvel).all(axis=1)
    return finite & (qpos[:, 2] >= 0.2) & (qpos[:, 2] <= 1.0)


@dataclass(frozen=True)
class Readout:
    """What observations and rewards read from B simulations at one instant."""

    qpos: np.ndarray  # (B, nq)
    qvel: np.ndarray  # (B, nv)
    forward_x: np.ndarray  # (B,) the x coordinate whose change is the forward velocity
    contact_forces: np.ndarray | None  # (B, nbody, 6) cfrc_ext clipped to CONTACT_FORCE_RANGE, or None


@dataclass(frozen=True)
class ForwardBackwardFamily:
    """A forward/backward MuJoCo task family; ``tasks`` rows are directions (+1 or -1).

    The model is compiled on first use (importing MuJoCo takes about 0.3 s), so
    constructing the family is free.
    """

    name: str
    xml_file: str
    frame_skip: int
    ctrl_cost_weight: float
    reset_noise_scale: float
    velocity_noise: Literal["uniform", "normal"]
    skipped_qpos: int  # leading qpos entries (x, or x and y) left out of observations
    healthy: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = field(default=None, repr=False)
    healthy_reward: float = 0.0
    contact_cost_weight: float = 0.0
    qvel_clip: float | None = None
    torso_body: int | None = None  # body whose xpos gives forward_x; None: qpos[0]
    horizon: int = DEFAULT_HORIZON
    nthread: int = 0  # threads of the batched physics; 0 uses every core
    task_dim: int = 1

    @cached_property
    def model(self):
        """The compiled ``mujoco.MjModel`` (with a sensor that makes MuJoCo compute cfrc_ext if needed)."""
        import mujoco

        spec = mujoco.MjSpec.from_file(str(gymnasium_asset(self.xml_file)))
        if self.uses_contact_forces:
            spec.add_sensor(type=mujoco.mjtSensor.mjSENS_FRAMELINACC, objtype=mujoco.mjtObj.mjOBJ_BODY, objname="torso")
        return compile_spec(spec)

    @property
    def uses_contact_forces(self) -> bool:
        return self.contact_cost_weight > 0

    @cached_property
    def obs_dim(self) -> int:
        contact_dim = 6 * (self.model.nbody - 1) if self.uses_contact_forces else 0
        return self.model.nq - self.skipped_qpos + self.model.nv + contact_dim

    @cached_property
    def act_dim(self) -> int:
        return self.model.nu

    @cached_property
    def dt(self) -> float:
        """Seconds per control step."""
        return float(self.model.opt.timestep * self.frame_skip)

    @cached_property
    def ctrl_range(self) -> np.ndarray:
        """(2, nu): the actuators' lowest and highest controls."""
        return self.model.actuator_ctrlrange.T.copy()

    def task_params(self, task_ids: np.ndarray) -> np.ndarray:
        task_ids = np.asarray(task_ids)
        if np.any((task_ids < 0) | (task_ids >= NUM_TASK_IDS)):
            raise ValueError(f"{self.name} task ids must be in [0, {NUM_TASK_IDS}), got {task_ids}")
        return _DIRECTIONS[task_ids][:, None]

    def split_ids(self, split: Split) -> np.ndarray:
        return {"train": TRAIN_IDS, "test": TEST_IDS}[split]

    def initial_noise(self, rng: np.random.Generator, batch: int) -> np.ndarray:
        """gymnasium v5's reset noise, (batch, nq + nv): qpos offsets then qvel offsets.

        Drawn in gymnasium's order, so one row from ``env.np_random`` equals gymnasium's own reset.
        """
        scale, nq, nv = self.reset_noise_scale, self.model.nq, self.model.nv
        qpos_noise = rng.uniform(-scale, scale, (batch, nq))
        if self.velocity_noise == "uniform":
            qvel_noise = rng.uniform(-scale, scale, (batch, nv))
        else:
            qvel_noise = scale * rng.standard_normal((batch, nv))
        return np.concatenate([qpos_noise, qvel_noise], axis=1)

    def start_state(self, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start (qpos, qvel), each (B, ...), from start noise (B, nq + nv): the model's pose plus noise."""
        nq = self.model.nq
        return self.model.qpos0 + noise[:, :nq], noise[:, nq:].copy()

    def controls(self, actions: np.ndarray) -> np.ndarray:
        """Policy actions in [-1, 1] mapped affinely onto the actuators' ctrlrange."""
        low, high = self.ctrl_range
        return low + (np.asarray(actions) + 1.0) * (high - low) / 2.0

    def readout(
        self, qpos: np.ndarray, qvel: np.ndarray, xpos: np.ndarray | None, cfrc_ext: np.ndarray | None
    ) -> Readout:
        """A copy of what the task reads from B simulations (xpos and cfrc_ext only when used)."""
        forward_x = qpos[:, 0] if self.torso_body is None else xpos[:, self.torso_body, 0]
        contact_forces = np.clip(cfrc_ext, *CONTACT_FORCE_RANGE) if self.uses_contact_forces else None
        return Readout(qpos.copy(), qvel.copy(), forward_x.copy(), contact_forces)

    def make_data(self):
        """A fresh ``mujoco.MjData`` of the model, for one simulation outside the batch."""
        import mujoco

        return mujoco.MjData(self.model)

    def reset_data(self, data, noise: np.ndarray) -> None:
        """Put one ``mujoco.MjData`` at the start state of ``noise`` (nq + nv,), as gymnasium's reset does."""
        import mujoco

        qpos, qvel = self.start_state(np.asarray(noise, dtype=float)[None])
        mujoco.mj_resetData(self.model, data)
        data.qpos[:], data.qvel[:] = qpos[0], qvel[0]
        mujoco.mj_forward(self.model, data)

    def step_data(self, data, action: np.ndarray) -> None:
        """Advance one ``mujoco.MjData`` by one control step under a policy action (act_dim,)."""
        import mujoco

        data.ctrl[:] = self.controls(action)
        mujoco.mj_step(self.model, data, nstep=self.frame_skip)

    def read_data(self, data) -> Readout:
        """The readout of one ``mujoco.MjData`` as a batch of one."""
        return self.readout(data.qpos[None], data.qvel[None], data.xpos[None], data.cfrc_ext[None])

    def observe(self, readout: Readout) -> np.ndarray:
        """gymnasium v5 observations (B, obs_dim)."""
        qvel = readout.qvel if self.qvel_clip is None else np.clip(readout.qvel, -self.qvel_clip, self.qvel_clip)
        parts = [readout.qpos[:, self.skipped_qpos :], qvel]
        if self.uses_contact_forces:
            parts.append(readout.contact_forces[:, 1:].reshape(len(qvel), -1))
        return np.concatenate(parts, axis=1)

    def reward(
        self, before: Readout, after: Readout, actions: np.ndarray, directions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rewards, terminated), each (B,), of the control step from ``before`` to ``after``.

        Summed as gymnasium v5 does, (forward + healthy) - (control + contact), to the last bit.
        """
        velocity = (after.forward_x - before.forward_x) / self.dt
        healthy = np.ones(len(velocity), dtype=bool) if self.healthy is None else self.healthy(after.qpos, after.qvel)
        gains = directions * velocity + self.healthy_reward * healthy
        costs = self.ctrl_cost_weight * np.sum(np.square(actions), axis=1)
        if self.uses_contact_forces:
            costs = costs + self.contact_cost_weight * np.sum(np.square(after.contact_forces), axis=(1, 2))
        return gains - costs, ~healthy

    def rollout(
        self,
        policy: BatchPolicy,
        params: np.ndarray,
        tasks: np.ndarray,
        normalizer: ObsNormalizer,
        *,
        noise: np.ndarray | None = None,
        horizon: int | None = None,
        record: bool = False,
    ) -> Rollouts:
        """Roll out params[b] in direction tasks[b, 0] from start noise[b] (zero noise if None) for all b.

        Terminated simulations stop stepping, keep their last observation and collect no more reward.
        """
        horizon = self.horizon if horizon is None else horizon
        batch = len(params)
        noise = np.zeros((batch, self.model.nq + self.model.nv)) if noise is None else noise
        directions = np.asarray(tasks, dtype=float)[:, 0]
        simulation = BatchSimulation(self, *self.start_state(noise))
        readout = simulation.readout()
        episodes = EpisodeBatch(self.observe(readout), horizon, self.act_dim, record)
        for _ in range(horizon):
            actions = policy.act(params, normalizer(episodes.observations))
            after = simulation.step(self.controls(actions), episodes.active)
            rewards, terminated = self.reward(readout, after, actions, directions)
            episodes.step(self.observe(after), actions, rewards, terminated)
            readout = after
            if episodes.finished:
                break
        return episodes.rollouts()


class BatchSimulation:
    """B simulations of a family's model stepped together by ``mujoco.batch.Batch`` on ``family.nthread`` threads."""

    def __init__(self, family: ForwardBackwardFamily, qpos: np.ndarray, qvel: np.ndarray):
        import mujoco
        from mujoco.batch import Batch

        self.family = family
        self.batch = Batch(family.model, nsim=len(qpos), nthread=family.nthread)
        self.qpos, self.qvel, self.ctrl = (self.batch.bind(name) for name in ("qpos", "qvel", "ctrl"))
        # derived fields must be bound before the call that computes them
        self.xpos = self.batch.bind("xpos") if family.torso_body is not None else None
        self.cfrc_ext = self.batch.bind("cfrc_ext") if family.uses_contact_forces else None
        self.batch.reset(stage=mujoco.mjtStage.mjSTAGE_NONE)
        self.qpos[:] = qpos
        self.qvel[:] = qvel
        self.batch.forward()

    def readout(self) -> Readout:
        return self.family.readout(self.qpos, self.qvel, self.xpos, self.cfrc_ext)

    def step(self, controls: np.ndarray, active: np.ndarray) -> Readout:
        """Apply controls (B, nu) for one control step to the active simulations; their readout after it."""
        self.ctrl[:] = controls
        self.batch.step(ids=active, nstep=self.family.frame_skip)
        return self.readout()


FB_SWIMMER = ForwardBackwardFamily(
    name="fb_swimmer",
    xml_file="swimmer.xml",
    frame_skip=4,
    ctrl_cost_weight=1e-4,
    reset_noise_scale=0.1,
    velocity_noise="uniform",
    skipped_qpos=2,
)
FB_WALKER = ForwardBackwardFamily(
    name="fb_walker",
    xml_file="walker2d_v5.xml",
    frame_skip=4,
    ctrl_cost_weight=1e-3,
    reset_noise_scale=5e-3,
    velocity_noise="uniform",
    skipped_qpos=1,
    healthy=_walker_healthy,
    healthy_reward=1.0,
    qvel_clip=WALKER_QVEL_CLIP,
)
FB_ANT = ForwardBackwardFamily(
    name="fb_ant",
    xml_file="ant.xml",
    frame_skip=5,
    ctrl_cost_weight=0.5,
    reset_noise_scale=0.1,
    velocity_noise="normal",
    skipped_qpos=2,
    healthy=_ant_healthy,
    healthy_reward=1.0,
    contact_cost_weight=5e-4,
    torso_body=1,
)
FB_HALFCHEETAH = ForwardBackwardFamily(
    name="fb_halfcheetah",
    xml_file="half_cheetah.xml",
    frame_skip=5,
    ctrl_cost_weight=0.05,
    reset_noise_scale=0.1,
    velocity_noise="normal",
    skipped_qpos=1,
)
MUJOCO_FAMILIES = (FB_SWIMMER, FB_WALKER, FB_ANT, FB_HALFCHEETAH)
