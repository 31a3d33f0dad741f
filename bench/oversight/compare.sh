#!/usr/bin/env bash
# Runs BenchmarkDecide of an older revision and of the working tree
# alternately (ROUNDS rounds, BENCHTIME decisions each), so that both see
# the same neighbours on a shared machine.
#
#   bench/oversight/compare.sh 980282f
set -euo pipefail
cd "$(dirname "$0")/../.."
old=${1:?usage: compare.sh OLD-REVISION}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/old" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -q "$work/old" "$old"
(cd "$work/old" && go test -c -o "$work/old.test" ./internal/oversight/)
go test -c -o "$work/new.test" ./internal/oversight/
uptime
for r in $(seq "${ROUNDS:-4}"); do
	for v in old new; do
		dir=internal/oversight
		[ "$v" = old ] && dir="$work/old/internal/oversight"
		(cd "$dir" && "$work/$v.test" -test.run '^$' -test.bench BenchmarkDecide -test.cpu 1 -test.benchtime "${BENCHTIME:-4000x}") |
			awk -v v="$v" -v r="$r" '/^BenchmarkDecide/ {
				for (i = 3; i < NF; i += 2) m[$(i + 1)] = $i
				printf "round %s %-4s %6.0f cpu-µs/op %6.0f decisions/s (cpu)  p50 %5d µs  p99 %5d µs  cpu-p99 %5d µs  %7d B/op  %5d allocs/op\n",
					r, v, m["cpu-µs/op"], m["cpu-decisions/s"], m["p50-µs"], m["p99-µs"], m["cpu-p99-µs"], m["B/op"], m["allocs/op"]
			}'
	done
done
uptime
