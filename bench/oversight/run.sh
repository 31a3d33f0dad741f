#!/usr/bin/env bash
# Promotion-decision throughput and latency with the default policy bundle
# over a realistic input (4 reports, 30 metrics, 50 findings), on one core.
# There is no peer to compare with: the issue sets absolute targets
# (p99 < 1 ms, >= 10,000 decisions/s on one core).
#
# On a shared machine read the CPU columns: wall-clock figures include the
# time spent waiting for a core, and the load average is printed with them.
set -euo pipefail
cd "$(dirname "$0")/../.."
uptime
go test -run '^$' -bench BenchmarkDecide -cpu 1 -benchtime "${BENCHTIME:-3000x}" -count "${COUNT:-3}" ./internal/oversight/ |
	awk '/^BenchmarkDecide/ {
		delete m
		for (i = 3; i < NF; i += 2) m[$(i + 1)] = $i
		printf "%-16s %8.0f ns/op  %6.0f decisions/s (wall)  %6.0f cpu-µs/op  %6.0f decisions/s (cpu)  p50 %5d µs  p99 %5d µs  cpu-p99 %5d µs  %7d B/op  %5d allocs/op\n",
			$1, m["ns/op"], 1e9 / m["ns/op"], m["cpu-µs/op"], m["cpu-decisions/s"], m["p50-µs"], m["p99-µs"], m["cpu-p99-µs"], m["B/op"], m["allocs/op"]
	}
	/^(cpu|goos):/'
uptime
