"""Explore, a lecture view: how ES-MAML (parameter space) and PG-MAML (action space) spend their K queries.

Both methods side by side on the same held-out tasks, drawn from the shipped pretrained
meta-policies by default (or from saved and live runs), each panel captioned with the
paper's claim it illustrates and the measured exploration metrics beneath; sized for one
1280x720 screen.
"""

import math

import streamlit as st
from _shared.figures import exploration_figure
from _shared.state import REDRAW_SECONDS, page_link, page_setup, saved_runs, shown_run, wrapping_columns

from esmaml_core import assets
from esmaml_core.assets import PretrainedPolicy
from esmaml_core.comparison import RunSummary
from esmaml_core.errors import CheckpointError
from esmaml_core.exploration import (
    CORNER_VISIT_RADIUS,
    STEP_PERCENTILES,
    ExplorationMetrics,
    exploration_metrics,
    nearest_iteration,
    probe_policy,
    record_checkpoint_probe,
)
from esmaml_core.jobs import JobState
from esmaml_core.methods import PG_METHODS
from esmaml_core.results import ProbeTrajectories
from esmaml_core.runs import RunStore
from esmaml_core.tasks import TASK_FAMILIES
from esmaml_core.tasks.point import PointTaskFamily

PLAY_SECONDS = 0.8
# With the controls above and the metrics below, one 1280x720 screen; less when a row of run pickers is shown.
FIGURE_HEIGHT, FIGURE_HEIGHT_WITH_PICKERS = 320, 264
ITERATION_KEY, PROPOSALS_KEY, PLAYING_KEY = "explore.iteration", "explore.proposals", "explore.playing"
TASK_LABELS = {"four_corner": "Four Corner", "goal_2d": "2D Goal", "navigation_2d": "2D Navigation"}
SOURCES = {"pretrained": "pretrained", "runs": "saved & live runs"}
METHODS = ("ES-MAML", "PG-MAML")  # left, right
ES_CLAIM = (
    "**ES-MAML explores in parameter space**: K deterministic policies θ + σε₁ … θ + σε_K, each a smooth path "
    "of its own"
)
ES_KEEPS = {  # how the ES operator shown turns its K paths into the adapted policy; None: nothing shown
    True: "; hill climbing keeps a proposal (green) only if it scores higher.",
    False: "; one ES-gradient step weighs them by their returns.",
    None: ".",
}
PG_CLAIM = (
    "**PG-MAML explores in action space**: one stochastic policy run K times; Gaussian noise on every "
    "action makes jittery paths around one mean, which must circle around to find the goal."
)

# A lecture view on one screen: less blank space above and beside the content than Streamlit's default.
COMPACT_PAGE_STYLE = """<style>
[data-testid="stMainBlockContainer"] { padding: 2.5rem 2rem 1rem 2rem; }
[data-testid="stMainBlockContainer"] h1 { padding: 0; font-size: 2rem; white-space: nowrap; }
</style>"""

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


def source_label(source: Source, live_name: str | None) -> str:
    operator = "" if source.config.method in PG_METHODS else f" · {source.config.operator}"
    if isinstance(source, PretrainedPolicy):
        return f"pretrained: {source.name}{operator} · {source.iteration} it."
    live = " · ● this tab's run" if source.name == live_name else ""
    return f"{source.name}{operator} · {source.iterations_done} it.{live}"


def missing_source(task: str, method: str, pretrained: bool) -> None:
    """Say plainly why a side has nothing to draw, and where to get it."""
    if pretrained:
        prefix = f"{task}_{method.lower().replace('-', '_')}_*"
        st.info(f"No pretrained {method} policy for {TASK_LABELS[task]} is shipped (assets/pretrained/{prefix}).")
    else:
        st.info(f"No {method} run on this task yet: start one on the Train page (method {method}).")
    page_link("Train", "Train one")


def choose_source(sources: list[Source], side: int, live_name: str | None) -> Source | None:
    """One side's run (or pretrained policy): a picker when there is a choice; runs without paths can get some."""
    if not sources:
        return None
    source = sources[0]
    if len(sources) > 1:
        source = st.selectbox(
            f"{METHODS[side]} policy",
            sources,
            format_func=lambda item: source_label(item, live_name),
            key=f"explore.run.{side}",
            label_visibility="collapsed",
        )
    if not source_iterations(source):
        st.caption("This run has no recorded exploration paths (e.g. it was trained by the CLI).")
        if st.button("Record them at its latest checkpoint", key=f"explore.record.{side}"):
            try:
                record_checkpoint_probe(source.path)
            except CheckpointError as error:
                st.error(str(error))
    return source


def number(value: float, digits: int = 2) -> str:
    return "—" if math.isnan(value) else f"{value:.{digits}f}"


def metrics_text(metrics: ExplorationMetrics, held_label: str) -> str:
    """The measured exploration under a panel, three short lines (definitions: docs/ARCHITECTURE.md)."""
    corners = "" if metrics.corners_visited is None else f"corners visited **{metrics.corners_visited}/4** · "
    percentiles = "/".join(number(value, 3) for value in metrics.step_percentiles)
    return (
        f"{corners}area covered **{metrics.area_covered:.1%}** · path length **{number(metrics.path_length)}**  \n"
        f"step **{number(metrics.step_mean, 3)}** · p{'/'.join(map(str, STEP_PERCENTILES))} {percentiles}  \n"
        f"end distance: {metrics.paths} paths **{number(metrics.final_distance)}** · "
        f"{held_label} **{number(metrics.held_final_distance)}**"
    )


def step_playback(iterations: list[int], proposals: int | None) -> None:
    """Advance the animation one frame (looping): hill-climbing proposals if asked for, else meta-iterations."""
    if proposals is not None and (st.session_state.get("explore.play_what") == "proposals" or len(iterations) < 2):
        current = st.session_state.get(PROPOSALS_KEY, 0)
        st.session_state[PROPOSALS_KEY] = current + 1 if current < proposals else 0
        return
    position = iterations.index(st.session_state[ITERATION_KEY])
    st.session_state[ITERATION_KEY] = iterations[(position + 1) % len(iterations)]


def proposals_slider(queries: int) -> int:
    if st.session_state.get(PROPOSALS_KEY, queries) > queries:  # e.g. another run with a smaller K
        st.session_state[PROPOSALS_KEY] = queries
    st.session_state.setdefault(PROPOSALS_KEY, queries)
    return st.slider("Hill-climbing proposals tried", 0, queries, key=PROPOSALS_KEY)


def held_out_line(source: Source, iteration: int) -> str:
    """The policy's score beyond the probe tasks shown: one task's paths are no verdict on a method."""
    score = source.held_out_return(iteration)
    return "" if score is None else f"after adaptation: return {score[0]:.1f}, mean over {score[1]} held-out tasks"


def panel(
    family: PointTaskFamily,
    probe: ProbeTrajectories,
    side: int,
    task_index: int,
    titles: tuple[str, str],
    proposals,
    height: int,
) -> None:
    """One method's figure (title and subtitle) with its measured exploration beneath."""
    figure = exploration_figure(family, probe, task_index, proposals, titles[0], height, titles[1])
    st.plotly_chart(figure, key=f"explore.figure.{side}")
    metrics = exploration_metrics(probe, task_index, family, proposals)
    all_tried = metrics.paths == probe.query_paths.shape[1]
    st.caption(metrics_text(metrics, "adapted" if all_tried else "best so far"))


def explorer(
    family: PointTaskFamily, sources: list[Source | None], following_live: bool, pretrained: bool, figure_height: int
) -> None:
    """Probe-task picker, iteration and proposal sliders, and the two sides' figures with their metrics."""
    available = [source_iterations(source) if source is not None else [] for source in sources]
    iterations = next((items for items in available if items), None)
    if iterations is None:
        for side, column in enumerate(st.columns(2)):
            with column:
                missing_source(family.name, METHODS[side], pretrained)
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
    reference = next(probe for probe in probes if probe is not None)
    tasks = min(len(probe.tasks) for probe in probes if probe is not None)
    task_column, iteration_column, proposals_column = wrapping_columns("explore-sliders", [5, 2.5, 2.5])
    if st.session_state.get("explore.task_index") not in range(tasks):  # first visit, or fewer tasks than before
        st.session_state["explore.task_index"] = 0
    task_index = task_column.segmented_control(
        "Held-out task, its goal (the same on both sides)",
        range(tasks),
        required=True,
        format_func=lambda index: "({:+.1f}, {:+.1f})".format(*reference.tasks[index]),
        key="explore.task_index",
    )
    if len(iterations) > 1:
        iteration_column.select_slider("Meta-iteration", options=iterations, key=ITERATION_KEY)
    proposals = None
    if hill_climbing:
        with proposals_column:
            proposals = proposals_slider(queries)
    columns = st.columns(2, gap="medium")
    for side, (column, source, probe, items) in enumerate(zip(columns, sources, probes, available, strict=True)):
        with column:
            st.caption(PG_CLAIM if side else ES_CLAIM + ES_KEEPS[hill_climbing if probe is not None else None])
            if probe is None:
                missing_source(family.name, METHODS[side], pretrained)
                continue
            shown = nearest_iteration(items, st.session_state[ITERATION_KEY])
            title = f"{METHODS[side]} · iteration {shown}" + (" · pretrained" if pretrained else "")
            titles = title, held_out_line(source, shown)
            panel(family, probe, side, task_index, titles, None if side else proposals, figure_height)


page_setup("Explore")
job = shown_run()  # the run this tab trains or shows on Train
point_tasks = [name for name, family in TASK_FAMILIES.items() if isinstance(family, PointTaskFamily)]
live_task = job is not None and job.config is not None and job.config.task in point_tasks
if live_task:
    st.session_state.setdefault("explore.task", job.config.task)
st.session_state.setdefault("explore.task", point_tasks[0])
st.session_state.setdefault("explore.source", "runs" if live_task else "pretrained")

st.html(COMPACT_PAGE_STYLE)
title_column, task_column, source_column, play_column, options_column = wrapping_columns(
    "explore-header", [1.5, 3.3, 2.6, 1.0, 1.4], vertical_alignment="center"
)
title_column.title("Explore")
task = task_column.segmented_control(
    "Task", point_tasks, required=True, format_func=TASK_LABELS.get, key="explore.task", label_visibility="collapsed"
)
source_kind = source_column.segmented_control(
    "Source", SOURCES, required=True, format_func=SOURCES.get, key="explore.source", label_visibility="collapsed"
)
pretrained = source_kind == "pretrained"
live_name = job.name if job is not None else None
candidates = assets.list_pretrained(assets.PRETRAINED_DIR, task) if pretrained else saved_runs(task=task)
sides = [[source for source in candidates if (source.config.method in PG_METHODS) == bool(side)] for side in (0, 1)]
figure_height = FIGURE_HEIGHT
if pretrained and all(len(side) < 2 for side in sides):  # nothing to choose: no picker row
    chosen = [side[0] if side else None for side in sides]
else:
    figure_height = FIGURE_HEIGHT_WITH_PICKERS
    chosen = []
    for side, column in enumerate(st.columns(2)):
        with column:
            chosen.append(choose_source(sides[side], side, live_name))

playing = bool(st.session_state.get(PLAYING_KEY))
play_column.button(
    "Pause" if playing else "Play",
    icon=":material/pause:" if playing else ":material/play_arrow:",
    key="explore.play",
    on_click=lambda: st.session_state.update({PLAYING_KEY: not playing}),
)
options = options_column.popover("Playback", icon=":material/tune:")
options.radio(
    "Play through",
    ("iterations", "proposals"),
    format_func={"iterations": "meta-iterations", "proposals": "hill-climbing proposals"}.get,
    key="explore.play_what",
)
live_shown = (
    not pretrained
    and job is not None
    and job.state is JobState.RUNNING
    and live_name in [source.name for source in chosen if isinstance(source, RunSummary)]
)
following = options.toggle("Follow the live run", value=True, key="explore.follow", disabled=not live_shown)
interval = PLAY_SECONDS if playing else REDRAW_SECONDS if live_shown else None


@st.fragment(run_every=interval)
def live_explorer() -> None:
    explorer(TASK_FAMILIES[task], chosen, following and live_shown and not playing, pretrained, figure_height)


live_explorer()
with st.expander("What am I looking at?"):
    st.markdown(
        "On a new task, adaptation may use **K** rollouts. ES-MAML spends them on **K perturbed copies of the "
        "policy** (parameter-space noise: each path is smooth and goes its own way); PG-MAML on **K noisy runs "
        "of one stochastic policy** (action-space noise: jittery paths around one mean). The dashed path is the "
        "meta-policy before adaptation, the thick orange one the policy after it. On Four Corner the dotted "
        f"circles are the reward radius (2), the small ones the radius of {CORNER_VISIT_RADIUS} within which a "
        'corner counts as visited. The metrics are defined in docs/ARCHITECTURE.md ("Exploration metrics"); '
        "the captions paraphrase Song et al., *ES-MAML: Simple Hessian-Free Meta Learning*, ICLR 2020."
    )
