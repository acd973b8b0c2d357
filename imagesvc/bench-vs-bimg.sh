#!/usr/bin/env bash
# bench-vs-bimg.sh: imagesvc's transform of an uploaded 12 MP JPEG against its
# peers on the same libvips, for three workloads: resize to 1200 wide (JPEG),
# the same to WebP, and rotate 90 then resize.
#   1. in one process each: imagesvc's transform against bimg called directly
#      the way imaginary 1.2.4 calls it (one bimg.Resize with Options{Rotate,
#      Width, Embed, Type, Quality});
#   2. over loopback HTTP: imagesvc's server (truncheck serve, its defaults)
#      against imaginary 1.2.4's, built from its module into a temporary
#      directory (skipped, and said so, when that cannot be done); one client
#      posts the JPEG and checks every answer's format and size, the same for
#      both servers; CPU per operation and peak RSS are the server process's.
# Every (implementation, workload) runs in a fresh process (peak RSS = its
# VmHWM), interleaved REPS times; medians and ratios to the peer measured in
# the same run.
# Goal: imagesvc >= 1.1x the peer's operations per second at <= 0.6x its peak RSS.
# Usage: imagesvc/bench-vs-bimg.sh   (REPS=5 FOR=5s CONC=1 PARTS="1 2")
# The machine may be shared: ratios are reported with the spread of the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source transport/benchlib.sh # free_port
REPS="${REPS:-5}"
FOR="${FOR:-5s}"
CONC="${CONC:-1}"
PARTS="${PARTS:-1 2}"
GO="${GO:-go}"
tmp="$(mktemp -d)"
server_pid=""
cleanup() {
	if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
"$GO" test -c -o "$tmp/imagesvc.test" ./imagesvc
(cd imagesvc && TRUNCHECK_BENCH_WRITE="$tmp/photo-12mp.jpg" "$tmp/imagesvc.test" -test.run '^TestBenchWriteSource$' >/dev/null)
# summarize LINES PEER TITLE: the table of medians and the ratios imagesvc/PEER.
summarize() {
awk -v reps="$REPS" -v dur="$FOR" -v conc="$CONC" -v floor="$floor" -v peer="$2" -v title="$3" '
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
	printf "%s: 12 MP JPEG upload (q90) -> result, concurrency %s, %s per run, medians of %d interleaved runs (min..max)\n", title, conc, dur, reps
	printf "%-14s %-9s %22s %22s %22s\n", "workload", "impl", "ops/s", "CPU ms/op", "peak RSS MB"
	split("resize webp rotate-resize", works, " ")
	for (w = 1; w <= 3; w++) for (im = 1; im <= 2; im++) {
		impl = (im == 1) ? peer : "imagesvc"; k = impl SUBSEP works[w]
		printf "%-14s %-9s %8.2f (%5.2f..%5.2f) %8.1f (%5.0f..%5.0f) %8.0f (%5.0f..%5.0f)\n", works[w], impl, median(ops, k), lo(ops, k), hi(ops, k), median(cpu, k), lo(cpu, k), hi(cpu, k), median(hwm, k), lo(hwm, k), hi(hwm, k)
	}
	if (floor != "") printf "the process alone (libvips loaded, source read, no transform): peak RSS %s MB\n", floor
	printf "\nratios imagesvc/%s (goal: speed >= 1.10, peak RSS <= 0.60); speed by ops/s, and by CPU per op (less sensitive to other tenants)\n", peer
	for (w = 1; w <= 3; w++) {
		a = "imagesvc" SUBSEP works[w]; b = peer SUBSEP works[w]
		s = median(ops, a) / median(ops, b); c = median(cpu, b) / median(cpu, a); r = median(hwm, a) / median(hwm, b)
		printf "%-14s speed %.2fx (%s), by CPU %.2fx   peak RSS %.2fx (%s)\n", works[w], s, (s >= 1.1 ? "met" : "NOT met"), c, r, (r <= 0.6 ? "met" : "NOT met")
	}
}' "$1"
}

if [[ " $PARTS " == *" 1 "* ]]; then
floor="$(cd imagesvc && TRUNCHECK_BENCH_IMPL=none TRUNCHECK_BENCH_WORK=resize TRUNCHECK_BENCH_SRC="$tmp/photo-12mp.jpg" \
	"$tmp/imagesvc.test" -test.run '^TestBenchVsBimg$' | sed -n 's/.*peak_rss_mb=\([0-9]*\).*/\1/p')"
lines="$tmp/lines"
: >"$lines"
for rep in $(seq "$REPS"); do
	for work in resize webp rotate-resize; do
		pair="bimg imagesvc"
		((rep % 2)) || pair="imagesvc bimg" # the order alternates per repetition
		for impl in $pair; do
			(cd imagesvc && TRUNCHECK_BENCH_IMPL="$impl" TRUNCHECK_BENCH_WORK="$work" TRUNCHECK_BENCH_SRC="$tmp/photo-12mp.jpg" \
				TRUNCHECK_BENCH_FOR="$FOR" TRUNCHECK_BENCH_CONC="$CONC" "$tmp/imagesvc.test" -test.run '^TestBenchVsBimg$') |
				grep '^BENCH' >>"$lines" || { echo "bench-vs-bimg.sh: $impl $work failed" >&2; exit 1; }
		done
	done
done
summarize "$lines" bimg "1. in one process, imagesvc against bimg called as imaginary calls it"
fi

[[ " $PARTS " == *" 2 "* ]] || exit 0
echo
# imaginary 1.2.4 from its module, in a module of its own under $tmp (it pins
# bimg 1.1.4; ours is untouched)
imaginary=""
if (mkdir -p "$tmp/imaginary" && cd "$tmp/imaginary" && GOFLAGS= "$GO" mod init bench.local/imaginary &&
	GOFLAGS= "$GO" get github.com/h2non/imaginary@v1.2.4 &&
	GOFLAGS= "$GO" build -o "$tmp/imaginary-server" github.com/h2non/imaginary) >"$tmp/imaginary-build.log" 2>&1; then
	imaginary="$tmp/imaginary-server"
else
	echo "2. over HTTP: skipped, imaginary 1.2.4 could not be built: $(tail -n 1 "$tmp/imaginary-build.log")"
	exit 0
fi
"$GO" build -o "$tmp/truncheck" ./cmd/truncheck
# cpu_ticks PID: user + system time of a process in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# the URL of each (implementation, workload), and the answer both must give
url_of() {
	case "$1 $2" in
	"imagesvc resize") echo "/transform?ops=resize:w=1200&format=jpeg&quality=80" ;;
	"imagesvc webp") echo "/transform?ops=resize:w=1200&format=webp&quality=80" ;;
	"imagesvc rotate-resize") echo "/transform?ops=rotate:deg=90%3Bresize:w=1200&format=jpeg&quality=80" ;;
	"imaginary resize") echo "/resize?width=1200&type=jpeg&quality=80" ;;
	"imaginary webp") echo "/resize?width=1200&type=webp&quality=80" ;;
	"imaginary rotate-resize") echo "/resize?width=1200&rotate=90&type=jpeg&quality=80" ;;
	esac
}
declare -A want=([resize]="jpeg 1200x802" [webp]="webp 1200x802" [rotate-resize]="jpeg 1200x1797")
hlines="$tmp/http-lines"
: >"$hlines"
for rep in $(seq "$REPS"); do
	for work in resize webp rotate-resize; do
		pair="imaginary imagesvc"
		((rep % 2)) || pair="imagesvc imaginary"
		for impl in $pair; do
			port="$(free_port)"
			case "$impl" in
			imagesvc) "$tmp/truncheck" serve --listen "http://127.0.0.1:$port" >"$tmp/server.log" 2>&1 & ;;
			imaginary) "$imaginary" -a 127.0.0.1 -p "$port" -log-level error >"$tmp/server.log" 2>&1 & ;;
			esac
			server_pid=$!
			for ((i = 0; i < 100; i++)); do
				[[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")" != 000 ]] && break
				sleep 0.1
			done
			ticks0="$(cpu_ticks "$server_pid")"
			line="$(cd imagesvc && TRUNCHECK_BENCH_URL="http://127.0.0.1:$port$(url_of "$impl" "$work")" TRUNCHECK_BENCH_WANT="${want[$work]}" \
				TRUNCHECK_BENCH_SRC="$tmp/photo-12mp.jpg" TRUNCHECK_BENCH_FOR="$FOR" TRUNCHECK_BENCH_CONC="$CONC" \
				"$tmp/imagesvc.test" -test.run '^TestBenchHTTPUpload$' | grep '^BENCH')" ||
				{ echo "bench-vs-bimg.sh: $impl $work failed over HTTP (server log: $(tail -n 3 "$tmp/server.log"))" >&2; exit 1; }
			ticks="$(($(cpu_ticks "$server_pid") - ticks0))"
			hwm="$(awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$server_pid/status")"
			kill "$server_pid"
			wait "$server_pid" 2>/dev/null || true
			server_pid=""
			ops="$(echo "$line" | sed -n 's/.* ops=\([0-9]*\).*/\1/p')"
			echo "$line impl=$impl work=$work cpu_ms_per_op=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v n="$ops" 'BEGIN { printf "%.1f", t * 1000 / hz / (n + 1) }') peak_rss_mb=$hwm" >>"$hlines"
		done
	done
done
floor=""
summarize "$hlines" imaginary "2. over HTTP, imagesvc's server (truncheck serve) against imaginary 1.2.4's (-a 127.0.0.1, its defaults otherwise)"
