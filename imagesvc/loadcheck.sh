#!/usr/bin/env bash
# loadcheck.sh: what abandoned work costs, and how the image service sheds at
# 64 and 256 clients (imagesvc/loadcheck_test.go TestLoadCheck), for this
# tree's truncheck and, with BASE_REV=<git revision>, for that revision built
# in a temporary directory: each binary serves in a child process so that its
# CPU time and RSS are its own. Prints LOADCHECK lines and status tables.
# Usage: imagesvc/loadcheck.sh   (FOR=30s per load level; BASE_REV= to compare;
#        RUN='TestLoadCheck/load-64' for one part)
# The machine may be shared: compare the two binaries within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$GO" build -o "$tmp/truncheck" ./cmd/truncheck
"$GO" test -c -o "$tmp/imagesvc.test" ./imagesvc
bins=("current|$tmp/truncheck")
if [ -n "${BASE_REV:-}" ]; then
	mkdir "$tmp/base"
	git archive "$BASE_REV" | tar -x -C "$tmp/base"
	(cd "$tmp/base" && "$GO" build -o "$tmp/truncheck-base" ./cmd/truncheck)
	bins=("base-$BASE_REV|$tmp/truncheck-base" "${bins[@]}")
fi
for b in "${bins[@]}"; do
	(cd imagesvc && TRUNCHECK_LOADCHECK="${b%%|*}" TRUNCHECK_SERVE_BIN="${b#*|}" TRUNCHECK_LOADCHECK_FOR="${FOR:-30s}" \
		"$tmp/imagesvc.test" -test.run "${RUN:-^TestLoadCheck\$}" -test.v -test.timeout 60m) | grep -v -E '^(=== |--- |PASS|ok )' || true
done
