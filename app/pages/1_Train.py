"""Train: choose a task, a policy, a method and an operator, start a training job, watch the meta-policy learn.

Each run trains as a job, a ``train`` process of its own (``esmaml_core.jobs``): it goes on
while the tab is closed or another page is open. This page reads the run folders back.
"""

import time

import streamlit as st
from _shared.figures import empty_learning_curves, learning_curves
from _shared.state import (
    REDRAW_SECONDS,
    SHOWN_RUN_KEY,
    page_link,
    page_setup,
    saved_runs,
    show_run,
    shown_run,
    wrapping_columns,
    wrapping_container,
)

from esmaml_core import jobs
from esmaml_core.comparison import metric_curves
from esmaml_core.config import OPTIONS, ConfigError, TrainConfig
from esmaml_core.cost import describe_cost
from esmaml_core.errors import RunStoreError
from esmaml_core.form import (
    KEPT_ON_METHOD_CHANGE,
    NO_PRESET,
    TASK_DEPENDENT_FIELDS,
    build_config,
    choice_label,
    choices,
    form_defaults,
    form_values,
    preset_choices,
    preset_form_values,
    preset_label,
    sections,
    shown_fields,
)
from esmaml_core.jobs import ALIVE_STATES, RESUMABLE_STATES, Job, JobState
from esmaml_core.plots import X_AXES
from esmaml_core.presets import PRESETS
from esmaml_core.runs import RunStore, runs_root
from esmaml_core.tasks import TASK_FAMILIES
from esmaml_core.tasks.point import PointTaskFamily

MORE_ITERATIONS = 50  # what "Train more" offers first


def kept_index(key: str, options: tuple) -> int:
    """Where the choice that widget ``key`` holds is in ``options`` (0 if none): its default (see field_input)."""
    kept = st.session_state.get(key)
    return options.index(kept) if kept in options else 0


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
    names = preset_choices()
    name = st.selectbox(
        "Preset",
        names,
        index=kept_index("train.preset", names),
        key="train.preset",
        format_func=preset_label,
        on_change=apply_preset,
    )
    if name:
        st.caption(PRESETS[name].source)


def field_input(name: str, method: str, defaults: dict) -> object:
    """One sidebar input for config field ``name``, its state kept under ``train.<name>``.

    Every keyed widget on this page also takes the value it holds as its default: after a
    full rerun that the live fragment requests (a job ended), the browser can redraw widgets
    from their defaults alone, and Streamlit's would be 0, the first choice or blank (a
    second tab then read 0 in every number of its form).
    """
    declared = OPTIONS[name]
    key = f"train.{name}"
    shown = ", ".join(map(str, defaults[name])) if declared.kind == "sizes" else defaults[name]  # "32, 32"
    value = st.session_state.setdefault(key, shown)
    if declared.kind == "sizes":
        return st.text_input(declared.label, value=value, key=key, help=declared.help)
    if declared.kind == "choice":
        options = choices(name, method)
        if value not in options:
            st.session_state[key] = options[0]
        on_change = {"method": reset_method_defaults, "task": reset_task_defaults}.get(name)
        return st.selectbox(
            declared.label,
            options,
            index=kept_index(key, options),
            key=key,
            help=declared.help,
            on_change=on_change,
            format_func=lambda choice: choice_label(name, choice),
        )
    if declared.kind == "bool":
        return st.checkbox(declared.label, value=value, key=key, help=declared.help)
    if declared.kind == "int":  # no min/max on the widget: validation refuses bad values with the field's rule
        value = st.number_input(
            declared.label,
            value=value,
            step=int(declared.step or 1),
            key=key,
            help=declared.help,
            placeholder="task default" if declared.optional else None,
        )
        return None if value is None else int(value)
    return st.number_input(
        declared.label, value=float(value), step=declared.step, format="%g", key=key, help=declared.help
    )


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
    """Validate the form and start a training job; a bad value is shown, never raised."""
    try:
        job = jobs.start(runs_root(), build_config(values))
    except ConfigError as error:
        st.error(error_text(error), icon=":material/error:")
        return
    except (RunStoreError, OSError) as error:
        st.error(f"Cannot start this run: {error}", icon=":material/error:")
        return
    show_run(job.name)


def fill_form(config: TrainConfig) -> None:
    """The sidebar shows ``config``'s settings (e.g. of a run just opened), to read or to start from."""
    st.session_state["train.preset"] = NO_PRESET
    for field, value in form_values(config.to_values()).items():
        st.session_state[f"train.{field}"] = value


def open_run(name: str) -> None:
    """Show run ``name`` on this page, its settings in the sidebar (a button callback: runs before the page)."""
    show_run(name)
    job = jobs.job(runs_root(), name)
    if job.config is not None:
        fill_form(job.config)


SHOW_PENDING_KEY = "train.show_pending"


def show_job(name: str) -> None:
    """Show a job of the jobs list: that list is in the live fragment, and settings put into the sidebar's
    widgets from a fragment's rerun did not always reach the browser (Start then trained the old ones), so
    the whole page reruns and opens the run at its top, before the sidebar is drawn."""
    st.session_state[SHOW_PENDING_KEY] = name


def run_title(job: Job) -> str:
    """What a run is, in words: task, method, operator and seed."""
    return f"{job.config.label()} · seed {job.config.seed}" if job.config is not None else job.name


def reopen_form() -> None:
    runs = saved_runs()
    if not runs:
        st.caption(f"No saved runs in {runs_root()} yet.")
        return
    by_name = {run.name: run for run in runs}  # names are stable while a run's iteration count grows
    names = tuple(by_name)
    name = st.selectbox(
        "Saved run",
        names,
        index=kept_index("train.reopen", names),
        key="train.reopen",
        format_func=lambda n: (
            f"{by_name[n].config.label()} · seed {by_name[n].config.seed} · {by_name[n].iterations_done} it. ({n})"
        ),
    )
    st.button("Open", key="reopen", on_click=open_run, args=(name,))


def act(action, *args) -> None:
    """Do a job action for a button, then redraw the whole page (it may start or stop the live redraws)."""
    try:
        action(runs_root(), *args)
    except RunStoreError as error:
        st.error(str(error), icon=":material/error:")
        return
    st.rerun()


PAUSE = ("pause", "Pause", ":material/pause:", jobs.pause)
CONTINUE = ("continue", "Continue", ":material/play_arrow:", jobs.unpause)
STOP = ("stop", "Stop", ":material/stop:", jobs.stop)
RESUME = ("resume", "Resume", ":material/play_arrow:", jobs.resume)
JOB_ACTIONS = {
    JobState.RUNNING: (PAUSE, STOP),
    JobState.PAUSED: (CONTINUE, STOP),
    JobState.STOPPED: (RESUME,),
    JobState.INTERRUPTED: (RESUME,),
}


def job_buttons(job: Job, prefix: str = "") -> None:
    """The buttons that apply to ``job`` in its state: pause, continue, stop or resume."""
    actions = JOB_ACTIONS.get(job.state, ())
    for column, (key, label, icon, action) in zip(st.columns(max(len(actions), 1)), actions, strict=False):
        if column.button(label, icon=icon, key=f"{prefix}{key}"):
            act(action, job.name)


def train_more(job: Job) -> None:
    """On a finished or stopped run: train it N iterations more."""
    if job.state not in (JobState.FINISHED, *RESUMABLE_STATES) or job.config is None:
        return
    extra_column, button_column = st.columns([1, 2], vertical_alignment="bottom")
    extra = extra_column.number_input(
        "More iterations", min_value=1, value=st.session_state.get("train.more", MORE_ITERATIONS), key="train.more"
    )
    if button_column.button(f"Train {int(extra)} more", icon=":material/add:", key="train_more"):
        act(jobs.train_more, job.name, int(extra))


def controls(job: Job) -> None:
    buttons, more, link = wrapping_columns("controls", [2, 3, 2], vertical_alignment="bottom")
    with buttons:
        job_buttons(job)
    with more:
        train_more(job)
    with link:
        if job.config is not None and isinstance(TASK_FAMILIES[job.config.task], PointTaskFamily):
            page_link("Explore", "Explore its exploration")
        else:
            page_link("Replay", "Replay it as video")


def state_line(job: Job) -> str:
    return f"{job.state} · iteration {job.iteration} of {job.iterations}"


BAND_CAPTION = (
    "Lines: the mean return over the {tasks} held-out evaluation tasks (test split, the same tasks at every "
    "iteration). Shaded band: ± one standard deviation of those {tasks} tasks' returns, i.e. how much the return "
    "varies from task to task, not an uncertainty of the mean. A task's return is that of the deterministic "
    "meta-policy for ES methods and the mean over K trajectories of the stochastic policy for PG methods."
)


def progress(job: Job) -> None:
    """Progress, latest numbers and live learning curves, all read back from the run folder."""
    st.progress(job.progress, text=state_line(job))
    if job.error:
        st.error(f"The training process stopped with an error:\n\n```\n{job.error}\n```")
    rows = RunStore.open(job.path).read_metrics() if job.config is not None else []
    if not rows:
        if job.state in ALIVE_STATES:
            waited = time.time() - jobs.started_at(runs_root(), job.name)
            point = job.config is None or isinstance(TASK_FAMILIES[job.config.task], PointTaskFamily)
            typical = "under a second" if point else "tens of seconds"
            st.info(f"Waiting for the first iteration… {waited:.0f} s so far (on this task one takes {typical}).")
        return
    first, last = rows[0], rows[-1]
    pre, post, steps, wall = wrapping_columns("numbers", 4)
    for column, stage in ((pre, "pre"), (post, "post")):
        key = f"{stage}_adaptation_return"
        change = round(last[key] - first[key], 1)
        delta = f"{change:+.1f} since it. 1" if change else None  # no green arrow for "no change"
        column.metric(f"{stage.capitalize()}-adaptation return", f"{last[key]:.1f}", delta)
    steps.metric("Environment steps", f"{last['env_steps']:,}")
    wall.metric(
        "Wall time", f"{last['wall_time']:.1f} s", help=f"the last iteration took {last['iteration_seconds']:.2f} s"
    )
    axes = tuple(X_AXES)
    x_key = st.radio(
        "x axis",
        axes,
        index=kept_index("train.x_axis", axes),
        format_func=X_AXES.get,
        horizontal=True,
        key="train.x_axis",
    )
    st.plotly_chart(learning_curves(metric_curves(rows), x_key), key="train.curves")
    st.caption(BAND_CAPTION.format(tasks=job.config.eval_tasks))
    if job.config.task == "four_corner":
        st.caption(
            "On Four Corner the meta-policy itself commits to no corner, so its own return stays near −400: "
            "what it learns is how to explore, which shows in the post-adaptation return."
        )


def shown_run_view(job: Job) -> None:
    st.subheader(run_title(job))
    where = f"run `{job.name}`, saved in `{job.path}`"
    if job.config is None:
        st.caption(where)
    else:
        config = job.config
        st.caption(
            f"K = {config.queries} queries per task · {choice_label('policy', config.policy)} policy · {where}. "
            "It trains in a process of its own: close the tab or open another page, it goes on."
        )
    controls(job)
    progress(job)


def jobs_list(all_jobs: list[Job], shown: str | None) -> None:
    """Every job this dashboard started: what it is, its state and progress, its buttons."""
    if not all_jobs:
        return
    st.subheader("Training jobs")
    with wrapping_container("jobs"):  # one container: a keyed one per row made sidebar dropdowns close
        for job in all_jobs:
            title, state, buttons, show = st.columns([5, 3, 3, 1], vertical_alignment="center")
            title.markdown(f"**{run_title(job)}**  \n`{job.name}`")
            state.progress(job.progress, text=state_line(job))
            with buttons:
                job_buttons(job, prefix=f"jobs.{job.name}.")
            show.button(
                "Show", key=f"jobs.{job.name}.show", on_click=show_job, args=(job.name,), disabled=job.name == shown
            )


def idle_view() -> None:
    st.info("Choose a task, a policy, a method and an operator in the sidebar, then press **Start training**.")
    st.caption(
        f"Runs are saved as they train under `{runs_root()}`. Each trains in a process of its own, so closing the "
        "tab or opening another page never stops it; several can train at once."
    )
    st.plotly_chart(empty_learning_curves(), key="train.placeholder")


def any_alive(all_jobs: list[Job], shown: Job | None) -> bool:
    return any(job.state in ALIVE_STATES for job in [*all_jobs, *([shown] if shown else [])])


def live_view(alive: bool) -> None:
    """The shown run and the jobs list, redrawn from disk while any job trains; a page rerun when that changes."""

    @st.fragment(run_every=REDRAW_SECONDS if alive else None)
    def live() -> None:
        shown, all_jobs = shown_run(), jobs.list_jobs(runs_root())
        if SHOW_PENDING_KEY in st.session_state or any_alive(all_jobs, shown) != alive:
            st.rerun()
        if shown is None:
            idle_view()
        else:
            shown_run_view(shown)
        jobs_list(all_jobs, shown.name if shown else None)

    live()


page_setup("Train")
if SHOW_PENDING_KEY in st.session_state:
    open_run(st.session_state.pop(SHOW_PENDING_KEY))
adopted = st.session_state.get(SHOWN_RUN_KEY)
opened = shown_run()  # before the form: a run named in the URL fills it with its settings
form_dropped = "train.task" not in st.session_state  # Streamlit forgets a page's widgets when another page opens
if opened is not None and opened.config is not None and (adopted != opened.name or form_dropped):
    fill_form(opened.config)
with st.sidebar:
    submitted = sidebar_form()
    with st.expander("Open a saved run"):
        reopen_form()
st.title("Train")
if submitted is not None:
    start(submitted)
live_view(any_alive(jobs.list_jobs(runs_root()), shown_run()))
