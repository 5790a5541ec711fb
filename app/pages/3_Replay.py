"""Replay: a meta-policy beside its adapted versions, from one start state, as video and x over time."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from _shared.figures import PRE_COLOR
from _shared.state import page_setup, saved_runs, shown_run

from esmaml_core.adaptation import OPERATORS
from esmaml_core.assets import list_pretrained
from esmaml_core.config import TrainConfig, applies
from esmaml_core.methods import METHODS
from esmaml_core.plots import PALETTE
from esmaml_core.replay import FORWARD_BACKWARD, AdaptationReplays, Clip, replay_adaptation
from esmaml_core.runs import load_trainer
from esmaml_core.tasks import TASK_FAMILIES
from esmaml_core.tasks.cartpole import BIAS_RANGE
from esmaml_core.trainer import make_trainer

FRESH = "fresh"  # source key of an untrained meta-policy (iteration 0) for the chosen task
CARTPOLE = "biased_sensor_cartpole"
CLIP_COLORS = (PRE_COLOR, *PALETTE)
WHY_ADAPTATION_CAN_HURT = {
    "hill_climb": (
        "Hill climbing scores each of its K queries on **one episode from its own random start** and keeps the "
        "best-scoring one. A query can win because its start was lucky, not because it is better: the best of K "
        "noisy scores is biased upwards. From this replay's start, a different one, the kept query can then do "
        "worse than the meta-policy. Over many starts and tasks adaptation helps on average (Compare's "
        "post-adaptation curve); on one held-out start it need not. Try another seed."
    ),
    "gradient": (
        "The adaptation step is estimated from K episodes, each from its own random start: with few queries the "
        "estimate is noisy and can point away from what helps from this replay's start. Over many starts and "
        "tasks adaptation helps on average (Compare's post-adaptation curve); on one start it need not."
    ),
}


@st.cache_data(max_entries=16, show_spinner=False)
def cached_replay(source: str, iteration: int, task: str, bias: float, seed: int) -> AdaptationReplays:
    """Renders are slow (seconds), so each (policy, task, seed) is rendered once per server.

    A policy is a run folder at a checkpoint ``iteration`` (a run that trained on renders anew).
    """
    trainer = make_trainer(TrainConfig(task=task, operator="es_grad")) if source == FRESH else load_trainer(source)[0]
    tasks, labels = ([[bias]], (f"bias {bias:+.2f} rad",)) if task == CARTPOLE else FORWARD_BACKWARD
    try:
        return replay_adaptation(trainer, tasks, labels, seed)
    finally:
        trainer.close()


def direction_caption(clip: Clip) -> str:
    """Which way it went and how fast, measured over the scored episode."""
    arrow = "→ forward" if clip.mean_velocity > 0 else "← backward"
    return f"**{arrow}** · mean x-velocity {clip.mean_velocity:+.2f} m/s"


def ending_caption(clip: Clip, clip_seconds: float) -> str:
    """When the scored episode ended, and that the rest of the clip is only for watching."""
    watched = clip_seconds - clip.scored_seconds
    if clip.fell:
        return f"Fell at {clip.fell_at:.2f} s; the rest is shown for watching, not scored."
    if watched > 1e-9:
        return f"Scored for the {clip.scored_seconds:.2f} s horizon; the rest is shown for watching, not scored."
    return f"Scored for the whole {clip.scored_seconds:.2f} s."


def displacement_figure(replay: AdaptationReplays, titles: list[str], quantity: str) -> go.Figure:
    fig = go.Figure()
    for clip, title, color in zip(replay.clips, titles, CLIP_COLORS, strict=False):
        seconds = np.arange(len(clip.positions)) * replay.seconds_per_step
        fig.add_trace(go.Scatter(x=seconds, y=clip.positions - clip.positions[0], name=title, line={"color": color}))
        if clip.fell:
            fig.add_trace(
                go.Scatter(
                    x=[clip.fell_at],
                    y=[clip.positions[len(clip.rewards)] - clip.positions[0]],
                    mode="markers",
                    marker={"symbol": "x", "size": 12, "color": color},
                    name=f"{title}: fell",
                )
            )
    fig.add_vline(
        replay.horizon * replay.seconds_per_step,
        line_dash="dot",
        annotation_text="horizon: scoring ends",
        annotation_position="bottom right",
        line_color="#868e96",
    )
    fig.update_layout(
        height=360,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis_title="simulated time (s)",
        yaxis_title=quantity,
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    )
    return fig


page_setup("Replay")
st.title("Replay")
try:
    from esmaml_core.render import FrameRenderer  # noqa: F401 - only checks that rendering is installed
    from esmaml_core.tasks.mujoco import MUJOCO_FAMILIES
except ImportError as error:
    st.info(f"MuJoCo tasks and rendering are not available in this installation yet ({error}).")
    st.stop()
task_names = [family.name for family in MUJOCO_FAMILIES] + [CARTPOLE]
job = shown_run()  # the run this tab trains or shows, preselected (Train's "Replay it as video")
live_path = str(job.path) if job is not None and job.config is not None and job.config.task in task_names else None
if live_path is not None:
    st.session_state.setdefault("replay.task", job.config.task)
task = st.selectbox("Task", task_names, format_func=TASK_FAMILIES.label, key="replay.task")
if task == CARTPOLE:
    st.markdown(
        "A cart-pole whose pole-angle sensor is off by a constant **bias** (blue: the pole as sensed; orange: the "
        "true pole). A controller that trusts the sensor holds the true pole tilted and drifts off the track. The "
        "meta-policy (left) gets K queries on this bias, adapts, and the adapted policy runs (right), from the "
        "same start state."
    )
else:
    st.markdown(
        "A forward/backward locomotion task: the same body must run **forward** on some tasks and **backward** on "
        "others, and nothing in what it observes says which. The meta-policy alone (left) cannot know; given K "
        "queries of a task it adapts, to forward (middle) or to backward (right). All three start from the same "
        "state; the camera follows the body, and a red line across the floor marks where it started."
    )
pretrained, runs = list_pretrained(task=task), saved_runs(task=task)
sources = {str(asset.path): f"pretrained: {asset.name} ({asset.iteration} it.)" for asset in pretrained}
sources.update({str(run.path): f"{run.name} ({run.config.label()}, {run.iterations_done} it.)" for run in runs})
configs = {str(asset.path): asset.config for asset in pretrained} | {str(run.path): run.config for run in runs}
iterations = {str(asset.path): asset.iteration for asset in pretrained}
iterations.update({str(run.path): run.iterations_done for run in runs})
sources[FRESH] = "untrained meta-policy (iteration 0)"
configs[FRESH] = TrainConfig(task=task, operator="es_grad")
if not pretrained and not runs:
    st.caption(f"No pretrained or saved {task} runs yet: the untrained meta-policy is shown until one is trained.")
source_key = f"replay.source.{task}"  # one choice per task: a task change never keeps another task's choice
if live_path in sources:
    st.session_state.setdefault(source_key, live_path)
source = st.selectbox("Meta-policy", tuple(sources), format_func=sources.get, key=source_key)
bias = 0.0
if task == CARTPOLE:
    bias = st.slider("Sensor bias (rad)", -BIAS_RANGE, BIAS_RANGE, 0.15, 0.01, key="replay.bias")
seed = st.number_input("Seed (start state and adaptation noise)", 0, 10_000, 0, key="replay.seed")

if st.toggle("Render", value=False, key="replay.render", help="a few seconds per new (policy, task, seed)"):
    with st.spinner("Adapting and rendering…"):
        replay = cached_replay(source, iterations.get(source, 0), task, bias, int(seed))
    clip_seconds = (len(replay.meta.positions) - 1) * replay.seconds_per_step
    titles = ["Meta-policy", *(f"Adapted to {clip.label}" for clip in replay.adapted)]
    meta_returns = [None, *replay.meta_returns]  # what each adapted policy is compared with: same task, same start
    columns = st.columns(len(replay.clips))
    for column, title, clip, meta_return in zip(columns, titles, replay.clips, meta_returns, strict=True):
        with column:
            st.subheader(title)
            st.video(clip.video, loop=True, autoplay=True, muted=True, alt=f"{title}: {TASK_FAMILIES.label(task)}")
            if task != CARTPOLE:
                st.markdown(direction_caption(clip))
            delta = None if meta_return is None else f"{clip.score - meta_return:+.2f} vs. the meta-policy"
            task_name = (
                f"bias {clip.task[0]:+.2f}" if task == CARTPOLE else "forward" if clip.task[0] > 0 else "backward"
            )
            st.metric(f"Return on the {task_name} task", f"{clip.score:.2f}", delta)
            st.caption(ending_caption(clip, clip_seconds))
    if task != CARTPOLE:
        upright = TASK_FAMILIES[task].healthy_reward
        bonus = f" plus {upright:g} for each step it stays upright," if upright else ""
        st.caption(
            f"The meta-policy's return on the backward task, same start: {replay.meta_returns[-1]:.2f}. "
            f"Reward per step is direction × x-velocity,{bonus} minus control costs: running forward lowers the "
            "return there."
        )
    config = configs[source]
    uses_operator = applies("operator", config.to_values())  # ES methods; the PG ones adapt by a gradient step
    kind = "hill_climb" if uses_operator and config.operator == "hill_climb" else "gradient"
    method = (
        OPERATORS.label(config.operator)
        if uses_operator
        else f"the policy-gradient step of {METHODS.label(config.method)}"
    )
    for clip, meta_return, kept in zip(replay.adapted, replay.meta_returns, replay.kept, strict=True):
        if kept:
            st.info(
                f"Adapting to {clip.label} kept the meta-policy: none of its K queries scored better on its own noisy "
                "episode than the meta-policy did."
            )
        elif clip.score < meta_return:
            st.warning(
                f"**Adaptation did not help here.** Adapted to {clip.label}, the policy returns {clip.score:.2f} "
                f"from this start, the meta-policy {meta_return:.2f}. Why ({method}): {WHY_ADAPTATION_CAN_HURT[kind]}"
            )
    quantity = "cart displacement (m)" if task == CARTPOLE else "x-displacement (m)"
    st.subheader("Cart displacement over time" if task == CARTPOLE else "x-displacement over time")
    st.plotly_chart(displacement_figure(replay, titles, quantity), key="replay.displacement")
else:
    st.info(
        "Switch on **Render** to adapt the meta-policy to these tasks and film it before and after adapting "
        "(a few seconds for each new policy, task and seed).",
        icon=":material/movie:",
    )
