"""Train: choose a task, a policy, a method and an operator, then watch the meta-policy learn live."""

import time

import streamlit as st
from _shared.figures import X_AXES, empty_learning_curves, learning_curves
from _shared.state import current_session, page_link, page_setup, set_current_session, tick_interval, train_a_little

from esmaml_core.analysis import list_runs, metric_curves
from esmaml_core.config import METHODS, POLICIES, ConfigError, TrainConfig
from esmaml_core.fitness import FITNESS_SHAPINGS
from esmaml_core.optimizers import OPTIMIZERS
from esmaml_core.runs import RunStoreError
from esmaml_core.sampling import SAMPLERS
from esmaml_core.session import (
    TASK_DEPENDENT_FIELDS,
    Status,
    TrainingSession,
    applicable_operators,
    build_config,
    form_defaults,
    method_fields,
    parse_hidden_sizes,
    runs_root,
)
from esmaml_core.tasks import TASK_FAMILIES
from esmaml_core.tasks.point import PointTaskFamily

METHOD_LABELS = {
    "es_maml": "ES-MAML (zero-order)",
    "es_maml_first_order": "ES-MAML (first-order / Hessian)",
    "pg_maml": "PG-MAML (policy gradient)",
}
HIDDEN_KEY, HIDDEN_LABEL = "train.hidden_text", "Hidden layer sizes"

# field -> (label, help, step of a number input)
FIELDS: dict[str, tuple[str, str, float | None]] = {
    "task": ("Task", "the task family meta-trained on", None),
    "policy": ("Policy", "linear, or an MLP with ReLU hidden layers (tanh output, as every policy)", None),
    "method": ("Method", "how the meta-gradient is estimated", None),
    "operator": ("Adaptation operator U", "how K queries of a task turn θ into adapted parameters", None),
    "hessian": ("Add the ES-Hessian term", "meta-gradient g + α H g instead of g", None),
    "first_order": ("First-order MAML", "stop the gradient at the inner step", None),
    "inner_steps": ("Inner policy-gradient steps", "adaptation steps per task", 1),
    "sampler": ("Perturbation sampler", "how meta-level directions are drawn", None),
    "perturbations": ("Perturbations n", "meta-level directions per iteration (antithetic: 2n rollouts)", 1),
    "sigma": ("σ: meta perturbation scale", "θ + σ g", 0.01),
    "lr": ("Meta step size", "outer learning rate", 0.001),
    "optimizer": ("Meta optimizer", "outer update rule", None),
    "task_batch": ("Tasks per iteration", "training tasks per meta-iteration", 1),
    "queries": ("K: queries per task", "rollouts adaptation may use on a new task", 1),
    "alpha": ("α: adaptation step size", "inner step size", 0.001),
    "adaptation_sigma": ("Adaptation σ", "scale of the K query perturbations", 0.01),
    "init_log_std": ("Initial log std", "action noise of the stochastic policy", 0.1),
    "iterations": ("Meta-iterations", "total iterations of the run", 1),
    "seed": ("Seed", "the same seed gives the same run", 1),
    "fitness": ("Fitness shaping", "how returns become ES weights", None),
    "horizon": ("Horizon", "episode length; empty: the task's own (100 point tasks, 200 others)", 1),
    "eval_tasks": ("Evaluation tasks", "held-out tasks scored before and after adaptation every iteration", 1),
}
CHOICES = {
    "task": lambda method: tuple(TASK_FAMILIES),
    "policy": lambda method: POLICIES,
    "method": lambda method: METHODS,
    "operator": applicable_operators,
    "sampler": lambda method: SAMPLERS,
    "optimizer": lambda method: OPTIMIZERS,
    "fitness": lambda method: FITNESS_SHAPINGS,
}
SECTIONS = (
    ("Method", ("method", "operator", "hessian", "first_order", "inner_steps")),
    ("Meta level (outer loop)", ("sampler", "perturbations", "sigma", "lr", "optimizer", "task_batch")),
    ("Adaptation (inner loop, K queries)", ("queries", "alpha", "adaptation_sigma", "init_log_std")),
    ("Run", ("iterations", "seed")),
)
ADVANCED = ("fitness", "horizon", "eval_tasks")
KEPT_ON_METHOD_CHANGE = ("task", "method", "policy", "iterations", "seed")


def chosen_defaults() -> dict:
    return form_defaults(st.session_state["train.method"], st.session_state["train.task"])


def reset_method_defaults() -> None:
    """A new method brings its own defaults (e.g. PG-MAML's Adam and task batch)."""
    defaults = chosen_defaults()
    for name in FIELDS.keys() - set(KEPT_ON_METHOD_CHANGE):
        st.session_state[f"train.{name}"] = defaults[name]


def reset_task_defaults() -> None:
    """MuJoCo tasks start lighter (fewer directions, queries and evaluation tasks) than point tasks."""
    defaults = chosen_defaults()
    for name in TASK_DEPENDENT_FIELDS:
        st.session_state[f"train.{name}"] = defaults[name]


def field_input(name: str, method: str, defaults: dict) -> object:
    """One sidebar input for config field ``name``, its state kept under ``train.<name>``."""
    label, help_text, step = FIELDS[name]
    key = f"train.{name}"
    st.session_state.setdefault(key, defaults[name])
    if name in CHOICES:
        options = CHOICES[name](method)
        if st.session_state[key] not in options:
            st.session_state[key] = options[0]
        on_change = {"method": reset_method_defaults, "task": reset_task_defaults}.get(name)
        format_func = METHOD_LABELS.get if name == "method" else str
        return st.selectbox(label, options, key=key, help=help_text, on_change=on_change, format_func=format_func)
    if isinstance(defaults[name], bool):
        return st.checkbox(label, key=key, help=help_text)
    if name == "horizon":  # empty means the task's own
        value = st.number_input(label, min_value=1, step=int(step), key=key, help=help_text, placeholder="task default")
        return None if value is None else int(value)
    if isinstance(defaults[name], int):
        minimum = 1 if name == "iterations" else None  # a run of 0 iterations would never show anything
        return int(st.number_input(label, min_value=minimum, step=int(step), key=key, help=help_text))
    return float(st.number_input(label, step=step, format="%g", key=key, help=help_text))


def sidebar_form() -> dict | None:
    """The run's options; returns the raw values when Start is pressed, else None."""
    method = st.session_state.get("train.method", TrainConfig.method)
    defaults = form_defaults(method, st.session_state.get("train.task", TrainConfig.task))
    values = {name: field_input(name, method, defaults) for name in ("task", "policy")}
    if values["policy"] == "mlp":
        st.session_state.setdefault(HIDDEN_KEY, ", ".join(map(str, defaults["hidden"])))
        values["hidden"] = st.text_input(HIDDEN_LABEL, key=HIDDEN_KEY, help="e.g. 32, 32")
    for title, names in (*SECTIONS, ("Advanced", ADVANCED)):
        st.subheader(title)
        for name in names:
            if name == "method" or name in method_fields(method, values.get("operator")):
                values[name] = field_input(name, method, defaults)
        method = values["method"]
    return values if st.button("Start training", type="primary", key="start", width="stretch") else None


def start(values: dict) -> None:
    """Validate the form and start a run; a bad value is shown, never raised."""
    try:
        if "hidden" in values:
            values = {**values, "hidden": parse_hidden_sizes(values["hidden"])}
        session = TrainingSession.start(build_config(values))
    except ConfigError as error:
        label = HIDDEN_LABEL if error.field == "hidden" else FIELDS.get(error.field, (error.field,))[0]
        st.error(f"**{label}** (`{error.field}`): got {error.value!r}; {error.allowed}", icon=":material/error:")
        return
    except (MemoryError, RunStoreError) as error:
        st.error(f"Cannot set up this run: {error}", icon=":material/error:")
        return
    previous = current_session()
    if previous is not None:
        previous.stop()
    set_current_session(session)


def reopen_form() -> None:
    runs = list_runs(runs_root())
    if not runs:
        st.caption(f"No saved runs in {runs_root()} yet.")
        return
    by_name = {run.name: run for run in runs}  # names are stable while a run's iteration count grows
    name = st.selectbox(
        "Saved run", tuple(by_name), key="train.reopen", format_func=lambda n: f"{n} ({by_name[n].iterations_done} it.)"
    )
    if st.button("Reopen", key="reopen"):
        try:
            set_current_session(TrainingSession.reopen(by_name[name].path))
        except (RunStoreError, ConfigError) as error:
            st.error(f"Cannot reopen {name}: {error}")


def controls(session: TrainingSession) -> None:
    pause, resume, stop, explore = st.columns(4)
    pause.button(
        "Pause",
        icon=":material/pause:",
        key="pause",
        on_click=session.pause,
        disabled=session.status is not Status.RUNNING,
    )
    resume.button(
        "Resume",
        icon=":material/play_arrow:",
        key="resume",
        on_click=session.resume,
        disabled=session.status is not Status.PAUSED,
    )
    stop.button(
        "Stop",
        icon=":material/stop:",
        key="stop",
        on_click=session.stop,
        disabled=session.status not in (Status.RUNNING, Status.PAUSED),
    )
    with explore:
        if isinstance(TASK_FAMILIES[session.config.task], PointTaskFamily):
            page_link("Explore", "Explore its exploration")
        else:
            page_link("Replay", "Replay it as video")


def progress(session: TrainingSession) -> None:
    """Progress, latest numbers and live learning curves, all read back from the run folder."""
    config = session.config
    st.progress(session.progress, text=f"{session.status} · iteration {session.iteration} of {config.iterations}")
    if session.error:
        st.error(session.error)
    for warning in session.warnings:
        st.warning(warning)
    rows = session.store.read_metrics()
    if not rows:
        waited = time.monotonic() - session.opened_at
        typical = "under a second" if isinstance(session.trainer.family, PointTaskFamily) else "tens of seconds"
        st.info(f"Waiting for the first iteration… {waited:.0f} s so far (on this task one takes {typical}).")
        return
    first, last = rows[0], rows[-1]
    pre, post, steps, wall = st.columns(4)
    for column, stage in ((pre, "pre"), (post, "post")):
        key = f"{stage}_adaptation_return"
        change = round(last[key] - first[key], 1)
        delta = f"{change:+.1f} since it. 1" if change else None  # no green arrow for "no change"
        column.metric(f"{stage.capitalize()}-adaptation return", f"{last[key]:.1f}", delta)
    steps.metric("Environment steps", f"{last['env_steps']:,}")
    wall.metric(
        "Wall time", f"{last['wall_time']:.1f} s", help=f"the last iteration took {last['iteration_seconds']:.2f} s"
    )
    x_key = st.radio("x axis", tuple(X_AXES), format_func=X_AXES.get, horizontal=True, key="train.x_axis")
    st.plotly_chart(learning_curves(metric_curves(rows), x_key), key="train.curves")
    if config.task == "four_corner":
        st.caption(
            "On Four Corner the meta-policy itself commits to no corner, so its own return stays near −400: "
            "what it learns is how to explore, which shows in the post-adaptation return."
        )


def live_view(session: TrainingSession) -> None:
    interval = tick_interval(session)

    @st.fragment(run_every=interval)
    def live() -> None:
        train_a_little(session, ticking=interval is not None)
        progress(session)

    live()


page_setup("Train")
with st.sidebar:
    submitted = sidebar_form()
    with st.expander("Reopen a saved run"):
        reopen_form()
st.title("Train")
if submitted is not None:
    start(submitted)
session = current_session()
if session is None:
    st.info("Choose a task, a policy, a method and an operator in the sidebar, then press **Start training**.")
    st.caption(
        f"Runs are saved as they train under `{runs_root()}`: closing the tab loses nothing. "
        "A run trains while this page is open and waits while you look at other pages."
    )
    st.plotly_chart(empty_learning_curves(), key="train.placeholder")
else:
    config = session.config
    st.subheader(session.store.name)
    details = config.operator if config.method != "pg_maml" else f"K = {config.queries}"
    st.caption(
        f"{config.task} · {METHOD_LABELS.get(config.method, config.method)} · {details} · "
        f"{config.policy} policy · seed {config.seed} · saved in `{session.store.path}` · "
        "trains while this page is open, waits while you look at other pages"
    )
    controls(session)
    live_view(session)
