"""Seconds from pressing Start on the Train page to the first live learning curve, in Chromium.

Starts the dashboard headless (``launcher.running_dashboard``, as the browser tests do), then, ``--repeats`` times in a
fresh tab, trains a short Four Corner run with the dashboard's defaults and times the click
on Start until a curve with data is drawn. The baseline is the same run's first
meta-iteration as the server timed it (``wall_time`` of its first metrics row): the ratio is
what the page adds to the compute a curve needs. The last lines are the median seconds
(target: about 2) and the median ratio:

    python bench/first_figure.py [--repeats 3]

Needs Debian's chromium and Playwright (scripts/install.sh --dev).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from esmaml_core.comparison import list_runs
from esmaml_core.launcher import CHROMIUM_ARGS, SYSTEM_CHROMIUM, running_dashboard, start_training_in_browser

ITERATIONS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    figure_seconds = []
    with tempfile.TemporaryDirectory() as runs_dir, running_dashboard(Path(runs_dir)) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(SYSTEM_CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            for seed in range(args.repeats):
                page = browser.new_page(viewport={"width": 1440, "height": 1000})
                page.goto(f"{url}/Train")
                page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)  # the empty axes: plotly.js loaded
                figure_seconds.append(start_training_in_browser(page, iterations=ITERATIONS, seed=seed))
                page.get_by_text(f"finished · iteration {ITERATIONS} of {ITERATIONS}").first.wait_for(timeout=60_000)
                page.close()
        finally:
            browser.close()
        runs = sorted(list_runs(Path(runs_dir)), key=lambda run: run.config.seed)
        first_iteration_seconds = [run.metrics[0]["wall_time"] for run in runs]
    pairs = list(zip(figure_seconds, first_iteration_seconds, strict=True))
    for seed, (in_browser, on_server) in enumerate(pairs):
        print(f"seed {seed}: first live figure {in_browser:5.2f} s, first iteration on the server {on_server:5.2f} s")
    ratios = [in_browser / on_server for in_browser, on_server in pairs]
    print(f"seconds_to_first_figure: {statistics.median(figure_seconds):.2f}")
    print(f"ratio_vs_first_iteration: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
