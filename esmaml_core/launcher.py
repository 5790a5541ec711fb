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
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from esmaml_core.assets import PROJECT_ROOT
from esmaml_core.config import ConfigError
from esmaml_core.runs import RUNS_DIR_ENV, runs_root

APP_ENTRY = PROJECT_ROOT / "app" / "Home.py"
PROJECT_SETTINGS = PROJECT_ROOT / ".streamlit" / "config.toml"
DEFAULT_HOST = "127.0.0.1"


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
