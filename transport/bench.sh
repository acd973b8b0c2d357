#!/usr/bin/env bash
# bench.sh: throughput of wrapped conns vs raw conns and of the proxy vs a direct
# connection, measured in the same run (sub-benchmarks interleaved COUNT times), printed as
# ratios of the medians. Goals: wrapper >= 0.95 of raw, proxy >= 0.8 of direct.
# Usage: transport/bench.sh            (COUNT=5 BENCHTIME=1s by default)
# Timing on a shared machine is noisy: the ratios are reported, never enforced.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT="${COUNT:-5}"
BENCHTIME="${BENCHTIME:-1s}"
GO="${GO:-go}"

out="$("$GO" test -run '^$' -bench '^BenchmarkThroughput$' -count="$COUNT" -benchtime="$BENCHTIME" ./transport)"
echo "$out" | grep -E '^Benchmark'
echo
echo "$out" | awk '
/^BenchmarkThroughput\// {
	name = $1; sub(/^BenchmarkThroughput\//, "", name); sub(/-[0-9]+$/, "", name)
	for (i = 2; i <= NF; i++) if ($(i) == "MB/s") { v[name, ++n[name]] = $(i-1) + 0 }
}
function median(k,   m, i, j, t, a) {
	m = n[k]; if (m == 0) return 0
	for (i = 1; i <= m; i++) a[i] = v[k, i]
	for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
function ratio(label, a, b, goal,   x, y, r) {
	x = median(a); y = median(b)
	if (y == 0) { printf "%-34s n/a\n", label; return }
	r = x / y
	printf "%-34s %6.3f  (%.0f / %.0f MB/s, goal >= %.2f: %s)\n", label, r, x, y, goal, (r >= goal ? "met" : "NOT met")
}
END {
	print "ratios of medians over " n["tcp/raw"] " interleaved runs:"
	ratio("wrapper/raw tcp", "tcp/wrapped", "tcp/raw", 0.95)
	ratio("wrapper/raw unix", "unix/wrapped", "unix/raw", 0.95)
	ratio("proxy/direct tcp", "tcp/proxy", "tcp/direct", 0.80)
	ratio("proxy-recorded/direct tcp", "tcp/proxy-recorded", "tcp/direct", 0.80)
}'
