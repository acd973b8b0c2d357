#!/usr/bin/env bash
# bench-vs-bimg.sh: imagesvc's transform of an uploaded 12 MP JPEG against bimg
# called directly the way imaginary 1.2.4 calls it (one bimg.Resize with
# Options{Rotate, Width, Embed, Type, Quality}), for three workloads: resize
# to 1200 wide (JPEG), the same to WebP, and rotate 90 then resize. Every
# (implementation, workload) runs in its own process (peak RSS = its VmHWM),
# interleaved REPS times; medians and ratios to bimg measured in the same run.
# Goal: imagesvc >= 1.1x bimg's operations per second at <= 0.6x its peak RSS.
# Usage: imagesvc/bench-vs-bimg.sh   (REPS=5 FOR=5s CONC=1)
# The machine may be shared: ratios are reported with the spread of the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS="${REPS:-5}"
FOR="${FOR:-5s}"
CONC="${CONC:-1}"
GO="${GO:-go}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$GO" test -c -o "$tmp/imagesvc.test" ./imagesvc
(cd imagesvc && TRUNCHECK_BENCH_WRITE="$tmp/photo-12mp.jpg" "$tmp/imagesvc.test" -test.run '^TestBenchWriteSource$' >/dev/null)
floor="$(cd imagesvc && TRUNCHECK_BENCH_IMPL=none TRUNCHECK_BENCH_WORK=resize TRUNCHECK_BENCH_SRC="$tmp/photo-12mp.jpg" \
	"$tmp/imagesvc.test" -test.run '^TestBenchVsBimg$' | sed -n 's/.*peak_rss_mb=\([0-9]*\).*/\1/p')"
lines="$tmp/lines"
: >"$lines"
for rep in $(seq "$REPS"); do
	for work in resize webp rotate-resize; do
		for impl in bimg imagesvc; do
			(cd imagesvc && TRUNCHECK_BENCH_IMPL="$impl" TRUNCHECK_BENCH_WORK="$work" TRUNCHECK_BENCH_SRC="$tmp/photo-12mp.jpg" \
				TRUNCHECK_BENCH_FOR="$FOR" TRUNCHECK_BENCH_CONC="$CONC" "$tmp/imagesvc.test" -test.run '^TestBenchVsBimg$') |
				grep '^BENCH' >>"$lines" || { echo "bench-vs-bimg.sh: $impl $work failed" >&2; exit 1; }
		done
	done
done
awk -v reps="$REPS" -v dur="$FOR" -v conc="$CONC" -v floor="$floor" '
{
	for (i = 2; i <= NF; i++) { split($(i), kv, "="); f[kv[1]] = kv[2] }
	k = f["impl"] SUBSEP f["work"]
	n[k]++; ops[k, n[k]] = f["ops_per_s"] + 0; hwm[k, n[k]] = f["peak_rss_mb"] + 0; cpu[k, n[k]] = f["cpu_ms_per_op"] + 0
}
function sorted(arr, k, a,   m, i, j, t) {
	m = n[k]; for (i = 1; i <= m; i++) a[i] = arr[k, i]
	for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return m
}
function median(arr, k,   a, m) { m = sorted(arr, k, a); return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
function lo(arr, k,   a) { sorted(arr, k, a); return a[1] }
function hi(arr, k,   a, m) { m = sorted(arr, k, a); return a[m] }
END {
	printf "12 MP JPEG upload (q90) -> result, concurrency %s, %s per run, medians of %d interleaved runs (min..max)\n", conc, dur, reps
	printf "%-14s %-9s %22s %22s %22s\n", "workload", "impl", "ops/s", "CPU ms/op", "peak RSS MB"
	split("resize webp rotate-resize", works, " ")
	for (w = 1; w <= 3; w++) for (im = 1; im <= 2; im++) {
		impl = (im == 1) ? "bimg" : "imagesvc"; k = impl SUBSEP works[w]
		printf "%-14s %-9s %8.2f (%5.2f..%5.2f) %8.1f (%5.0f..%5.0f) %8.0f (%5.0f..%5.0f)\n", works[w], impl, median(ops, k), lo(ops, k), hi(ops, k), median(cpu, k), lo(cpu, k), hi(cpu, k), median(hwm, k), lo(hwm, k), hi(hwm, k)
	}
	printf "the process alone (libvips loaded, source read, no transform): peak RSS %s MB\n", floor
	printf "\nratios imagesvc/bimg (goal: speed >= 1.10, peak RSS <= 0.60); speed by ops/s, and by CPU per op (less sensitive to other tenants)\n"
	for (w = 1; w <= 3; w++) {
		a = "imagesvc" SUBSEP works[w]; b = "bimg" SUBSEP works[w]
		s = median(ops, a) / median(ops, b); c = median(cpu, b) / median(cpu, a); r = median(hwm, a) / median(hwm, b)
		printf "%-14s speed %.2fx (%s), by CPU %.2fx   peak RSS %.2fx (%s)\n", works[w], s, (s >= 1.1 ? "met" : "NOT met"), c, r, (r <= 0.6 ? "met" : "NOT met")
	}
}' "$lines"
