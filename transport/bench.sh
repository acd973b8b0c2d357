#!/usr/bin/env bash
# bench.sh: the transport's speed, every number next to a baseline measured in the same
# run, on the same kind of socket, doing the same work except the thing measured:
#   A. in one process: wrapped conns vs direct conns (TCP and Unix), our proxy vs a direct
#      TCP connection, with and without the flight recorder (BenchmarkThroughput);
#   B. in separate processes, side by side with Toxiproxy's server built from source:
#      one TCP stream of 64 KiB writes (MB/s) direct, through our proxy, through Toxiproxy;
#      10 KB HTTP responses at concurrency 8 with a 5 ms latency fault toward the client
#      (requests/s and p99) through our proxy and through Toxiproxy.
# Each measurement is its own process, in an order that rotates per repetition (in B the
# streams first, then the latency runs, apart: see below); results are medians with their
# spread (min-max over repetitions), ratios are taken per repetition. Goals are reported
# (met / NOT met), never enforced.
# Usage: transport/bench.sh
#   COUNT=5 BENCHTIME=1s   repetitions, time of each go benchmark
#   LOAD_FOR=5s            time of each HTTP load run (B)
#   PARTS="A B"            the parts to run
set -euo pipefail
cd "$(dirname "$0")/.."
source transport/benchlib.sh
COUNT="${COUNT:-5}"
BENCHTIME="${BENCHTIME:-1s}"
LOAD_FOR="${LOAD_FOR:-5s}"
PARTS="${PARTS:-A B}"
GO="${GO:-go}"
tmp="$(mktemp -d)"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
"$GO" test -c -o "$tmp/transport.test" ./transport
bin="$tmp/transport.test"
echo "load average before: $(load_avg)"

if [[ " $PARTS " == *" A "* ]]; then
echo "-- A. one process: 64 KiB writes, 64 KiB reads, $COUNT repetitions of $BENCHTIME, order rotated"
res="$tmp/inproc"
go_bench_rotated "$res" "$bin" transport "$BENCHTIME" "$COUNT" \
	BenchmarkThroughput/tcp/direct BenchmarkThroughput/tcp/wrapped BenchmarkThroughput/tcp/proxy \
	BenchmarkThroughput/tcp/proxy-recorded BenchmarkThroughput/unix/direct BenchmarkThroughput/unix/wrapped
for n in tcp/direct tcp/wrapped tcp/proxy tcp/proxy-recorded unix/direct unix/wrapped; do
	show "$res" "BenchmarkThroughput/$n" MB/s "$n"
done
goal "$res" "wrapper/direct tcp" BenchmarkThroughput/tcp/wrapped BenchmarkThroughput/tcp/direct ">=" 0.95
goal "$res" "wrapper/direct unix" BenchmarkThroughput/unix/wrapped BenchmarkThroughput/unix/direct ">=" 0.95
goal "$res" "proxy/direct tcp (one process)" BenchmarkThroughput/tcp/proxy BenchmarkThroughput/tcp/direct ">=" 0.80
goal "$res" "proxy-recorded/direct tcp (one process)" BenchmarkThroughput/tcp/proxy-recorded BenchmarkThroughput/tcp/direct ">=" 0.80
echo "load average after A: $(load_avg)"
fi
[[ " $PARTS " == *" B "* ]] || exit 0

echo
echo "-- B. separate processes (client, proxy, upstream), side by side with Toxiproxy"
TRUNCHECK_PEER_UPSTREAM="$tmp/upstream" "$bin" -test.run '^TestPeerUpstream$' >"$tmp/upstream.log" 2>&1 &
pids+=($!)
wait_for_file "$tmp/upstream"
sink="$(addr_of "$tmp/upstream" sink)"
web="$(addr_of "$tmp/upstream" http)"
web_hostport="${web#http://}"
web_hostport="${web_hostport%/}"

ours() { # ours NAME UPSTREAM FAULTS: our proxy in its own process
	TRUNCHECK_PEER_PROXY="$tmp/$1" TRUNCHECK_PEER_PROXY_TO="$2" TRUNCHECK_PEER_FAULTS="$3" \
		"$bin" -test.run '^TestPeerProxy$' >"$tmp/$1.log" 2>&1 &
	pids+=($!)
	wait_for_file "$tmp/$1"
	addr_of "$tmp/$1" proxy
}
ours_stream="$(ours ours-stream "$sink" "")"
ours_latency="$(ours ours-latency "$web_hostport" "latency=5ms")"

toxi_stream="" toxi_latency=""
toxi_version=v2.5.0
if ! command -v curl >/dev/null; then
	echo "Toxiproxy: skipped (curl is needed to drive its HTTP API and is not installed)"
elif ! GOBIN="$tmp/gobin" GOFLAGS= "$GO" install "github.com/Shopify/toxiproxy/v2/cmd/server@$toxi_version" >"$tmp/toxi-build.log" 2>&1; then
	echo "Toxiproxy: could not be built, its comparisons are skipped: $(tail -n 1 "$tmp/toxi-build.log")"
else
	port="$(free_port 2>/dev/null || echo 28474)"
	LOG_LEVEL=error "$tmp/gobin/server" -host 127.0.0.1 -port "$port" >"$tmp/toxi.log" 2>&1 &
	pids+=($!)
	api="http://127.0.0.1:$port"
	for ((i = 0; i < 100; i++)); do curl -fs "$api/version" >/dev/null && break; sleep 0.1; done
	mkproxy() { # mkproxy NAME UPSTREAM: prints the listen address Toxiproxy chose
		curl -fs -X POST "$api/proxies" -d "{\"name\":\"$1\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"$2\"}" |
			sed -n 's/.*"listen":"\([^"]*\)".*/\1/p'
	}
	toxi_stream="$(mkproxy stream "$sink")"
	toxi_latency="$(mkproxy latency "$web_hostport")"
	curl -fs -X POST "$api/proxies/latency/toxics" \
		-d '{"type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":5,"jitter":0}}' >/dev/null
	echo "Toxiproxy $toxi_version server (built from source into a temporary directory): stream $toxi_stream, latency $toxi_latency"
fi

peer="$tmp/peers"
# Per repetition: the streams in a rotated order, a pause, then the latency runs in a
# rotated order. The groups are kept apart so that each latency run follows the same
# kind of work (a stream saturates both cores for a second and leaves its processes
# busy with the aftermath, which a following latency run would pay for in its p99).
streams=(stream/direct stream/ours)
latencies=(http-latency/ours)
[[ -n "$toxi_stream" ]] && streams+=(stream/toxiproxy) && latencies+=(http-latency/toxiproxy)
for ((rep = 1; rep <= COUNT; rep++)); do
	order=()
	for ((i = 0; i < ${#streams[@]}; i++)); do order+=("${streams[$(((i + rep - 1) % ${#streams[@]}))]}"); done
	order+=(pause)
	for ((i = 0; i < ${#latencies[@]}; i++)); do order+=("${latencies[$(((i + rep - 1) % ${#latencies[@]}))]}"); done
	for r in "${order[@]}"; do
		case "$r" in
		pause) sleep 1 ;;
		stream/*)
			case "$r" in
			stream/direct) a="$sink" ;; stream/ours) a="$ours_stream" ;; stream/toxiproxy) a="$toxi_stream" ;;
			esac
			line="$(cd transport && TRUNCHECK_PEER_ADDR="$a" "$bin" -test.run '^$' -test.bench '^BenchmarkPeerStream$' \
				-test.benchtime="$BENCHTIME" -test.count=1 | grep -E '^Benchmark')"
			echo "rep $rep $r: $line" >>"$peer.raw"
			record "$peer" "$rep" "$r" "$(echo "$line" | awk '{for (i = 2; i <= NF; i++) if ($(i) == "MB/s") print $(i-1)}')"
			;;
		http-latency/*)
			case "$r" in
			http-latency/ours) u="http://$ours_latency/" ;; http-latency/toxiproxy) u="http://$toxi_latency/" ;;
			esac
			line="$(TRUNCHECK_PEER_LOAD="$u" TRUNCHECK_PEER_LOAD_FOR="$LOAD_FOR" "$bin" -test.run '^TestPeerHTTPLoad$' | grep '^PEER http')"
			echo "rep $rep $r: ${line#PEER http }" >>"$peer.raw"
			record "$peer" "$rep" "$r/rps" "$(echo "$line" | sed -n 's/.* rps=\([^ ]*\).*/\1/p')"
			record "$peer" "$rep" "$r/p99" "$(echo "$line" | sed -n 's/.* p99_ms=\([^ ]*\).*/\1/p')"
			;;
		esac
	done
done
sed 's/^/  /' "$peer.raw"
echo "medians over $COUNT repetitions (order rotated):"
show "$peer" stream/direct MB/s "stream direct"
show "$peer" stream/ours MB/s "stream through our proxy"
show "$peer" stream/toxiproxy MB/s "stream through Toxiproxy"
show "$peer" http-latency/ours/rps req/s "10 KB, latency 5ms, c=8: our proxy"
show "$peer" http-latency/toxiproxy/rps req/s "10 KB, latency 5ms, c=8: Toxiproxy"
show "$peer" http-latency/ours/p99 "ms p99" "10 KB, latency 5ms, c=8: our proxy"
show "$peer" http-latency/toxiproxy/p99 "ms p99" "10 KB, latency 5ms, c=8: Toxiproxy"
goal "$peer" "proxy/direct tcp (separate processes)" stream/ours stream/direct ">=" 0.80
goal "$peer" "proxy/Toxiproxy tcp MB/s" stream/ours stream/toxiproxy ">=" 1.50
goal "$peer" "Toxiproxy/direct tcp (for reference)" stream/toxiproxy stream/direct ">=" 0
goal "$peer" "latency fault req/s: ours/Toxiproxy" http-latency/ours/rps http-latency/toxiproxy/rps ">=" 1.00
goal "$peer" "latency fault p99: ours/Toxiproxy" http-latency/ours/p99 http-latency/toxiproxy/p99 "<=" 1.00
echo "load average after B: $(load_avg)"
