#!/usr/bin/env bash
# The whole test suite: Rust tests, then interop tests with real clients (boto3, google-auth,
# google-cloud-iam, PyJWT) installed into a venv by ci/interop/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --workspace
if [ -x ci/interop/run.sh ]; then
  ci/interop/run.sh
fi
