#!/usr/bin/env bash
# bench.sh: the performance run, the entry point of `make bench`. Every number is
# printed next to a baseline measured in the same run that does the same work except
# the thing measured; each measurement is its own process, in an order that rotates per
# repetition; results are medians with their spread (min-max over repetitions) and
# ratios are taken per repetition (this machine is small and shared).
#   1. verification: the harness verifier vs a plain client reading with the same 64 KiB
#      buffer, 16 MB bodies from a loopback server, in one process (as separate benchmarks,
#      and paired: both in turns, request by request); sha-256 and crc32c MB/s on this
#      CPU; then in separate processes side by side with vegeta (built from
#      source), which reads every body to the end (-max-body=0: it keeps none of it)
#   2. transport: transport/bench.sh (wrapper, proxy, Toxiproxy side by side)
#   3. time to reproduce buffered-shutdown over a Unix socket (REPRO_RUNS runs)
#   4. imagesvc req/s and peak RSS per setting: imagesvc/bench.sh; then its speed and
#      peak RSS against bimg called directly and imaginary 1.2.4's server (built from
#      source): imagesvc/bench-vs-bimg.sh
#   5. memory soak at concurrency 16, 1-30 MB bodies: RSS, live heap and goroutines
#      judged by the slope's 95% bound after a warm-up, charts written to BENCH_OUT
# Usage: harness/bench.sh
#   COUNT=5 BENCHTIME=1s      repetitions and time of each go benchmark (1, 2)
#   CLIENT_FOR=5s             time of each client run side by side with vegeta (1)
#   REPRO_RUNS=10 REPRO_FOR=2s  runs of buffered-shutdown and their sending time (3)
#   SOAK=10m SOAK_EVERY=10s   soak duration and sampling period (5); SOAK=0 skips it
#   BENCH_OUT=out/bench       where the soak's samples and charts go
#   ONLY="1 3"                run only these parts
# Goals are reported (met / NOT met), never enforced: the exit status is
# non-zero only when a measurement could not be taken.
set -euo pipefail
cd "$(dirname "$0")/.."
source transport/benchlib.sh
COUNT="${COUNT:-5}"
BENCHTIME="${BENCHTIME:-1s}"
CLIENT_FOR="${CLIENT_FOR:-5s}"
REPRO_RUNS="${REPRO_RUNS:-10}"
REPRO_FOR="${REPRO_FOR:-2s}"
SOAK="${SOAK:-10m}"
SOAK_EVERY="${SOAK_EVERY:-10s}"
BENCH_OUT="${BENCH_OUT:-out/bench}"
ONLY="${ONLY:-1 2 3 4 5}"
GO="${GO:-go}"
export GO
tmp="$(mktemp -d)"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
want() { [[ " $ONLY " == *" $1 "* ]]; }
t0=$(date +%s)

echo "truncheck bench: $(date -u +%FT%TZ), $("$GO" version | cut -d' ' -f3-), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(load_avg)"
"$GO" test -c -o "$tmp/harness.test" ./harness
bin="$tmp/harness.test"

if want 1; then
	echo
	echo "== 1. verification throughput: 16 MB bodies, loopback TCP"
	echo "-- one process: $COUNT repetitions of $BENCHTIME, order rotated"
	res="$tmp/verify"
	go_bench_rotated "$res" "$bin" harness "$BENCHTIME" "$COUNT" \
		BenchmarkPerfVerify/plain BenchmarkPerfVerify/verifier-crc32c BenchmarkPerfVerify/verifier-sha256 BenchmarkPerfVerify/paired \
		BenchmarkPerfHash/sha-256 BenchmarkPerfHash/crc32c BenchmarkPerfHash/crc32c-stdlib
	show "$res" BenchmarkPerfVerify/plain MB/s "plain client (64 KiB reads)"
	show "$res" BenchmarkPerfVerify/verifier-crc32c MB/s "verifier, crc32c digest + reference"
	show "$res" BenchmarkPerfVerify/verifier-sha256 MB/s "verifier, sha-256 digest + reference"
	show "$res" BenchmarkPerfHash/crc32c MB/s "crc32c alone, this CPU, one core"
	show "$res" BenchmarkPerfHash/crc32c-stdlib MB/s "crc32c by hash/crc32 (for reference)"
	show "$res" BenchmarkPerfHash/sha-256 MB/s "sha-256 alone, this CPU, one core"
	goal "$res" "verifier (crc32c)/plain, same buffer" BenchmarkPerfVerify/verifier-crc32c BenchmarkPerfVerify/plain ">=" 0.95
	goal "$res" "verifier (sha-256)/plain (for reference)" BenchmarkPerfVerify/verifier-sha256 BenchmarkPerfVerify/plain ">=" 0
	goal "$res" "sha-256 alone/plain (for reference)" BenchmarkPerfHash/sha-256 BenchmarkPerfVerify/plain ">=" 0
	# paired: both clients in turns within one benchmark; its ratio is the median over
	# request pairs, one value per repetition, held to the same goal.
	paired="$tmp/paired"
	awk '$3 ~ /^BenchmarkPerfVerify\/paired/ { for (i = 4; i <= NF; i++) if ($(i) == "verifier/plain") printf "%d\tratio\t%s\n%d\tone\t1\n", $2 + 0, $(i - 1), $2 + 0 }' "$res.raw" >"$paired"
	goal "$paired" "verifier (crc32c)/plain, paired requests" ratio one ">=" 0.95

	echo "-- separate processes (server, one client at a time on one connection): $COUNT repetitions of $CLIENT_FOR, order rotated"
	TRUNCHECK_PERF_SERVE="$tmp/serve" "$bin" -test.run '^TestPerfServe$' >"$tmp/serve.log" 2>&1 &
	pids+=($!)
	wait_for_file "$tmp/serve"
	url="$(cat "$tmp/serve")"
	vegeta=""
	if GOBIN="$tmp/gobin" GOFLAGS= "$GO" install github.com/tsenart/vegeta/v12@v12.13.0 >"$tmp/vegeta-build.log" 2>&1; then
		vegeta="$tmp/gobin/vegeta"
		echo "vegeta v12.13.0 (built from source into a temporary directory): attack -rate=0 -max-workers=1 -max-body=0"
		echo "(our two clients pin their sockets' receive buffer, see perfRcvBuf in harness/perf_test.go; vegeta's are autotuned)"
	else
		echo "vegeta: could not be built, its comparison is skipped: $(tail -n 1 "$tmp/vegeta-build.log")"
	fi
	clients=(plain verifier-crc32c)
	[[ -n "$vegeta" ]] && clients+=(vegeta)
	side="$tmp/side"
	n=${#clients[@]}
	for ((rep = 1; rep <= COUNT; rep++)); do
		for ((i = 0; i < n; i++)); do
			c="${clients[$(((i + rep - 1) % n))]}"
			if [[ "$c" == vegeta ]]; then
				# -max-body=0 keeps none of the body and vegeta reads the rest to the end and
				# discards it: every byte crosses the wire, as with our clients. Its bytes_in
				# counts only the bytes it keeps (none), so MB/s is the successful requests
				# times the body's 16 MiB over the attack's time (duration + wait).
				echo "GET $url" | "$vegeta" attack -rate=0 -max-workers=1 -workers=1 -duration="$CLIENT_FOR" \
					-max-body=0 -timeout=60s >"$tmp/vegeta.bin"
				js="$("$vegeta" report -type=json "$tmp/vegeta.bin")"
				mbs="$(echo "$js" | awk -v size="$((16 << 20))" 'function num(k,   v) {
						if (!match($0, "\"" k "\":[0-9.e+-]+")) return 0
						v = substr($0, RSTART, RLENGTH); sub(/.*:/, "", v); return v + 0 }
					{ ok = num("requests") * num("success"); secs = (num("duration") + num("wait")) / 1e9
					  printf "%.1f %d %.3f\n", (secs > 0 ? ok * size / secs / 1e6 : 0), ok, secs }')"
				echo "rep $rep vegeta: mb_s=${mbs%% *} ok_requests=$(echo "$mbs" | cut -d' ' -f2) seconds=$(echo "$mbs" | cut -d' ' -f3)" >>"$side.raw"
				record "$side" "$rep" vegeta "${mbs%% *}"
			else
				line="$(TRUNCHECK_PERF_CLIENT="$c" TRUNCHECK_PERF_CLIENT_URL="$url" TRUNCHECK_PERF_CLIENT_FOR="$CLIENT_FOR" \
					"$bin" -test.run '^TestPerfClient$' | grep '^PERF client')"
				echo "rep $rep ${line#PERF client }" >>"$side.raw"
				record "$side" "$rep" "$c" "$(echo "$line" | sed -n 's/.* mb_s=\([^ ]*\).*/\1/p')"
			fi
		done
	done
	sed 's/^/  /' "$side.raw"
	show "$side" plain MB/s "plain client (64 KiB reads)"
	show "$side" verifier-crc32c MB/s "verifier, crc32c digest + reference"
	show "$side" vegeta MB/s "vegeta -max-body=0"
	goal "$side" "verifier (crc32c)/plain, separate processes" verifier-crc32c plain ">=" 0.95
	goal "$side" "verifier (crc32c)/vegeta (for reference)" verifier-crc32c vegeta ">=" 0
	goal "$side" "plain/vegeta (for reference)" plain vegeta ">=" 0
	echo "load average after 1: $(load_avg)"
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
	echo
	echo "== 4b. imagesvc against its peers on the same libvips (imagesvc/bench-vs-bimg.sh)"
	imagesvc/bench-vs-bimg.sh
fi

if want 5 && [[ "$SOAK" != "0" ]]; then
	echo
	echo "== 5. memory soak: $SOAK at concurrency 16, ~1-30 MB bodies from imagesvc over loopback TCP, sampled every $SOAK_EVERY"
	soak_out="$(mkdir -p "$BENCH_OUT" && cd "$BENCH_OUT" && pwd)"
	out="$(cd harness && TRUNCHECK_PERF_SOAK="$SOAK" TRUNCHECK_PERF_SOAK_EVERY="$SOAK_EVERY" TRUNCHECK_PERF_SOAK_OUT="$soak_out" \
		"$bin" -test.run '^TestPerfSoak$' -test.v -test.timeout 0)"
	echo "$out" | grep '^PERF soak' | sed 's/^PERF soak //'
	echo "RSS and live heap over time ($BENCH_OUT/soak.svg, samples in $BENCH_OUT/soak.csv):"
	cat "$BENCH_OUT/soak.txt"
	echo "(verdicts: least-squares slope per minute after the warm-up; flat = its upper 95% bound (slope + 2 standard"
	echo " errors) is within the limit, rising = its lower bound is above it, unproven = neither (too short or too noisy))"
fi

echo
echo "bench done in $(( $(date +%s) - t0 )) s"
