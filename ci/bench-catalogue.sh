#!/usr/bin/env bash
# Times the whole scenario catalogue against the embedded mock Vault (target: under 5 s wall on
# 2 cores). Measured, never asserted: prints the best and median of N runs.
#
# Usage: ci/bench-catalogue.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release --locked -q -p authsim
bin=target/release/authsim
count=$("$bin" run --check scenarios | awk '{print $1}')
times=()
for _ in $(seq 1 "$runs"); do
    start=$(date +%s%N)
    "$bin" run scenarios >/dev/null
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000000 )))
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
best=$(echo "$sorted" | head -n1)
median=$(echo "$sorted" | sed -n "$(( (runs + 1) / 2 ))p")
echo "catalogue: $count scenarios on $(nproc) cores; wall ms over $runs runs: best $best, median $median (target < 5000)"
