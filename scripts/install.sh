#!/usr/bin/env bash
# Installs everything ES-MAML Studio needs on a fresh Debian machine.
#   bash scripts/install.sh          runtime: library, CLI, dashboard
#   bash scripts/install.sh --dev    plus tests, lint and the browser used by the UI tests
# System packages (headless MuJoCo rendering, chromium) are installed with apt-get when
# running as root on a Debian-like system; otherwise they are only listed.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[[ "${1:-}" == "--dev" ]] && dev=1

system_packages=(libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 ffmpeg)
(( dev )) && system_packages+=(chromium)

missing=()
for package in "${system_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if (( ${#missing[@]} )); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "warning: please install these system packages: ${missing[*]}" >&2
  fi
fi

requirements=requirements.txt
(( dev )) && requirements=requirements-dev.txt
python -m pip install -q --disable-pip-version-check --root-user-action=ignore -r "$requirements"
# The package itself, editable: `python -m esmaml_core` and the app import it from anywhere.
python -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps -e .
