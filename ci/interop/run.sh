#!/usr/bin/env bash
# Interop tests: real clients (boto3, google-auth, google-cloud-iam, PyJWT) against `authsim serve`.
# Installs the pinned clients into ci/interop/.venv from the package index, starts the mocks on
# ephemeral loopback ports, runs pytest, and stops the server with SIGTERM.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"

if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -m venv "$venv" 2>/dev/null; then
    echo "interop: python3 -m venv failed; installing python3-venv" >&2
    rm -rf "$venv"
    (apt-get update -qq && apt-get install -y -qq python3-venv) >&2
    python3 -m venv "$venv"
  fi
fi
stamp="$venv/.requirements"
if ! cmp -s "$here/requirements.txt" "$stamp" 2>/dev/null; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$stamp"
fi

cargo build --locked -q -p authsim --bin authsim
work="$(mktemp -d)"
log="$work/serve.log"
"$root/target/debug/authsim" serve --aws-port 0 --google-port 0 \
  --write-endpoints "$work/endpoints.json" --write-env "$work/authsim.env" >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 200); do
  grep -q '^ready$' "$log" && break
  kill -0 "$pid" 2>/dev/null || { echo "interop: authsim serve exited:" >&2; cat "$log" >&2; exit 2; }
  sleep 0.05
done
grep -q '^ready$' "$log" || { echo "interop: authsim serve never printed ready" >&2; cat "$log" >&2; exit 2; }

status=0
AUTHSIM_ENDPOINTS="$work/endpoints.json" "$venv/bin/python" -m pytest -q -p no:cacheprovider "$here" || status=$?

# Graceful shutdown on SIGTERM: the server must exit 0.
kill -TERM "$pid"
if ! wait "$pid"; then
  echo "interop: authsim serve did not exit cleanly on SIGTERM" >&2
  cat "$log" >&2
  status=1
fi
trap 'rm -rf "$work"' EXIT
exit "$status"
