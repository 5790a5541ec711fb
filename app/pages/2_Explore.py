"""Explore: how ES-MAML (parameter space) and PG-MAML (action space) spend their K queries on a task."""

import streamlit as st
from _shared.figures import exploration_figure
from _shared.state import current_session, page_link, page_setup, saved_runs, tick_interval, train_a_little

from esmaml_core.assets import PretrainedPolicy, list_pretrained
from esmaml_core.comparison import RunSummary
from esmaml_core.errors import CheckpointError
from esmaml_core.exploration import (
    distinct_corners_reached,
    explored_paths,
    final_distances,
    nearest_iteration,
    probe_policy,
    record_checkpoint_probe,
)
from esmaml_core.methods import PG_METHODS
from esmaml_core.results import ProbeTrajectories
from esmaml_core.runs import RunStore
from esmaml_core.tasks import TASK_FAMILIES
from esmaml_core.tasks.point import PointTaskFamily
from esmaml_core.training_session import Status

PLAY_SECONDS = 0.8
ITERATION_KEY, PROPOSALS_KEY, PLAYING_KEY = "explore.iteration", "explore.proposals", "explore.playing"
SIDES = (
    ("ES-MAML: parameter-space exploration", "K perturbed deterministic policies θ + σε₁…θ + σε_K", False),
    ("PG-MAML: action-space exploration", "one stochastic policy, K noisy rollouts", True),
)


def goal_label(goal) -> str:
    return f"goal ({goal[0]:+.2f}, {goal[1]:+.2f})"


Source = RunSummary | PretrainedPolicy


@st.cache_data(max_entries=8, show_spinner="Adapting the pretrained meta-policy…")
def pretrained_probe(path: str) -> ProbeTrajectories:
    return probe_policy(path)[1]


def source_iterations(source: Source) -> list[int]:
    """Meta-iterations whose exploration can be shown: a run's recorded probes, an asset's one iteration."""
    return [source.iteration] if isinstance(source, PretrainedPolicy) else RunStore(source.path).probe_iterations()


def source_probe(source: Source, iteration: int) -> ProbeTrajectories:
    if isinstance(source, PretrainedPolicy):
        return pretrained_probe(str(source.path))
    return RunStore(source.path).load_probe(iteration)


def choose_source(sources: list[Source], pg: bool, live_name: str | None) -> Source | None:
    """A run (or pretrained policy) picker for one side, or a note saying why there is nothing to pick."""
    if not sources:
        method = "PG-MAML" if pg else "ES-MAML"
        st.info(f"No {method} run on this task yet: start one on the Train page (method {method}).")
        page_link("Train", "Go to Train")
        return None

    def label(source: Source) -> str:
        operator = "" if pg else f" · {source.config.operator}"
        if isinstance(source, PretrainedPolicy):
            return f"pretrained: {source.name}{operator} · {source.iteration} it."
        live = " · ● this tab's run" if source.name == live_name else ""
        return f"{source.name}{operator} · {source.iterations_done} it.{live}"

    source = st.selectbox("Run", sources, format_func=label, key=f"explore.run.{pg}")
    if not source_iterations(source):
        st.caption("This run has no recorded exploration paths (e.g. it was trained by the CLI).")
        if st.button("Record them at its latest checkpoint", key=f"explore.record.{pg}"):
            try:
                record_checkpoint_probe(source.path)
            except CheckpointError as error:
                st.error(str(error))
    return source


def exploration_metrics(
    family: PointTaskFamily, probe: ProbeTrajectories, task_index: int, proposals: int | None
) -> None:
    """Small numbers under a plot: what the queries shown covered and how close the policy held then got."""
    goal = probe.tasks[task_index]
    queries, held = explored_paths(probe, task_index, proposals)
    columns = st.columns(3)
    if family.name == "four_corner":
        corners = distinct_corners_reached(queries)
        columns[0].metric("Corners reached", f"{corners} / 4", help="corners whose reward radius a path shown entered")
    else:
        columns[0].metric("Exploration paths", len(queries))
    distance = f"{final_distances(queries, goal).mean():.2f}" if len(queries) else "—"
    columns[1].metric("Paths: end distance", distance, help="mean distance to the goal over the paths' end points")
    held_label = "Adapted: end distance" if len(queries) == probe.query_paths.shape[1] else "Best so far: end distance"
    columns[2].metric(held_label, f"{final_distances(held, goal):.2f}", help="its end point to the goal")


def step_playback(iterations: list[int], proposals: int | None) -> None:
    """Advance the animation one frame (looping): hill-climbing proposals if asked for, else meta-iterations."""
    if st.session_state.get("explore.play_what") == "proposals" and proposals is not None:
        current = st.session_state.get(PROPOSALS_KEY, 0)
        st.session_state[PROPOSALS_KEY] = current + 1 if current < proposals else 0
        return
    position = iterations.index(st.session_state[ITERATION_KEY])
    st.session_state[ITERATION_KEY] = iterations[(position + 1) % len(iterations)]


def explorer(family: PointTaskFamily, sources: list[Source | None], following_live: bool) -> None:
    """Slider, probe-task picker and the two sides' figures for the chosen meta-iteration."""
    available = [source_iterations(source) if source is not None else [] for source in sources]
    iterations = next((items for items in available if items), None)
    if iterations is None:
        return
    if st.session_state.get(ITERATION_KEY) not in iterations or following_live:
        st.session_state[ITERATION_KEY] = iterations[-1]
    probes = [
        source_probe(source, nearest_iteration(items, st.session_state[ITERATION_KEY])) if items else None
        for source, items in zip(sources, available, strict=True)
    ]
    hill_climbing = probes[0] is not None and probes[0].accepted is not None
    queries = probes[0].query_paths.shape[1] if hill_climbing else None
    if st.session_state.get(PLAYING_KEY):
        step_playback(iterations, queries)
    st.select_slider("Meta-iteration", options=iterations, key=ITERATION_KEY)
    tasks = min(len(probe.tasks) for probe in probes if probe is not None)
    reference = next(probe for probe in probes if probe is not None)
    task_index = st.radio(
        "Probe task (the same held-out tasks on both sides)",
        range(tasks),
        format_func=lambda index: goal_label(reference.tasks[index]),
        horizontal=True,
        key="explore.task_index",
    )
    proposals = None
    if hill_climbing:
        if st.session_state.get(PROPOSALS_KEY, queries) > queries:  # e.g. another run with a smaller K
            st.session_state[PROPOSALS_KEY] = queries
        st.session_state.setdefault(PROPOSALS_KEY, queries)
        proposals = st.slider("Hill-climbing proposals tried", 0, queries, key=PROPOSALS_KEY)
    for column, (title, _, pg), probe, items in zip(st.columns(2), SIDES, probes, available, strict=True):
        with column:
            if probe is None:
                continue
            shown = nearest_iteration(items, st.session_state[ITERATION_KEY])
            figure = exploration_figure(
                family, probe, task_index, None if pg else proposals, f"{title.split(':')[0]} · iteration {shown}"
            )
            st.plotly_chart(figure, key=f"explore.figure.{pg}")
            exploration_metrics(family, probe, task_index, None if pg else proposals)


page_setup("Explore")
st.title("Explore")
st.markdown(
    "On a new task, adaptation may use **K** rollouts. ES-MAML spends them on **K perturbed copies of the "
    "policy** (parameter-space noise: each path is smooth and goes its own way); PG-MAML on **K noisy runs of "
    "one stochastic policy** (action-space noise: jittery paths around one mean). The thick orange path is "
    "the policy after adaptation."
)
session = current_session()
point_tasks = [name for name, family in TASK_FAMILIES.items() if isinstance(family, PointTaskFamily)]
if session is not None and session.config.task in point_tasks:
    st.session_state.setdefault("explore.task", session.config.task)
task = st.radio("Task", point_tasks, horizontal=True, key="explore.task")
live_name = session.store.name if session is not None else None
all_sources = [*saved_runs(task=task), *list_pretrained(task=task)]
chosen = []
for column, (title, subtitle, pg) in zip(st.columns(2), SIDES, strict=True):
    with column:
        st.subheader(title)
        st.caption(subtitle)
        side = [source for source in all_sources if (source.config.method in PG_METHODS) == pg]
        chosen.append(choose_source(side, pg, live_name))

playing = bool(st.session_state.get(PLAYING_KEY))
play, what, follow = st.columns([1, 2, 2])
play.button(
    "Pause" if playing else "Play",
    icon=":material/pause:" if playing else ":material/play_arrow:",
    key="explore.play",
    on_click=lambda: st.session_state.update({PLAYING_KEY: not playing}),
)
what.radio(
    "Play through",
    ("iterations", "proposals"),
    format_func={"iterations": "meta-iterations", "proposals": "hill-climbing proposals"}.get,
    horizontal=True,
    key="explore.play_what",
)
live_shown = (
    session is not None
    and session.status is Status.RUNNING
    and live_name in [source.name for source in chosen if isinstance(source, RunSummary)]
)
following = follow.toggle("Follow the live run", value=True, key="explore.follow", disabled=not live_shown)
interval = PLAY_SECONDS if playing else tick_interval(session) if live_shown else None


@st.fragment(run_every=interval)
def live_explorer() -> None:
    if live_shown:
        train_a_little(session, ticking=interval is not None)
    explorer(TASK_FAMILIES[task], chosen, following and live_shown and not playing)


live_explorer()
