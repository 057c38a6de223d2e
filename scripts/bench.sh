#!/usr/bin/env bash
# make bench: builds the bench module's test binary once, then runs every
# benchmark BENCH_COUNT times in interleaved rounds (one pass over all
# benchmarks per round, so slow drifts of a shared machine hit every
# implementation alike), and prints a benchstat table plus the ratios to
# the floor. Output goes to bench/out/ (not committed).
#
# Knobs: BENCH_COUNT (rounds, default 10), BENCH_TIME (-benchtime, default
# 500ms), BENCH (the -bench pattern; default BenchmarkAuth, BenchmarkPaired
# and BenchmarkJWKSContention).
set -euo pipefail
cd "$(dirname "$0")/../bench"
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da # golang.org/x/perf, pinned
count=${BENCH_COUNT:-10}
benchtime=${BENCH_TIME:-500ms}
pattern=${BENCH:-^(BenchmarkAuth|BenchmarkPaired|BenchmarkJWKSContention)$}
out=out
mkdir -p "$out"
raw=$out/raw.txt
: >"$raw"
GOWORK=off go test -c -o "$out/bench.test" .
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/conditions.txt"
for ((i = 1; i <= count; i++)); do
	echo "round $i/$count" >&2
	"./$out/bench.test" -test.run '^$' -test.bench "$pattern" -test.benchmem \
		-test.benchtime "$benchtime" -test.count 1 >>"$raw"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/conditions.txt"
(cd /tmp && GOWORK=off go run "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION" "bench=$OLDPWD/$raw") | tee "$out/benchstat.txt"
echo
GOWORK=off go run ./internal/report -machine "$raw" | tee "$out/report.md"
