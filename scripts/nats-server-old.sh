#!/usr/bin/env bash
# Build a nats-server older than the minimum this project supports (2.12),
# for the test that checks every process refuses it. It is built from its
# own module in tools/nats-server-old/, never from the root go.mod.
#
#   scripts/nats-server-old.sh build   build bin/nats-server-old, or reuse it if up to date
#   scripts/nats-server-old.sh path    print the binary path (after building)
#
# Environment: NATS_SERVER_OLD_BIN overrides the binary path.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
moddir="$root/tools/nats-server-old"
bin="${NATS_SERVER_OLD_BIN:-$root/bin/nats-server-old}"
pkg="github.com/nats-io/nats-server/v2"

die() { echo "nats-server-old.sh: $*" >&2; exit 1; }

# Version of nats-server pinned in tools/nats-server-old/go.mod.
want_version() {
	awk '$1 == "github.com/nats-io/nats-server/v2" { print $2; exit }' "$moddir/go.mod"
}

# True when $bin exists, is newer than go.mod/go.sum, and was built from the
# pinned version with the current Go toolchain.
up_to_date() {
	[[ -x "$bin" ]] || return 1
	[[ "$bin" -nt "$moddir/go.mod" && "$bin" -nt "$moddir/go.sum" ]] || return 1
	local info want
	info="$(go version -m "$bin" 2>/dev/null)" || return 1
	want="$(want_version)"
	grep -Eq "^[[:space:]]+mod[[:space:]]+${pkg//./\\.}[[:space:]]+${want//./\\.}[[:space:]]" <<<"$info" || return 1
	[[ "$(head -n1 <<<"$info")" == "$bin: $(go env GOVERSION)" ]] || return 1
}

build() {
	command -v go >/dev/null 2>&1 || die "go is not on PATH; cannot build nats-server"
	[[ -f "$moddir/go.mod" ]] || die "missing $moddir/go.mod"
	if up_to_date; then
		echo "nats-server-old.sh: $bin is up to date (nats-server $(want_version))" >&2
		return 0
	fi
	echo "nats-server-old.sh: building $pkg $(want_version) -> $bin" >&2
	mkdir -p "$(dirname "$bin")"
	local tmp="$bin.tmp.$$"
	# GOWORK=off: never let a go.work at the repo root pull in the main module.
	if ! (cd "$moddir" && GOWORK=off go build -o "$tmp" "$pkg"); then
		rm -f "$tmp"
		die "BUILD FAILED: could not build $pkg from $moddir (see the go errors above)"
	fi
	mv -f "$tmp" "$bin"
}

case "${1:-}" in
build) build ;;
path) build && echo "$bin" ;;
*)
	echo "usage: $0 build | path" >&2
	exit 2
	;;
esac
