#!/usr/bin/env bash
# Interop tests: real clients (boto3, botocore, google-auth, google-cloud-iam, PyJWT, hvac) against
# `authsim serve`. Installs the pinned clients into ci/interop/.venv from the package index, starts
# the mocks on ephemeral loopback ports (plus a second, sealed server for hvac's unseal), runs
# pytest, and stops both servers with SIGTERM.
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
sealed_log="$work/sealed.log"
"$root/target/debug/authsim" serve --vault-port 0 --aws-port 0 --google-port 0 \
  --write-endpoints "$work/endpoints.json" --write-env "$work/authsim.env" >"$log" 2>&1 &
pid=$!
# A second server, sealed, for hvac's sys.submit_unseal_keys.
mkdir -p "$work/sealed"
"$root/target/debug/authsim" serve --sealed --vault-port 0 --aws-port 0 --google-port 0 \
  --write-endpoints "$work/sealed/endpoints.json" >"$sealed_log" 2>&1 &
sealed_pid=$!
cleanup() { kill "$pid" "$sealed_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

wait_ready() { # pid log
  for _ in $(seq 1 200); do
    grep -q '^ready$' "$2" && return 0
    kill -0 "$1" 2>/dev/null || { echo "interop: authsim serve exited:" >&2; cat "$2" >&2; exit 2; }
    sleep 0.05
  done
  grep -q '^ready$' "$2" || { echo "interop: authsim serve never printed ready" >&2; cat "$2" >&2; exit 2; }
}
wait_ready "$pid" "$log"
wait_ready "$sealed_pid" "$sealed_log"

status=0
AUTHSIM_ENDPOINTS="$work/endpoints.json" AUTHSIM_SEALED_ENDPOINTS="$work/sealed/endpoints.json" \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider "$here" || status=$?

# Graceful shutdown on SIGTERM: each server must exit 0.
for p in "$pid" "$sealed_pid"; do
  kill -TERM "$p"
  if ! wait "$p"; then
    echo "interop: authsim serve (pid $p) did not exit cleanly on SIGTERM" >&2
    cat "$log" "$sealed_log" >&2
    status=1
  fi
done
trap 'rm -rf "$work"' EXIT
exit "$status"
