"""``esmaml dashboard``: start the Streamlit app with the project's settings, from any working folder.

Streamlit reads ``.streamlit/config.toml`` only from the folder it is started in, so the
launcher reads the project's file itself and passes every setting as a command-line flag,
then adds its own: the address (127.0.0.1 unless ``--host``), a port (a free one unless
``--port``), headless (no browser is opened and no e-mail prompt is shown; the URL is
printed instead) and no usage statistics. ``--runs-dir`` sets ``$ESMAML_RUNS_DIR``, where
the dashboard keeps its runs. The command is built by pure functions; ``run_dashboard``
replaces this process with the Streamlit server, so its PID is the server's.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from esmaml_core.assets import PROJECT_ROOT
from esmaml_core.config import ConfigError
from esmaml_core.runs import RUNS_DIR_ENV, runs_root

APP_ENTRY = PROJECT_ROOT / "app" / "Home.py"
PROJECT_SETTINGS = PROJECT_ROOT / ".streamlit" / "config.toml"
DEFAULT_HOST = "127.0.0.1"
STARTUP_SECONDS = 60  # how long running_dashboard waits for the server to answer
SYSTEM_CHROMIUM = Path("/usr/bin/chromium")  # Debian's; browser automation drives it (never a downloaded one)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu"]
RERUN_START_MS = 210  # Streamlit's e2e tests wait this long for a requested rerun to start


@dataclass(frozen=True)
class DashboardOptions:
    """Where the dashboard listens and where it keeps runs."""

    host: str = DEFAULT_HOST
    port: int | None = None  # None: a free port on host
    runs_dir: Path | None = None  # None: $ESMAML_RUNS_DIR, else <project>/runs


def flatten_settings(table: dict, prefix: str = "") -> dict[str, object]:
    """``{"server": {"address": "x"}}`` -> ``{"server.address": "x"}``: Streamlit's option names."""
    settings = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        settings |= flatten_settings(value, f"{name}.") if isinstance(value, dict) else {name: value}
    return settings


def read_project_settings(path: Path = PROJECT_SETTINGS) -> dict[str, object]:
    """The project's Streamlit settings, flattened (empty if the file is missing)."""
    return flatten_settings(tomllib.loads(path.read_text())) if path.is_file() else {}


def launch_settings(project_settings: dict[str, object], host: str, port: int) -> dict[str, object]:
    """The project's settings with the launcher's own on top (they always win)."""
    return project_settings | {
        "server.address": host,
        "server.port": port,
        "server.headless": True,
        "browser.gatherUsageStats": False,
    }


def setting_flag(name: str, value: object) -> str:
    shown = str(value).lower() if isinstance(value, bool) else str(value)
    return f"--{name}={shown}"


def streamlit_command(settings: dict[str, object], python: str = sys.executable) -> list[str]:
    """``python -m streamlit run <project>/app/Home.py --name=value ...``."""
    flags = [setting_flag(name, value) for name, value in settings.items()]
    return [python, "-m", "streamlit", "run", str(APP_ENTRY), *flags]


def dashboard_environment(runs_dir: Path | None, environment: dict[str, str]) -> dict[str, str]:
    """``environment`` with ``$ESMAML_RUNS_DIR`` set to an absolute runs folder."""
    chosen = Path(runs_dir) if runs_dir is not None else runs_root()
    return {**environment, RUNS_DIR_ENV: str(chosen.expanduser().resolve())}


def choose_port(host: str, port: int | None) -> int:
    """``port`` if it can be opened on ``host``, else a ConfigError naming --port or --host; None: a free port."""
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError("port", port, "must be in [1, 65535]")
    with socket.socket() as probe:
        try:
            probe.bind((host, port or 0))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ConfigError(
                    "port", port, f"is in use on {host}; choose another or leave --port out for a free one"
                ) from None
            raise ConfigError("host", host, f"cannot listen there ({error.strerror or error})") from None
        return probe.getsockname()[1]


def dashboard_url(host: str, port: int) -> str:
    return f"http://{host}:{port}"


def run_dashboard(options: DashboardOptions) -> None:
    """Print the URL, then become the Streamlit server (never returns)."""
    if not APP_ENTRY.is_file():
        raise ConfigError("dashboard", str(APP_ENTRY), "the dashboard runs from a source checkout holding app/")
    port = choose_port(options.host, options.port)
    environment = dashboard_environment(options.runs_dir, dict(os.environ))
    command = streamlit_command(launch_settings(read_project_settings(), options.host, port))
    print(f"ES-MAML Studio: {dashboard_url(options.host, port)}  (runs in {environment[RUNS_DIR_ENV]}; Ctrl-C stops)")
    sys.stdout.flush()
    os.execve(command[0], command, environment)


def wait_until_healthy(url: str, server: subprocess.Popen, seconds: float = STARTUP_SECONDS) -> None:
    """Return once the dashboard at ``url`` answers its health check; RuntimeError if it exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the dashboard exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"the dashboard did not answer at {url} within {seconds:.0f} s")


@contextmanager
def running_dashboard(runs_dir: Path, environment: dict[str, str] | None = None) -> Iterator[str]:
    """A dashboard in the background over ``runs_dir`` on 127.0.0.1: yields its URL once healthy, then stops it.

    It is ``python -m esmaml_core dashboard`` started in ``runs_dir`` (so the project's settings
    must come from the launcher, not from the working folder); its log is ``runs_dir/streamlit.log``.
    """
    port = choose_port(DEFAULT_HOST, None)
    command = [sys.executable, "-m", "esmaml_core", "dashboard", "--port", str(port), "--runs-dir", str(runs_dir)]
    with open(runs_dir / "streamlit.log", "w") as log:
        server = subprocess.Popen(
            command, cwd=runs_dir, env=environment or dict(os.environ), stdout=log, stderr=subprocess.STDOUT
        )
        try:
            url = dashboard_url(DEFAULT_HOST, port)
            wait_until_healthy(url, server)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


def wait_for_script_run(page, timeout: float = 60_000) -> None:
    """Wait until the Playwright ``page``'s script run has ended (as Streamlit's own e2e tests wait).

    A button clicked mid-run can be lost to the run that replaces it, or point at a media
    file that run replaces. The first pause covers the round trip before a rerun that an
    input has just requested shows as running.
    """
    page.wait_for_timeout(RERUN_START_MS)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=timeout
    )


def start_training_in_browser(page, iterations: int, seed: int) -> float:
    """Fill the Train form of an open dashboard page, press Start; the seconds until the first live curve.

    ``page`` is a Playwright page (tests/test_browser.py, bench/first_figure.py) on the Train page.
    Each filled field reruns the script; Start is pressed once the last rerun has ended.
    """
    page.get_by_role("heading", name="Train", level=1).wait_for()
    for label, value in (("Meta-iterations", iterations), ("Seed", seed)):
        field = page.get_by_role("spinbutton", name=label)
        field.fill(str(value))
        field.press("Enter")
    wait_for_script_run(page)
    started = time.monotonic()
    page.get_by_role("button", name="Start training").click()
    # a curve with data: the first trace is the pre-adaptation band, which may have no area (std 0)
    page.locator(".js-plotly-plot .scatterlayer .trace >> visible=true").first.wait_for(timeout=15_000)
    return time.monotonic() - started


def add_dashboard_parser(commands) -> None:
    """The ``dashboard`` subcommand on an argparse subparsers object."""
    dashboard = commands.add_parser("dashboard", help="start the Streamlit dashboard and print its URL")
    dashboard.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST})")
    dashboard.add_argument("--port", type=int, default=None, help="port to listen on (default: a free port)")
    dashboard.add_argument(
        "--runs-dir",
        type=Path,
        default=None,
        help=f"where runs are kept (default: ${RUNS_DIR_ENV}, else <project>/runs)",
    )


def command_dashboard(args: argparse.Namespace) -> int:
    run_dashboard(DashboardOptions(host=args.host, port=args.port, runs_dir=args.runs_dir))
    return 0
