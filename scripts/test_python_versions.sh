#!/usr/bin/env bash
# Runs the quick test suite (-m "not slow") under each Python given, each in its own virtual
# environment made by scripts/install.sh --dev (.venv-<version>/ at the project root).
#   bash scripts/test_python_versions.sh python3.11 python3.12
#   bash scripts/test_python_versions.sh /usr/bin/python3.12
# Prints one summary line per interpreter; exits non-zero if any run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
(( $# )) || { echo "usage: bash scripts/test_python_versions.sh PYTHON [PYTHON ...]" >&2; exit 2; }

summary=()
status=0
for python in "$@"; do
  version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || { summary+=("$python: not found"); status=1; continue; }
  venv=".venv-$version"
  started=$SECONDS
  if ESMAML_PYTHON="$python" ESMAML_VENV="$venv" bash scripts/install.sh --dev; then
    "$venv/bin/python" -m pytest -q -m "not slow" -p no:cacheprovider 2>&1 | tee "$venv/pytest.log" | tail -n 3
    result=${PIPESTATUS[0]}
    (( result == 5 )) && result=1  # no tests collected is a failure
    line=$(tail -n 1 "$venv/pytest.log")
  else
    result=1 line="install failed"
  fi
  (( result )) && status=1
  summary+=("Python $version ($("$venv/bin/python" --version 2>&1)): exit $result, $((SECONDS - started)) s: $line")
done
printf '%s\n' "${summary[@]}"
exit $status
