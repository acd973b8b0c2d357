#!/usr/bin/env bash
# bench.sh: issue 7's performance run, the entry point of `make bench`. Every
# number is printed next to a baseline measured in the same run (ratios of
# medians over interleaved repetitions: this machine is small and shared).
#   1. verification: harness verifier vs a plain io.Copy(io.Discard) client,
#      16 MB bodies from a static loopback server; sha-256 and crc32c MB/s
#   2. transport overhead: transport/bench.sh (wrapper/raw, proxy/direct)
#   3. time to reproduce buffered-shutdown over a Unix socket (REPRO_RUNS runs)
#   4. imagesvc req/s and peak RSS per setting: imagesvc/bench.sh
#   5. memory soak at concurrency 16, 1-30 MB bodies, RSS/goroutine slopes
# Usage: harness/bench.sh
#   COUNT=5 BENCHTIME=1s      repetitions and time of each go benchmark (1, 2)
#   REPRO_RUNS=10 REPRO_FOR=2s  runs of buffered-shutdown and their sending time (3)
#   REPS=3 FOR=3s             imagesvc repetitions and time per setting (4)
#   SOAK=5m SOAK_EVERY=10s    soak duration and sampling period (5); SOAK=0 skips it
#   ONLY="1 3"                run only these parts
# Goals are reported (met / NOT met), never enforced: the exit status is
# non-zero only when a measurement could not be taken.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT="${COUNT:-5}"
BENCHTIME="${BENCHTIME:-1s}"
REPRO_RUNS="${REPRO_RUNS:-10}"
REPRO_FOR="${REPRO_FOR:-2s}"
SOAK="${SOAK:-5m}"
SOAK_EVERY="${SOAK_EVERY:-10s}"
ONLY="${ONLY:-1 2 3 4 5}"
GO="${GO:-go}"
export GO
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
want() { [[ " $ONLY " == *" $1 "* ]]; }
t0=$(date +%s)

echo "truncheck bench: $(date -u +%FT%TZ), $("$GO" version | cut -d' ' -f3-), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
"$GO" test -c -o "$tmp/harness.test" ./harness

# median of the numbers on stdin
median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

if want 1; then
	echo
	echo "== 1. verification throughput: 16 MB bodies, loopback TCP, $COUNT interleaved runs of $BENCHTIME"
	out="$(cd harness && "$tmp/harness.test" -test.run '^$' -test.bench '^BenchmarkPerf(Verify|Hash)$' \
		-test.count="$COUNT" -test.benchtime="$BENCHTIME" -test.benchmem)"
	echo "$out" | grep -E '^Benchmark'
	mbs() { echo "$out" | awk -v n="$1" '$1 ~ "^BenchmarkPerf" n "(-[0-9]+)?$" { for (i = 2; i <= NF; i++) if ($(i) == "MB/s") print $(i-1) }' | median; }
	plain=$(mbs 'Verify/plain'); vcrc=$(mbs 'Verify/verifier-crc32c'); vsha=$(mbs 'Verify/verifier-sha256')
	sha=$(mbs 'Hash/sha-256'); crc=$(mbs 'Hash/crc32c')
	awk -v p="$plain" -v c="$vcrc" -v s="$vsha" -v sha="$sha" -v crc="$crc" 'BEGIN {
		printf "medians: plain client %.0f MB/s; sha-256 %.0f MB/s, crc32c %.0f MB/s on this CPU (one core)\n", p, sha, crc
		r = c / p; printf "%-44s %6.3f  (%.0f / %.0f MB/s, goal >= 0.90: %s)\n", "verifier (crc32c digest + reference)/plain", r, c, p, (r >= 0.9 ? "met" : "NOT met")
		r = s / p; printf "%-44s %6.3f  (%.0f / %.0f MB/s; sha-256 alone is %.2f of the plain client)\n", "verifier (sha-256 digest + reference)/plain", r, s, p, sha / p
	}'
fi

if want 2; then
	echo
	echo "== 2. transport overhead (transport/bench.sh)"
	COUNT="$COUNT" BENCHTIME="$BENCHTIME" transport/bench.sh
fi

if want 3; then
	echo
	echo "== 3. time to reproduce: buffered-shutdown over a Unix socket, $REPRO_RUNS runs of $REPRO_FOR sending each"
	out="$(cd harness && TRUNCHECK_PERF_REPRO="$REPRO_RUNS" TRUNCHECK_PERF_REPRO_FOR="$REPRO_FOR" \
		"$tmp/harness.test" -test.run '^TestPerfReproduce$' -test.v)"
	echo "$out" | grep '^PERF repro' | sed 's/^PERF //'
	echo "$out" | awk '/^PERF repro/ {
		for (i = 3; i <= NF; i++) { split($(i), kv, "="); f[kv[1]] = kv[2] }
		n++; first[n] = f["first_silent_s"] + 0; frac[n] = f["frac"] + 0; setup[n] = f["setup_s"] + 0
		if (f["first_silent_s"] + 0 < 0 || f["first_silent_s"] + 0 >= 1) miss++
	}
	function sortn(a, m,   i, j, t) { for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t } }
	function med(a, m) { return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
	END {
		if (n == 0) { print "no runs"; exit 1 }
		sortn(first, n); sortn(frac, n); sortn(setup, n)
		printf "first silent truncation (s from RunScenario)  min %.3f  median %.3f  max %.3f  (ratio of the max to the 1 s goal %.3f; goal every run < 1 s: %s)\n", first[1], med(first, n), first[n], first[n] / 1.0, (miss ? "NOT met in " miss " runs" : "met")
		printf "setup before the first request (s)           min %.3f  median %.3f  max %.3f\n", setup[1], med(setup, n), setup[n]
		printf "fraction truncated in the first second       min %.3f  median %.3f  max %.3f\n", frac[1], med(frac, n), frac[n]
	}'
fi

if want 4; then
	echo
	echo "== 4. imagesvc (imagesvc/bench.sh)"
	imagesvc/bench.sh
fi

if want 5 && [[ "$SOAK" != "0" ]]; then
	echo
	echo "== 5. memory soak: $SOAK at concurrency 16, ~1-30 MB bodies from imagesvc over loopback TCP, sampled every $SOAK_EVERY"
	out="$(cd harness && TRUNCHECK_PERF_SOAK="$SOAK" TRUNCHECK_PERF_SOAK_EVERY="$SOAK_EVERY" \
		"$tmp/harness.test" -test.run '^TestPerfSoak$' -test.v -test.timeout 0)"
	echo "$out" | grep '^PERF soak' | sed 's/^PERF soak //'
	echo "(slopes are least-squares fits over the samples after the first (warm-up); flat = no growth beyond noise: the growth the"
	echo " fit predicts over the span is within 2x the residual scatter or under 2% of the mean)"
fi

echo
echo "bench done in $(( $(date +%s) - t0 )) s"
