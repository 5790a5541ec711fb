#!/usr/bin/env bash
# Installs ES-MAML Studio into the project's virtual environment, .venv/ at the project root.
#   bash scripts/install.sh          runtime: library, CLI (.venv/bin/esmaml), dashboard
#   bash scripts/install.sh --dev    plus tests, lint, Ray and the browser used by the UI tests
# Works on a stock Debian 12 / Ubuntu 24.04 where only `python3` exists and the system pip is
# "externally managed" (PEP 668): nothing is installed into the system Python. Missing apt
# packages are installed when running as root; otherwise they are listed with what needs them.
# ESMAML_PYTHON (default python3) picks the interpreter, ESMAML_VENV (default .venv) the folder.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
case "${1:-}" in
  "") ;;
  --dev) dev=1 ;;
  *) echo "usage: bash scripts/install.sh [--dev]" >&2; exit 2 ;;
esac
python=${ESMAML_PYTHON:-python3}
venv=${ESMAML_VENV:-.venv}

if ! command -v "$python" >/dev/null; then
  echo "error: $python not found; install Python 3.11 or newer (apt-get install python3)" >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: ES-MAML Studio needs Python 3.11 or newer; $python is $("$python" --version 2>&1)" >&2
  exit 1
fi

# apt package -> what does not work without it
declare -A needed_for=(
  [libegl1]="MuJoCo video (Replay page, esmaml render): headless EGL"
  [libegl-mesa0]="MuJoCo video (Replay page, esmaml render): headless EGL"
  [libgl1-mesa-dri]="MuJoCo video (Replay page, esmaml render): headless EGL"
  [libosmesa6]="MuJoCo video with MUJOCO_GL=osmesa (software rendering)"
  [ffmpeg]="nothing the project calls directly (imageio-ffmpeg ships its own encoder); kept for video tools"
)
system_packages=(libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 ffmpeg)
if (( dev )); then
  needed_for[chromium]="the browser tests (tests/test_browser.py) and the Compare page's PNG download"
  system_packages+=(chromium)
fi
# A virtual environment needs ensurepip, which Debian ships separately in python3-venv.
if ! "$python" -c 'import ensurepip, venv' 2>/dev/null && [[ ! -x "$venv/bin/python" ]]; then
  needed_for[python3-venv]="everything: the project's virtual environment cannot be made"
  system_packages=(python3-venv "${system_packages[@]}")
fi

missing=()
if command -v dpkg-query >/dev/null; then
  for package in "${system_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
elif [[ -n "${needed_for[python3-venv]:-}" ]]; then
  missing=(python3-venv)
fi
if (( ${#missing[@]} )); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "warning: these apt packages are missing (not root, so not installed):" >&2
    for package in "${missing[@]}"; do
      echo "  $package: needed for ${needed_for[$package]}" >&2
    done
    echo "  install them with: sudo apt-get install ${missing[*]}" >&2
    if [[ -n "${needed_for[python3-venv]:-}" ]]; then
      echo "error: cannot make the virtual environment without python3-venv" >&2
      exit 1
    fi
  fi
fi

if [[ ! -x "$venv/bin/python" ]]; then
  echo "making the virtual environment $venv ($("$python" --version 2>&1))"
  "$python" -m venv "$venv"
fi
requirements=requirements.txt
(( dev )) && requirements=requirements-dev.txt
echo "installing $requirements into $venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
# The package itself, editable: `esmaml` and the app import this checkout from anywhere.
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e .
echo "ready: $venv/bin/esmaml dashboard starts the dashboard; $venv/bin/esmaml --help lists the commands"
