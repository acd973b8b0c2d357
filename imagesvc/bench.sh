#!/usr/bin/env bash
# bench.sh: imagesvc requests per second and peak RSS for a fixed mix of
# transforms (imagesvc/perf_test.go perfMix) over loopback HTTP at client
# concurrency 1 and 2, for each setting below; every (setting, concurrency)
# runs in its own process (peak RSS = its VmHWM), the settings interleaved
# REPS times, printed as medians and as ratios to the "nocache" baseline
# (every request decodes, transforms, encodes) measured in the same run.
# Usage: imagesvc/bench.sh     (REPS=3 FOR=3s by default)
# Timing on a shared machine is noisy: the ratios are reported, never enforced.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS="${REPS:-3}"
FOR="${FOR:-3s}"
GO="${GO:-go}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$GO" test -c -o "$tmp/imagesvc.test" ./imagesvc

# label (no "=" or spaces) and environment of each setting
settings=(
	"nocache|TRUNCHECK_PERF_CACHE=-1"
	"cache-512MiB|TRUNCHECK_PERF_CACHE=0"
	"nocache+vips-cache-100ops-100MB|TRUNCHECK_PERF_CACHE=-1 TRUNCHECK_PERF_VIPS_MAX=100 TRUNCHECK_PERF_VIPS_MEM=104857600"
	"nocache+MaxConcurrent:1|TRUNCHECK_PERF_CACHE=-1 TRUNCHECK_PERF_MAXCONC=1"
	"nocache+VIPS_CONCURRENCY:2|TRUNCHECK_PERF_CACHE=-1 VIPS_CONCURRENCY=2"
)
lines="$tmp/lines"
: >"$lines"
for rep in $(seq "$REPS"); do
	for s in "${settings[@]}"; do
		label="${s%%|*}"
		envs="${s#*|}"
		for conc in 1 2; do
			# shellcheck disable=SC2086
			(cd imagesvc && env $envs TRUNCHECK_PERF_IMAGESVC="$label" TRUNCHECK_PERF_CONC="$conc" TRUNCHECK_PERF_FOR="$FOR" \
				"$tmp/imagesvc.test" -test.run '^TestPerfImagesvc$') | grep '^PERF imagesvc' >>"$lines" ||
				{ echo "imagesvc/bench.sh: setting $label conc $conc failed" >&2; exit 1; }
		done
	done
done
awk -v reps="$REPS" -v dur="$FOR" '
{
	for (i = 3; i <= NF; i++) { split($(i), kv, "="); f[kv[1]] = kv[2] }
	k = f["setting"] SUBSEP f["conc"]
	if (!(k in seen)) { seen[k] = 1; order[++no] = k }
	n[k]++; rps[k, n[k]] = f["rps"] + 0; hwm[k, n[k]] = f["peak_rss_mb"] + 0
}
function median(arr, k,   m, i, j, t, a) {
	m = n[k]; for (i = 1; i <= m; i++) a[i] = arr[k, i]
	for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
END {
	printf "imagesvc: fixed mix of 8 transforms, %s per run, medians of %d interleaved runs, ratios to nocache at the same concurrency\n", dur, reps
	printf "%-34s %4s %9s %7s %13s %7s\n", "setting", "conc", "req/s", "ratio", "peak RSS MB", "ratio"
	for (o = 1; o <= no; o++) {
		k = order[o]; split(k, p, SUBSEP)
		b = "nocache" SUBSEP p[2]
		r = median(rps, k); h = median(hwm, k); rb = median(rps, b); hb = median(hwm, b)
		printf "%-34s %4s %9.2f %7.3f %13.0f %7.3f\n", p[1], p[2], r, (rb ? r / rb : 0), h, (hb ? h / hb : 0)
	}
}' "$lines"
