#!/usr/bin/env bash
# Build and run a real Jaeger (v2, github.com/jaegertracing/jaeger/cmd/jaeger)
# for tracing tests. Jaeger is built from its own module in tools/jaeger/,
# never from the root go.mod (it does not build beside current OpenTelemetry).
#
#   scripts/jaeger.sh build        build bin/jaeger, or reuse it if up to date
#   scripts/jaeger.sh run [ARGS]   build if needed, then run Jaeger in the
#                                  foreground with tools/jaeger/config.yaml
#                                  (extra ARGS go to jaeger, e.g. --set=...)
#   scripts/jaeger.sh path         print the binary path (after building)
#
# Listeners are loopback only; ports come from JAEGER_OTLP_HTTP_PORT (4318),
# JAEGER_OTLP_GRPC_PORT (4317), JAEGER_QUERY_PORT (16686),
# JAEGER_QUERY_GRPC_PORT (16685) and JAEGER_HEALTH_PORT (13133).
# Ready when GET http://127.0.0.1:$JAEGER_HEALTH_PORT/status returns 200.
#
# Environment: JAEGER_BIN overrides the binary path (default bin/jaeger),
# JAEGER_CONFIG the config file (default tools/jaeger/config.yaml).
#
# A cold build takes many minutes (roughly 15-20 on 2 cores); later builds reuse
# the Go build cache and the up-to-date check below skips them entirely.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
moddir="$root/tools/jaeger"
bin="${JAEGER_BIN:-$root/bin/jaeger}"
config="${JAEGER_CONFIG:-$moddir/config.yaml}"
pkg="github.com/jaegertracing/jaeger/cmd/jaeger"

die() { echo "jaeger.sh: $*" >&2; exit 1; }

# Version of github.com/jaegertracing/jaeger pinned in tools/jaeger/go.mod.
want_version() {
	awk '$1 == "github.com/jaegertracing/jaeger" { print $2; exit }' "$moddir/go.mod"
}

# True when $bin exists, is newer than go.mod/go.sum, and was built from the
# pinned Jaeger version with the current Go toolchain.
up_to_date() {
	[[ -x "$bin" ]] || return 1
	[[ "$bin" -nt "$moddir/go.mod" && "$bin" -nt "$moddir/go.sum" ]] || return 1
	local info want gover
	info="$(go version -m "$bin" 2>/dev/null)" || return 1
	want="$(want_version)"
	gover="$(go env GOVERSION)"
	grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/jaegertracing/jaeger[[:space:]]+${want//./\\.}[[:space:]]" <<<"$info" || return 1
	[[ "$(head -n1 <<<"$info")" == "$bin: $gover" ]] || return 1
}

build() {
	command -v go >/dev/null 2>&1 || die "go is not on PATH; cannot build Jaeger"
	[[ -f "$moddir/go.mod" ]] || die "missing $moddir/go.mod"
	if up_to_date; then
		echo "jaeger.sh: $bin is up to date (jaeger $(want_version))" >&2
		return 0
	fi
	echo "jaeger.sh: building $pkg $(want_version) -> $bin (a cold build takes many minutes)" >&2
	mkdir -p "$(dirname "$bin")"
	local start=$SECONDS tmp="$bin.tmp.$$"
	# GOWORK=off: never let a go.work at the repo root pull in the main module.
	if ! (cd "$moddir" && GOWORK=off go build -o "$tmp" "$pkg"); then
		rm -f "$tmp"
		die "BUILD FAILED: could not build $pkg from $moddir (see the go errors above)"
	fi
	mv -f "$tmp" "$bin"
	echo "jaeger.sh: built $bin in $((SECONDS - start))s" >&2
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
build)
	build
	;;
run)
	build
	[[ -f "$config" ]] || die "missing config $config"
	echo "jaeger.sh: starting jaeger: OTLP http 127.0.0.1:${JAEGER_OTLP_HTTP_PORT:-4318}," \
		"grpc 127.0.0.1:${JAEGER_OTLP_GRPC_PORT:-4317}; query http://127.0.0.1:${JAEGER_QUERY_PORT:-16686};" \
		"health http://127.0.0.1:${JAEGER_HEALTH_PORT:-13133}/status" >&2
	exec "$bin" --config "file:$config" "$@"
	;;
path)
	build
	echo "$bin"
	;;
*)
	echo "usage: $0 build | run [jaeger args...] | path" >&2
	exit 2
	;;
esac
