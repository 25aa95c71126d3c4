#!/usr/bin/env bash
# Runs the scenario catalogue against a real Vault: starts `vault server -dev` on loopback, runs
# `authsim run --vault-addr`, writes the reports, stops Vault. Not part of CI (it needs a `vault`
# binary); for users checking a Vault version, and for `authsim compare` before an upgrade:
#
#   VAULT_BIN=~/bin/vault-1.17.6 ci/real-vault.sh reports/1.17
#   VAULT_BIN=~/bin/vault-1.18.3 ci/real-vault.sh reports/1.18
#   authsim compare reports/1.17/report.json reports/1.18/report.json
#
# Usage: ci/real-vault.sh [OUT_DIR] [-- extra `authsim run` arguments]
# Environment: VAULT_BIN (default: vault on PATH), VAULT_PORT (default 18200), AUTHSIM (default:
# builds and uses target/release/authsim).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-reports/real-vault}
shift || true
[[ ${1:-} == "--" ]] && shift
vault_bin=${VAULT_BIN:-vault}
port=${VAULT_PORT:-18200}

if ! command -v "$vault_bin" >/dev/null 2>&1; then
    echo "error: no vault binary ('$vault_bin'): install Vault or set VAULT_BIN" >&2
    exit 2
fi
if [[ -z ${AUTHSIM:-} ]]; then
    cargo build --release --locked -q -p authsim
    AUTHSIM=target/release/authsim
fi
mkdir -p "$out"

token=authsim-root
"$vault_bin" server -dev -dev-root-token-id="$token" -dev-listen-address="127.0.0.1:$port" \
    >"$out/vault.log" 2>&1 &
vault_pid=$!
trap 'kill $vault_pid 2>/dev/null || true; wait $vault_pid 2>/dev/null || true' EXIT

addr="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
    if curl -fsS "$addr/v1/sys/health" >/dev/null 2>&1; then break; fi
    if ! kill -0 $vault_pid 2>/dev/null; then
        echo "error: vault exited; see $out/vault.log" >&2
        exit 2
    fi
    sleep 0.1
done
version=$("$vault_bin" version | head -n1)
echo "running the catalogue against $version at $addr"

status=0
"$AUTHSIM" run scenarios --vault-addr "$addr" --vault-token "$token" \
    --report-json "$out/report.json" --report-junit "$out/junit.xml" \
    --report-markdown "$out/report.md" "$@" || status=$?
echo "reports in $out/ (report.json, junit.xml, report.md); vault log in $out/vault.log"
exit $status
