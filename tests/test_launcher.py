"""``esmaml dashboard``: the Streamlit command it builds, its refusals, and a real start from another folder."""

import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from esmaml_core.cli import main
from esmaml_core.config import ConfigError
from esmaml_core.launcher import (
    APP_ENTRY,
    choose_port,
    dashboard_environment,
    flatten_settings,
    launch_settings,
    read_project_settings,
    streamlit_command,
    wait_until_healthy,
)
from esmaml_core.runs import RUNS_DIR_ENV
from tests.dashboard_server import this_checkout


def test_nested_settings_become_streamlit_option_names():
    table = {"server": {"address": "x", "port": 1}, "theme": {"base": "light"}, "top": True}
    assert flatten_settings(table) == {"server.address": "x", "server.port": 1, "theme.base": "light", "top": True}


def test_command_carries_the_project_settings_and_the_launchers_own():
    project = read_project_settings()
    assert project["theme.primaryColor"] == "#1f6feb"  # from .streamlit/config.toml
    command = streamlit_command(launch_settings(project, "127.0.0.1", 8765), python="py")
    assert command[:5] == ["py", "-m", "streamlit", "run", str(APP_ENTRY)]
    assert Path(command[4]).is_absolute() and Path(command[4]).is_file()
    flags = command[5:]
    for expected in (
        "--server.address=127.0.0.1",
        "--server.port=8765",
        "--server.headless=true",
        "--browser.gatherUsageStats=false",
        "--theme.primaryColor=#1f6feb",
        "--client.toolbarMode=minimal",
    ):
        assert expected in flags
    assert len({flag.split("=")[0] for flag in flags}) == len(flags)  # each option once


def test_launcher_settings_win_over_the_project_file():
    project = {"server.address": "0.0.0.0", "browser.gatherUsageStats": True, "theme.base": "dark"}
    settings = launch_settings(project, "127.0.0.1", 9000)
    assert settings["server.address"] == "127.0.0.1"
    assert settings["browser.gatherUsageStats"] is False
    assert settings["theme.base"] == "dark"


def test_runs_folder_is_passed_as_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert dashboard_environment(Path("my_runs"), {})[RUNS_DIR_ENV] == str(tmp_path / "my_runs")
    inherited = dashboard_environment(None, {"KEEP": "1"})
    assert inherited["KEEP"] == "1" and Path(inherited[RUNS_DIR_ENV]).is_absolute()


def test_a_taken_or_impossible_port_is_refused_by_name():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match="in use") as error:
            choose_port("127.0.0.1", port)
        assert error.value.field == "port"
    for impossible in (0, 70000):
        with pytest.raises(ConfigError, match=r"\[1, 65535\]"):
            choose_port("127.0.0.1", impossible)
    free = choose_port("127.0.0.1", None)
    assert 1 <= free <= 65535


def test_cli_reports_a_bad_port_in_one_line(capsys):
    assert main(["dashboard", "--port", "70000"]) == 2
    assert capsys.readouterr().err == "error: --port: got 70000; must be in [1, 65535]\n"


def test_dashboard_starts_from_another_folder_and_prints_its_url(tmp_path):
    """``python -m esmaml_core dashboard`` started outside the project answers on 127.0.0.1 at the URL it prints."""
    port = choose_port("127.0.0.1", None)
    runs_dir = tmp_path / "runs"
    command = [sys.executable, "-m", "esmaml_core", "dashboard", "--port", str(port), "--runs-dir", str(runs_dir)]
    server = subprocess.Popen(command, cwd=tmp_path, env=this_checkout(), stdout=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        assert server.stdout.readline().startswith(f"ES-MAML Studio: {url}  (runs in {runs_dir};")
        wait_until_healthy(url, server)
        with urllib.request.urlopen(url, timeout=10) as response:
            assert b"<title>Streamlit</title>" in response.read()
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert server.returncode is not None
