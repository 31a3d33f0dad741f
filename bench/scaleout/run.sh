#!/usr/bin/env bash
# Coordinator replicas on one Redis against the embedded SQLite mode:
# runs/s and p50/p99 submit-to-terminal with no-op agents and the real
# audit trail (coordinator/replicas_bench_test.go). Needs a Redis:
#   MODELGATE_TEST_REDIS=redis://127.0.0.1:6390/2 bench/scaleout/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${MODELGATE_TEST_REDIS:?set MODELGATE_TEST_REDIS to a Redis URL this may write to}"
go test -run xxx -bench Replicas -benchtime "${BENCHTIME:-3x}" ./coordinator/
