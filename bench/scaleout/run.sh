#!/usr/bin/env bash
# Scale-out on one Redis against the embedded mode, with no-op agents and
# the real audit trail:
#  - coordinator replicas (coordinator/replicas_bench_test.go);
#  - stage workers: test, scan and evaluate on 1, 2, 4, 8 workers over the
#    worker API and Redis Streams (internal/app/worker/bench_test.go).
# runs/s and p50/p99 submit-to-terminal. Needs a Redis:
#   MODELGATE_TEST_REDIS=redis://127.0.0.1:6390/2 bench/scaleout/run.sh
# BENCHTIME (default 3x) iterations; BENCH_BATCH (default 100) runs per
# iteration of the worker benchmark; ONLY=replicas|workers runs one.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${MODELGATE_TEST_REDIS:?set MODELGATE_TEST_REDIS to a Redis URL this may write to}"
if [ "${ONLY:-}" != workers ]; then
	go test -run xxx -bench Replicas -benchtime "${BENCHTIME:-3x}" ./coordinator/
fi
if [ "${ONLY:-}" != replicas ]; then
	go test -run xxx -bench Workers -benchtime "${BENCHTIME:-3x}" ./internal/app/worker/
fi
