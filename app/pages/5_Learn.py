"""Learn: the ideas behind ES-MAML, each beside a small figure a teacher can drive."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from _shared.figures import ACCEPTED_COLOR, ADAPTED_COLOR, POST_COLOR, PRE_COLOR, QUERY_COLOR
from _shared.state import page_link, page_setup

from esmaml_core.adaptation import OPERATORS
from esmaml_core.teaching import (
    TOY_OPTIMUM,
    ToyAdaptation,
    ToyMetaGradient,
    es_gradient_estimate,
    gaussian_smoothing,
    rugged,
    smoothed_gradient,
    toy_adaptation,
    toy_meta_gradient,
    toy_objective,
    toy_task_objective,
    toy_task_optima,
)

X_GRID = np.linspace(-3.0, 3.0, 1201)
TOY_START = np.array([-0.8, -0.6])
META_THETA = np.array([-0.8, -0.6])


def tangent(x0: float, y0: float, slope: float, name: str, color: str, dash: str) -> go.Scatter:
    xs = np.array([x0 - 0.8, x0 + 0.8])
    return go.Scatter(x=xs, y=y0 + slope * (xs - x0), name=name, mode="lines", line={"color": color, "dash": dash})


def smoothing_section() -> None:
    st.header("1 · Gaussian smoothing makes any objective differentiable")
    text, figure = st.columns([2, 3])
    with text:
        st.markdown(
            "ES never differentiates the return itself. It climbs its **Gaussian smoothing**, which is smooth "
            "even when the return jumps, and whose gradient needs only function values:"
        )
        st.latex(r"f_\sigma(x) = \mathbb{E}_{u\sim\mathcal N(0,1)}\big[f(x+\sigma u)\big]")
        st.latex(r"\nabla f_\sigma(x) = \tfrac{1}{\sigma}\,\mathbb{E}_u\big[f(x+\sigma u)\,u\big]")
        st.markdown("The figure estimates it from $n$ antithetic pairs $x_0 \\pm \\sigma g_i$, as the library does:")
        st.latex(
            r"\widehat{\nabla} f_\sigma(x_0) = \frac{1}{2\sigma n}\sum_{i=1}^{n}"
            r"\big[f(x_0+\sigma g_i)-f(x_0-\sigma g_i)\big]\,g_i"
        )
        sigma = st.slider("σ (smoothing scale)", 0.02, 1.5, 0.4, 0.02, key="learn.sigma")
        x0 = st.slider("x₀ (where the gradient is estimated)", -2.5, 2.5, -0.6, 0.05, key="learn.x0")
        pairs = st.slider("n antithetic pairs", 1, 200, 10, key="learn.pairs")
        seed = st.number_input("Seed of the samples", 0, 10_000, 0, key="learn.seed")
    estimate = es_gradient_estimate(rugged, x0, sigma, pairs, np.random.default_rng(seed))
    true_slope = float(smoothed_gradient(rugged, np.array(x0), sigma))
    height = float(gaussian_smoothing(rugged, np.array(x0), sigma))
    fig = go.Figure(
        [
            go.Scatter(x=X_GRID, y=rugged(X_GRID), name="f (non-smooth)", line={"color": PRE_COLOR}),
            go.Scatter(x=X_GRID, y=gaussian_smoothing(rugged, X_GRID, sigma), name="f_σ", line={"color": POST_COLOR}),
            go.Scatter(
                x=estimate.points,
                y=estimate.values,
                mode="markers",
                name="samples f(x₀ ± σg)",
                marker={"color": QUERY_COLOR, "size": 6},
            ),
            tangent(x0, height, true_slope, "true ∇f_σ(x₀)", POST_COLOR, "dash"),
            tangent(x0, height, estimate.value, "ES estimate", ADAPTED_COLOR, "solid"),
        ]
    )
    fig.update_layout(height=400, margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend={"orientation": "h"})
    with figure:
        st.plotly_chart(fig, key="learn.smoothing")
        true, es, error = st.columns(3)
        true.metric("True ∇f_σ(x₀)", f"{true_slope:+.3f}")
        es.metric(f"ES estimate ({2 * pairs} samples)", f"{estimate.value:+.3f}")
        error.metric("Error", f"{estimate.value - true_slope:+.3f}", delta_color="off")


def covering_grid(points: np.ndarray, margin: float = 0.3, size: int = 120) -> np.ndarray:
    """A square grid axis that covers every point (n, 2) with a margin: contours under all queries."""
    low, high = float(points.min()) - margin, float(points.max()) + margin
    return np.linspace(low, high, size)


def toy_figure(result: ToyAdaptation, title: str) -> go.Figure:
    """Contours of the toy objective, the K queries, the start and the adapted point."""
    grid = covering_grid(np.vstack([result.queries, result.start, result.adapted, TOY_OPTIMUM]))
    xx, yy = np.meshgrid(grid, grid)
    values = toy_objective(np.stack([xx, yy], axis=-1))
    fig = go.Figure(go.Contour(x=grid, y=grid, z=values, colorscale="Blues", showscale=False, opacity=0.6))
    kept = np.ones(len(result.queries), dtype=bool) if result.accepted is None else result.accepted
    fig.add_trace(
        go.Scatter(
            x=result.queries[~kept, 0],
            y=result.queries[~kept, 1],
            mode="markers",
            name="rejected proposals",
            marker={"color": "#adb5bd", "size": 7},
        )
    )
    kept_name = "queries θ + σε_k" if result.accepted is None else "kept proposals"
    kept_color = QUERY_COLOR if result.accepted is None else ACCEPTED_COLOR
    fig.add_trace(
        go.Scatter(
            x=result.queries[kept, 0],
            y=result.queries[kept, 1],
            mode="markers" if result.accepted is None else "lines+markers",
            name=kept_name,
            marker={"color": kept_color, "size": 8},
        )
    )
    for point, name, color, symbol in (
        (result.start, "θ (start)", "black", "circle"),
        (result.adapted, "U(θ) (adapted)", ADAPTED_COLOR, "diamond"),
        (TOY_OPTIMUM, "optimum", "gold", "star"),
    ):
        marker = {"color": color, "size": 14, "symbol": symbol, "line": {"color": "black", "width": 1}}
        fig.add_trace(go.Scatter(x=[point[0]], y=[point[1]], mode="markers", name=name, marker=marker))
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    fig.update_layout(title=title, height=430, margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h"})
    return fig


def adaptation_section() -> None:
    st.header("2 · Two ways to adapt with K queries: an ES gradient step or hill climbing")
    st.markdown(
        "Both operators below are the library's own, run on a 2-D toy objective $-\\lvert\\theta-\\theta^*\\rvert$ "
        "instead of a task. "
        "The **ES gradient** operator queries K points around θ and takes one step along their weighted "
        "average. **Hill climbing** proposes one point at a time around the best so far and keeps it only "
        "if it is better: it can never get worse, but it is not differentiable, so gradient-based MAML "
        "cannot use it. ES-MAML can, because its outer loop needs only the return after adaptation."
    )
    controls = st.columns(4)
    queries = controls[0].slider("K queries", 1, 50, 10, key="learn.queries")
    sigma = controls[1].slider("σ (query scale)", 0.05, 1.0, 0.3, 0.05, key="learn.toy_sigma")
    step = controls[2].slider("α (ES step size)", 0.05, 2.0, 0.5, 0.05, key="learn.alpha")
    seed = controls[3].number_input("Seed", 0, 10_000, 0, key="learn.toy_seed")
    for column, operator, title in zip(
        st.columns(2), ("es_grad", "hill_climb"), ("ES gradient step (MC)", "Hill climbing"), strict=True
    ):
        result = toy_adaptation(operator, TOY_START, queries, sigma, step, seed)
        with column:
            st.plotly_chart(toy_figure(result, title), key=f"learn.toy.{operator}")
            st.metric(
                "Objective after adaptation",
                f"{result.adapted_value:.3f}",
                f"{result.adapted_value - result.start_value:+.3f} from {result.start_value:.3f}",
            )


def meta_gradient_figure(result: ToyMetaGradient) -> go.Figure:
    """The task peaks, theta and its perturbations, each perturbation's adaptation, and the two estimates."""
    points = np.vstack([result.perturbed, result.adapted, result.tasks, result.theta])
    grid = covering_grid(points)
    xx, yy = np.meshgrid(grid, grid)
    circle = toy_task_optima(np.random.default_rng(0), 256)
    expected = toy_task_objective(np.stack([xx, yy], axis=-1)[:, :, None, :], circle).mean(axis=-1)
    fig = go.Figure(go.Contour(x=grid, y=grid, z=expected, colorscale="Blues", showscale=False, opacity=0.5))
    gap = np.full((len(result.perturbed), 1, 2), np.nan)
    moves = np.concatenate([result.perturbed[:, None], result.adapted[:, None], gap], axis=1).reshape(-1, 2)
    fig.add_trace(
        go.Scatter(
            x=moves[:, 0], y=moves[:, 1], mode="lines", name="adaptation U_T", line={"color": ADAPTED_COLOR, "width": 1}
        )
    )
    for points_, name, color, size in (
        (result.tasks, "task peaks c_T", "gold", 9),
        (result.perturbed, "θ + σg_i", QUERY_COLOR, 7),
        (result.adapted, "U_T(θ + σg_i)", ADAPTED_COLOR, 6),
    ):
        marker = {"color": color, "size": size, "line": {"color": "#495057", "width": 0.5}}
        fig.add_trace(go.Scatter(x=points_[:, 0], y=points_[:, 1], mode="markers", name=name, marker=marker))
    length = 0.25 * (grid[-1] - grid[0])
    for vector, name, color, dash in (
        (result.estimate, "ES-MAML estimate", ACCEPTED_COLOR, "solid"),
        (result.plain_estimate, "ES gradient without adaptation", PRE_COLOR, "dash"),
    ):
        tip = result.theta + length * vector / max(np.linalg.norm(vector), 1e-12)
        line = {"color": color, "width": 4, "dash": dash}
        fig.add_trace(
            go.Scatter(
                x=[result.theta[0], tip[0]],
                y=[result.theta[1], tip[1]],
                mode="lines+markers",
                name=name,
                line=line,
                marker={"size": [0, 12], "symbol": "arrow", "angleref": "previous", "color": color},
            )
        )
    marker = {"color": "black", "size": 13, "symbol": "circle"}
    fig.add_trace(go.Scatter(x=[result.theta[0]], y=[result.theta[1]], mode="markers", name="θ", marker=marker))
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    fig.update_layout(height=470, margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend={"orientation": "h"})
    return fig


def meta_gradient_section() -> None:
    st.header("3 · The zero-order meta-gradient")
    st.markdown(
        "MAML maximises the return **after** adaptation, $J(\\theta) = \\mathbb{E}_T\\big[R_T(U_T(\\theta))\\big]$. "
        "ES-MAML smooths $J$ and estimates its gradient from $n$ antithetic pairs of perturbations "
        "$\\theta \\pm \\sigma g_i$, each adapted to its own sampled task $T_i$ (a pair shares one) with any "
        "operator $U$, with no Hessian and no back-propagation through $U$:"
    )
    st.latex(
        r"\nabla_\theta \widetilde J_\sigma(\theta) = \frac{1}{\sigma}\,"
        r"\mathbb{E}_{T,\,g\sim\mathcal N(0,I)}\Big[R_T\big(U_T(\theta+\sigma g)\big)\,g\Big]"
        r"\;\approx\;\frac{1}{2n\sigma}\sum_{i=1}^{n}\sum_{s=\pm1}"
        r" z\Big(R_{T_i}\big(U_{T_i}(\theta+s\sigma g_i)\big)\Big)\,s\,g_i"
    )
    st.markdown(
        "where $z(\\cdot)$ z-scores the $2n$ returns (fitness shaping). Below, each task $T$ is a cone "
        "$R_T(\\theta) = -\\lvert\\theta - c_T\\rvert$ whose peak $c_T$ lies on the unit circle; the contours "
        "show $\\mathbb{E}_T[R_T(\\theta)]$ before adaptation. Every blue perturbation is adapted by the "
        "library's operator towards its own task's peak (orange), and the estimate weighs each direction "
        "$g_i$ by the return **after** that adaptation."
    )
    controls = st.columns(5)
    operator = controls[0].selectbox(
        "Operator U", ("hill_climb", "es_grad"), format_func=OPERATORS.label, key="learn.meta_operator"
    )
    pairs = controls[1].slider("n pairs", 1, 50, 8, key="learn.meta_pairs")
    sigma = controls[2].slider("σ (meta)", 0.05, 1.0, 0.3, 0.05, key="learn.meta_sigma")
    queries = controls[3].slider("K queries", 1, 30, 10, key="learn.meta_queries")
    seed = controls[4].number_input("Seed", 0, 10_000, 0, key="learn.meta_seed")
    result = toy_meta_gradient(operator, META_THETA, pairs, sigma, queries, 0.3, 0.5, seed)
    figure, numbers = st.columns([3, 1])
    figure.plotly_chart(meta_gradient_figure(result), key="learn.meta")
    numbers.metric("Mean return before adaptation", f"{result.returns_before.mean():.3f}")
    numbers.metric(
        "Mean return after adaptation",
        f"{result.returns_after.mean():.3f}",
        f"{result.returns_after.mean() - result.returns_before.mean():+.3f}",
    )
    cosine = float(
        result.estimate
        @ result.plain_estimate
        / max(np.linalg.norm(result.estimate) * np.linalg.norm(result.plain_estimate), 1e-12)
    )
    numbers.metric("cos(ES-MAML, plain ES)", f"{cosine:+.2f}", help="1: the two estimates point the same way")

    st.subheader("The first-order / Hessian variant")
    st.markdown(
        "The Train page also offers *ES-MAML (first-order / Hessian)*. It uses the ES-gradient operator "
        "$U_T(\\theta) = \\theta + \\alpha\\,\\widehat{\\nabla} R_T(\\theta)$ and follows MAML's chain rule "
        "with ES estimates of every derivative instead of smoothing the whole of $J$:"
    )
    st.latex(
        r"\nabla J(\theta) \approx \big(I + \alpha\,\widehat{H}_T\big)\,"
        r"\widehat{\nabla} R_T\big(U_T(\theta)\big),\qquad"
        r"\widehat{H}_T = \frac{1}{\sigma^2 K}\sum_{k=1}^{K}\big(z_k-\bar z\big)\,\varepsilon_k\varepsilon_k^{\top}"
    )
    st.markdown(
        "with $\\widehat{\\nabla} R_T(U_T(\\theta))$ an ES gradient at the adapted point and $\\widehat H_T$ the ES "
        "Hessian from the same $K$ queries $\\varepsilon_k$ (their z-scored returns $z_k$). Without "
        "*Add the ES-Hessian term* it is first-order MAML. It needs a differentiable operator (no hill "
        "climbing), and the paper found the Hessian term barely helps."
    )
    page_link("Train", "Now train one and watch it learn")


page_setup("Learn")
st.title("Learn")
smoothing_section()
adaptation_section()
meta_gradient_section()
