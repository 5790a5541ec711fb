"""Compare: saved runs' learning curves, mean and spread over seeds, and their final returns."""

import shutil
from importlib.util import find_spec

import streamlit as st
from _shared.figures import bands_figure
from _shared.state import page_link, page_setup, saved_runs

from esmaml_core.comparison import aggregate_curves, final_returns_rows, group_runs, rows_to_csv
from esmaml_core.runs import runs_root

METRICS = {"post_adaptation_return": "post-adaptation return", "pre_adaptation_return": "pre-adaptation return"}
DEFAULT_SELECTION = 12
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")  # kaleido draws PNGs in one of these


def png_export_available() -> bool:
    return find_spec("kaleido") is not None and any(shutil.which(browser) for browser in BROWSERS)


page_setup("Compare")
st.title("Compare")
st.markdown(
    "Runs whose configurations differ only in the seed form one **experiment**: its curve is the mean over "
    "seeds, with a band of ± one standard deviation, up to the iteration every seed has reached."
)
runs = saved_runs()
if not runs:
    st.info(f"No saved runs in `{runs_root()}` yet: train some on the Train page.")
    page_link("Train", "Go to Train")
    st.stop()

selected = st.multiselect(
    "Runs",
    runs,
    default=runs[:DEFAULT_SELECTION],
    format_func=lambda run: f"{run.name} ({run.iterations_done} it.)",
    key="compare.runs",
)
selected = [run for run in selected if run.metrics]
if not selected:
    st.info("Pick one or more runs that have at least one iteration.")
    st.stop()
metric = st.radio("Metric", tuple(METRICS), format_func=METRICS.get, horizontal=True, key="compare.metric")
groups = group_runs(selected)
bands = {group.label: aggregate_curves(group.runs, metric) for group in groups}
figure = bands_figure(bands, METRICS[metric])
st.plotly_chart(figure, key="compare.figure")
for group in groups:
    longest = max(run.iterations_done for run in group.runs)
    if len(bands[group.label].iterations) < longest:
        st.caption(
            f"{group.label}: the band stops at iteration {len(bands[group.label].iterations)}, the shortest of its "
            f"{len(group.runs)} runs (the longest has {longest})."
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

csv, png, html = st.columns(3)
csv.download_button("Download table (CSV)", rows_to_csv(rows), "final_returns.csv", "text/csv", key="compare.csv")
if png_export_available():
    png.download_button(
        "Download figure (PNG)",
        lambda: figure.to_image(format="png", scale=2),
        "learning_curves.png",
        "image/png",
        key="compare.png",
    )
else:
    png.caption("PNG export needs the `kaleido` package and Chromium; the interactive HTML works everywhere.")
html.download_button(
    "Download figure (HTML)",
    lambda: figure.to_html(include_plotlyjs=True),  # plotly.js inside: the file works offline
    "learning_curves.html",
    "text/html",
    key="compare.html",
)
