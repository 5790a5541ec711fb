"""Plotly figures the dashboard and the findings report share: mean ± std bands, a finding's curves.

The Compare page's bands and the Results page's figures are drawn here, so the PNGs that
``experiments/report.py`` writes for docs/RESULTS.md are the figures the dashboard shows;
``figure_image`` turns one into PNG or SVG without reaching the internet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from esmaml_core.comparison import CurveBand, aggregate_curves, robust_range
from esmaml_core.findings import Finding, runs_of
from esmaml_core.tasks import TASK_FAMILIES

# Kaleido draws static images in a headless Chromium that, left to its defaults, loads MathJax from
# cdnjs.cloudflare.com and calls Google's update and account servers. No figure here uses LaTeX, so no
# MathJax, and that browser's every request goes to a closed port on this machine: nothing leaves it.
OFFLINE_KALEIDO = {"mathjax": False, "proxy_server": "127.0.0.1:9"}

X_AXES = {"iteration": "meta-iteration", "env_steps": "environment steps", "wall_time": "wall time (s)"}
PALETTE = ("#1f6feb", "#e8590c", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#c2255c", "#5c940d")


def rgba(hex_color: str, alpha: float) -> str:
    red, green, blue = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def band_traces(x: np.ndarray, mean: np.ndarray, std: np.ndarray, name: str, color: str) -> list[go.Scatter]:
    """A mean line with a shaded ±1 std band, as two traces sharing one legend entry."""
    band = go.Scatter(
        x=np.concatenate([x, x[::-1]]),
        y=np.concatenate([mean + std, (mean - std)[::-1]]),
        mode="lines",
        fill="toself",
        fillcolor=rgba(color, 0.18),
        line={"width": 0},
        hoverinfo="skip",
        legendgroup=name,
        showlegend=False,
    )
    line = go.Scatter(x=x, y=mean, name=name, mode="lines", line={"color": color, "width": 2.5}, legendgroup=name)
    return [band, line]


def layout(fig: go.Figure, x_title: str, y_title: str, height: int = 380) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title=x_title,
        yaxis_title=y_title,
        legend={"orientation": "h", "y": 1.08, "x": 0},
    )
    return fig


def bands_figure(bands: dict[str, CurveBand], y_title: str, x_key: str = "iteration") -> go.Figure:
    """One mean ± std band per experiment (or run) against ``x_key``, each to its own end.

    The y range shows the bands' bulk (``robust_range``); margins leave room for every
    label, so an exported image clips nothing.
    """
    fig = go.Figure()
    for index, (label, band) in enumerate(bands.items()):
        color = PALETTE[index % len(PALETTE)]
        name = f"{label} (n={band.runs})" if band.runs > 1 else label
        fig.add_traces(band_traces(band.x, band.mean, band.std, name, color))
    layout(fig, X_AXES[x_key], y_title, height=460)
    fig.update_yaxes(range=robust_range(list(bands.values())), automargin=True)
    fig.update_xaxes(automargin=True)
    fig.update_layout(
        margin={"l": 70, "r": 30, "t": 40, "b": 60}, legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0}
    )
    return fig


def finding_figures(finding: Finding, root: Path) -> dict[str, go.Figure]:
    """Per task of a finding: each arm's post-adaptation return against env steps,
    mean ± std over its seeds, from the runs under ``root / finding.name``."""
    found = runs_of(finding, root)
    figures = {}
    for task in finding.tasks:
        bands = {}
        for arm in (arm for arm in finding.arms if arm.task == task):
            runs = [found[arm.run_name(seed)] for seed in finding.seeds if arm.run_name(seed) in found]
            if runs:
                bands[arm.label] = aggregate_curves(runs, "post_adaptation_return", "env_steps", window=5)
        if bands:
            figure = bands_figure(bands, "post-adaptation return", "env_steps")
            figure.update_layout(title={"text": TASK_FAMILIES.label(task), "x": 0.5, "y": 0.98}, height=460)
            figure.update_layout(margin={"t": 120}, legend={"y": 1.04})  # room for a two-row legend under the title
            figures[task] = figure
    return figures


def figure_image(figure: go.Figure, kind: str, width: int, height: int, scale: float = 2) -> bytes:
    """``figure`` as ``kind`` ("png" or "svg") bytes of ``width`` x ``height`` at ``scale``, drawn offline
    (``OFFLINE_KALEIDO``); needs the kaleido package and a Chromium."""
    import kaleido  # only image export needs it

    options = {"format": kind, "width": width, "height": height, "scale": scale}
    return kaleido.calc_fig_sync(figure.to_dict(), opts=options, kopts=OFFLINE_KALEIDO)
