"""Train: choose a task, a policy, a method and an operator, then watch the meta-policy learn live."""

import time

import streamlit as st
from _shared.figures import X_AXES, empty_learning_curves, learning_curves
from _shared.state import (
    current_session,
    page_link,
    page_setup,
    saved_runs,
    set_current_session,
    tick_interval,
    train_a_little,
)

from esmaml_core.comparison import metric_curves
from esmaml_core.config import OPTIONS, ConfigError, TrainConfig
from esmaml_core.cost import describe_cost
from esmaml_core.errors import RunStoreError
from esmaml_core.form import (
    KEPT_ON_METHOD_CHANGE,
    TASK_DEPENDENT_FIELDS,
    build_config,
    choice_label,
    choices,
    form_defaults,
    preset_choices,
    preset_form_values,
    preset_label,
    sections,
    shown_fields,
)
from esmaml_core.presets import PRESETS
from esmaml_core.runs import runs_root
from esmaml_core.tasks import TASK_FAMILIES
from esmaml_core.tasks.point import PointTaskFamily
from esmaml_core.training_session import Status, TrainingSession


def chosen_defaults() -> dict:
    return form_defaults(st.session_state["train.method"], st.session_state["train.task"])


def reset_method_defaults() -> None:
    """A new method brings its own defaults (e.g. PG-MAML's Adam and task batch)."""
    defaults = chosen_defaults()
    for name in OPTIONS.keys() - {"hidden", *KEPT_ON_METHOD_CHANGE}:
        st.session_state[f"train.{name}"] = defaults[name]


def reset_task_defaults() -> None:
    """MuJoCo tasks start lighter (fewer directions, queries and evaluation tasks) than point tasks."""
    defaults = chosen_defaults()
    for name in TASK_DEPENDENT_FIELDS:
        st.session_state[f"train.{name}"] = defaults[name]


def apply_preset() -> None:
    """A chosen preset fills every field of the form."""
    name = st.session_state["train.preset"]
    if name:
        for field, value in preset_form_values(name).items():
            st.session_state[f"train.{field}"] = value


def preset_input() -> None:
    name = st.selectbox(
        "Preset", preset_choices(), key="train.preset", format_func=preset_label, on_change=apply_preset
    )
    if name:
        st.caption(PRESETS[name].source)


def field_input(name: str, method: str, defaults: dict) -> object:
    """One sidebar input for config field ``name``, its state kept under ``train.<name>``."""
    declared = OPTIONS[name]
    key = f"train.{name}"
    if declared.kind == "sizes":  # typed as text: "32, 32"
        st.session_state.setdefault(key, ", ".join(map(str, defaults[name])))
        return st.text_input(declared.label, key=key, help=declared.help)
    st.session_state.setdefault(key, defaults[name])
    if declared.kind == "choice":
        options = choices(name, method)
        if st.session_state[key] not in options:
            st.session_state[key] = options[0]
        on_change = {"method": reset_method_defaults, "task": reset_task_defaults}.get(name)
        return st.selectbox(
            declared.label,
            options,
            key=key,
            help=declared.help,
            on_change=on_change,
            format_func=lambda value: choice_label(name, value),
        )
    if declared.kind == "bool":
        return st.checkbox(declared.label, key=key, help=declared.help)
    if declared.kind == "int":  # no min/max on the widget: validation refuses bad values with the field's rule
        value = st.number_input(
            declared.label,
            step=int(declared.step or 1),
            key=key,
            help=declared.help,
            placeholder="task default" if declared.optional else None,
        )
        return None if value is None else int(value)
    return float(st.number_input(declared.label, step=declared.step, format="%g", key=key, help=declared.help))


def sidebar_form() -> dict | None:
    """The run's options, section by section as declared; returns the raw values when Start is pressed, else None."""
    method = st.session_state.get("train.method", TrainConfig.method)
    task = st.session_state.get("train.task", TrainConfig.task)
    defaults = form_defaults(method, task)
    values: dict = {}
    preset_input()
    for title, names in sections():
        if title != "Task":
            st.subheader(title)
        for name in names:
            shown = shown_fields({**defaults, **values, "method": method, "task": task})
            if name in ("task", "method") or name in shown:
                values[name] = field_input(name, method, defaults)
            method, task = values.get("method", method), values.get("task", task)
    cost_preview(values)
    return values if st.button("Start training", type="primary", key="start", width="stretch") else None


def error_text(error: ConfigError) -> str:
    """A config error in the form's words: the field's label, then the rule."""
    label = OPTIONS[error.field].label if error.field in OPTIONS else error.field
    return f"**{label}** (`{error.field}`): got {error.value!r}; {error.allowed}"


@st.cache_data(max_entries=64, show_spinner=False)
def cost_line(config: TrainConfig) -> str:
    return describe_cost(config)  # times a short rollout of the task: once per configuration


def cost_preview(values: dict) -> None:
    """Under the form, before Start: what one iteration and the run will cost, or what would refuse the run."""
    try:
        config = build_config(values)
    except ConfigError as error:
        st.caption(f":material/warning: {error_text(error)}")
        return
    st.caption(f"Cost: {cost_line(config)}.")


def start(values: dict) -> None:
    """Validate the form and start a run; a bad value is shown, never raised."""
    try:
        session = TrainingSession.start(build_config(values))
    except ConfigError as error:
        st.error(error_text(error), icon=":material/error:")
        return
    except (MemoryError, RunStoreError) as error:
        st.error(f"Cannot set up this run: {error}", icon=":material/error:")
        return
    previous = current_session()
    if previous is not None:
        previous.stop()
    set_current_session(session)


def reopen_form() -> None:
    runs = saved_runs()
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
        except RunStoreError as error:
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
    st.caption(
        f"{config.label()} · K = {config.queries} · "
        f"{config.policy} policy · seed {config.seed} · saved in `{session.store.path}` · "
        "trains while this page is open, waits while you look at other pages"
    )
    controls(session)
    live_view(session)
