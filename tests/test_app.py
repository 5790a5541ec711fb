"""The dashboard in Streamlit's headless AppTest: every page, driven like a user would."""

import base64
import json
import time
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from esmaml_core import jobs
from esmaml_core.assets import PRETRAINED_DIR, read_asset_meta
from esmaml_core.comparison import list_runs
from esmaml_core.config import OPTIONS, TrainConfig
from esmaml_core.form import shown_fields
from esmaml_core.runs import RUNS_DIR_ENV, RunStore, run_training
from tests import job_helpers
from tests.job_helpers import kill_jobs, wait_for

# Pages import app/_shared as `streamlit run app/Home.py` lets them; pytest puts app/ on the path (pyproject).
APP_DIR = Path(__file__).resolve().parents[1] / "app"
TIMEOUT = 120
QUICK = dict(perturbations=8, queries=5, eval_tasks=4, probe_tasks=2)


@pytest.fixture
def runs_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(RUNS_DIR_ENV, str(tmp_path))
    yield tmp_path
    kill_jobs(tmp_path)  # training jobs started by a page


def open_page(page: str | None = None, **query_params) -> AppTest:
    at = AppTest.from_file(str(APP_DIR / "Home.py"), default_timeout=TIMEOUT)
    at.query_params.update(query_params)
    at.run()
    if page is not None:
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def figure_data(at: AppTest, index: int = 0) -> list[dict]:
    return json.loads(at.get("plotly_chart")[index].proto.spec)["data"]


def coordinates(trace: dict, axis: str = "x") -> list:
    """A trace's coordinates; plotly 6 ships numpy arrays as base64 typed arrays."""
    values = trace.get(axis, [])
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def train_saved_run(root: Path, iterations: int = 3, **overrides) -> RunStore:
    values = {**QUICK, "iterations": iterations, **overrides}
    if values.get("method") == "pg_maml":
        del values["perturbations"]  # PG-MAML has no perturbations
    return job_helpers.train_saved_run(root, TrainConfig.for_method(**values).validate())


def state_line(at: AppTest) -> str:
    """The shown run's progress line, e.g. "running · iteration 3 of 8"."""
    return at.get("progress")[0].proto.text


def rerun_until(at: AppTest, condition, seconds: float = 60.0) -> AppTest:
    """Rerun the page (as its live redraws would) until ``condition(at)`` holds."""

    def rerun_and_check() -> bool:
        at.run()
        assert not at.exception, at.exception
        return condition(at)

    wait_for(rerun_and_check, seconds)
    return at


def iterations_done(runs_dir: Path) -> int:
    """The iterations done by the one run under ``runs_dir`` (0 while its job has not written it yet)."""
    runs = list_runs(runs_dir)
    return runs[0].iterations_done if runs else 0


def start_training(at: AppTest, iterations: int, **numbers) -> AppTest:
    at.number_input(key="train.iterations").set_value(iterations)
    for name, value in {"perturbations": 8, "queries": 5, **numbers}.items():
        at.number_input(key=f"train.{name}").set_value(value)
    at.button(key="start").click().run()
    assert not at.exception, at.exception
    return at


# --- Home --------------------------------------------------------------------------------------------


def test_home_explains_and_links_every_page(runs_dir):
    at = open_page()
    assert "ES-MAML" in at.title[0].value
    assert "evolution strategies" in at.markdown[0].value
    pages = ["Train", "Explore", "Replay", "Compare", "Learn", "Results"]
    assert [link.proto.label for link in at.get("page_link")] == pages


def test_home_opens_the_lecture_view_in_one_click(runs_dir):
    at = open_page()
    at.session_state["explore.source"] = "runs"  # even after looking at runs, the button shows the shipped policies
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="explore.source").value == "pretrained"
    assert at.segmented_control(key="explore.task").value == "four_corner"
    assert len(at.get("plotly_chart")) == 2  # ES-MAML beside the shipped PG-MAML Four Corner meta-policy


# --- Train -------------------------------------------------------------------------------------------


def test_train_start_runs_a_job_whose_live_curves_grow_and_saves_the_run(runs_dir):
    at = open_page("1_Train")
    assert len(at.get("plotly_chart")) == 1 and figure_data(at) == []  # empty axes until a run starts
    start_training(at, iterations=8, perturbations=50, queries=20)
    rerun_until(at, lambda at: bool(metrics(at)))  # the job's first iteration, read back from its folder
    assert at.main.subheader[0].value == "Four Corner · ES-MAML (zero-order) · hill climbing · seed 0"
    assert set(metrics(at)) >= {"Pre-adaptation return", "Post-adaptation return", "Environment steps", "Wall time"}
    first_points = len(coordinates(figure_data(at)[1]))
    rerun_until(at, lambda at: len(coordinates(figure_data(at)[1])) > first_points or first_points == 8)
    rerun_until(at, lambda at: state_line(at).startswith("finished · iteration 8 of 8"))
    (run,) = list_runs(runs_dir)
    assert run.iterations_done == 8 and RunStore(run.path).probe_iterations() == list(range(1, 9))
    assert at.query_params["run"] == run.name
    (band,) = [caption.value for caption in at.caption if "Shaded band" in caption.value]
    assert "± one standard deviation of those 20 tasks' returns" in band  # the form's 20 evaluation tasks


def test_a_mujoco_run_trains_as_a_job_too(runs_dir):
    at = open_page("1_Train")
    at.selectbox(key="train.task").set_value("fb_swimmer").run()
    at.number_input(key="train.horizon").set_value(5)
    start_training(at, iterations=2, perturbations=2, queries=2)
    rerun_until(at, lambda at: state_line(at).startswith("finished"), 120)
    assert len(at.get("plotly_chart")) == 1 and list_runs(runs_dir)[0].iterations_done == 2


def test_train_x_axis_switches_to_env_steps_and_wall_time(runs_dir):
    at = start_training(open_page("1_Train"), iterations=2)
    rerun_until(at, lambda at: state_line(at).startswith("finished"))
    at.radio(key="train.x_axis").set_value("env_steps").run()
    steps = coordinates(figure_data(at)[1])
    assert steps[0] > 1000 and steps == sorted(steps)


def test_train_shows_the_cost_before_start_and_warns_what_would_be_refused(runs_dir):
    at = open_page("1_Train")
    (line,) = [caption.value for caption in at.caption if caption.value.startswith("Cost:")]
    assert "env steps" in line and "GiB" in line and "50 iterations" in line
    at.number_input(key="train.perturbations").set_value(99_999).run()  # would need tens of GiB per iteration
    warning = [caption.value for caption in at.caption if "GiB of memory" in caption.value]
    assert warning and "Perturbations n" in warning[0]
    assert not any(caption.value.startswith("Cost:") for caption in at.caption)


@pytest.mark.parametrize(
    ("widget", "key", "value", "field"),
    [
        ("number_input", "train.sigma", 0.0, "sigma"),
        ("number_input", "train.lr", -1.0, "lr"),
        ("number_input", "train.queries", 0, "queries"),
    ],
)
def test_train_invalid_input_shows_an_error_not_a_traceback(runs_dir, widget, key, value, field):
    at = open_page("1_Train")
    getattr(at, widget)(key=key).set_value(value)
    at.button(key="start").click().run()
    assert not at.exception
    assert len(at.error) == 1 and field in at.error[0].value
    assert list_runs(runs_dir) == []


def test_train_bad_hidden_sizes_are_refused(runs_dir):
    at = open_page("1_Train")
    at.selectbox(key="train.policy").set_value("mlp").run()
    at.text_input(key="train.hidden").input("32, lots").run()
    at.button(key="start").click().run()
    assert not at.exception and "hidden" in at.error[0].value


def form_widgets(at: AppTest) -> dict[str, str]:
    """Sidebar widgets by key: their labels."""
    kinds = (at.selectbox, at.number_input, at.checkbox, at.text_input)
    return {
        widget.key: widget.label for kind in kinds for widget in kind if widget.key and widget.key.startswith("train.")
    }


@pytest.mark.parametrize(
    "setting",
    [
        ("es_maml", "es_grad", "mlp"),
        ("es_maml_first_order", "es_grad", "linear"),
        ("pg_maml", None, "linear"),
        ("trpo_maml", None, "mlp"),
        ("promp", None, "linear"),
        ("tmaml", None, "linear"),
    ],
)
def test_every_declared_form_option_appears_in_the_form_where_it_applies(runs_dir, setting):
    """One declaration per option: the Train form shows exactly the declared form options that apply."""
    method, operator, policy = setting
    at = open_page("1_Train")
    at.selectbox(key="train.method").set_value(method).run()
    at.selectbox(key="train.policy").set_value(policy).run()
    if operator:
        at.selectbox(key="train.operator").set_value(operator).run()
    values = {"task": "four_corner", "method": method, "policy": policy, **({"operator": operator} if operator else {})}
    expected = {f"train.{name}": OPTIONS[name].label for name in shown_fields(values)}
    not_options = ("train.reopen", "train.x_axis", "train.preset")
    shown = {key: label for key, label in form_widgets(at).items() if key not in not_options}
    assert shown == expected


def default_shown(widget) -> object:
    """What a browser shows for ``widget`` when it redraws it from its element alone (its default)."""
    if widget.type in ("selectbox", "radio"):
        return widget.options[widget.proto.default]
    if widget.type == "number_input" and not widget.proto.HasField("default"):
        return None
    return widget.proto.default


def test_every_form_widget_redraws_with_its_own_value(runs_dir):
    """After a full rerun the live fragment requests (a job ended), a browser may redraw the sidebar from
    the widgets' defaults (a second tab then read 0 in every number): each default is the widget's value."""
    store = train_saved_run(runs_dir, iterations=2)
    at = open_page("1_Train", run=store.name)  # a finished run: its curves' x axis and "More iterations"
    at.radio(key="train.x_axis").set_value("env_steps").run()
    at.number_input(key="train.more").set_value(9).run()
    at.selectbox(key="train.preset").set_value("maml_nav2d").run()
    at.number_input(key="train.iterations").set_value(7).run()
    at.selectbox(key="train.method").set_value("promp").run()
    widgets = [*at.selectbox, *at.radio, *at.number_input, *at.checkbox, *at.text_input]
    assert {"train.x_axis", "train.more", "train.reopen", "train.iterations"} <= {widget.key for widget in widgets}
    for widget in widgets:
        if widget.key and widget.key.startswith("train."):
            shown = widget.options[widget.index] if widget.type in ("selectbox", "radio") else widget.value
            assert default_shown(widget) == shown, widget.key


def test_a_preset_fills_the_form(runs_dir):
    at = open_page("1_Train")
    at.selectbox(key="train.preset").set_value("maml_nav2d").run()
    assert not at.exception
    assert at.selectbox(key="train.task").value == "navigation_2d"
    assert at.selectbox(key="train.method").value == "trpo_maml"
    assert at.selectbox(key="train.activation").value == "tanh"
    assert at.text_input(key="train.hidden").value == "64, 64"
    assert at.number_input(key="train.max_kl").value == 0.01 and at.checkbox(key="train.normalize_advantages").value
    assert "maml-rl" in " ".join(caption.value for caption in at.caption)


def test_train_shows_only_the_options_of_the_chosen_method(runs_dir):
    at = open_page("1_Train")
    assert at.selectbox(key="train.method").options == [
        "ES-MAML (zero-order)",
        "ES-MAML (first-order / Hessian)",
        "PG-MAML (policy gradient)",
        "TRPO-MAML",
        "ProMP",
        "T-MAML",
    ]
    keys = {widget.key for widget in at.number_input} | {widget.key for widget in at.checkbox}
    assert "train.alpha" not in keys  # hill climbing (the default) has no step size
    assert "train.hessian" not in keys and "train.inner_steps" not in keys
    at.selectbox(key="train.method").set_value("es_maml_first_order").run()
    assert at.selectbox(key="train.operator").options == ["ES gradient", "DPP (ES gradient, diverse queries)"]
    assert at.checkbox(key="train.hessian") is not None and at.number_input(key="train.alpha") is not None
    at.selectbox(key="train.method").set_value("pg_maml").run()
    keys = {widget.key for widget in at.number_input} | {widget.key for widget in at.selectbox}
    assert {"train.inner_steps", "train.init_log_std", "train.task_batch"} <= keys
    assert not {"train.operator", "train.sampler", "train.sigma", "train.perturbations"} & keys
    assert at.selectbox(key="train.optimizer").value == "adam"  # PG-MAML's own default


def button_keys(at: AppTest) -> set[str]:
    return {button.key for button in at.button}


def test_train_pause_continue_stop_and_resume(runs_dir):
    at = start_training(open_page("1_Train"), iterations=100_000)
    rerun_until(at, lambda at: iterations_done(runs_dir) >= 2)
    at.button(key="pause").click().run()
    rerun_until(at, lambda at: state_line(at).startswith("paused"))
    assert {"continue", "stop"} <= button_keys(at) and "pause" not in button_keys(at)
    time.sleep(0.3)  # an iteration under way when paused may still land
    paused_at = iterations_done(runs_dir)
    time.sleep(1.0)
    assert iterations_done(runs_dir) == paused_at
    at.button(key="continue").click().run()
    rerun_until(at, lambda at: iterations_done(runs_dir) > paused_at + 1)
    at.button(key="stop").click().run()
    rerun_until(at, lambda at: state_line(at).startswith("stopped"))
    stopped_at = iterations_done(runs_dir)
    at.button(key="resume").click().run()
    rerun_until(at, lambda at: state_line(at).startswith("running") and iterations_done(runs_dir) > stopped_at)


def test_a_refreshed_tab_reopens_its_run_from_the_url_with_its_settings_in_the_sidebar(runs_dir):
    store = train_saved_run(runs_dir, iterations=6, seed=3, operator="es_grad", alpha=0.07)
    at = open_page("1_Train", run=store.name)
    assert state_line(at).startswith("finished · iteration 6 of 6")
    assert len(coordinates(figure_data(at)[1])) == 6
    assert at.number_input(key="train.seed").value == 3 and at.number_input(key="train.alpha").value == 0.07
    assert at.selectbox(key="train.operator").value == "es_grad" and at.number_input(key="train.queries").value == 5
    at.switch_page("pages/4_Compare.py").run()
    at.switch_page("pages/1_Train.py").run()  # back on Train, the form still shows the run's settings
    assert at.number_input(key="train.seed").value == 3 and at.selectbox(key="train.operator").value == "es_grad"
    missing = open_page("1_Train", run="no-such-run")
    assert "no-such-run" in missing.warning[0].value
    assert len(missing.get("plotly_chart")) == 1 and figure_data(missing) == []  # only the empty idle chart


@pytest.mark.parametrize("name", ["..", ".", "../runs"])
def test_a_run_name_in_the_url_never_leads_outside_the_runs_folder(runs_dir, name):
    (runs_dir / "config.json").write_text(json.dumps(TrainConfig(**QUICK).to_dict()))  # bait: the folder itself
    at = open_page("1_Train", run=name)
    assert "not a run name" in at.warning[0].value and at.query_params.get("run") is None
    assert sorted(path.name for path in runs_dir.iterdir()) == ["config.json"]


def test_a_damaged_run_is_named_and_the_others_still_listed(runs_dir):
    train_saved_run(runs_dir, iterations=2)
    (runs_dir / "broken").mkdir()
    (runs_dir / "broken" / "config.json").write_text("[]")
    at = open_page("4_Compare")
    assert any("broken" in warning.value for warning in at.warning)
    assert not at.exception and len(figure_data(at)) > 0


def test_a_run_goes_on_without_its_tab_and_a_tab_opened_later_shows_it(runs_dir):
    first_tab = start_training(open_page("1_Train"), iterations=100_000)
    run_name = first_tab.query_params["run"]
    del first_tab  # the tab is gone: nothing runs the page any more
    wait_for(lambda: iterations_done(runs_dir) >= 3)
    later = open_page("1_Train", run=run_name)  # a new browser session with the same URL
    assert state_line(later).startswith("running")
    done = iterations_done(runs_dir)
    rerun_until(later, lambda at: iterations_done(runs_dir) > done)
    assert len(list_runs(runs_dir)) == 1  # still one run, trained by one job


def test_a_saved_run_can_be_reopened_and_resumed(runs_dir):
    with RunStore.create(runs_dir / "cli-run", TrainConfig(**QUICK, iterations=4, seed=5)) as store:
        trainer, _ = store.restore_trainer()
        next(run_training(trainer, store, 4))
    at = open_page("1_Train")
    at.button(key="reopen").click().run()
    assert state_line(at).startswith("interrupted · iteration 1 of 4")
    assert at.number_input(key="train.seed").value == 5  # the sidebar shows the reopened run's settings
    at.button(key="resume").click().run()
    rerun_until(at, lambda at: state_line(at).startswith("finished · iteration 4 of 4"))
    assert len(store.read_metrics()) == 4


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_failed_job_shows_why_and_offers_no_resume(runs_dir):
    job = jobs.start(runs_dir, TrainConfig(**QUICK, lr=1e308).validate())  # diverges at once
    at = open_page("1_Train", run=job.name)
    rerun_until(at, lambda at: state_line(at).startswith("failed"))
    assert "NaN or inf" in at.error[0].value and "start a new run" in at.error[0].value  # the CLI's own advice
    assert not {"resume", "pause", "stop"} & {button.key for button in at.button}


def test_train_n_more_extends_a_finished_run(runs_dir):
    store = train_saved_run(runs_dir, iterations=2)
    at = open_page("1_Train", run=store.name)
    at.number_input(key="train.more").set_value(3).run()
    at.button(key="train_more").click().run()
    rerun_until(at, lambda at: state_line(at).startswith("finished · iteration 5 of 5"))
    assert [row["iteration"] for row in store.read_metrics()] == [1, 2, 3, 4, 5]


def test_reopen_opens_each_run_chosen_in_turn(runs_dir):
    """The picker keeps the choice across reruns, even while iteration counts change."""
    for name, iterations in (("run-a", 2), ("run-b", 3)):
        with RunStore.create(runs_dir / name, TrainConfig(**QUICK, iterations=iterations)) as store:
            trainer, _ = store.restore_trainer()
            next(run_training(trainer, store, iterations))
    at = open_page("1_Train")
    for name in ("run-b", "run-a", "run-b"):
        at.selectbox(key="train.reopen").set_value(name).run()
        at.button(key="reopen").click().run()
        assert at.query_params["run"] == name, f"chose {name}, opened {at.query_params['run']}"


def test_mujoco_tasks_start_from_lighter_settings_and_point_tasks_get_theirs_back(runs_dir):
    at = open_page("1_Train")
    fields = ("perturbations", "queries", "eval_tasks", "horizon")

    def form() -> tuple:
        return tuple(at.number_input(key=f"train.{name}").value for name in fields)

    assert form() == (50, 20, 20, None)
    at.selectbox(key="train.task").set_value("fb_swimmer").run()
    assert form() == (20, 10, 4, 100)
    at.selectbox(key="train.task").set_value("four_corner").run()
    assert form() == (50, 20, 20, None)
    at.number_input(key="train.eval_tasks").set_value(2).run()
    at.number_input(key="train.iterations").set_value(1).run()
    at.button(key="start").click().run()
    assert not at.error
    wait_for(lambda: list_runs(runs_dir))
    assert list_runs(runs_dir)[0].config.eval_tasks == 2  # probe tasks follow: at most 2


def test_a_network_too_large_is_refused_by_name_and_leaves_no_run(runs_dir):
    at = open_page("1_Train")
    at.selectbox(key="train.policy").set_value("mlp").run()
    at.text_input(key="train.hidden").input("100000, 100000").run()
    at.button(key="start").click().run()
    assert not at.exception
    assert "Hidden layer sizes" in at.error[0].value and "1024" in at.error[0].value
    assert list_runs(runs_dir) == [] and not any(runs_dir.iterdir())


def test_two_tabs_train_side_by_side_and_every_job_is_listed(runs_dir):
    first, second = open_page("1_Train"), open_page("1_Train")
    start_training(first, iterations=3, seed=1)
    start_training(second, iterations=5, seed=2)
    rerun_until(first, lambda at: state_line(at).startswith("finished · iteration 3 of 3"))
    rerun_until(second, lambda at: state_line(at).startswith("finished · iteration 5 of 5"))
    runs = {run.config.seed: run for run in list_runs(runs_dir)}
    assert runs[1].iterations_done == 3 and runs[2].iterations_done == 5
    assert first.query_params["run"] == runs[1].name and second.query_params["run"] == runs[2].name
    first.run()
    listed = [bar.proto.text for bar in first.get("progress")[1:]]  # after the shown run's own bar
    assert listed == ["finished · iteration 5 of 5", "finished · iteration 3 of 3"]  # newest first
    titles = [text.value for text in first.markdown if "ES-MAML (zero-order) · hill climbing" in text.value]
    assert len(titles) == 2 and all("Four Corner" in title for title in titles)


# --- Explore -----------------------------------------------------------------------------------------


def open_explore_on_runs() -> AppTest:
    at = open_page("2_Explore")
    at.segmented_control(key="explore.source").set_value("runs").run()
    assert not at.exception, at.exception
    return at


def panel_metrics(at: AppTest) -> list[str]:
    """The measured-exploration lines under each drawn panel."""
    return [caption.value for caption in at.caption if "area covered" in caption.value]


def test_explore_draws_es_paths_with_metrics_and_moves_through_iterations(runs_dir):
    train_saved_run(runs_dir, iterations=4, operator="hill_climb")
    at = open_explore_on_runs()
    assert len(at.get("plotly_chart")) == 1
    assert "No PG-MAML run" in at.info[0].value
    (shown,) = panel_metrics(at)
    assert "corners visited" in shown and "path length" in shown and "adapted" in shown
    assert at.select_slider(key="explore.iteration").value == 4
    names = {trace.get("name") for trace in figure_data(at)}
    assert {"kept proposals", "rejected proposals", "meta-policy", "adapted policy", "goal"} <= names
    at.select_slider(key="explore.iteration").set_value(1).run()
    title = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["title"]
    assert "iteration 1" in title["text"]
    (row,) = [row for row in RunStore.open(next(runs_dir.iterdir())).read_metrics() if row["iteration"] == 1]
    held_out = f"return {row['post_adaptation_return']:.1f}, mean over {QUICK['eval_tasks']} held-out tasks"
    assert held_out in title["subtitle"]["text"]  # the run's score beyond the one task drawn, at that iteration
    at.slider(key="explore.proposals").set_value(0).run()
    shown = {trace.get("name"): trace for trace in figure_data(at)}
    assert "best after 0 proposals" in shown and not coordinates(shown["kept proposals"])
    (shown,) = panel_metrics(at)  # the numbers follow the proposals shown
    assert "corners visited **0/4**" in shown and "area covered **0.0%**" in shown and "best so far" in shown


def test_explore_plays_through_iterations(runs_dir):
    train_saved_run(runs_dir, iterations=3)
    at = open_explore_on_runs()
    at.select_slider(key="explore.iteration").set_value(1).run()
    at.button(key="explore.play").click().run()
    seen = [at.select_slider(key="explore.iteration").value]
    at.run()
    seen.append(at.select_slider(key="explore.iteration").value)
    assert seen == [2, 3]


def test_explore_puts_es_and_pg_maml_side_by_side_on_the_same_tasks(runs_dir):
    train_saved_run(runs_dir, iterations=2, operator="es_grad")
    train_saved_run(runs_dir, iterations=2, method="pg_maml", task_batch=2)
    at = open_explore_on_runs()
    assert len(at.get("plotly_chart")) == 2
    goals = [[trace for trace in figure_data(at, side) if trace.get("name") == "goal"][0] for side in (0, 1)]
    assert coordinates(goals[0]) == coordinates(goals[1]) and coordinates(goals[0], "y") == coordinates(goals[1], "y")
    assert len(panel_metrics(at)) == 2


def test_explore_records_paths_for_a_run_trained_without_them(runs_dir):
    with RunStore.create(runs_dir / "cli-run", TrainConfig(**{**QUICK, "probe_tasks": 0}, iterations=2)) as store:
        trainer, _ = store.restore_trainer()
        list(run_training(trainer, store, 2))
    at = open_explore_on_runs()
    assert not at.get("plotly_chart")
    at.button(key="explore.record.0").click().run()
    (chart,) = at.get("plotly_chart")
    assert "iteration 2" in json.loads(chart.proto.spec)["layout"]["title"]["text"]


def test_explore_shows_the_shipped_pretrained_policies_first(runs_dir):
    train_saved_run(runs_dir, iterations=2)  # a saved run does not replace the lecture view's pretrained policies
    at = open_page("2_Explore")
    assert at.segmented_control(key="explore.source").value == "pretrained"
    (chart, *pg_chart) = at.get("plotly_chart")
    title = json.loads(chart.proto.spec)["layout"]["title"]
    assert "iteration 200" in title["text"]
    recorded = read_asset_meta(PRETRAINED_DIR / "four_corner_es_maml_hill_climb_linear")["evaluation"]
    held_out = f"return {recorded['post_adaptation_return']:.1f}, mean over {recorded['tasks']} held-out tasks"
    assert held_out in title["subtitle"]["text"]
    assert not at.get("select_slider")  # one iteration only: no slider
    claims = [caption.value for caption in at.caption if "explores in" in caption.value]
    assert ["parameter space" in claims[0], "action space" in claims[1]] == [True, True]
    if not pg_chart:  # no PG-MAML Four Corner asset shipped yet: the PG panel says so
        assert "No pretrained PG-MAML policy for Four Corner" in at.info[0].value
    at.segmented_control(key="explore.task").set_value("goal_2d").run()  # shipped ES-MAML and PG-MAML side by side
    assert len(at.get("plotly_chart")) == 2 and len(panel_metrics(at)) == 2 and not at.warning
    es_metrics, pg_metrics = panel_metrics(at)
    assert "corners visited" not in es_metrics and "path length" in pg_metrics
    pg_title = json.loads(at.get("plotly_chart")[1].proto.spec)["layout"]["title"]["text"]
    assert pg_title.startswith("PG-MAML")


def test_explore_picks_up_a_pg_four_corner_asset_when_one_is_shipped(runs_dir, tmp_path, monkeypatch):
    import esmaml_core.assets as assets

    shipped = tmp_path / "assets"
    shipped.mkdir()
    for name in ("four_corner_es_maml_hill_climb_linear", "goal_2d_pg_maml_linear"):
        for suffix in (".npz", ".json"):
            source = assets.PRETRAINED_DIR / f"{name}{suffix}"
            target = name.replace("goal_2d", "four_corner") + suffix
            text = source.read_bytes()
            if suffix == ".json":
                meta = json.loads(text)
                meta["config"]["task"] = "four_corner"
                text = json.dumps(meta).encode()
            (shipped / target).write_bytes(text)
    monkeypatch.setattr(assets, "PRETRAINED_DIR", shipped)  # read by the page when it runs
    at = open_page("2_Explore")
    assert len(at.get("plotly_chart")) == 2 and not at.info


def test_explore_follows_this_tabs_run_while_it_trains(runs_dir):
    at = start_training(open_page("1_Train"), iterations=300, perturbations=50, queries=20)
    rerun_until(at, lambda at: bool(metrics(at)))
    at.switch_page("pages/2_Explore.py")
    rerun_until(at, lambda at: len(at.get("select_slider")) > 0)
    assert at.segmented_control(key="explore.source").value == "runs"  # this tab's run, not the shipped policies
    before = at.select_slider(key="explore.iteration").value
    rerun_until(at, lambda at: at.select_slider(key="explore.iteration").value > before)  # following the live run


# --- Compare -----------------------------------------------------------------------------------------


def test_compare_groups_seeds_into_bands_and_offers_downloads(runs_dir):
    for seed, iterations in ((0, 3), (1, 4)):
        train_saved_run(runs_dir, iterations=iterations, seed=seed)
    train_saved_run(runs_dir, iterations=2, sigma=0.05)
    train_saved_run(runs_dir, iterations=2, seed=1)  # a repeat of seed 1
    at = open_page("4_Compare")
    legend = [trace["name"] for trace in figure_data(at) if trace.get("showlegend") is not False]
    assert sorted(legend) == [
        "Four Corner · ES-MAML (zero-order) · hill climbing · sigma=0.05",
        "Four Corner · ES-MAML (zero-order) · hill climbing · sigma=0.1 (n=2)",
    ]
    assert any("repeat a seed" in warning.value for warning in at.warning)  # never n=3 for two seeds
    lines = [trace for trace in figure_data(at) if trace.get("showlegend") is not False]
    assert max(len(coordinates(trace)) for trace in lines) == 4  # every run to its own end
    at.toggle(key="compare.grouped").set_value(False).run()
    assert len([t for t in figure_data(at) if t.get("showlegend") is not False]) == 3  # one curve per kept run
    at.radio(key="compare.x").set_value("env_steps").run()
    assert len(at.dataframe[0].value) == 4  # the table lists every run, repeats included
    labels = [button.proto.label for button in at.get("download_button")]
    assert "Download table (CSV)" in labels and "Download figure (HTML)" in labels
    at.radio(key="compare.metric").set_value("pre_adaptation_return").run()
    assert not at.exception


def test_compare_filters_by_task_and_method(runs_dir):
    train_saved_run(runs_dir, iterations=2)
    train_saved_run(runs_dir, iterations=1, task="goal_2d", method="pg_maml", task_batch=2)
    at = open_page("4_Compare")
    assert len(at.dataframe[0].value) == 2
    at.multiselect(key="compare.methods").set_value(["pg_maml"]).run()
    assert [row for row in at.dataframe[0].value["experiment"]] == ["2D Goal · PG-MAML (policy gradient)"]
    at.multiselect(key="compare.methods").set_value([]).run()
    at.multiselect(key="compare.tasks").set_value(["four_corner"]).run()
    assert len(at.dataframe[0].value) == 1


def test_compare_without_runs_says_so(runs_dir):
    at = open_page("4_Compare")
    assert "No saved runs" in at.info[0].value


# --- Learn -------------------------------------------------------------------------------------------


def test_learn_figures_follow_the_controls(runs_dir):
    at = open_page("5_Learn")
    assert len(at.get("plotly_chart")) == 4 and len(at.latex) >= 5
    assert not any("E_T[" in markdown.value for markdown in at.markdown)  # formulas typeset, not raw text
    meta_before = figure_data(at, 3)
    at.slider(key="learn.meta_pairs").set_value(20).run()
    perturbations = [
        coordinates(next(trace for trace in data if trace.get("name") == "θ + σg_i"))
        for data in (meta_before, figure_data(at, 3))
    ]
    assert [len(points) for points in perturbations] == [16, 40]  # 8 and then 20 antithetic pairs
    few = metrics(at)["Error"]
    at.slider(key="learn.pairs").set_value(200).run()
    assert abs(float(metrics(at)["Error"])) < abs(float(few))  # seeded: 20 samples vs 400
    before = figure_data(at, 2)
    at.slider(key="learn.queries").set_value(40).run()
    assert figure_data(at, 2) != before and not at.exception


# --- Replay ------------------------------------------------------------------------------------------


def test_replay_preselects_this_tabs_run_and_keeps_one_choice_per_task(runs_dir):
    RunStore.create(runs_dir / "swimmer-run", TrainConfig(task="fb_swimmer", **QUICK, iterations=1)).close()
    store = RunStore.open(runs_dir / "swimmer-run")
    at = open_page("1_Train", run=store.name)  # the tab's run, as after training it here
    at.switch_page("pages/3_Replay.py").run()
    assert at.selectbox(key="replay.task").value == "fb_swimmer"
    assert at.selectbox(key="replay.source.fb_swimmer").value == str(store.path)
    at.selectbox(key="replay.source.fb_swimmer").set_value("fresh").run()
    at.selectbox(key="replay.task").set_value("fb_ant").run()
    assert "pretrained" in at.selectbox(key="replay.source.fb_ant").format_func(
        at.selectbox(key="replay.source.fb_ant").value
    )  # not the untrained policy chosen on another task


def rendered_replay(task: str) -> AppTest:
    at = open_page("3_Replay")
    at.selectbox(key="replay.task").set_value(task).run()
    assert "pretrained" in at.selectbox(key=f"replay.source.{task}").format_func(
        at.selectbox(key=f"replay.source.{task}").value
    )  # a meta-policy worth adapting is shown first, not the untrained one
    at.toggle(key="replay.render").set_value(True).run()
    assert not at.exception, at.exception
    return at


def test_replay_shows_the_meta_policy_beside_its_forward_and_backward_adaptations(runs_dir):
    at = rendered_replay("fb_swimmer")
    assert len(at.get("video")) == 3
    assert [metric.label for metric in at.metric] == [
        f"Return on the {name} task" for name in ("forward",) * 2 + ("backward",)
    ]
    directions = [text.value for text in at.markdown if "mean x-velocity" in text.value]
    assert len(directions) == 3 and "→ forward" in directions[1] and "← backward" in directions[2]
    assert not any("upright" in caption.value for caption in at.caption)  # the swimmer has no such bonus
    traces = figure_data(at)
    assert [trace["name"] for trace in traces] == [
        "Meta-policy",
        "Adapted to forward",
        "Adapted to backward",
    ]
    forward, backward = (coordinates(trace, "y")[-1] for trace in traces[1:])
    assert forward > 0 > backward  # x-displacement: the two adaptations travel opposite ways


def test_replay_says_plainly_when_adaptation_did_not_help(runs_dir):
    at = rendered_replay("fb_walker")  # seed 0: hill climbing kept a lucky query for the forward task
    warnings = [warning.value for warning in at.warning]
    assert len(warnings) == 1 and "did not help" in warnings[0] and "hill climbing" in warnings[0]
    assert "lucky" in warnings[0]
    watched = [caption.value for caption in at.caption if "shown for watching, not scored" in caption.value]
    assert len(watched) == 3  # 0.8 s of scored walking, filmed for 4 s
    assert any("plus 1 for each step it stays upright" in caption.value for caption in at.caption)


def test_replay_says_how_to_start_before_anything_is_rendered(runs_dir):
    at = open_page("3_Replay")
    assert not at.get("video") and "Switch on **Render**" in at.info[0].value


def test_replay_films_the_cartpole_before_and_after_adapting_to_a_bias(runs_dir):
    at = rendered_replay("biased_sensor_cartpole")
    assert len(at.get("video")) == 2
    assert [metric.label for metric in at.metric] == ["Return on the bias +0.15 task"] * 2
    assert [trace["name"] for trace in figure_data(at)] == [
        "Meta-policy",
        "Meta-policy: fell",  # trusting the biased sensor, it drifts off the track
        "Adapted to bias +0.15 rad",
    ]
    endings = [caption.value for caption in at.caption if "Fell at" in caption.value or "Scored" in caption.value]
    assert endings[0].startswith("Fell at") and endings[1].startswith("Scored for the whole")


def test_a_dashboard_started_without_an_address_serves_nothing(runs_dir, monkeypatch):
    """Started outside the project folder without --server.address, Streamlit listens on every interface."""
    real_get_option = st.get_option
    monkeypatch.setattr(st, "get_option", lambda name: None if name == "server.address" else real_get_option(name))
    at = open_page()
    assert "without a network address" in at.error[0].value and "esmaml dashboard" in at.error[0].value
    assert not at.button  # nothing else is drawn


# --- Results ---------------------------------------------------------------------------------------


def test_results_page_shows_each_findings_verdict_figures_and_table_from_the_shipped_summaries():
    from esmaml_core.findings import FINDINGS, RESULTS_DIR, summarize

    at = open_page("6_Results")
    for name, finding in FINDINGS.items():
        at.radio(key="results.finding").set_value(name).run()
        assert not at.exception, at.exception
        verdict = finding.verdict(summarize(finding, RESULTS_DIR))
        assert any(f"Verdict: {verdict.outcome}" in heading.value for heading in at.markdown)
        assert len(at.get("plotly_chart")) == len(finding.tasks)
        table = at.dataframe[0].value
        assert list(table["arm"]) == [arm.label for arm in finding.arms]
