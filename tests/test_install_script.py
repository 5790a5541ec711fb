"""scripts/install.sh on a stock machine, simulated: only python3, no root, apt packages missing.

Stubs on PATH stand in for the system: ``id`` says a normal user, ``dpkg-query`` finds no
package, ``python`` and ``pip`` fail if called at all, and the interpreter (and the
environment's own python) record how they were called instead of installing anything.
"""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_APT = ["libegl1", "libegl-mesa0", "libgl1-mesa-dri", "libosmesa6", "ffmpeg"]


def stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/bash\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def stock_machine(tmp_path):
    """(run the script with these args, the call log): a non-root Debian user whose python3 lacks ensurepip."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    stub(bin_dir, "id", "echo 1000")
    stub(bin_dir, "dpkg-query", "exit 1")
    for forbidden in ("python", "pip", "pip3", "sudo", "apt-get"):
        stub(bin_dir, forbidden, f'echo "{forbidden} called" >> {calls}; exit 97')
    has_ensurepip = tmp_path / "has_ensurepip"
    stub(
        bin_dir,
        "python3",
        f'echo "python3 $*" >> {calls}\n'
        'case "$*" in\n'
        f"  *ensurepip*) [[ -e {has_ensurepip} ]] ;;\n"
        '  --version) echo "Python 3.11.2" ;;\n'
        '  "-m venv "*) mkdir -p "$3/bin" && cp "$0" "$3/bin/python" ;;\n'
        "esac",
    )
    venv = tmp_path / "venv"

    def run(*args: str, ensurepip: bool) -> subprocess.CompletedProcess:
        if ensurepip:
            has_ensurepip.touch()
        environment = {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "ESMAML_PYTHON": "python3",
            "ESMAML_VENV": str(venv),
            "HOME": str(tmp_path),
        }
        return subprocess.run(
            ["bash", str(ROOT / "scripts/install.sh"), *args],
            capture_output=True,
            text=True,
            env=environment,
            cwd=tmp_path,
            timeout=60,
        )

    return run, calls


def test_without_python3_venv_a_normal_user_is_told_what_to_install_and_it_stops(stock_machine):
    run, calls = stock_machine
    done = run("--dev", ensurepip=False)
    assert done.returncode == 1
    assert "python3-venv: needed for everything: the project's virtual environment cannot be made" in done.stderr
    assert "libegl1: needed for MuJoCo video" in done.stderr
    assert "chromium: needed for the browser tests" in done.stderr
    expected = " ".join(["python3-venv", *RUNTIME_APT, "chromium"])
    assert f"install them with: sudo apt-get install {expected}\n" in done.stderr
    assert "error: cannot make the virtual environment without python3-venv" in done.stderr
    assert "called" not in (calls.read_text() if calls.exists() else "")


def test_with_python3_venv_everything_goes_into_the_environment_and_missing_gl_is_only_reported(stock_machine):
    run, calls = stock_machine
    done = run(ensurepip=True)
    assert done.returncode == 0, done.stderr
    assert "python3-venv" not in done.stderr and "chromium" not in done.stderr
    assert f"install them with: sudo apt-get install {' '.join(RUNTIME_APT)}\n" in done.stderr
    log = calls.read_text()
    assert "called" not in log  # never bare python, pip, sudo or apt-get
    assert "-m venv" in log
    assert "-m pip install -q --disable-pip-version-check -r requirements.txt" in log
    assert "-m pip install -q --disable-pip-version-check --no-deps -e ." in log


def readme_quick_start_commands() -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    return [line for line in lines if line.startswith("bash scripts/install.sh")]


@pytest.mark.parametrize("pytest_status, ci_status", [(0, 0), (1, 1), (5, 1)])
def test_ci_runs_the_readmes_test_command_and_fails_when_no_test_ran(tmp_path, pytest_status, ci_status):
    """.ci/run in a copy of the project whose install succeeds and whose pytest exits with ``pytest_status``."""
    dashboard, tests = readme_quick_start_commands()[:2]
    assert dashboard == "bash scripts/install.sh && .venv/bin/esmaml dashboard"
    assert tests == "bash scripts/install.sh --dev && .venv/bin/python -m pytest"
    ci = (ROOT / ".ci/run").read_text()
    assert tests in ci.splitlines()
    for folder in (".ci", "scripts", ".venv/bin"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / ".ci/run").write_text(ci)
    stub(tmp_path / "scripts", "install.sh", f'echo "install $*" >> {tmp_path}/calls.log')
    stub(tmp_path / ".venv/bin", "python", f'echo "python $*" >> {tmp_path}/calls.log; exit {pytest_status}')
    done = subprocess.run(["bash", str(tmp_path / ".ci/run")], capture_output=True, text=True, timeout=60)
    assert done.returncode == ci_status
    assert (tmp_path / "calls.log").read_text() == "install --dev\npython -m pytest\n"
    assert ("collected no tests" in done.stderr) == (pytest_status == 5)
