#!/usr/bin/env bash
# Measures, in one run on this machine, the request rates of the mock endpoints against a trivial
# endpoint of the same server (wrk as the load tool), and signJwt against the raw RSA-2048 signing
# rate of the crypto library the mock uses (ring). Prints a table of rates and ratios.
#
#   bash ci/bench-mocks.sh [DURATION_SECONDS]      (default 10)
#
# Installs wrk with apt-get when it is missing. Traffic goes to loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
threads=2
conns=32

if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk" >&2
  (apt-get update -qq && apt-get install -y -qq wrk) >&2
fi
cargo build --locked --release -q -p authsim --bin authsim -p authsim-benches --bin bench-prep
bin=target/release

work="$(mktemp -d)"
"$bin/authsim" serve --aws-port 0 --google-port 0 --vault-port 0 --write-endpoints "$work/endpoints.json" >"$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 200); do grep -q '^ready$' "$work/serve.log" && break; sleep 0.05; done
grep -q '^ready$' "$work/serve.log" || { cat "$work/serve.log" >&2; exit 2; }

aws=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["aws"]["endpoint"])' "$work/endpoints.json")
google=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["google"]["endpoint"])' "$work/endpoints.json")
sa=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["google"]["service_account"])' "$work/endpoints.json")

"$bin/bench-prep" sts-lua "$work/endpoints.json" >"$work/sts.lua"
"$bin/bench-prep" signjwt-lua "$work/endpoints.json" >"$work/signjwt.lua"
"$bin/bench-prep" vault-aws-login-lua "$work/endpoints.json" >"$work/awslogin.lua"
"$bin/bench-prep" vault-gcp-login-lua "$work/endpoints.json" >"$work/gcplogin.lua"
vault=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vault"]["addr"])' "$work/endpoints.json")
# The status check runs Lua on every response, so it lives in separate scripts used only for the
# one-second check: the measured runs carry no per-response Lua, like the trivial endpoint's.
for s in sts signjwt awslogin gcplogin; do
  cp "$work/$s.lua" "$work/$s-check.lua"
  cat >>"$work/$s-check.lua" <<'LUA'
response = function(status, headers, body)
  if status ~= 200 then io.stderr:write("unexpected status " .. status .. "\n") end
end
LUA
done

# A request that fails would make the rate meaningless: check each once first.
check() { # url lua
  local code
  code=$(wrk -t1 -c1 -d1s -s "$2" "$1" 2>&1 | grep -c 'unexpected status' || true)
  [ "$code" = "0" ] || { echo "bench: $1 does not answer 200" >&2; exit 2; }
}
check "$aws/" "$work/sts-check.lua"
check "$google/v1/projects/-/serviceAccounts/$sa:signJwt" "$work/signjwt-check.lua"
check "$vault/v1/auth/aws/login" "$work/awslogin-check.lua"
check "$vault/v1/auth/gcp/login" "$work/gcplogin-check.lua"

rate() { # wrk args... -> requests/sec
  wrk -t"$threads" -c"$conns" -d"${secs}s" "$@" 2>/dev/null | awk '/^Requests\/sec:/ {print $2}'
}
# Journal recording stays on: it is part of what a request costs in `authsim serve`.
trivial=$(rate "$aws/__authsim/health")
sts=$(rate -s "$work/sts.lua" "$aws/")
signjwt=$(rate -c 8 -s "$work/signjwt.lua" "$google/v1/projects/-/serviceAccounts/$sa:signJwt")
# End to end: the mock Vault verifies each login through the cloud mocks over loopback HTTP
# (AWS: forwards to STS, which checks SigV4; GCP: fetches certificates, verifies RS256, calls
# serviceAccounts.get).
awslogin=$(rate -s "$work/awslogin.lua" "$vault/v1/auth/aws/login")
gcplogin=$(rate -s "$work/gcplogin.lua" "$vault/v1/auth/gcp/login")
kill "$pid"; wait "$pid" 2>/dev/null || true
rsa=$("$bin/bench-prep" rsa-rate "$secs" "$threads")

python3 - "$trivial" "$sts" "$signjwt" "$rsa" "$awslogin" "$gcplogin" "$secs" <<'PY'
import sys
trivial, sts, signjwt, rsa, awslogin, gcplogin = (float(x) for x in sys.argv[1:7])
print(f"authsim mock benchmarks ({sys.argv[7]} s each, wrk -t2 -c32, {__import__('os').cpu_count()} cores)")
print()
print("| measurement | rate (/s) | ratio | target |")
print("|---|---:|---:|---|")
print(f"| trivial endpoint (`GET /__authsim/health`) | {trivial:,.0f} | 1.00 | reference |")
print(f"| STS `GetCallerIdentity`, full SigV4 verification | {sts:,.0f} | {sts/trivial:.2f} x trivial | >= 0.5 |")
print(f"| raw RSA-2048 signing, ring, 2 threads | {rsa:,.0f} | 1.00 | reference |")
print(f"| `signJwt` over HTTP | {signjwt:,.0f} | {signjwt/rsa:.2f} x RSA | >= 0.8 |")
print(f"| Vault `auth/aws/login` (iam) end to end, replayed login | {awslogin:,.0f} | {awslogin/trivial:.2f} x trivial | >= 0.25 |")
print(f"| Vault `auth/gcp/login` (iam) end to end, replayed JWT | {gcplogin:,.0f} | {gcplogin/rsa:.2f} x RSA | see note |")
PY
