"""Replay: a MuJoCo meta-policy before and after adapting to one direction, as video."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from _shared.figures import POST_COLOR, PRE_COLOR
from _shared.state import current_session, page_setup, saved_runs

from esmaml_core.assets import list_pretrained
from esmaml_core.config import TrainConfig
from esmaml_core.replay import Replay, replay_adaptation
from esmaml_core.runs import load_trainer
from esmaml_core.trainer import make_trainer

FRESH = "fresh"  # source key of an untrained meta-policy (iteration 0) for the chosen task
DIRECTIONS = {1.0: "forward (+1)", -1.0: "backward (−1)"}


@st.cache_data(max_entries=16, show_spinner=False)
def cached_replay(source: str, iteration: int, task: str, direction: float, seed: int) -> Replay:
    """Renders are slow (seconds), so each (policy, task, seed) is rendered once per server.

    A policy is a run folder at a checkpoint ``iteration`` (a run that trained on renders anew).
    """
    trainer = make_trainer(TrainConfig(task=task, operator="es_grad")) if source == FRESH else load_trainer(source)[0]
    try:
        return replay_adaptation(trainer, np.array([direction]), seed)
    finally:
        trainer.close()


def rewards_figure(replay: Replay) -> go.Figure:
    fig = go.Figure()
    for rewards, name, color in (
        (replay.before_rewards, "before adaptation", PRE_COLOR),
        (replay.after_rewards, "after adaptation", POST_COLOR),
    ):
        seconds = np.arange(1, len(rewards) + 1) * replay.seconds_per_step
        fig.add_trace(go.Scatter(x=seconds, y=rewards, name=name, mode="lines", line={"color": color}))
    fig.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis_title="simulated time (s)",
        yaxis_title="reward per step",
        legend={"orientation": "h"},
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
st.markdown(
    "A forward/backward locomotion task: the same body must run **forward** on some tasks and **backward** on "
    "others. The meta-policy (left) gets K queries of the task, adapts, and the adapted policy runs (right), "
    "from the same start state."
)
task_names = [family.name for family in MUJOCO_FAMILIES]
session = current_session()  # the run this tab trained, preselected (Train's "Replay it as video")
live_path = str(session.store.path) if session is not None and session.config.task in task_names else None
if live_path is not None:
    st.session_state.setdefault("replay.task", session.config.task)
task = st.selectbox("MuJoCo task", task_names, key="replay.task")
pretrained, runs = list_pretrained(task=task), saved_runs(task=task)
sources = {str(asset.path): f"pretrained: {asset.name} ({asset.iteration} it.)" for asset in pretrained}
sources.update({str(run.path): f"{run.name} ({run.config.method}, {run.iterations_done} it.)" for run in runs})
iterations = {str(asset.path): asset.iteration for asset in pretrained}
iterations.update({str(run.path): run.iterations_done for run in runs})
sources[FRESH] = "untrained meta-policy (iteration 0)"
if not pretrained and not runs:
    st.caption(f"No pretrained or saved {task} runs yet: the untrained meta-policy is shown until one is trained.")
source_key = f"replay.source.{task}"  # one choice per task: a task change never keeps another task's choice
if live_path in sources:
    st.session_state.setdefault(source_key, live_path)
source = st.selectbox("Meta-policy", tuple(sources), format_func=sources.get, key=source_key)
direction = st.radio("Task direction", tuple(DIRECTIONS), format_func=DIRECTIONS.get, horizontal=True)
seed = st.number_input("Seed (start state and adaptation noise)", 0, 10_000, 0, key="replay.seed")

if st.toggle("Render", value=False, key="replay.render", help="a few seconds per new (policy, task, seed)"):
    with st.spinner("Adapting and rendering…"):
        replay = cached_replay(source, iterations.get(source, 0), task, direction, int(seed))
    before, after = st.columns(2)
    gain = replay.after_rewards.sum() - replay.before_rewards.sum()
    for column, title, video, rewards, delta in (
        (before, "Before adaptation", replay.before_video, replay.before_rewards, None),
        (after, "After adaptation", replay.after_video, replay.after_rewards, f"{gain:+.2f} by adapting"),
    ):
        with column:
            st.subheader(title)
            st.video(video, loop=True, autoplay=True, muted=True, alt=f"{title}: {task}, {DIRECTIONS[direction]}")
            st.metric("Return", f"{rewards.sum():.2f}", delta)
    if np.array_equal(replay.before_rewards, replay.after_rewards):
        st.info("Adaptation kept the meta-policy here: none of its K queries did better on this task.")
    st.plotly_chart(rewards_figure(replay), key="replay.rewards")
