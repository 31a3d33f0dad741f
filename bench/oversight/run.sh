#!/usr/bin/env bash
# Promotion-decision throughput and latency with the default policy bundle
# over a realistic input (4 reports, 30 metrics, 50 findings), on one core.
# There is no peer to compare with: the issue sets absolute targets
# (p99 < 1 ms, >= 10,000 decisions/s on one core).
set -euo pipefail
cd "$(dirname "$0")/../.."
go test -run '^$' -bench BenchmarkDecide -cpu 1 -benchtime "${BENCHTIME:-3000x}" -count "${COUNT:-3}" ./internal/oversight/ |
	awk '/^BenchmarkDecide/ { printf "%-18s %10s ns/op  %8.0f decisions/s  p50 %s µs  p99 %s µs  %s B/op  %s allocs/op\n", $1, $3, 1e9/$3, $5, $7, $9, $11 } /^(cpu|goos)/'
uptime
