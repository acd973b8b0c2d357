#!/usr/bin/env bash
# soak.sh: the image service's memory under a varied mix for SOAK (default
# 30m): this tree's truncheck serves in a child process with FLAGS (default:
# the 512 MiB cache and 2 worker slots, written out), the fuzzer's classes
# (valid chains and uploads of every format and size, bad chains, bombs, cut
# images, abandoned work) run at CONC clients (default 8), and every EVERY
# (10s) the server's RSS and /metrics (Go heap, glibc arenas and mappings,
# libvips' buffers, cache) are printed; at the end the RSS slope in MB/min
# over the run and over its second half, and the peak (imagesvc/loadcheck_test.go
# TestSoak). BIN=path soaks another truncheck binary.
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bin="${BIN:-}"
if [ -z "$bin" ]; then
	"$GO" build -o "$tmp/truncheck" ./cmd/truncheck
	bin="$tmp/truncheck"
fi
"$GO" test -c -o "$tmp/imagesvc.test" ./imagesvc
cd imagesvc
TRUNCHECK_SOAK="${SOAK:-30m}" TRUNCHECK_SOAK_EVERY="${EVERY:-10s}" TRUNCHECK_SOAK_CONC="${CONC:-8}" \
	TRUNCHECK_SOAK_FLAGS="${FLAGS:---cache-mib 512 --max-concurrent 2}" TRUNCHECK_SERVE_BIN="$bin" \
	"$tmp/imagesvc.test" -test.run '^TestSoak$' -test.v -test.timeout 24h | grep -v -E '^(=== |--- |PASS|ok )' || true
