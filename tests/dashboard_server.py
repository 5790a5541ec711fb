"""Start the dashboard headless on a free local port and drive its Train page (browser test, bench).

``running_dashboard`` is the launcher, ``python -m esmaml_core dashboard``, started in the
runs folder (not the project root, so the project's settings must come from the launcher)
on 127.0.0.1 over that runs folder, healthy before it yields its URL and stopped by its own
PID afterwards (the launcher becomes the Streamlit server).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from esmaml_core.launcher import choose_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu"]
STARTUP_SECONDS = 60


def wait_until_healthy(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not answer at {url} within {STARTUP_SECONDS} s")


def this_checkout() -> dict[str, str]:
    """The environment with this checkout first on PYTHONPATH, so a child process imports its esmaml_core."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


@contextmanager
def running_dashboard(runs_dir: Path) -> Iterator[str]:
    """The URL of a dashboard saving runs under ``runs_dir`` while it is up (log: ``runs_dir/streamlit.log``)."""
    port = choose_port("127.0.0.1", None)
    command = [sys.executable, "-m", "esmaml_core", "dashboard", "--port", str(port), "--runs-dir", str(runs_dir)]
    with open(runs_dir / "streamlit.log", "w") as log:
        server = subprocess.Popen(command, cwd=runs_dir, env=this_checkout(), stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_healthy(url, server)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


def start_training(page, iterations: int, seed: int) -> float:
    """Fill the Train form, press Start; returns the seconds until the first live figure."""
    page.get_by_role("heading", name="Train", level=1).wait_for()
    for label, value in (("Meta-iterations", iterations), ("Seed", seed)):
        field = page.get_by_role("spinbutton", name=label)
        field.fill(str(value))
        field.press("Enter")
    started = time.monotonic()
    page.get_by_role("button", name="Start training").click()
    # a curve with data: the first trace is the pre-adaptation band, which may have no area (std 0)
    page.locator(".js-plotly-plot .scatterlayer .trace >> visible=true").first.wait_for(timeout=15_000)
    return time.monotonic() - started
