#!/usr/bin/env bash
# Runs the README's two quick-start commands literally, as read from README.md, in a fresh
# clone of this checkout's HEAD (committed work only): the dashboard command in the
# background until the URL it prints answers /_stcore/health, then stopped; then the test
# command. Prints what happened, each exit status and how many seconds each step took.
#   bash scripts/check_quickstart.sh            the clone goes to a new folder under /tmp, removed at the end
#   ESMAML_KEEP_CLONE=1 bash scripts/check_quickstart.sh    keeps it
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
readme_command() { grep -m1 -E "^bash scripts/install\.sh.*$1" "$root/README.md"; }
dashboard_command=$(readme_command dashboard)
test_command=$(readme_command pytest)
if [[ -z $dashboard_command || -z $test_command ]]; then
  echo "error: the README's quick-start commands were not found" >&2
  exit 1
fi
clone=$(mktemp -d /tmp/esmaml-quickstart.XXXXXX)
[[ -n ${ESMAML_KEEP_CLONE:-} ]] || trap 'rm -rf "$clone"' EXIT
git clone -q "$root" "$clone" && cd "$clone" || exit 1
echo "fresh clone of $(git rev-parse --short HEAD) in $clone"

healthy() {
  python3 -c 'import sys, urllib.request; sys.exit(urllib.request.urlopen(sys.argv[1], timeout=2).read() != b"ok")' \
    "$1/_stcore/health" 2>/dev/null
}

echo "\$ $dashboard_command   (in the background)"
started=$SECONDS
set -m  # the background job gets its own process group, stopped as a whole below
bash -c "$dashboard_command" >dashboard.log 2>&1 &
group=$!
set +m
url=""
while kill -0 "$group" 2>/dev/null && [[ -z $url ]] && (( SECONDS - started < 1800 )); do
  sleep 1
  url=$(sed -n 's/^ES-MAML Studio: \(http[^ ]*\).*/\1/p' dashboard.log)
done
installed=$((SECONDS - started))
until [[ -z $url ]] || healthy "$url" || ! kill -0 "$group" 2>/dev/null || (( SECONDS - started > 1900 )); do
  sleep 0.5
done
if [[ -n $url ]] && healthy "$url"; then
  dashboard_status="answered at $url after $((SECONDS - started)) s (URL printed after $installed s)"
else
  dashboard_status="FAILED: no healthy dashboard after $((SECONDS - started)) s"
fi
kill -- -"$group" 2>/dev/null
wait "$group" 2>/dev/null
grep -v "^WARNING: Location" dashboard.log | sed 's/^/  | /'  # pip's notes on this machine's extra indexes
echo "dashboard command: $dashboard_status; stopped"

echo "\$ $test_command"
started=$SECONDS
bash -c "$test_command" >tests.log 2>&1
test_status=$?
grep -E "^(making|installing|ready|error|warning)| passed| failed|^(FAILED|ERROR)" tests.log | sed 's/^/  | /'
echo "test command: exit $test_status after $((SECONDS - started)) s"

[[ $dashboard_status != FAILED* && $test_status -eq 0 ]]
