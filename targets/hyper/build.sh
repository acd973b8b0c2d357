#!/usr/bin/env bash
# build.sh: build truncheck's hyper target twice, offline, against Debian's hyper 0.14.19:
#   bin/hyper-stock  hyper exactly as Debian ships it (has hyper #4022)
#   bin/hyper-fixed  the same server, hyper patched with fix-4022.patch via [patch.crates-io]
# Idempotent: installs the Debian source packages only when missing, re-copies and re-patches
# hyper only when the patch or the sources changed, and lets cargo skip what is up to date.
# Usage: targets/hyper/build.sh [stock|fixed|all]   (default all)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
reg=/usr/share/cargo/registry
hyper_src="$reg/hyper-0.14.19"
what="${1:-all}"
case "$what" in stock | fixed | all) ;; *)
	echo "build.sh: unknown argument '$what'; accepted: stock, fixed, all" >&2
	exit 2
	;;
esac

export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1; then
	echo "build.sh: cargo not found (looked in PATH and ~/.cargo/bin); install Rust, e.g. via rustup" >&2
	exit 1
fi

# Debian's Rust sources: hyper 0.14.19, tokio 1.24 and their dependencies.
if [ ! -d "$hyper_src" ] || ! compgen -G "$reg/tokio-1.*" >/dev/null; then
	echo "build.sh: installing librust-hyper-dev librust-tokio-dev (Debian Rust sources)" >&2
	sudo=""
	if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
	export DEBIAN_FRONTEND=noninteractive
	if ! $sudo apt-get install -y -qq librust-hyper-dev librust-tokio-dev >/dev/null; then
		$sudo apt-get update -qq >/dev/null
		$sudo apt-get install -y -qq librust-hyper-dev librust-tokio-dev >/dev/null
	fi
fi
if [ ! -d "$hyper_src" ]; then
	echo "build.sh: $hyper_src is missing after installing librust-hyper-dev; this build needs exactly hyper 0.14.19" >&2
	ls -d "$reg"/hyper-* >&2 || true
	exit 1
fi

mkdir -p "$here/bin"
cd "$here" # cargo finds .cargo/config.toml (offline, Debian registry) from the working directory

build_stock() {
	local t0=$SECONDS
	cargo build --release --quiet --manifest-path "$here/Cargo.toml"
	install -m 0755 "$here/target/release/hyper-target" "$here/bin/hyper-stock"
	echo "built bin/hyper-stock (hyper 0.14.19 as shipped) in $((SECONDS - t0))s"
}

build_fixed() {
	local t0=$SECONDS
	local dir="$here/target/fixed"
	local stamp
	stamp="$(cat "$here/build.sh" "$here/fix-4022.patch" "$hyper_src/Cargo.toml" "$hyper_src/src/proto/h1/io.rs" "$hyper_src/src/proto/h1/conn.rs" | sha256sum | cut -c1-64)"
	mkdir -p "$dir"
	if [ "$(cat "$dir/hyper.stamp" 2>/dev/null)" != "$stamp" ]; then
		rm -rf "$dir/hyper-0.14.19"
		cp -r "$hyper_src" "$dir/hyper-0.14.19"
		patch -s -p1 -d "$dir/hyper-0.14.19" <"$here/fix-4022.patch"
		# hyper 0.14.19 predates this rustc; as a path dependency its many lint warnings would
		# be printed. Silence them in the copy (a build convenience, not part of the fix).
		sed -i '1i #![allow(warnings)]' "$dir/hyper-0.14.19/src/lib.rs"
		echo "$stamp" >"$dir/hyper.stamp"
	fi
	# A second manifest for the same source: only the hyper it links differs.
	mkdir -p "$dir/crate"
	{
		sed -e "s#^path = \"src/main.rs\"#path = \"$here/src/main.rs\"#" \
			-e 's#^name = "hyper-target"$#name = "hyper-target-fixed"#' "$here/Cargo.toml"
		printf '\n[patch.crates-io]\nhyper = { path = "%s" }\n' "$dir/hyper-0.14.19"
	} >"$dir/crate/Cargo.toml.new"
	if ! cmp -s "$dir/crate/Cargo.toml.new" "$dir/crate/Cargo.toml"; then
		mv "$dir/crate/Cargo.toml.new" "$dir/crate/Cargo.toml"
	else
		rm -f "$dir/crate/Cargo.toml.new"
	fi
	# Same target dir as the stock build: tokio and the rest are compiled once and shared.
	HYPER_TARGET_FLAVOR=fixed cargo build --release --quiet --manifest-path "$dir/crate/Cargo.toml" \
		--target-dir "$here/target"
	install -m 0755 "$here/target/release/hyper-target-fixed" "$here/bin/hyper-fixed"
	echo "built bin/hyper-fixed (hyper 0.14.19 + fix-4022.patch) in $((SECONDS - t0))s"
}

case "$what" in
stock) build_stock ;;
fixed) build_fixed ;;
all)
	build_stock
	build_fixed
	;;
esac
