#!/usr/bin/env bash
# The mock endpoints' part of the benchmark suite (ci/bench.sh): a trivial endpoint of
# `authsim serve`, STS GetCallerIdentity, signJwt against the raw RSA-2048 signing rate of ring,
# and the mock Vault's aws and gcp logins end to end (one login replayed), all with wrk.
#
#   bash ci/bench-mocks.sh [DURATION_SECONDS]      (default 10)
exec bash "$(dirname "$0")/bench.sh" --mocks-only "$@"
