"""Compare: saved runs' learning curves, mean and spread over seeds, and their final returns."""

import shutil
from importlib.util import find_spec

import streamlit as st
from _shared.state import page_link, page_setup, saved_runs, wrapping_columns

from esmaml_core.comparison import (
    CurveBand,
    aggregate_curves,
    final_returns_rows,
    group_runs,
    one_run_per_seed,
    rows_to_csv,
)
from esmaml_core.methods import METHODS
from esmaml_core.plots import X_AXES, bands_figure, figure_image
from esmaml_core.runs import runs_root
from esmaml_core.tasks import TASK_FAMILIES

METRICS = {"post_adaptation_return": "post-adaptation return", "pre_adaptation_return": "pre-adaptation return"}
DEFAULT_SELECTION = 12
EXPORT_WIDTH, EXPORT_HEIGHT = 1100, 600  # pixels of an exported figure (before the 2x scale)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")  # kaleido draws PNGs in one of these


def png_export_available() -> bool:
    return find_spec("kaleido") is not None and any(shutil.which(browser) for browser in BROWSERS)


def reselect_runs() -> None:
    """A changed filter selects the runs it lets through afresh."""
    st.session_state.pop("compare.runs", None)


page_setup("Compare")
st.title("Compare")
st.markdown(
    "Runs whose configurations differ only in the seed form one **experiment**: its curve is the mean over "
    "its seeds, with a band of ± one standard deviation across them. Every run counts up to its own end."
)
runs = saved_runs()
if not runs:
    st.info(f"No saved runs in `{runs_root()}` yet: train some on the Train page.")
    page_link("Train", "Go to Train")
    st.stop()

task_filter, method_filter = st.columns(2)
tasks = task_filter.multiselect(
    "Tasks",
    sorted({run.config.task for run in runs}),
    format_func=TASK_FAMILIES.label,
    key="compare.tasks",
    on_change=reselect_runs,
)
methods = method_filter.multiselect(
    "Methods",
    sorted({run.config.method for run in runs}),
    format_func=METHODS.label,
    key="compare.methods",
    on_change=reselect_runs,
)
candidates = [
    run for run in runs if (not tasks or run.config.task in tasks) and (not methods or run.config.method in methods)
]
selected = st.multiselect(
    "Runs",
    candidates,
    default=candidates[:DEFAULT_SELECTION],
    format_func=lambda run: f"{run.name} ({run.iterations_done} it.)",
    key="compare.runs",
)
selected = [run for run in selected if run.metrics]
if not selected:
    st.info("Pick one or more runs that have at least one iteration.")
    st.stop()

metric_choice, x_choice, view_choice, smoothing_choice = wrapping_columns("curve-options", [3, 3, 2, 2])
metric = metric_choice.radio("Metric", tuple(METRICS), format_func=METRICS.get, horizontal=True, key="compare.metric")
x_key = x_choice.radio("x axis", tuple(X_AXES), format_func=X_AXES.get, horizontal=True, key="compare.x")
grouped = view_choice.toggle("Group seeds", value=True, key="compare.grouped", help="one band per experiment")
window = smoothing_choice.slider(
    "Smoothing", 1, 50, 1, key="compare.window", help="moving average over this many points"
)

groups = group_runs(selected)
bands: dict[str, CurveBand] = {}
for group in groups:
    kept, repeats = one_run_per_seed(group.runs)
    if repeats:
        st.warning(
            f"{group.label}: {', '.join(run.name for run in repeats)} repeat a seed already shown "
            f"({', '.join(str(run.config.seed) for run in repeats)}); repeats are not independent seeds, "
            "so only the longest run of each seed counts.",
            icon=":material/content_copy:",
        )
    for run in kept if not grouped else [None]:
        members = kept if run is None else [run]
        label = group.label if run is None else f"{group.label} · seed {run.config.seed} · {run.name}"
        bands[label] = aggregate_curves(members, metric, x_key, window)
figure = bands_figure(bands, METRICS[metric], x_key)
st.plotly_chart(figure, key="compare.figure")
st.caption(
    "The y axis shows the 2nd to 98th percentile of the curves, so one outlier cannot flatten the rest "
    "(double-click the plot for everything). Past the shortest run, a band averages the runs still going: "
    "hover shows each point."
)

rows = final_returns_rows(groups)
st.subheader("Final returns")
number = st.column_config.NumberColumn
st.dataframe(
    rows,
    hide_index=True,
    column_order=(
        "experiment",
        "seed",
        "iterations",
        "pre_adaptation_return",
        "post_adaptation_return",
        "env_steps",
        "wall_time",
        "run",
    ),
    column_config={
        "pre_adaptation_return": number("pre-adaptation return", format="%.1f"),
        "post_adaptation_return": number("post-adaptation return", format="%.1f"),
        "env_steps": number("env steps", format="%d"),
        "wall_time": number("wall time (s)", format="%.1f"),
    },
)

csv, png, svg, html = wrapping_columns("downloads", 4)
csv.download_button(
    "Download table (CSV)", rows_to_csv(rows), "final_returns.csv", "text/csv", key="compare.csv", on_click="ignore"
)
if png_export_available():
    for column, kind in ((png, "png"), (svg, "svg")):
        column.download_button(
            f"Download figure ({kind.upper()})",
            lambda kind=kind: figure_image(figure, kind, EXPORT_WIDTH, EXPORT_HEIGHT),
            f"learning_curves.{kind}",
            f"image/{'svg+xml' if kind == 'svg' else kind}",
            key=f"compare.{kind}",
            on_click="ignore",
        )
else:
    png.caption("PNG and SVG export need the `kaleido` package and Chromium; the interactive HTML works everywhere.")
html.download_button(
    "Download figure (HTML)",
    lambda: figure.to_html(include_plotlyjs=True),  # plotly.js inside: the file works offline
    "learning_curves.html",
    "text/html",
    key="compare.html",
    on_click="ignore",
)
