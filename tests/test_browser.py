"""The dashboard in a real browser: a Streamlit server driven by Playwright with Debian's Chromium.

Starts ``streamlit run app/Home.py`` on a free local port with a temporary runs folder,
trains a short Four Corner run by clicking (while a second tab trains another), reloads
the tab (the run comes back from the URL), then opens Explore, Replay, Compare (downloading
the figure as PNG) and Learn, and saves a screenshot of each page: in the test's temporary
folder, or, to refresh the README's dashboard tour, where ``$ESMAML_SCREENSHOTS_DIR`` says
(``ESMAML_SCREENSHOTS_DIR=docs/img python -m pytest tests/test_browser.py``).
A third drives training jobs: a run goes on after its tab is closed, pauses, continues,
stops and resumes, is shown interrupted (with Resume) by a dashboard restarted on the same
runs folder, and a finished run trains N more and reopens with its settings in the sidebar;
its screenshot of Train (a job running, another finished) is the README's train.png.
Another test visits every page with every request that would leave 127.0.0.1 blocked and
recorded, and opens the Compare page's HTML download offline: nothing may be fetched from
the internet. Needs ``pip install playwright`` and ``apt-get install chromium``
(scripts/install.sh --dev); it never downloads a browser.
"""

import os
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from esmaml_core import jobs
from esmaml_core.comparison import list_runs
from esmaml_core.config import TrainConfig
from esmaml_core.jobs import JobState
from esmaml_core.launcher import CHROMIUM_ARGS, SYSTEM_CHROMIUM, start_training_in_browser, wait_for_script_run
from tests.dashboard_server import running_dashboard
from tests.job_helpers import kill_jobs, train_saved_run, wait_for

sync_api = pytest.importorskip("playwright.sync_api")
SCREENSHOTS_DIR_ENV = "ESMAML_SCREENSHOTS_DIR"
TALL = {"width": 1440, "height": 1750}
LECTURE_SCREEN = {"width": 1280, "height": 720}  # a projector: the lecture view must fit it without scrolling
PAGES = ("Train", "Explore", "Replay", "Compare", "Learn", "Results")
LOCAL_SCHEMES = ("data", "blob", "file")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SYSTEM_CHROMIUM.exists(), reason="needs Debian's chromium (scripts/install.sh --dev)"),
]


@pytest.fixture
def server_url(tmp_path):
    """A running dashboard over a runs folder that already holds a short PG-MAML run for Explore."""
    train_saved_run(tmp_path, TrainConfig.for_method(method="pg_maml", iterations=15, task_batch=10))
    with running_dashboard(tmp_path) as url:
        yield url
    kill_jobs(tmp_path)


def open_page(page, name: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name).click()
    page.get_by_role("heading", name=name, level=1).wait_for()


def test_train_explore_and_replay_in_a_browser(server_url, tmp_path):
    screenshots = Path(os.environ.get(SCREENSHOTS_DIR_ENV) or tmp_path / "screenshots")
    screenshots.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(SYSTEM_CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(server_url)
            train_link = page.get_by_test_id("stMainBlockContainer").get_by_role("link", name="Train")
            train_link.wait_for(timeout=30_000)
            page.get_by_text("the ideas of ES-MAML").wait_for()

            train_link.click()
            first_figure_seconds = start_training_in_browser(page, iterations=25, seed=0)
            other_tab = browser.new_page()  # another browser session training at the same time
            other_tab.goto(f"{server_url}/Train")
            start_training_in_browser(other_tab, iterations=10, seed=1)
            other_tab.get_by_text("finished · iteration 10 of 10").first.wait_for(timeout=90_000)
            page.get_by_text("finished · iteration 25 of 25").first.wait_for(timeout=90_000)
            es_runs = list_runs(tmp_path, method="es_maml")
            assert {run.config.seed: run.iterations_done for run in es_runs} == {0: 25, 1: 10}
            other_tab.close()
            print(f"first live figure after {first_figure_seconds:.2f} s")  # timed by bench/first_figure.py

            page.reload()  # a refreshed tab reopens its run from the URL
            page.get_by_text("finished · iteration 25 of 25").first.wait_for(timeout=30_000)
            page.locator(".js-plotly-plot").first.wait_for(timeout=10_000)

            page.set_viewport_size(TALL)
            open_page(page, "Explore")  # this tab's run beside the saved PG-MAML run (explore.png: the lecture test)
            page.locator(".js-plotly-plot").nth(1).wait_for(timeout=30_000)  # ES-MAML and PG-MAML side by side
            sync_api.expect(page.get_by_text("corners visited")).to_have_count(2)

            open_page(page, "Replay")  # the pretrained swimmer, unadapted and adapted both ways
            page.get_by_label("Task", exact=True).wait_for()
            page.get_by_test_id("stCheckbox").get_by_text("Render", exact=True).click()  # the toggle, not the hint
            page.locator("video").nth(2).wait_for(timeout=90_000)
            sync_api.expect(page.locator("video")).to_have_count(3)
            sync_api.expect(page.get_by_text("→ forward")).not_to_have_count(0)
            sync_api.expect(page.get_by_text("← backward")).not_to_have_count(0)
            page.locator(".js-plotly-plot").first.wait_for(timeout=10_000)
            page.wait_for_timeout(1_500)  # first video frames
            page.screenshot(path=screenshots / "replay.png", full_page=True)

            open_page(page, "Compare")
            page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
            wait_for_script_run(page)
            with page.expect_download(timeout=60_000) as download:
                page.get_by_role("button", name="Download figure (PNG)").click()
            assert download.value.suggested_filename == "learning_curves.png"
            assert Path(download.value.path()).read_bytes().startswith(b"\x89PNG")
            page.screenshot(path=screenshots / "compare.png", full_page=True)

            open_page(page, "Learn")
            page.locator(".js-plotly-plot").nth(2).wait_for(timeout=30_000)
            page.locator(".katex").nth(3).wait_for(timeout=30_000)  # the formulas, typeset
            page.wait_for_timeout(1_000)
            page.screenshot(path=screenshots / "learn.png", full_page=True)
        finally:
            browser.close()


def assert_in_viewport(locator, viewport: dict) -> None:
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, box
    assert box["x"] + box["width"] <= viewport["width"] and box["y"] + box["height"] <= viewport["height"], box


def assert_panels_fit(page, panels: int) -> None:
    """``panels`` exploration plots drawn, each with its metrics, all inside the screen."""
    plots, metrics = page.locator(".js-plotly-plot"), page.get_by_text("area covered")
    sync_api.expect(plots).to_have_count(panels, timeout=60_000)  # the previous task's plots are gone
    sync_api.expect(metrics).to_have_count(panels, timeout=30_000)
    page.wait_for_timeout(500)  # the last layout pass
    for index in range(panels):
        assert_in_viewport(plots.nth(index), LECTURE_SCREEN)
        sync_api.expect(metrics.nth(index)).to_be_visible()
        assert_in_viewport(metrics.nth(index), LECTURE_SCREEN)


def test_the_lecture_view_fits_one_screen_from_a_single_click(tmp_path):
    """Home -> "Show the paper's exploration claim": both methods' paths and metrics on a 1280x720 screen.

    Then saved runs (two ES-MAML seeds, so a row of run pickers, and a PG-MAML run) fit it too.
    """
    screenshots = Path(os.environ.get(SCREENSHOTS_DIR_ENV) or tmp_path / "screenshots")
    screenshots.mkdir(parents=True, exist_ok=True)
    for values in ({"seed": 0}, {"seed": 1}, {"method": "pg_maml", "task_batch": 4}):
        train_saved_run(tmp_path, TrainConfig.for_method(iterations=2, **values))
    with running_dashboard(tmp_path) as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(SYSTEM_CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport=LECTURE_SCREEN)
            page.goto(url)
            page.get_by_role("button", name="Show the paper's exploration claim").click(timeout=30_000)
            page.get_by_role("heading", name="Explore", level=1).wait_for(timeout=30_000)
            for task in ("Four Corner", "2D Goal"):  # both ship an ES-MAML and a PG-MAML meta-policy
                page.get_by_role("radio", name=task, exact=True).click()
                assert_panels_fit(page, 2)
            page.screenshot(path=screenshots / "explore.png")
            page.get_by_role("radio", name="Four Corner", exact=True).click()
            page.get_by_role("radio", name="saved & live runs", exact=True).click()
            page.get_by_text("Meta-iteration").wait_for(timeout=30_000)
            assert_panels_fit(page, 2)
            assert page.evaluate("window.scrollY") == 0
        finally:
            browser.close()


def block_external_requests(context) -> list[str]:
    """Abort every request of ``context`` that would leave 127.0.0.1; returns the list they are recorded in."""
    external = []

    def handle(route):
        url = urlsplit(route.request.url)
        if url.scheme in LOCAL_SCHEMES or url.hostname == "127.0.0.1":
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    context.route("**/*", handle)
    return external


def test_no_page_and_no_download_reaches_the_internet(tmp_path):
    train_saved_run(tmp_path, TrainConfig(iterations=3, perturbations=8, queries=5, eval_tasks=4))
    with running_dashboard(tmp_path) as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(SYSTEM_CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport=TALL, accept_downloads=True)
            external = block_external_requests(context)
            page = context.new_page()
            page.goto(url)
            page.get_by_role("heading", name="ES-MAML Studio", level=1).wait_for(timeout=30_000)
            favicon = page.locator('link[rel="shortcut icon"], link[rel="icon"]').first.get_attribute("href")
            assert urlsplit(urljoin(page.url, favicon)).hostname == "127.0.0.1", favicon  # headless: never fetched
            for name in PAGES:
                open_page(page, name)
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(1_000)  # icons, fonts and figures load after the heading
            open_page(page, "Compare")
            page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
            wait_for_script_run(page)
            with page.expect_download(timeout=60_000) as download:
                page.get_by_role("button", name="Download figure (HTML)").click()
            exported = tmp_path / download.value.suggested_filename  # .html: opened as a page
            download.value.save_as(exported)
            assert b'<script src="http' not in exported.read_bytes()
            offline = context.new_page()
            offline.goto(exported.as_uri())
            offline.locator(".js-plotly-plot .scatterlayer .trace").first.wait_for(timeout=30_000)
            open_page(page, "Results")  # the shipped findings: a figure per task, drawn offline
            page.locator(".js-plotly-plot .scatterlayer .trace").first.wait_for(timeout=30_000)
            assert external == []
        finally:
            browser.close()


def iterations_done(root: Path) -> dict[int, int]:
    """Iterations done by each run under ``root``, by seed."""
    return {run.config.seed: run.iterations_done for run in list_runs(root)}


def shown_state(page, state: str, timeout: float = 60_000) -> None:
    """Wait until the shown run's progress line starts with ``state``."""
    page.get_by_test_id("stMainBlockContainer").get_by_text(state).first.wait_for(timeout=timeout)


def test_jobs_outlive_the_tab_and_the_dashboard_and_resume(tmp_path):
    """Start a run, close its tab, see it advanced in a new one; pause, continue, stop, resume; stop the
    dashboard and see the run interrupted by the next one, resume it; Train N more; a reopened run's settings."""
    screenshots = Path(os.environ.get(SCREENSHOTS_DIR_ENV) or tmp_path / "screenshots")
    screenshots.mkdir(parents=True, exist_ok=True)
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(SYSTEM_CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            try:
                with running_dashboard(tmp_path) as url:
                    tab = browser.new_context(viewport=TALL).new_page()
                    tab.goto(f"{url}/Train")
                    start_training_in_browser(tab, iterations=100_000, seed=0)
                    tab.context.close()  # the tab is gone
                    closed_at = iterations_done(tmp_path)[0]
                    later = browser.new_context(viewport=TALL).new_page()
                    time.sleep(2)
                    later.goto(f"{url}/Train")
                    later.get_by_text("Training jobs").wait_for(timeout=30_000)
                    later.get_by_text("running · iteration").first.wait_for(timeout=30_000)
                    wait_for(lambda: iterations_done(tmp_path)[0] > closed_at, 30)  # it went on without its tab
                    later.get_by_role("button", name="Show").click()
                    later.locator(".st-key-pause button").click()
                    shown_state(later, "paused · iteration")
                    time.sleep(0.5)  # an iteration under way when paused may still land
                    paused_at = iterations_done(tmp_path)[0]
                    time.sleep(1.0)
                    assert iterations_done(tmp_path)[0] == paused_at
                    later.locator(".st-key-continue button").click()
                    shown_state(later, "running · iteration")
                    wait_for(lambda: iterations_done(tmp_path)[0] > paused_at)
                    later.locator(".st-key-stop button").click()
                    shown_state(later, "stopped · iteration")
                    later.locator(".st-key-resume button").click()
                    shown_state(later, "running · iteration")
                    resumed_at = iterations_done(tmp_path)[0]
                    wait_for(lambda: iterations_done(tmp_path)[0] > resumed_at)
                    later.context.close()
                # the dashboard stopped: its job was interrupted with it, resumably
                (name,) = [path.stem for path in jobs.jobs_folder(tmp_path).glob("*.json")]
                wait_for(lambda: jobs.job(tmp_path, name).state is JobState.INTERRUPTED, 60)
                interrupted_at = iterations_done(tmp_path)[0]
                with running_dashboard(tmp_path) as url:
                    page = browser.new_context(viewport=TALL).new_page()
                    page.goto(f"{url}/Train")
                    page.get_by_text(f"interrupted · iteration {interrupted_at} of 100000").wait_for(timeout=30_000)
                    page.get_by_role("button", name="Resume").click()
                    page.get_by_text("running · iteration").first.wait_for(timeout=30_000)
                    wait_for(lambda: iterations_done(tmp_path)[0] > interrupted_at)

                    page.goto(url)  # Home names the job training now
                    page.get_by_text("Training now: Four Corner").wait_for(timeout=30_000)
                    page.set_viewport_size({"width": 1440, "height": 1000})
                    page.wait_for_timeout(500)  # icon font
                    page.screenshot(path=screenshots / "home.png")
                    page.set_viewport_size(TALL)
                    page.get_by_test_id("stMainBlockContainer").get_by_role("link", name="Train").click()
                    start_training_in_browser(page, iterations=3, seed=1)  # a second job beside the first
                    shown_state(page, "finished · iteration 3 of 3")
                    page.get_by_role("spinbutton", name="More iterations").fill("2")
                    page.get_by_role("spinbutton", name="More iterations").press("Enter")
                    page.get_by_role("button", name="Train 2 more").click()
                    shown_state(page, "finished · iteration 5 of 5")
                    assert iterations_done(tmp_path)[1] == 5
                    page.locator(".js-plotly-plot").first.wait_for(timeout=10_000)
                    page.wait_for_timeout(1_000)
                    page.screenshot(path=screenshots / "train.png", full_page=True)

                    fresh = browser.new_context(viewport=TALL).new_page()  # reopen the seed-1 run in a new tab
                    fresh.goto(f"{url}/Train")
                    sidebar = fresh.get_by_test_id("stSidebar")
                    sidebar.get_by_text("Open a saved run").click()
                    sidebar.get_by_label("Saved run").click()
                    fresh.get_by_role("option").filter(has_text="seed 1").click()
                    fresh.locator(".st-key-reopen button").click()
                    shown_state(fresh, "finished · iteration 5 of 5")
                    sync_api.expect(sidebar.get_by_role("spinbutton", name="Seed")).to_have_value("1")
                    sync_api.expect(sidebar.get_by_role("spinbutton", name="Meta-iterations")).to_have_value("5")
                    first_job = next(run.name for run in list_runs(tmp_path) if run.config.seed == 0)
                    row = fresh.get_by_test_id("stHorizontalBlock").filter(has_text=first_job)
                    row.get_by_role("button", name="Show").click()  # from the jobs list, drawn by the live fragment
                    sync_api.expect(sidebar.get_by_role("spinbutton", name="Seed")).to_have_value("0")
                    sync_api.expect(sidebar.get_by_role("spinbutton", name="Meta-iterations")).to_have_value("100000")
            finally:
                browser.close()
    finally:
        kill_jobs(tmp_path)
