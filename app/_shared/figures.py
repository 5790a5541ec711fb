"""Plotly figures of the dashboard: learning curves, exploration paths drawn to scale, bands over seeds."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from esmaml_core.exploration import CORNER_VISIT_RADIUS, REWARD_RADIUS, explored_paths
from esmaml_core.plots import X_AXES, band_traces, layout, rgba
from esmaml_core.results import ProbeTrajectories
from esmaml_core.tasks.point import CORNERS, PointTaskFamily

NO_ARENA_HALF_WIDTH = 1.0  # 2D Navigation has no position clip; its goals lie in [-0.5, 0.5]^2
PRE_COLOR, POST_COLOR = "#868e96", "#1f6feb"
QUERY_COLOR, ACCEPTED_COLOR, ADAPTED_COLOR = "#74c0fc", "#2f9e44", "#e8590c"


def learning_curves(curves: dict[str, np.ndarray], x_key: str = "iteration") -> go.Figure:
    """Pre- and post-adaptation return (mean ± std over evaluation tasks) against ``x_key``."""
    fig = go.Figure()
    for stage, color in (("pre", PRE_COLOR), ("post", POST_COLOR)):
        traces = band_traces(
            curves[x_key],
            curves[f"{stage}_adaptation_return"],
            curves[f"{stage}_adaptation_std"],
            f"{stage}-adaptation return",
            color,
        )
        fig.add_traces(traces)
    return layout(fig, X_AXES[x_key], "return")


def empty_learning_curves() -> go.Figure:
    """The axes the live curves will fill; drawn before a run starts (it also loads plotly.js early)."""
    fig = go.Figure()
    fig.add_annotation(text="press Start training: the learning curves appear here", showarrow=False)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    return layout(fig, X_AXES["iteration"], "return", height=260)


def _joined(paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Many (T+1, 2) paths as one line with gaps, for a single fast trace."""
    if len(paths) == 0:
        return np.array([]), np.array([])
    gap = np.full((len(paths), 1, 2), np.nan)
    points = np.concatenate([paths[..., :2], gap], axis=1).reshape(-1, 2)
    return points[:, 0], points[:, 1]


def _paths_trace(paths: np.ndarray, name: str, color: str, width: float, dash: str = "solid") -> go.Scatter:
    x, y = _joined(paths)
    return go.Scatter(x=x, y=y, mode="lines", name=name, line={"color": color, "width": width, "dash": dash})


def _circle(fig: go.Figure, centre: np.ndarray, radius: float, line: dict, fill: str = "rgba(0,0,0,0)") -> None:
    """A circle drawn below the traces."""
    x, y = centre
    fig.add_shape(
        type="circle",
        x0=x - radius,
        x1=x + radius,
        y0=y - radius,
        y1=y + radius,
        line=line,
        fillcolor=fill,
        layer="below",
    )


def _task_geometry(fig: go.Figure, family: PointTaskFamily, goal: np.ndarray) -> float:
    """Draw corners (reward radius; visit radius inside) or the goal and arena; return the view's half-width."""
    if family.name == "four_corner":
        for corner in CORNERS:
            is_goal = bool(np.allclose(corner, goal))
            color = ACCEPTED_COLOR if is_goal else "#adb5bd"
            fill = rgba(ACCEPTED_COLOR, 0.10) if is_goal else "rgba(0,0,0,0)"
            _circle(fig, corner, REWARD_RADIUS, {"color": color, "width": 2 if is_goal else 1, "dash": "dot"}, fill)
            _circle(fig, corner, CORNER_VISIT_RADIUS, {"color": color, "width": 1})
        half_width = 4.4
    elif np.isfinite(family.position_clip):
        clip = family.position_clip
        fig.add_shape(type="rect", x0=-clip, x1=clip, y0=-clip, y1=clip, line={"color": "#adb5bd"}, layer="below")
        half_width = clip * 1.1
    else:
        half_width = NO_ARENA_HALF_WIDTH
    goal_marker = {"symbol": "star", "size": 16, "color": "gold", "line": {"color": "#846400", "width": 1}}
    fig.add_trace(go.Scatter(x=[goal[0]], y=[goal[1]], mode="markers", name="goal", marker=goal_marker))
    start_marker = {"symbol": "circle", "size": 9, "color": "black"}
    fig.add_trace(go.Scatter(x=[0], y=[0], mode="markers", name="start", marker=start_marker))
    return half_width


def exploration_figure(
    family: PointTaskFamily,
    probe: ProbeTrajectories,
    task_index: int,
    proposals: int | None = None,
    title: str = "",
    height: int = 470,
    subtitle: str = "",
) -> go.Figure:
    """The K exploration paths on one probe task, the meta-policy's path and the adapted one, to scale.

    For hill climbing, ``proposals`` limits the view to the first proposals, colours kept ones
    and highlights the best policy so far instead of the final adapted one.
    """
    queries, highlight = explored_paths(probe, task_index, proposals)
    fig = go.Figure()
    half_width = _task_geometry(fig, family, probe.tasks[task_index])
    if probe.accepted is None:
        fig.add_trace(_paths_trace(queries, f"{len(queries)} exploration paths", QUERY_COLOR, 1.2))
        highlight_name = "adapted policy"
    else:
        kept = probe.accepted[task_index][: len(queries)]
        fig.add_trace(_paths_trace(queries[~kept], "rejected proposals", QUERY_COLOR, 1.0))
        fig.add_trace(_paths_trace(queries[kept], "kept proposals", ACCEPTED_COLOR, 1.6))
        all_tried = len(queries) == probe.query_paths.shape[1]
        highlight_name = "adapted policy" if all_tried else f"best after {len(queries)} proposals"
    fig.add_trace(_paths_trace(probe.start_paths[task_index][None], "meta-policy", "#212529", 1.5, "dash"))
    fig.add_trace(_paths_trace(highlight[None], highlight_name, ADAPTED_COLOR, 4.0))
    fig.update_xaxes(range=[-half_width, half_width], zeroline=False)
    fig.update_yaxes(range=[-half_width, half_width], zeroline=False, scaleanchor="x", scaleratio=1)
    fig.update_layout(
        title={"text": title, "font": {"size": 13}, "subtitle": {"text": subtitle, "font": {"size": 11}}},
        height=height,
    )
    top = 46 if subtitle else 30
    fig.update_layout(margin={"l": 10, "r": 10, "t": top, "b": 10}, legend={"font": {"size": 11}})
    return fig
