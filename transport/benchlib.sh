# benchlib.sh: shell functions shared by transport/bench.sh and harness/bench.sh (sourced,
# not run). Results are lines "REP<TAB>NAME<TAB>VALUE" in a file; every comparison is
# made per repetition (a ratio of two results taken minutes apart on a shared machine
# says little) and reported as the median with its spread (min-max over repetitions).

# go_bench_rotated OUT BIN DIR BENCHTIME COUNT NAME...: runs every named sub-benchmark
# (e.g. BenchmarkThroughput/tcp/proxy) COUNT times, each run in its own process of the
# compiled test binary BIN (working directory DIR), in an order that rotates by one per
# repetition, so no benchmark always runs first, last or after the same neighbour.
# Appends "rep name MB/s" to OUT and the raw benchmark lines to OUT.raw.
go_bench_rotated() {
	local out="$1" bin="$2" dir="$3" benchtime="$4" count="$5"
	shift 5
	local names=("$@") n=$# rep i name pattern line mbs
	for ((rep = 1; rep <= count; rep++)); do
		for ((i = 0; i < n; i++)); do
			name="${names[$(((i + rep - 1) % n))]}"
			pattern="^${name//\//\$/^}\$"
			line="$(cd "$dir" && "$bin" -test.run '^$' -test.bench "$pattern" -test.benchtime="$benchtime" \
				-test.count=1 -test.benchmem | grep -E '^Benchmark' || true)"
			if [[ -z "$line" ]]; then
				echo "benchmark $name printed no result" >&2
				return 1
			fi
			echo "rep $rep: $line" >>"$out.raw"
			mbs="$(echo "$line" | awk '{for (i = 2; i <= NF; i++) if ($(i) == "MB/s") print $(i-1)}')"
			printf '%d\t%s\t%s\n' "$rep" "$name" "$mbs" >>"$out"
		done
	done
}

# record OUT REP NAME VALUE appends one result.
record() { printf '%d\t%s\t%s\n' "$2" "$3" "$4" >>"$1"; }

# values OUT NAME prints the results of NAME, one a line.
values() { awk -F'\t' -v n="$2" '$2 == n { print $3 }' "$1"; }

# ratios OUT A B prints A/B per repetition (repetitions that have both).
ratios() {
	awk -F'\t' -v a="$2" -v b="$3" '$2 == a { x[$1] = $3 } $2 == b { y[$1] = $3 }
		END { for (r in x) if ((r in y) && y[r] > 0) print x[r] / y[r] }' "$1"
}

# spread prints "median min max n" of the numbers on stdin ("n/a" when there are none).
spread() {
	sort -g | awk '{ a[NR] = $1 } END {
		if (NR == 0) { print "n/a"; exit }
		m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		printf "%.6g %.6g %.6g %d\n", m, a[1], a[NR], NR }'
}

# show OUT NAME UNIT LABEL prints one result's median and spread.
show() {
	local s
	s="$(values "$1" "$2" | spread)"
	if [[ "$s" == "n/a" ]]; then
		printf '  %-44s n/a\n' "$4"
		return
	fi
	echo "$s" | awk -v l="$4" -v u="$3" '{ printf "  %-44s %10.1f %s  (min %.1f, max %.1f, n=%d)\n", l, $1, u, $2, $3, $4 }'
}

# goal OUT LABEL A B OP GOAL prints the per-repetition ratio A/B (median, min-max) and
# whether its median meets the goal (OP is >= or <=). A goal is reported, never enforced.
goal() {
	local out="$1" label="$2" a="$3" b="$4" op="$5" want="$6" s
	s="$(ratios "$out" "$a" "$b" | spread)"
	if [[ "$s" == "n/a" ]]; then
		printf '%-46s n/a (%s or %s missing)\n' "$label" "$a" "$b"
		return
	fi
	echo "$s" | awk -v l="$label" -v op="$op" -v g="$want" '{
		ok = (op == ">=") ? ($1 >= g) : ($1 <= g)
		printf "%-46s %6.3f  (per-rep min %.3f, max %.3f, n=%d; goal %s %.2f: %s)\n", l, $1, $2, $3, $4, op, g, (ok ? "met" : "NOT met") }'
}

# wait_for_file PATH waits up to 30 s for a process to publish its addresses.
wait_for_file() {
	local i
	for ((i = 0; i < 300; i++)); do
		[[ -s "$1" ]] && return 0
		sleep 0.1
	done
	echo "timed out waiting for $1" >&2
	return 1
}

# addr_of FILE NAME prints the address NAME published in FILE ("name=addr" lines).
addr_of() { sed -n "s/^$2=//p" "$1"; }

# load_avg prints the 1-minute load average: how busy the shared machine was.
load_avg() { cut -d' ' -f1 /proc/loadavg; }

# free_port prints a TCP port on 127.0.0.1 that was free a moment ago.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
